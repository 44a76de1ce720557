//! The event bus: UserEvent fan-out, read classes, event masks, timestamps, permissions,
//! slow consumers.

use std::time::{Duration, Instant};

use crate::support::{Host, HostBuilder};

#[tokio::test]
async fn user_event_reaches_other_sessions_v1() {
    let host = Host::start();
    let mut listener = host.login("admin", "amp111", None).await;
    let mut driver = host.login("admin", "amp111", Some("off")).await;
    driver
        .send(&[
            "Action: UserEvent",
            "ActionID: 9",
            "UserEvent: MyEvent",
            "Header1: value one",
            "Header2: value: two",
        ])
        .await;
    let ack = driver.read_msg().await;
    assert_eq!(
        ack.raw,
        "Response: Success\r\nActionID: 9\r\nMessage: Event Sent\r\n\r\n"
    );
    let ev = listener.wait_event("UserEvent").await;
    assert_eq!(
        ev.raw,
        "Event: UserEvent\r\nPrivilege: user,all\r\nUserEvent: MyEvent\r\nAction: UserEvent\r\nActionID: 9\r\nHeader1: value one\r\nHeader2: value: two\r\n\r\n"
    );
}

#[tokio::test]
async fn user_event_reaches_other_sessions_modern() {
    let host = HostBuilder::default().modern().start();
    let mut listener = host.login("admin", "amp111", Some("on")).await;
    let mut driver = host.login("admin", "amp111", Some("off")).await;
    driver
        .send(&[
            "Action: UserEvent",
            "ActionID: 9",
            "UserEvent: MyEvent",
            "Header1: value one",
            "Header2: value: two",
        ])
        .await;
    assert_eq!(
        driver.read_msg().await.raw,
        "Response: Success\r\nActionID: 9\r\nMessage: Event Sent\r\n\r\n"
    );
    let ev = listener.wait_event("UserEvent").await;
    assert_eq!(
        ev.raw,
        "Event: UserEvent\r\nPrivilege: user,all\r\nUserEvent: MyEvent\r\nActionID: 9\r\nHeader1: value one\r\nHeader2: value: two\r\n\r\n"
    );
    driver.send(&["Action: UserEvent", "UserEvent: NoId"]).await;
    let ev = listener.wait_event("UserEvent").await;
    assert_eq!(
        ev.raw,
        "Event: UserEvent\r\nPrivilege: user,all\r\nUserEvent: NoId\r\n\r\n"
    );
}

#[tokio::test]
async fn timestampevents_adds_timestamp() {
    let host = HostBuilder::default()
        .general("timestampevents = true")
        .start();
    let mut listener = host.login("admin", "amp111", None).await;
    let mut driver = host.login("admin", "amp111", Some("off")).await;
    driver
        .request(&["Action: UserEvent", "UserEvent: Stamp"])
        .await;
    let ev = listener.wait_event("UserEvent").await;
    let lines: Vec<&str> = ev.raw.split("\r\n").collect();
    assert_eq!(lines[1], "Privilege: user,all");
    let ts = lines[2]
        .strip_prefix("Timestamp: ")
        .expect("Timestamp third");
    let (s, us) = ts.split_once('.').expect("dot");
    assert!(s.parse::<u64>().is_ok() && us.len() == 6);
    // Replies never carry a Timestamp.
    let pong = listener.request(&["Action: Ping"]).await;
    assert_eq!(pong.raw, "Response: Pong\r\n\r\n");
}

#[tokio::test]
async fn read_limited_user_gets_only_its_classes() {
    let host = Host::start();
    // reader has read = call: user-class events never reach it.
    let mut reader = host.login("reader", "reader", None).await;
    let mut uc = host.login("userclass", "uc", None).await;
    let mut driver = host.login("admin", "amp111", Some("off")).await;
    driver
        .request(&["Action: UserEvent", "UserEvent: One"])
        .await;
    assert_eq!(
        uc.wait_event("UserEvent").await.get("UserEvent"),
        Some("One")
    );
    assert!(
        reader.quiet_for(Duration::from_millis(500)).await,
        "reader got a user event"
    );
}

