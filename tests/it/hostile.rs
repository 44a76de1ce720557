//! Hostile and broken clients: authtimeout (idle and slowloris), authlimit, the login
//! failure budget, a frozen listener under an event flood (writetimeout), secrets kept out
//! of the log, and the ACL for IPv4 and IPv6 peers.

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

/// Trickles `request` one byte every 200 ms until the host closes the connection; returns
/// how long that took and how many bytes went out. Output before the close is allowed
/// only if `output_allowed` (the banner of a fresh connection).
async fn trickle_until_closed(
    stream: TcpStream,
    request: &[u8],
    output_allowed: bool,
) -> (Duration, usize) {
    let (mut rd, mut wr) = stream.into_split();
    let started = Instant::now();
    let mut next = 0;
    let mut buf = vec![0u8; 4096];
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    loop {
        tokio::select! {
            r = rd.read(&mut buf) => match r {
                Ok(0) | Err(_) => return (started.elapsed(), next),
                Ok(n) => assert!(
                    output_allowed,
                    "unexpected output: {:?}",
                    String::from_utf8_lossy(&buf[..n])
                ),
            },
            _ = tick.tick() => {
                assert!(started.elapsed() < Duration::from_secs(10), "the trickling client kept its connection");
                if next < request.len() {
                    // Errors here just mean the host already closed.
                    let _ = wr.write_all(&request[next..next + 1]).await;
                    next += 1;
                }
            }
        }
    }
}

