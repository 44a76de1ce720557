//! Micro-benchmark of the event renderer: `Event::bytes` on a fresh event (first render)
//! and again (cached, shared `Bytes`). Prints the median ns per event over the rounds.
//! `cargo bench -p ami-host --bench events`
//!
//! Uses only `std::time` and the crate's public API (no benchmark framework).

use std::hint::black_box;
use std::time::{Duration, Instant};

use ami_host::dialect::Dialect;
use ami_host::events::Event;
use ami_host::privilege::Privilege;

/// Events per round.
const EVENTS: usize = 1000;
const ROUNDS: usize = 200;

/// A UserEvent as the UserEvent plugin emits it, with `extra` payload headers.
fn user_event(seq: usize, extra: usize) -> Event {
    let mut body = vec![
        ("UserEvent".to_string(), "Bench".to_string()),
        ("Action".to_string(), "UserEvent".to_string()),
        ("BenchSeq".to_string(), seq.to_string()),
        ("BenchTs".to_string(), "1795669432647736".to_string()),
    ];
    for i in 0..extra {
        body.push((
            format!("Payload{i:03}"),
            "0123456789abcdefghijklmnopqrstuv".to_string(),
        ));
    }
    Event::new(Privilege::USER, "UserEvent", body, false)
}

/// Median, min and max of `samples` (ns per event).
fn report(name: &str, mut samples: Vec<f64>) {
    samples.sort_by(f64::total_cmp);
    println!(
        "{name:<44} median {:>9.1} ns/op   (min {:.1}, max {:.1}; {ROUNDS} rounds of {EVENTS})",
        samples[samples.len() / 2],
        samples[0],
        samples[samples.len() - 1]
    );
}

fn per_event(d: Duration) -> f64 {
    d.as_nanos() as f64 / EVENTS as f64
}

fn bench_render(extra: usize) {
    let mut first = Vec::with_capacity(ROUNDS);
    let mut cached = Vec::with_capacity(ROUNDS);
    let mut construct = Vec::with_capacity(ROUNDS);
    let mut bytes_len = 0;
    for round in 0..ROUNDS + ROUNDS / 10 {
        // Building the events is timed apart, so the render is measured alone.
        let t = Instant::now();
        let events: Vec<Event> = (0..EVENTS).map(|i| user_event(i, extra)).collect();
        let c = t.elapsed();

        let t = Instant::now();
        for ev in &events {
            black_box(ev.bytes(Dialect::V1));
        }
        let f = t.elapsed();

        let t = Instant::now();
        for ev in &events {
            black_box(ev.bytes(Dialect::V1));
        }
        let k = t.elapsed();

        bytes_len = events[0].bytes(Dialect::V1).len();
        if round >= ROUNDS / 10 {
            construct.push(per_event(c));
            first.push(per_event(f));
            cached.push(per_event(k));
        }
        black_box(events);
    }
    println!("UserEvent with {extra} payload header(s), {bytes_len} bytes rendered:");
    report("  Event::new (building the event, baseline)", construct);
    report("  Event::bytes, first render", first);
    report("  Event::bytes, cached", cached);
}

fn main() {
    for extra in [0, 10] {
        bench_render(extra);
    }
}
