//! Hostile and broken clients: authtimeout (idle and slowloris), authlimit, the login
//! failure budget, a frozen listener under an event flood (writetimeout), secrets kept out
//! of the log, and the ACL for IPv4 and IPv6 peers.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use crate::support::{Client, Host, HostBuilder};

/// Waits (up to `wait`) for the host's log to contain every one of `needles` on one line.
async fn log_line(host: &Host, needles: &[&str], wait: Duration) -> Option<String> {
    let deadline = Instant::now() + wait;
    loop {
        if let Some(line) = host
            .log()
            .lines()
            .find(|l| needles.iter().all(|n| l.contains(n)))
        {
            return Some(line.to_string());
        }
        if Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn authtimeout_closes_an_idle_unauthenticated_connection() {
    let host = HostBuilder::default().general("authtimeout = 1").start();
    let mut logged_in = host.login("admin", "amp111", Some("off")).await;
    let started = Instant::now();
    let mut idle = host.connect().await;
    assert!(idle.closed().await, "idle connection was not closed");
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(800) && took < Duration::from_secs(6),
        "closed after {took:?}"
    );
    let line = log_line(&host, &["authtimeout", "127.0.0.1"], Duration::from_secs(2)).await;
    assert!(line.is_some(), "no authtimeout log line:\n{}", host.log());
    // A logged-in session is not subject to it.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(
        logged_in.request(&["Action: Ping"]).await.get("Response"),
        Some("Pong")
    );
}

#[tokio::test]
async fn a_slowloris_client_is_closed_at_authtimeout() {
    let host = HostBuilder::default().general("authtimeout = 2").start();
    let stream = TcpStream::connect(host.addr).await.expect("connect");
    let (mut rd, mut wr) = stream.into_split();
    let started = Instant::now();
    let request =
        b"Action: Login\r\nUsername: admin\r\nX-Pad: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    let mut next = 0;
    let mut buf = vec![0u8; 4096];
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    let closed_after = loop {
        tokio::select! {
            r = rd.read(&mut buf) => match r {
                Ok(0) | Err(_) => break started.elapsed(),
                Ok(_) => {} // the banner
            },
            _ = tick.tick() => {
                assert!(started.elapsed() < Duration::from_secs(10), "slowloris kept its connection");
                if next < request.len() {
                    // Errors here just mean the host already closed.
                    let _ = wr.write_all(&request[next..next + 1]).await;
                    next += 1;
                }
            }
        }
    };
    assert!(
        closed_after >= Duration::from_millis(1800) && closed_after < Duration::from_secs(6),
        "closed after {closed_after:?}"
    );
    assert!(next >= 5, "only {next} bytes were trickled");
    let line = log_line(&host, &["authtimeout", "127.0.0.1"], Duration::from_secs(2)).await;
    assert!(line.is_some(), "no authtimeout log line:\n{}", host.log());
}

#[tokio::test]
async fn authlimit_refuses_extra_unauthenticated_connections() {
    let host = HostBuilder::default().general("authlimit = 5").start();
    // Logged-in sessions do not count.
    let mut logged = Vec::new();
    for _ in 0..3 {
        logged.push(host.login("admin", "amp111", Some("off")).await);
    }
    let mut pending = Vec::new();
    for _ in 0..5 {
        pending.push(host.connect().await);
    }
    let mut sixth = Client::connect(host.addr).await;
    assert!(sixth.closed().await, "the 6th connection was served");
    let line = log_line(&host, &["authlimit", "127.0.0.1"], Duration::from_secs(2)).await;
    assert!(line.is_some(), "no authlimit log line:\n{}", host.log());

    // Logging one of the five in frees its slot.
    pending[0].login("admin", "amp111", Some("off")).await;
    let mut again = host.connect().await;
    again.login("admin", "amp111", Some("off")).await;
    let mut seventh = Client::connect(host.addr).await;
    let banner = seventh.read_line().await;
    assert!(banner.starts_with("Asterisk Call Manager/"), "{banner:?}");
    // All five slots are taken again.
    let mut eighth = Client::connect(host.addr).await;
    assert!(eighth.closed().await, "over the limit after logins");
    for c in logged.iter_mut().chain(pending.iter_mut().take(1)) {
        assert_eq!(
            c.request(&["Action: Ping"]).await.get("Response"),
            Some("Pong")
        );
    }
}

async fn try_login(host: &Host, user: &str, secret: &str) -> Option<String> {
    let mut c = host.connect().await;
    let u = format!("Username: {user}");
    let s = format!("Secret: {secret}");
    let reply = c.request(&["Action: Login", &u, &s]).await;
    reply.get("Message").map(str::to_string)
}