#[tokio::test]
async fn a_slowloris_client_is_closed_at_authtimeout() {
    let host = HostBuilder::default().general("authtimeout = 2").start();
    let stream = TcpStream::connect(host.addr).await.expect("connect");
    let request =
        b"Action: Login\r\nUsername: admin\r\nX-Pad: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    let (closed_after, next) = trickle_until_closed(stream, request, true).await;
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

/// One event of the flood, exactly as a v1 listener with `Events: user` receives it.
fn flood_event(seq: usize, pad: &str) -> String {
    format!(
        "Event: UserEvent\r\nPrivilege: user,all\r\nUserEvent: Flood\r\nAction: UserEvent\r\nSeq: {seq}\r\nPad: {pad}\r\n\r\n"
    )
}

/// Checks that `buf` holds flood events `*next`, `*next + 1`, ... byte for byte, consuming
/// the complete ones (and advancing `*next`); a trailing part of an event stays in `buf`.
/// `Err` with the unexpected bytes when anything else is there.
fn take_flood_events(
    buf: &mut Vec<u8>,
    next: &mut usize,
    total: usize,
    pad: &str,
) -> Result<(), String> {
    let mut at = 0;
    while *next < total {
        let want = flood_event(*next, pad);
        let have = &buf[at..];
        if have.len() < want.len() {
            if !want.as_bytes().starts_with(have) {
                return Err(format!(
                    "expected Seq {}, got {:?}",
                    *next,
                    String::from_utf8_lossy(&have[..have.len().min(200)])
                ));
            }
            break;
        }
        if &have[..want.len()] != want.as_bytes() {
            return Err(format!(
                "expected Seq {}, got {:?}",
                *next,
                String::from_utf8_lossy(&have[..want.len().min(200)])
            ));
        }
        at += want.len();
        *next += 1;
    }
    buf.drain(..at);
    Ok(())
}

/// A fast listener: reads until it has every one of `total` flood events, in order, with
/// nothing missing, doubled or altered in between. Returns the bytes it read.
async fn read_whole_flood(c: Client, total: usize, pad: String) -> usize {
    let (mut stream, mut buf) = c.into_parts();
    let mut next = 0;
    let mut bytes = buf.len();
    loop {
        if let Err(e) = take_flood_events(&mut buf, &mut next, total, &pad) {
            panic!("a fast listener: {e}");
        }
        if next == total {
            assert!(buf.is_empty(), "more than the flood: {buf:?}");
            return bytes;
        }
        buf.reserve(256 * 1024);
        match tokio::time::timeout(Duration::from_secs(30), stream.read_buf(&mut buf)).await {
            Ok(Ok(0)) => panic!("a fast listener was disconnected after {next} events"),
            Ok(Ok(n)) => bytes += n,
            Ok(Err(e)) => panic!("a fast listener's read failed after {next} events: {e}"),
            Err(_) => panic!("a fast listener waited 30 s for event {next}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_listener_is_dropped_and_100_others_get_every_event() {
    const LISTENERS: usize = 100;
    const TOTAL: usize = 8000;
    const BATCH: usize = 250;
    let pad = "x".repeat(300);
    let host = HostBuilder::default()
        .general("eventqueue = 100000")
        .extra(
            "[users.frozen]\nsecret = \"f\"\nread = \"all\"\nwrite = \"all\"\nwritetimeout = 500\n",
        )
        .start();
    let started = Instant::now();

    // The frozen listener: a small receive buffer, and a small segment size so that the
    // host's socket for it keeps a small send buffer too (on loopback, with its 64 KiB
    // segments, Linux sizes that buffer at megabytes, which would swallow the flood);
    // it logs in, then never reads again until the end.
    let socket = TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(4096).expect("rcvbuf");
    socket2::SockRef::from(&socket)
        .set_tcp_mss(536)
        .expect("TCP_MAXSEG");
    let stream = socket.connect(host.addr).await.expect("connect");
    let mut frozen = Client::from_stream(stream);
    frozen.read_line().await;
    frozen.login("frozen", "f", Some("user")).await;
    let frozen_addr = frozen.local_addr().to_string();

    let mut readers = Vec::new();
    for _ in 0..LISTENERS {
        let c = host.login("admin", "amp111", Some("user")).await;
        readers.push(tokio::spawn(read_whole_flood(c, TOTAL, pad.clone())));
    }

    let mut flooder = host.login("admin", "amp111", Some("off")).await;
    let mut sent = 0;
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
    let flood_bytes: usize = (0..TOTAL).map(|i| flood_event(i, &pad).len()).sum();
    for r in readers {
        let got = tokio::time::timeout(Duration::from_secs(60), r)
            .await
            .expect("a fast listener did not get every event in time")
            .expect("fast listener task");
        assert_eq!(got, flood_bytes);
    }

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
    // No fast listener was dropped or lost events.
    let log = host.log();
    assert!(
        !log.lines()
            .any(|l| (l.contains("'admin'") && l.contains("writetimeout"))
                || l.contains("fell behind")
                || l.contains("missed events")),
        "{log}"
    );
    assert_eq!(
        flooder.request(&["Action: Ping"]).await.get("Response"),
        Some("Pong")
    );

    // Now read what the frozen socket held: its receive buffer and the host's send buffer
    // (the kernel still delivers that after the host closed its end). It is the start of
    // the flood, in order, cut off, then the end of the stream; the flood was several
    // times larger, so the frozen listener really blocked the host's writes.
    let (mut stream, mut buf) = frozen.into_parts();
    let mut held = buf.len();
    let mut next = 0;
    loop {
        take_flood_events(&mut buf, &mut next, TOTAL, &pad)
            .unwrap_or_else(|e| panic!("the frozen listener: {e}"));
        buf.reserve(64 * 1024);
        match tokio::time::timeout(Duration::from_secs(10), stream.read_buf(&mut buf)).await {
            Ok(Ok(0)) => break,
            Ok(Ok(n)) => held += n,
            Ok(Err(e)) => panic!("the frozen listener's socket: {e}"),
            Err(_) => panic!("the host did not close the frozen listener's socket"),
        }
    }
    assert!(next < TOTAL, "the frozen listener got the whole flood");
    assert!(
        flood_bytes >= 4 * held,
        "the flood ({flood_bytes} bytes) is not several times what the frozen socket held ({held} bytes)"
    );
    eprintln!(
        "{LISTENERS} listeners x {flood_bytes} bytes; the frozen socket held {held} bytes ({next} events); {:?}",
        started.elapsed()
    );
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
async fn an_ipv6_acl_admits_its_address_and_refuses_a_denied_one() {
    if !ipv6_loopback_works() {
        eprintln!("skipped: ::1 cannot be bound here");
        return;
    }
    let host = HostBuilder::default()
        .listen("[::1]:0")
        .extra(
            "[users.v6]\nsecret = \"v6\"\nread = \"all\"\nwrite = \"all\"\n\
             deny = [\"0.0.0.0/0\"]\npermit = [\"::1/128\"]\n\n\
             [users.net6]\nsecret = \"n6\"\nread = \"all\"\nwrite = \"all\"\n\
             deny = [\"::/0\"]\npermit = [\"2001:db8::/32\", \"[::1]\"]\n\n\
             [users.no6]\nsecret = \"no6\"\nread = \"all\"\nwrite = \"all\"\n\
             deny = [\"::1\"]\n\n\
             [users.other6]\nsecret = \"o6\"\nread = \"all\"\nwrite = \"all\"\n\
             deny = [\"::/0\"]\npermit = [\"2001:db8::/32\"]\n",
        )
        .start();
    assert!(host.addr.is_ipv6(), "{}", host.addr);
    // Permitted: ::1 exactly, and ::1 among other networks after denying all of IPv6.
    for (user, secret) in [("v6", "v6"), ("net6", "n6")] {
        let mut c = host.login(user, secret, Some("off")).await;
        assert_eq!(
            c.request(&["Action: Ping"]).await.get("Response"),
            Some("Pong"),
            "{user}"
        );
    }
    // Denied: ::1 itself, and everything but a network ::1 is not in.
    for (user, secret) in [("no6", "no6"), ("other6", "o6")] {
        assert_eq!(
            try_login(&host, user, secret).await.as_deref(),
            Some("Authentication failed"),
            "{user}"
        );
        let line = log_line(
            &host,
            &["::1", &format!("failed to pass IP ACL as '{user}'")],
            Duration::from_secs(2),
        )
        .await;
        assert!(
            line.is_some(),
            "no ACL log line for {user}:\n{}",
            host.log()
        );
    }
}

#[tokio::test]
async fn an_ipv6_acl_rule_sees_an_ipv4_peer_in_its_mapped_form() {
    let host = HostBuilder::default()
        .extra(
            "[users.mapped]\nsecret = \"m\"\nread = \"all\"\nwrite = \"all\"\n\
             deny = [\"::/0\"]\npermit = [\"::ffff:127.0.0.1/128\"]\n\n\
             [users.v6only]\nsecret = \"v\"\nread = \"all\"\nwrite = \"all\"\n\
             deny = [\"::/0\"]\npermit = [\"::1\"]\n",
        )
        .start();
    assert!(host.addr.is_ipv4(), "{}", host.addr);
    let mut c = host.login("mapped", "m", Some("off")).await;
    assert_eq!(
        c.request(&["Action: Ping"]).await.get("Response"),
        Some("Pong")
    );
    // ::/0 denies IPv4 peers too; ::1 is not 127.0.0.1.
    assert_eq!(
        try_login(&host, "v6only", "v").await.as_deref(),
        Some("Authentication failed")
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

#[tokio::test]
async fn a_logged_in_client_trickling_a_request_is_closed_at_messagetimeout() {
    let host = HostBuilder::default().general("messagetimeout = 2").start();
    // An idle logged-in session is not a slow request: it outlives messagetimeout.
    let mut idle = host.login("admin", "amp111", Some("off")).await;

    let client = host.login("admin", "amp111", Some("off")).await;
    let (stream, _) = client.into_parts();
    let request = b"Action: Ping\r\nActionID: slow\r\nX-Pad: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    let (closed_after, next) = trickle_until_closed(stream, request, false).await;
    assert!(
        closed_after >= Duration::from_millis(1800) && closed_after < Duration::from_secs(6),
        "closed after {closed_after:?}"
    );
    assert!(next >= 5, "only {next} bytes were trickled");
    let line = log_line(
        &host,
        &["messagetimeout", "127.0.0.1"],
        Duration::from_secs(2),
    )
    .await;
    assert!(
        line.is_some(),
        "no messagetimeout log line:\n{}",
        host.log()
    );

    // The idle session, logged in before the slow one, is still served.
    let pong = idle
        .request(&["Action: Ping", "ActionID: still-here"])
        .await;
    assert_eq!(pong.get("Response"), Some("Pong"), "{pong:?}");
    assert_eq!(pong.get("ActionID"), Some("still-here"));
}