#[tokio::test]
async fn write_limited_user_gets_permission_denied() {
    for host in [Host::start(), HostBuilder::default().modern().start()] {
        let mut r = host.login("reader", "reader", Some("off")).await;
        for action in ["UserEvent", "CoreSettings", "CoreStatus"] {
            let a = format!("Action: {action}");
            let m = r.request(&[a.as_str(), "ActionID: 23"]).await;
            assert_eq!(
                m.raw, "Response: Error\r\nActionID: 23\r\nMessage: Permission denied\r\n\r\n",
                "{action}"
            );
        }
        // Actions of no class stay available.
        let m = r.request(&["Action: Ping"]).await;
        assert!(m.get("Response") == Some("Pong") || m.get("Ping") == Some("Pong"));
        // userclass may send UserEvents but not CoreSettings.
        let mut u = host.login("userclass", "uc", Some("off")).await;
        assert_eq!(
            u.request(&["Action: UserEvent", "UserEvent: ok"])
                .await
                .get("Message"),
            Some("Event Sent")
        );
        assert_eq!(
            u.request(&["Action: CoreSettings"]).await.get("Message"),
            Some("Permission denied")
        );
    }
}

#[tokio::test]
async fn events_action_changes_what_arrives_v1() {
    let host = Host::start();
    let mut a = host.login("admin", "amp111", Some("off")).await;
    let mut d = host.login("admin", "amp111", Some("off")).await;
    assert_eq!(
        a.request(&["Action: Events", "ActionID: e1", "EventMask: on"])
            .await
            .raw,
        "Response: Events On\r\nActionID: e1\r\n\r\n"
    );
    d.request(&["Action: UserEvent", "UserEvent: Probe", "Tag: on"])
        .await;
    assert_eq!(a.wait_event("UserEvent").await.get("Tag"), Some("on"));

    assert_eq!(
        a.request(&["Action: Events", "ActionID: e2", "EventMask: off"])
            .await
            .raw,
        "Response: Events Off\r\nActionID: e2\r\n\r\n"
    );
    d.request(&["Action: UserEvent", "UserEvent: Probe", "Tag: off"])
        .await;
    assert!(a.quiet_for(Duration::from_millis(400)).await);

    assert_eq!(
        a.request(&["Action: Events", "EventMask: system,call"])
            .await
            .raw,
        "Response: Events On\r\n\r\n"
    );
    d.request(&["Action: UserEvent", "UserEvent: Probe", "Tag: syscall"])
        .await;
    assert!(a.quiet_for(Duration::from_millis(400)).await);

    assert_eq!(
        a.request(&["Action: Events", "EventMask: user"]).await.raw,
        "Response: Events On\r\n\r\n"
    );
    d.request(&["Action: UserEvent", "UserEvent: Probe", "Tag: user"])
        .await;
    assert_eq!(a.wait_event("UserEvent").await.get("Tag"), Some("user"));

    // A numeric mask: 64 is `user`.
    a.request(&["Action: Events", "EventMask: 0"]).await;
    a.request(&["Action: Events", "EventMask: 64"]).await;
    d.request(&["Action: UserEvent", "UserEvent: Probe", "Tag: numeric"])
        .await;
    assert_eq!(a.wait_event("UserEvent").await.get("Tag"), Some("numeric"));

    let m = a
        .request(&["Action: Events", "ActionID: e9", "EventMask: "])
        .await;
    assert_eq!(
        m.raw,
        "Response: Error\r\nActionID: e9\r\nMessage: Invalid event mask\r\n\r\n"
    );
}

