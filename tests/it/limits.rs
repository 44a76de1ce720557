//! Input limits, hostile input, and plugins that misbehave.

use std::time::{Duration, Instant};

use crate::support::{Host, HostBuilder};

#[tokio::test]
async fn too_many_headers_get_an_error_and_the_session_goes_on() {
    let host = Host::start();
    let mut c = host.login("admin", "amp111", Some("off")).await;
    let mut text = String::from("Action: Ping\r\nActionID: many\r\n");
    for i in 0..200 {
        text.push_str(&format!("X-{i}: v\r\n"));
    }
    text.push_str("\r\n");
    c.send_raw(text.as_bytes()).await;
    let m = c.read_msg().await;
    assert_eq!(
        m.raw,
        "Response: Error\r\nActionID: many\r\nMessage: Too many headers (limit 128)\r\n\r\n"
    );
    assert_eq!(
        c.request(&["Action: Ping", "ActionID: after"]).await.raw,
        "Response: Pong\r\nActionID: after\r\n\r\n"
    );
}

#[tokio::test]
async fn a_line_over_the_limit_gets_an_error_and_the_session_goes_on() {
    let host = Host::start();
    let mut c = host.login("admin", "amp111", Some("off")).await;
    let long = format!("Junk: {}", "y".repeat(20_000));
    c.send(&["Action: Ping", "ActionID: long", long.as_str()])
        .await;
    let m = c.read_msg().await;
    assert_eq!(
        m.raw,
        "Response: Error\r\nActionID: long\r\nMessage: Line too long (limit 8192 bytes)\r\n\r\n"
    );
    assert_eq!(
        c.request(&["Action: Ping"]).await.raw,
        "Response: Pong\r\n\r\n"
    );
    // Just under the limit is fine.
    let ok = format!("Pad: {}", "z".repeat(8000));
    assert_eq!(
        c.request(&["Action: Ping", ok.as_str()]).await.raw,
        "Response: Pong\r\n\r\n"
    );
}

#[tokio::test]
async fn binary_garbage_never_crashes_the_host() {
    let mut host = Host::start();
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    for round in 0..8 {
        let mut c = host.connect().await;
        let mut junk = Vec::with_capacity(256 * 1024);
        for _ in 0..256 * 1024 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            junk.push(seed as u8);
        }
        if round % 2 == 1 {
            // Garbage with plenty of line ends, so messages form.
            for b in junk.iter_mut().step_by(37) {
                *b = b'\n';
            }
        }
        c.send_raw(&junk).await;
        drop(c);
    }
    let mut c = host.login("admin", "amp111", Some("off")).await;
    assert_eq!(
        c.request(&["Action: Ping"]).await.get("Response"),
        Some("Pong")
    );
    assert!(host.is_running());
}

async fn assert_contained(host: &Host, action: &str, within: Duration) {
    let mut bystander = host.login("admin", "amp111", Some("off")).await;
    let mut c = host.login("admin", "amp111", Some("off")).await;
    let a = format!("Action: {action}");
    let t = Instant::now();
    c.send(&[a.as_str(), "ActionID: f1"]).await;
    // Other sessions keep working while the call runs.
    let p = Instant::now();
    assert!(bystander
        .request(&["Action: Ping"])
        .await
        .get("Response")
        .is_some());
    assert!(
        p.elapsed() < Duration::from_millis(800),
        "bystander waited {:?}",
        p.elapsed()
    );
    let m = c.read_msg().await;
    assert!(
        t.elapsed() < within,
        "{action} answered after {:?}",
        t.elapsed()
    );
    assert_eq!(m.get("Response"), Some("Error"), "{m:?}");
    assert_eq!(m.get("ActionID"), Some("f1"));
    let msg = m.get("Message").expect("message");
    assert!(
        msg.starts_with(&format!("Action {action} failed: plugin ")),
        "{msg}"
    );
    // The session, and the plugin, keep serving.
    assert_eq!(
        c.request(&["Action: Ping"]).await.get("Response"),
        Some("Pong")
    );
}

#[tokio::test]
async fn a_trapping_plugin_fails_only_that_call() {
    let host = HostBuilder::default().fixture("trap").start();
    assert_contained(&host, "Trap", Duration::from_secs(5)).await;
    let mut c = host.login("admin", "amp111", Some("off")).await;
    let m = c.request(&["Action: Trap"]).await;
    assert!(
        m.get("Message")
            .is_some_and(|s| s.ends_with("plugin trap trapped")),
        "{m:?}"
    );
    // The panic message reaches the host's log.
    let log = host.log();
    assert!(
        log.contains("panic: ") && log.contains("Trap action called"),
        "{log}"
    );
    // The same plugin answers its next call.
    assert_eq!(
        c.request(&["Action: TrapOk"]).await.get("Message"),
        Some("still here")
    );
}

#[tokio::test]
async fn a_looping_plugin_is_stopped_at_its_deadline() {
    let host = HostBuilder::default()
        .fixture("spin")
        .extra("[plugins.spin]\ncpu-deadline-ms = 300")
        .start();
    assert_contained(&host, "Spin", Duration::from_secs(5)).await;
    let mut c = host.login("admin", "amp111", Some("off")).await;
    let t = Instant::now();
    let m = c.request(&["Action: Spin"]).await;
    assert!(
        m.get("Message")
            .is_some_and(|s| s.ends_with("plugin spin exceeded its CPU deadline")),
        "{m:?}"
    );
    assert!(
        t.elapsed() >= Duration::from_millis(250),
        "stopped before the deadline"
    );
    assert!(host.log().contains("plugin call failed"));
}

#[tokio::test]
async fn a_plugin_allocating_without_bound_hits_its_memory_cap() {
    let host = HostBuilder::default()
        .fixture("hog")
        .extra("[plugins.hog]\nmemory-limit-mb = 32")
        .start();
    let rss = host.rss_kib();
    assert_contained(&host, "Hog", Duration::from_secs(10)).await;
    let mut c = host.login("admin", "amp111", Some("off")).await;
    let m = c.request(&["Action: Hog"]).await;
    assert!(
        m.get("Message")
            .is_some_and(|s| s.ends_with("plugin hog exceeded its memory limit")),
        "{m:?}"
    );
    assert!(
        host.rss_kib() < rss + 256 * 1024,
        "host memory grew past the cap"
    );
}
