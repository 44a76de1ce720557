//! Input limits, hostile input, and plugins that misbehave.

use std::time::{Duration, Instant};

use crate::support::{Client, Host, HostBuilder};

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
    let log = host.wait_log("Trap action called").await;
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

/// Asserts that `GoodPacked` of the `bad-packed` fixture answers through `action-packed`.
async fn assert_good_packed(c: &mut Client) {
    c.send(&["Action: GoodPacked", "ActionID: g1"]).await;
    // The fixture's packed reply carries no ActionID; `action.invoke` would say `Via: record`.
    assert_eq!(
        c.read_msg().await.raw,
        "Response: Success\r\nVia: packed\r\n\r\n"
    );
}

#[tokio::test]
async fn malformed_packed_replies_and_emit_bodies_fail_only_their_call() {
    let host = HostBuilder::default()
        .fixture("bad-packed")
        .extra("[plugins.bad-packed]\ngrants = [\"events\"]")
        .start();
    let mut listener = host.login("admin", "amp111", Some("user")).await;
    let mut c = host.login("admin", "amp111", Some("off")).await;
    assert_good_packed(&mut c).await;

    // A reply that does not parse: a string length past the end, or no close byte.
    for (action, id) in [("BadReply", "b1"), ("TruncatedReply", "t1")] {
        c.send(&[&format!("Action: {action}"), &format!("ActionID: {id}")])
            .await;
        assert_eq!(
            c.read_msg().await.raw,
            format!(
                "Response: Error\r\nActionID: {id}\r\nMessage: Action {action} failed: plugin bad-packed sent a malformed reply\r\n\r\n"
            )
        );
        assert_good_packed(&mut c).await;
    }

    // An emit-packed body that does not parse traps the call; nothing is emitted.
    c.send(&["Action: BadEmit", "ActionID: e1"]).await;
    assert_eq!(
        c.read_msg().await.raw,
        "Response: Error\r\nActionID: e1\r\nMessage: Action BadEmit failed: plugin bad-packed trapped\r\n\r\n"
    );
    // The cause reaches the host's log.
    let needle = "events.emit-packed: malformed body";
    let log = host.wait_log(needle).await;
    assert!(log.contains(needle), "{log}");
    assert_good_packed(&mut c).await;
    // The listener's next event is a later UserEvent, and its next reply the Pong.
    assert_eq!(
        c.request(&["Action: UserEvent", "UserEvent: After"])
            .await
            .get("Response"),
        Some("Success")
    );
    let next = listener.read_msg().await;
    assert_eq!(next.get("Event"), Some("UserEvent"), "{next:?}");
    assert_eq!(next.get("UserEvent"), Some("After"), "{next:?}");
    listener.send(&["Action: Ping", "ActionID: p1"]).await;
    let pong = listener.read_msg().await;
    assert_eq!(pong.get("Response"), Some("Pong"), "{pong:?}");
    assert_eq!(pong.get("ActionID"), Some("p1"), "{pong:?}");
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
    assert!(host
        .wait_log("plugin call failed")
        .await
        .contains("plugin call failed"));
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

/// A header line of exactly `len` bytes, line end (CR LF) included.
fn line_of_len(name: &str, len: usize) -> String {
    let prefix = format!("{name}: ");
    format!("{prefix}{}", "p".repeat(len - prefix.len() - 2))
}

/// A message of `lines` (CR LF after each, then the blank line).
fn message(lines: &[String]) -> String {
    let mut s = String::new();
    for l in lines {
        s.push_str(l);
        s.push_str("\r\n");
    }
    s.push_str("\r\n");
    s
}

/// `Action: Ping`, `ActionID: id`, then pad headers up to `total` lines in all, each pad
/// line `len` bytes long.
fn padded_ping(id: &str, total: usize, len: usize) -> String {
    let mut lines = vec!["Action: Ping".to_string(), format!("ActionID: {id}")];
    for i in 0..total - 2 {
        lines.push(line_of_len(&format!("X-Pad-{i:03}"), len));
    }
    message(&lines)
}

#[tokio::test]
async fn a_whole_message_at_the_limits_is_served_and_one_past_them_is_refused() {
    let host = Host::start();
    let mut c = host.login("admin", "amp111", Some("off")).await;
    // 128 lines of 8192 bytes each (1 MiB): the largest message there is.
    let biggest = padded_ping("m1", 128, 8192);
    assert!(biggest.len() > 1_000_000);
    c.send_raw(biggest.as_bytes()).await;
    assert_eq!(
        c.read_msg().await.raw,
        "Response: Pong\r\nActionID: m1\r\n\r\n"
    );
    // One line more.
    c.send_raw(padded_ping("m2", 129, 8192).as_bytes()).await;
    assert_eq!(
        c.read_msg().await.raw,
        "Response: Error\r\nActionID: m2\r\nMessage: Too many headers (limit 128)\r\n\r\n"
    );
    // Every pad line one byte too long: one error for the message.
    c.send_raw(padded_ping("m3", 128, 8193).as_bytes()).await;
    assert_eq!(
        c.read_msg().await.raw,
        "Response: Error\r\nActionID: m3\r\nMessage: Line too long (limit 8192 bytes)\r\n\r\n"
    );
    // Far past both: 256 lines of 64 KiB.
    c.send_raw(padded_ping("m4", 256, 64 * 1024).as_bytes())
        .await;
    assert_eq!(
        c.read_msg().await.raw,
        "Response: Error\r\nActionID: m4\r\nMessage: Line too long (limit 8192 bytes)\r\n\r\n"
    );
    // Still in step.
    assert_eq!(
        c.request(&["Action: Ping", "ActionID: m5"]).await.raw,
        "Response: Pong\r\nActionID: m5\r\n\r\n"
    );
}

#[tokio::test]
async fn a_huge_action_id_is_echoed_up_to_the_line_limit_and_refused_past_it() {
    let host = Host::start();
    for modern in [false, true] {
        let user = if modern { "modern" } else { "admin" };
        let secret = if modern { "modern" } else { "amp111" };
        let mut c = host.login(user, secret, Some("off")).await;
        // "ActionID: " + 8180 bytes + CR LF = 8192 bytes: echoed whole.
        let id = "i".repeat(8180);
        let m = c
            .request(&["Action: Ping", &format!("ActionID: {id}")])
            .await;
        assert_eq!(m.get("ActionID"), Some(id.as_str()), "{user}");
        assert!(m.raw.contains(&format!("\r\nActionID: {id}\r\n")), "{user}");
        // One byte more, and 1 MiB: refused, with nothing of it echoed.
        for len in [8181, 1024 * 1024] {
            let id = "j".repeat(len);
            let m = c
                .request(&["Action: Ping", &format!("ActionID: {id}")])
                .await;
            assert_eq!(m.get("Response"), Some("Error"), "{user} {len}");
            assert_eq!(
                m.get("Message"),
                Some("Line too long (limit 8192 bytes)"),
                "{user} {len}"
            );
            assert!(
                m.get("ActionID").is_none() && m.raw.len() < 200,
                "{user} {len}"
            );
        }
        assert_eq!(
            c.request(&["Action: Ping", "ActionID: ok"])
                .await
                .get("ActionID"),
            Some("ok")
        );
    }
}

#[tokio::test]
async fn a_huge_userevent_body_reaches_listeners_whole_and_one_past_the_limits_none() {
    let host = Host::start();
    let mut listener = host.login("admin", "amp111", Some("user")).await;
    let mut sender = host.login("admin", "amp111", Some("off")).await;
    // Action, UserEvent and 126 body headers of 8192 bytes.
    let body: Vec<String> = (0..126)
        .map(|i| line_of_len(&format!("Body-{i:03}"), 8192))
        .collect();
    let mut lines = vec![
        "Action: UserEvent".to_string(),
        "UserEvent: Big".to_string(),
    ];
    lines.extend(body.iter().cloned());
    sender.send_raw(message(&lines).as_bytes()).await;
    assert_eq!(sender.read_msg().await.get("Response"), Some("Success"));
    let ev = listener.wait_event("UserEvent").await;
    assert_eq!(ev.get("UserEvent"), Some("Big"));
    let got: Vec<String> = ev
        .raw
        .split("\r\n")
        .filter(|l| l.starts_with("Body-"))
        .map(str::to_string)
        .collect();
    assert_eq!(got, body, "the event's body headers differ");

    // A line too many, or a line too long: refused, and no event at all.
    let mut too_many = lines.clone();
    too_many[1] = "UserEvent: TooMany".into();
    too_many.push("Body-126: one more".into());
    let mut too_long = lines.clone();
    too_long[1] = "UserEvent: TooLong".into();
    too_long[60] = line_of_len("Body-058", 8193);
    for (what, lines) in [("many", too_many), ("long", too_long)] {
        sender.send_raw(message(&lines).as_bytes()).await;
        let m = sender.read_msg().await;
        assert_eq!(m.get("Response"), Some("Error"), "{what}: {m:?}");
    }
    sender
        .request(&["Action: UserEvent", "UserEvent: After"])
        .await;
    let next = listener.wait_event("UserEvent").await;
    assert_eq!(next.get("UserEvent"), Some("After"), "{:.200}", next.raw);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_memory_stays_bounded_under_an_oversize_barrage() {
    const CLIENTS: usize = 4;
    const ROUNDS: usize = 6;
    let host = Host::start();
    let mut listeners = Vec::new();
    for _ in 0..3 {
        listeners.push(host.login("admin", "amp111", Some("user")).await);
    }
    // Warm up: one of each, then take the baseline.
    let mut warm = host.login("admin", "amp111", Some("off")).await;
    warm.send_raw(padded_ping("w", 128, 8192).as_bytes()).await;
    warm.read_msg().await;
    let baseline = host.rss_kib();
    let started = Instant::now();

    let big_event = {
        let mut lines = vec![
            "Action: UserEvent".to_string(),
            "UserEvent: Big".to_string(),
        ];
        lines.extend((0..126).map(|i| line_of_len(&format!("Body-{i:03}"), 8192)));
        message(&lines)
    };
    let mut tasks = Vec::new();
    for _ in 0..CLIENTS {
        let mut c = host.login("admin", "amp111", Some("off")).await;
        let big_event = big_event.clone();
        tasks.push(tokio::spawn(async move {
            for round in 0..ROUNDS {
                let id = format!("r{round}");
                // Largest allowed, too many lines, too long lines, a 2 MiB line, a
                // 1 MiB UserEvent.
                let mut text = padded_ping(&id, 128, 8192);
                text.push_str(&padded_ping(&id, 400, 8192));
                text.push_str(&padded_ping(&id, 128, 9000));
                text.push_str(&message(&[line_of_len("Junk", 2 << 20)]));
                text.push_str(&big_event);
                c.send_raw(text.as_bytes()).await;
                for _ in 0..5 {
                    assert!(c.read_msg().await.get("Response").is_some());
                }
            }
        }));
    }
    let readers: Vec<_> = listeners
        .into_iter()
        .map(|mut l| {
            tokio::spawn(async move {
                for _ in 0..CLIENTS * ROUNDS {
                    assert_eq!(
                        l.wait_event("UserEvent").await.get("UserEvent"),
                        Some("Big")
                    );
                }
                l
            })
        })
        .collect();
    let mut events = 0;
    for r in readers {
        r.await.expect("listener");
        events += CLIENTS * ROUNDS;
    }
    for t in tasks {
        t.await.expect("barrage client");
    }
    let sent_mib = CLIENTS * ROUNDS * (1 + 3 + 1 + 2 + 1);
    let grown = host.rss_kib().saturating_sub(baseline);
    eprintln!(
        "about {sent_mib} MiB sent, {events} 1 MiB events delivered; RSS {baseline} KiB + {grown} KiB; {:?}",
        started.elapsed()
    );
    assert!(
        grown < 96 * 1024,
        "the host grew by {grown} KiB after about {sent_mib} MiB of oversized input"
    );
    assert_eq!(
        warm.request(&["Action: Ping"]).await.get("Response"),
        Some("Pong")
    );
}

/// Sends `GET <target>` with `extra` header lines on a new connection to `addr` and
/// returns the status code and the body read up to `max` bytes (or the close). The
/// request is written beside the read, so an early answer is not missed.
async fn raw_http_get(
    addr: std::net::SocketAddr,
    target: &str,
    extra: &str,
    max: usize,
) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let (mut rd, mut wr) = stream.into_split();
    let request = format!("GET {target} HTTP/1.1\r\nHost: ami\r\n{extra}Connection: close\r\n\r\n");
    let writer = tokio::spawn(async move {
        // The host may answer and close before it has read everything.
        let _ = wr.write_all(request.as_bytes()).await;
        wr
    });
    let mut got = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    let read = async {
        loop {
            match rd.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
            if got.len() >= max {
                break;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(20), read)
        .await
        .expect("no HTTP answer");
    drop(writer.await);
    let text = String::from_utf8_lossy(&got).into_owned();
    let status = text
        .strip_prefix("HTTP/1.1 ")
        .and_then(|r| r.get(..3))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {:?}", &text[..text.len().min(200)]));
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_http_queries_and_heads_get_a_defined_answer_and_memory_stays_bounded() {
    let host = HostBuilder::default()
        .general("webenabled = true")
        .http("")
        .start();
    let addr = host.http.expect("http");
    let query = |value_len: usize| {
        format!(
            "/asterisk/rawman?action=challenge&authtype=md5&actionid=q&pad={}",
            "v".repeat(value_len)
        )
    };
    // A parameter under the AMI line limit is served; past it, in a URL under 64 KiB, it
    // gets the AMI error a TCP client gets.
    let (status, body) = raw_http_get(addr, &query(8000), "", 1 << 20).await;
    assert_eq!(status, 200);
    assert!(
        body.starts_with("Response: Success\r\nActionID: q\r\nChallenge: "),
        "{body:?}"
    );
    for len in [8200, 60 * 1024] {
        assert_eq!(
            raw_http_get(addr, &query(len), "", 1 << 20).await,
            (
                200,
                "Response: Error\r\nActionID: q\r\nMessage: Line too long (limit 8192 bytes)\r\n\r\n"
                    .to_string()
            ),
            "{len}"
        );
    }
    // A request target longer than 65 534 bytes: 414; a request head past hyper's
    // buffer (about 400 KiB), or with more than 100 header lines: 431.
    let at_limit = 65_534 - query(0).len();
    assert_eq!(
        raw_http_get(addr, &query(at_limit), "", 1 << 20).await.0,
        200
    );
    for len in [at_limit + 1, 300 * 1024] {
        assert_eq!(
            raw_http_get(addr, &query(len), "", 1 << 20).await.0,
            414,
            "{len}"
        );
    }
    assert_eq!(
        raw_http_get(addr, &query(4 << 20), "", 1 << 20).await.0,
        431
    );
    let many: String = (0..200).map(|i| format!("X-H{i}: v\r\n")).collect();
    assert_eq!(raw_http_get(addr, &query(10), &many, 1 << 20).await.0, 431);
    let long = format!("X-Long: {}\r\n", "h".repeat(1 << 20));
    assert_eq!(raw_http_get(addr, &query(10), &long, 1 << 20).await.0, 431);

    // A barrage of them, 16 at a time: memory stays bounded.
    let baseline = host.rss_kib();
    let mut sent = 0;
    for _ in 0..8 {
        let batch: Vec<_> = (0..16)
            .map(|i| {
                let target = query(if i % 2 == 0 { 2 << 20 } else { 60 * 1024 });
                sent += target.len();
                tokio::spawn(async move { raw_http_get(addr, &target, "", 1 << 20).await.0 })
            })
            .collect();
        for b in batch {
            assert!([200, 431].contains(&b.await.expect("request")));
        }
    }
    let grown = host.rss_kib().saturating_sub(baseline);
    assert!(
        grown < 64 * 1024,
        "the host grew by {grown} KiB after {} MiB of oversized requests offered",
        sent >> 20
    );
    // And it still serves.
    assert_eq!(raw_http_get(addr, &query(1), "", 1 << 20).await.0, 200);
}

#[tokio::test]
async fn an_oversized_config_file_is_refused_at_start_and_at_reload_naming_it() {
    let host = Host::start();
    let mut admin = host.login("admin", "amp111", Some("off")).await;
    let good = std::fs::read_to_string(&host.config).expect("config");
    // Valid TOML, but over 16 MiB (a long comment), with a user that must not appear.
    let big = format!(
        "{good}\n[users.big]\nsecret = \"big\"\nread = \"all\"\nwrite = \"all\"\n#{}\n",
        "c".repeat(16 << 20)
    );
    std::fs::write(&host.config, &big).expect("write config");
    let m = admin.request(&["Action: Reload"]).await;
    assert_eq!(m.get("Response"), Some("Error"), "{m:?}");
    let message = m.get("Message").unwrap_or_default();
    assert!(
        message.contains(&host.config.display().to_string()) && message.contains("16 MiB limit"),
        "{message:?}"
    );
    // The running configuration is kept.
    let mut c = host.connect().await;
    let m = c
        .request(&["Action: Login", "Username: big", "Secret: big"])
        .await;
    assert_eq!(m.get("Message"), Some("Authentication failed"));
    host.login("reader", "reader", Some("off")).await;

    // Starting with it fails at once, naming the file.
    let out = std::process::Command::new(crate::support::amihost_bin())
        .arg("--config")
        .arg(&host.config)
        .arg("--listen")
        .arg("127.0.0.1:0")
        .output()
        .expect("run amihost");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&host.config.display().to_string()) && stderr.contains("16 MiB limit"),
        "{stderr}"
    );
}