#[tokio::test]
async fn events_action_modern() {
    let host = HostBuilder::default().modern().start();
    let mut a = host.login("admin", "amp111", Some("off")).await;
    let mut d = host.login("admin", "amp111", Some("off")).await;
    for (mask, answer) in [
        ("on", "On"),
        ("off", "Off"),
        ("user", "On"),
        ("system,call", "On"),
        ("nonsense", "Off"),
    ] {
        let m = format!("EventMask: {mask}");
        let r = a
            .request(&["Action: Events", "ActionID: ev", m.as_str()])
            .await;
        assert_eq!(
            r.raw,
            format!("Response: Success\r\nActionID: ev\r\nEvents: {answer}\r\n\r\n")
        );
    }
    a.request(&["Action: Events", "EventMask: user"]).await;
    d.request(&["Action: UserEvent", "UserEvent: MaskProbe", "Mask: user"])
        .await;
    assert_eq!(a.wait_event("UserEvent").await.get("Mask"), Some("user"));
}

#[tokio::test]
async fn login_events_header_sets_the_mask() {
    let host = Host::start();
    let mut off = host.login("admin", "amp111", Some("off")).await;
    let mut calls = host.login("admin", "amp111", Some("call")).await;
    let mut users = host.login("admin", "amp111", Some("user,system")).await;
    let mut d = host.login("admin", "amp111", Some("off")).await;
    d.request(&["Action: UserEvent", "UserEvent: Login"]).await;
    assert_eq!(
        users.wait_event("UserEvent").await.get("UserEvent"),
        Some("Login")
    );
    assert!(off.quiet_for(Duration::from_millis(300)).await);
    assert!(calls.quiet_for(Duration::from_millis(300)).await);
}

#[tokio::test]
async fn events_before_login_are_not_replayed() {
    let host = Host::start();
    let mut early = host.connect().await;
    let mut d = host.login("admin", "amp111", Some("off")).await;
    d.request(&["Action: UserEvent", "UserEvent: Early"]).await;
    early.login("admin", "amp111", None).await;
    d.request(&["Action: UserEvent", "UserEvent: Late"]).await;
    assert_eq!(
        early.wait_event("UserEvent").await.get("UserEvent"),
        Some("Late")
    );
}

#[tokio::test]
async fn a_listener_that_never_reads_does_not_hold_back_others() {
    const N: usize = 100_000;
    let host = Host::start();
    let rss_before = host.rss_kib();
    // Logged in with every event on, and never read from again.
    let _stalled = host.login("admin", "amp111", None).await;
    let mut fast = host.login("admin", "amp111", None).await;
    let mut driver = host.login("admin", "amp111", Some("off")).await;

    let reader = tokio::spawn(async move {
        let mut seen = 0usize;
        let mut last = Instant::now();
        let mut worst = Duration::ZERO;
        while seen < N {
            let m = fast.read_msg().await;
            if m.is_event("UserEvent") {
                assert_eq!(
                    m.get("Seq").and_then(|s| s.parse::<usize>().ok()),
                    Some(seen),
                    "lost or reordered"
                );
                seen += 1;
                worst = worst.max(last.elapsed());
                last = Instant::now();
            }
        }
        worst
    });
    // Pipeline UserEvents in windows, reading the acks.
    let started = Instant::now();
    let mut sent = 0usize;
    while sent < N {
        let batch = (N - sent).min(500);
        let mut text = String::new();
        for i in sent..sent + batch {
            text.push_str(&format!(
                "Action: UserEvent\r\nUserEvent: Flood\r\nSeq: {i}\r\nPad: {}\r\n\r\n",
                "x".repeat(64)
            ));
        }
        driver.send_raw(text.as_bytes()).await;
        for _ in 0..batch {
            driver.read_msg().await;
        }
        sent += batch;
    }
    let worst = tokio::time::timeout(Duration::from_secs(60), reader)
        .await
        .expect("fast listener finished")
        .expect("reader task");
    let elapsed = started.elapsed();
    assert!(
        worst < Duration::from_secs(2),
        "fast listener stalled for {worst:?}"
    );
    assert!(elapsed < Duration::from_secs(60), "flood took {elapsed:?}");
    let rss_after = host.rss_kib();
    assert!(
        rss_after < rss_before + 200 * 1024,
        "host memory grew from {rss_before} KiB to {rss_after} KiB"
    );
}