#[tokio::test]
async fn the_login_failure_budget_throttles_an_address() {
    let host = HostBuilder::default().general("loginfailures = 3").start();
    for _ in 0..3 {
        assert_eq!(
            try_login(&host, "admin", "wrong").await.as_deref(),
            Some("Authentication failed")
        );
    }
    // Beyond the budget even the right secret is refused, still after the 1 s delay.
    let started = Instant::now();
    assert_eq!(
        try_login(&host, "admin", "amp111").await.as_deref(),
        Some("Authentication failed")
    );
    assert!(started.elapsed() >= Duration::from_millis(900));
    assert_eq!(
        try_login(&host, "admin", "amp111").await.as_deref(),
        Some("Authentication failed")
    );
    let line = log_line(
        &host,
        &["login failure budget", "127.0.0.1"],
        Duration::from_secs(2),
    )
    .await;
    assert!(line.is_some(), "no budget log line:\n{}", host.log());
    let warnings = host
        .log()
        .lines()
        .filter(|l| l.contains("exceeded the login failure budget"))
        .count();
    assert_eq!(
        warnings,
        1,
        "warned more than once per window:\n{}",
        host.log()
    );

    // The budget is per address: 127.0.0.2 still logs in.
    let socket = TcpSocket::new_v4().expect("socket");
    socket
        .bind("127.0.0.2:0".parse().expect("addr"))
        .expect("bind 127.0.0.2");
    let stream = socket.connect(host.addr).await.expect("connect");
    let mut other = Client::from_stream(stream);
    other.read_line().await;
    other.login("admin", "amp111", Some("off")).await;
}

#[tokio::test]
async fn a_frozen_listener_is_dropped_and_the_others_get_every_event() {
    const TOTAL: usize = 20_000;
    const BATCH: usize = 500;
    let host = HostBuilder::default()
        .general("eventqueue = 100000")
        .extra(
            "[users.frozen]\nsecret = \"f\"\nread = \"all\"\nwrite = \"all\"\nwritetimeout = 500\n",
        )
        .start();

    // The frozen listener: a small receive buffer, logs in, then never reads again.
    let socket = TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(4096).expect("rcvbuf");
    let stream = socket.connect(host.addr).await.expect("connect");
    let mut frozen = Client::from_stream(stream);
    frozen.read_line().await;
    frozen.login("frozen", "f", Some("user")).await;
    let frozen_addr = frozen_local_addr(&frozen);

    let mut good = host.login("admin", "amp111", Some("user")).await;
    let reader = tokio::spawn(async move {
        let mut next = 0usize;
        while next < TOTAL {
            let m = good.wait_event("UserEvent").await;
            let seq: usize = m
                .get("Seq")
                .and_then(|s| s.parse().ok())
                .unwrap_or(usize::MAX);
            assert_eq!(seq, next, "event out of order or missing: {m:?}");
            next += 1;
        }
        good
    });

    // About 1 KiB per event, 20 MB in all: more than any socket buffer holds.
    let pad = "x".repeat(1000);
    let mut flooder = host.login("admin", "amp111", Some("off")).await;
    let mut sent = 0usize;
    while sent < TOTAL {
        let mut text = String::new();
        for i in sent..sent + BATCH {
            text.push_str(&format!(
                "Action: UserEvent\r\nUserEvent: Flood\r\nSeq: {i}\r\nPad: {pad}\r\n\r\n"
            ));
        }
        flooder.send_raw(text.as_bytes()).await;
        for _ in 0..BATCH {
            let r = flooder.read_reply().await;
            assert_eq!(r.get("Response"), Some("Success"), "{r:?}");
        }
        sent += BATCH;
    }
    let good = tokio::time::timeout(Duration::from_secs(60), reader)
        .await
        .expect("the good listener did not get every event in time")
        .expect("reader task");
    drop(good);

    let line = log_line(
        &host,
        &["writetimeout", "'frozen'", &frozen_addr],
        Duration::from_secs(10),
    )
    .await;
    assert!(
        line.is_some(),
        "frozen listener not dropped:\n{}",
        host.log()
    );
    // The admin sessions were not dropped.
    assert!(
        !host
            .log()
            .lines()
            .any(|l| l.contains("writetimeout") && l.contains("'admin'")),
        "{}",
        host.log()
    );
    assert_eq!(
        flooder.request(&["Action: Ping"]).await.get("Response"),
        Some("Pong")
    );
    drop(frozen);
}

fn frozen_local_addr(c: &Client) -> String {
    // The host logs the peer as ip:port; the test knows only its own side.
    let addr: SocketAddr = c.local_addr();
    addr.to_string()
}

