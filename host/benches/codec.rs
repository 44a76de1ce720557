//! Micro-benchmark of the input codec: `Decoder::decode` over a buffer of pipelined
//! Pings, alone and followed by `Message::parse`. Prints the median ns per message over
//! the rounds. `cargo bench -p ami-host --bench codec`
//!
//! Uses only `std::time` and the crate's public API (no benchmark framework).

use std::hint::black_box;
use std::time::Instant;

use ami_host::codec::{Decoder, Frame};
use ami_host::dialect::Dialect;
use ami_host::message::Message;
use bytes::BytesMut;

/// Messages in the buffer of one round.
const MESSAGES: usize = 1000;
const ROUNDS: usize = 200;

/// Runs `round` (which handles `ops` operations) `ROUNDS` times after a few warm-up
/// rounds and prints the median, min and max ns per operation.
fn bench(name: &str, ops: usize, mut round: impl FnMut() -> usize) {
    for _ in 0..ROUNDS / 10 + 1 {
        black_box(round());
    }
    let mut per_op: Vec<f64> = (0..ROUNDS)
        .map(|_| {
            let t = Instant::now();
            let done = black_box(round());
            let ns = t.elapsed().as_nanos() as f64;
            assert_eq!(
                done, ops,
                "{name}: a round did {done} operations, not {ops}"
            );
            ns / ops as f64
        })
        .collect();
    per_op.sort_by(f64::total_cmp);
    println!(
        "{name:<44} median {:>9.1} ns/op   (min {:.1}, max {:.1}; {ROUNDS} rounds of {ops})",
        per_op[per_op.len() / 2],
        per_op[0],
        per_op[per_op.len() - 1]
    );
}

/// Decodes every message of `input`, parses it (1.0) and looks up `header`; returns
/// how many messages there were.
fn decode_and_parse(input: &[u8], header: &str) -> usize {
    let mut buf = BytesMut::from(input);
    let mut dec = Decoder::new();
    let mut n = 0;
    while let Some(frame) = dec.decode(&mut buf) {
        if let Frame::Message(lines) = frame {
            let msg = Message::parse(lines, Dialect::V1);
            black_box(msg.get(header));
            n += 1;
        }
    }
    n
}

fn main() {
    let mut input = Vec::new();
    for i in 0..MESSAGES {
        input.extend_from_slice(
            format!("Action: Ping\r\nActionID: {}\r\n\r\n", 100_000 + i).as_bytes(),
        );
    }
    println!(
        "codec: {MESSAGES} pipelined Pings, {} bytes per round",
        input.len()
    );

    bench("buffer copy only (baseline, per message)", MESSAGES, || {
        let buf = BytesMut::from(&input[..]);
        black_box(&buf);
        MESSAGES
    });

    bench("Decoder::decode (per message)", MESSAGES, || {
        let mut buf = BytesMut::from(&input[..]);
        let mut dec = Decoder::new();
        let mut n = 0;
        while let Some(frame) = dec.decode(&mut buf) {
            black_box(&frame);
            n += 1;
        }
        n
    });

    bench("Decoder::decode + Message::parse (1.0)", MESSAGES, || {
        decode_and_parse(&input, "ActionID")
    });

    // The request of the event benchmark: five headers.
    let mut events = Vec::new();
    for i in 0..MESSAGES {
        events.extend_from_slice(
            format!(
                "Action: UserEvent\r\nUserEvent: Bench\r\nBenchSrc: 0\r\nBenchSeq: {}\r\nBenchTs: 987654321\r\n\r\n",
                100_000 + i
            )
            .as_bytes(),
        );
    }
    bench(
        "Decoder::decode + Message::parse, UserEvent",
        MESSAGES,
        || decode_and_parse(&events, "BenchSeq"),
    );

    // The same stream arriving in 1,460-byte segments (one TCP segment each).
    bench("Decoder::decode, 1460-byte reads", MESSAGES, || {
        let mut buf = BytesMut::with_capacity(4096);
        let mut dec = Decoder::new();
        let mut n = 0;
        for chunk in input.chunks(1460) {
            buf.extend_from_slice(chunk);
            while let Some(frame) = dec.decode(&mut buf) {
                black_box(&frame);
                n += 1;
            }
        }
        n
    });
}