#[tokio::test]
async fn session_permission_checks_reach_plugins() {
    let host = HostBuilder::default()
        .fixture("probe")
        .extra("[plugins.probe]\ngrants = [\"session\"]")
        .start();
    let mut admin = host.login("admin", "amp111", Some("off")).await;
    let mut reader = host.login("reader", "reader", Some("off")).await;
    let me = reader
        .request(&["Action: SessionProbe", "Perm: call"])
        .await;
    let reader_id = me.get("SessionID").expect("id").to_string();
    assert_eq!(reader_id.len(), 32, "ids are 128-bit hex");
    assert_eq!(me.get("ReadAllowed"), Some("yes"));
    assert_eq!(me.get("WriteAllowed"), Some("no"));
    assert_eq!(me.get("ManagerEnabled"), Some("yes"));
    assert_eq!(me.get("WebManagerEnabled"), Some("no"));

    let s = format!("Session: {reader_id}");
    let m = admin
        .request(&["Action: SessionProbe", s.as_str(), "Perm: call"])
        .await;
    assert_eq!(
        (m.get("ReadAllowed"), m.get("WriteAllowed")),
        (Some("yes"), Some("no"))
    );
    let m = admin
        .request(&["Action: SessionProbe", s.as_str(), "Perm: user"])
        .await;
    assert_eq!(m.get("ReadAllowed"), Some("no"));
    let m = admin
        .request(&[
            "Action: SessionProbe",
            "Session: 00000000000000000000000000000000",
            "Perm: call",
        ])
        .await;
    assert_eq!(
        (m.get("ReadAllowed"), m.get("WriteAllowed")),
        (Some("no"), Some("no"))
    );
    let own = admin
        .request(&["Action: SessionProbe", "Perm: system,call,user"])
        .await;
    assert_eq!(
        (own.get("ReadAllowed"), own.get("WriteAllowed")),
        (Some("yes"), Some("yes"))
    );
    assert_ne!(own.get("SessionID"), Some(reader_id.as_str()));
    // Once the session is gone its id verifies nothing.
    reader.request(&["Action: Logoff"]).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let m = admin
        .request(&["Action: SessionProbe", s.as_str(), "Perm: call"])
        .await;
    assert_eq!(m.get("ReadAllowed"), Some("no"));
}

/// With busy polling on (a long window, so polls overlap the other session's events), a
/// session in a quick request/reply loop gets every reply in order and every event
/// published meanwhile, and an idle host does not keep polling.
#[tokio::test]
async fn busy_polling_session_misses_no_reply_or_event() {
    let host = HostBuilder::default().general("busypoll = 1000").start();
    let mut quick = host.login("admin", "amp111", Some("user")).await;
    let mut driver = host.login("admin", "amp111", Some("off")).await;
    const N: usize = 200;
    let sender = tokio::spawn(async move {
        for i in 0..N {
            let seq = format!("Seq: {i}");
            driver
                .send(&["Action: UserEvent", "UserEvent: Poll", &seq])
                .await;
            assert_eq!(driver.read_reply().await.get("Response"), Some("Success"));
        }
        driver
    });
    let mut events = Vec::new();
    for i in 0..N {
        let id = format!("ActionID: p{i}");
        quick.send(&["Action: Ping", &id]).await;
        loop {
            let m = quick.read_msg().await;
            if m.is_event("UserEvent") {
                events.push(m.get("Seq").unwrap_or_default().to_string());
                continue;
            }
            assert_eq!(
                m.get("ActionID"),
                Some(format!("p{i}").as_str()),
                "{}",
                m.raw
            );
            assert_eq!(m.get("Response"), Some("Pong"), "{}", m.raw);
            break;
        }
    }
    let _driver = sender.await.expect("sender");
    while events.len() < N {
        let m = quick.wait_event("UserEvent").await;
        events.push(m.get("Seq").unwrap_or_default().to_string());
    }
    let want: Vec<String> = (0..N).map(|i| i.to_string()).collect();
    assert_eq!(events, want);

    // Idle now: nothing polls.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let before = host.cpu_ticks();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let used = host.cpu_ticks() - before;
    assert!(used <= 10, "an idle host used {used} ticks in 1 s");
}