#[tokio::test]
async fn secrets_never_reach_the_log_even_at_trace() {
    let host = HostBuilder::default()
        .general("loginfailures = 2")
        .env("RUST_LOG", "trace")
        .start();
    let mut ok = host.login("admin", "amp111", None).await;
    assert_eq!(
        try_login(&host, "admin", "Wr0ngS3cretXYZ").await.as_deref(),
        Some("Authentication failed")
    );
    assert_eq!(
        try_login(&host, "nosuchuser", "An0therS3cret")
            .await
            .as_deref(),
        Some("Authentication failed")
    );
    // Over budget: refused unchecked, still not logged.
    assert_eq!(
        try_login(&host, "admin", "amp111").await.as_deref(),
        Some("Authentication failed")
    );
    // MD5 login with a challenge.
    let mut md5 = host.connect().await;
    let ch = md5.request(&["Action: Challenge", "AuthType: md5"]).await;
    assert!(ch.get("Challenge").is_some(), "{ch:?}");
    assert_eq!(
        ok.request(&["Action: Ping"]).await.get("Response"),
        Some("Pong")
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let log = host.log();
    assert!(
        log.contains("TRACE") || log.contains("DEBUG"),
        "not at trace level?\n{log}"
    );
    for secret in [
        "amp111",
        "Wr0ngS3cretXYZ",
        "An0therS3cret",
        "reader\"",
        "modern\"",
    ] {
        assert!(
            !log.contains(secret),
            "secret {secret:?} in the log:\n{log}"
        );
    }
}

#[tokio::test]
async fn an_ipv4_acl_admits_its_address() {
    let host = HostBuilder::default()
        .extra("[users.lo]\nsecret = \"lo\"\nread = \"all\"\nwrite = \"all\"\ndeny = [\"0.0.0.0/0\"]\npermit = [\"127.0.0.1/32\"]\n")
        .start();
    let mut c = host.login("lo", "lo", Some("off")).await;
    assert_eq!(
        c.request(&["Action: Ping"]).await.get("Response"),
        Some("Pong")
    );
}

fn ipv6_loopback_works() -> bool {
    std::net::TcpListener::bind("[::1]:0").is_ok()
}

#[tokio::test]
async fn an_ipv4_only_permit_list_refuses_an_ipv6_peer() {
    if !ipv6_loopback_works() {
        eprintln!("skipped: ::1 cannot be bound here");
        return;
    }
    let host = HostBuilder::default()
        .listen("[::1]:0")
        .extra("[users.lo]\nsecret = \"lo\"\nread = \"all\"\nwrite = \"all\"\ndeny = [\"0.0.0.0/0\"]\npermit = [\"127.0.0.1/32\"]\n")
        .start();
    assert!(host.addr.is_ipv6(), "{}", host.addr);
    assert_eq!(
        try_login(&host, "lo", "lo").await.as_deref(),
        Some("Authentication failed")
    );
    let line = log_line(
        &host,
        &["::1", "failed to pass IP ACL"],
        Duration::from_secs(2),
    )
    .await;
    assert!(line.is_some(), "no ACL log line:\n{}", host.log());
    // A user without an ACL logs in over IPv6.
    let mut c = host.login("admin", "amp111", Some("off")).await;
    assert_eq!(
        c.request(&["Action: Ping"]).await.get("Response"),
        Some("Pong")
    );
}

#[tokio::test]
async fn authtimeout_and_authlimit_are_reloadable() {
    let host = HostBuilder::default()
        .general("authtimeout = 30\nauthlimit = 50")
        .start();
    let mut admin = host.login("admin", "amp111", Some("system")).await;
    let text = std::fs::read_to_string(&host.config).expect("config");
    let text = text.replace(
        "authtimeout = 30\nauthlimit = 50",
        "authtimeout = 1\nauthlimit = 2",
    );
    std::fs::write(&host.config, text).expect("write config");
    let m = admin.request(&["Action: Reload", "ActionID: r1"]).await;
    assert_eq!(m.get("Response"), Some("Success"), "{m:?}");
    admin.wait_event("Reload").await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    let started = Instant::now();
    let mut a = host.connect().await;
    let mut b = host.connect().await;
    let mut c = Client::connect(host.addr).await;
    assert!(
        c.closed().await,
        "authlimit = 2 did not apply after the reload"
    );
    assert!(a.closed().await && b.closed().await);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "authtimeout = 1 did not apply after the reload"
    );
    // The logged-in session is untouched.
    assert_eq!(
        admin.request(&["Action: Ping"]).await.get("Response"),
        Some("Pong")
    );
}