/// A bare CR inside a UserEvent header (and in its name) reaches listeners as a blank:
/// it cannot end a line of the event and start a header, or an event, of its own.
#[tokio::test]
async fn user_event_header_cannot_smuggle_a_line() {
    let host = Host::start();
    let mut listener = host.login("admin", "amp111", Some("user")).await;
    let mut driver = host.login("admin", "amp111", Some("off")).await;
    driver
        .send_raw(b"Action: UserEvent\r\nUserEvent: X\rY\r\nFoo: a\rEvent: Injected\r\n\r\n")
        .await;
    assert_eq!(driver.read_reply().await.get("Response"), Some("Success"));
    let ev = listener.wait_event("UserEvent").await;
    assert_eq!(
        ev.raw,
        "Event: UserEvent\r\nPrivilege: user,all\r\nUserEvent: X Y\r\nAction: UserEvent\r\nFoo: a Event: Injected\r\n\r\n"
    );
}

#[tokio::test]
async fn a_session_passed_by_events_outside_its_mask_is_not_slow() {
    // A ring of 16 and block-sockets = no: a session that loses events it would have
    // received is closed. One whose mask leaves out what the ring passed lost nothing:
    // it is not woken for those events, does not read them, and goes on.
    let host = HostBuilder::default().general("eventqueue = 16").start();
    let mut quiet = host.login("admin", "amp111", Some("system")).await;
    let mut sender = host.login("admin", "amp111", Some("off")).await;
    for i in 0..100 {
        let reply = sender
            .request(&["Action: UserEvent", &format!("UserEvent: Q{i}")])
            .await;
        assert_eq!(reply.get("Message"), Some("Event Sent"));
    }
    assert!(quiet.quiet_for(Duration::from_millis(200)).await);
    assert_eq!(
        quiet.request(&["Action: Ping"]).await.get("Response"),
        Some("Pong")
    );
    // What its mask lets through from now on arrives.
    quiet.request(&["Action: Events", "EventMask: user"]).await;
    sender
        .request(&["Action: UserEvent", "UserEvent: After"])
        .await;
    assert_eq!(
        quiet.wait_event("UserEvent").await.get("UserEvent"),
        Some("After")
    );
    assert!(!host.log().contains("fell behind"), "{}", host.log());
}

#[tokio::test]
async fn a_reload_turns_timestampevents_on_for_the_next_events() {
    let host = HostBuilder::default()
        .general("timestampevents = false")
        .start();
    let mut listener = host.login("admin", "amp111", Some("user")).await;
    let mut driver = host.login("admin", "amp111", Some("off")).await;
    driver
        .request(&["Action: UserEvent", "UserEvent: Before"])
        .await;
    let ev = listener.wait_event("UserEvent").await;
    assert_eq!(ev.get("Timestamp"), None, "{ev:?}");
    let text = std::fs::read_to_string(&host.config).expect("config");
    let text = text.replace("timestampevents = false", "timestampevents = true");
    std::fs::write(&host.config, text).expect("write config");
    let m = driver.request(&["Action: Reload"]).await;
    assert_eq!(m.get("Response"), Some("Success"), "{m:?}");
    driver
        .request(&["Action: UserEvent", "UserEvent: After"])
        .await;
    let ev = listener.wait_event("UserEvent").await;
    assert_eq!(ev.get("UserEvent"), Some("After"));
    assert!(ev.get("Timestamp").is_some(), "{ev:?}");
}
