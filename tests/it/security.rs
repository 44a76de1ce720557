//! Security review, black-box: a plugin gets neither host files nor the host environment
//! through WASI, and HTTP session ids and MD5 challenges look like CSPRNG output (all
//! distinct, well-formed, no bias a counter or a clock would show).

use std::collections::HashSet;
use std::time::Duration;

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::support::{HostBuilder, Msg};

/// Asserts a WASI probe got nothing: the call failed (the host's WASI functions trap),
/// or it answered with only error texts in `fields`; and `secret` is nowhere in it.
fn got_nothing(m: &Msg, fields: &[(&str, &str)], secret: &str) {
    assert!(!m.raw.contains(secret), "a host secret leaked: {:?}", m.raw);
    match m.get("Response") {
        Some("Error") => assert!(
            m.get("Message")
                .is_some_and(|s| s.contains("plugin wasi-file")),
            "{m:?}"
        ),
        Some("Success") => {
            for (field, got_something) in fields {
                let v = m.get(field).unwrap_or_else(|| panic!("no {field}: {m:?}"));
                assert!(!v.starts_with(got_something), "{field}: {v:?}");
            }
        }
        _ => panic!("{m:?}"),
    }
}

#[tokio::test]
async fn a_wasi_plugin_reads_no_host_file_and_no_host_environment() {
    let secret = format!("S3cr3t-{}-{}", std::process::id(), line!());
    let host = HostBuilder::default()
        .fixture("wasi-file")
        .file("secret.txt", &secret)
        .env("AMIHOST_TEST_SECRET", &secret)
        .start();
    let secret_file = host.dir().join("secret.txt");
    assert_eq!(
        std::fs::read_to_string(&secret_file).expect("secret file"),
        secret
    );
    let mut c = host.login("admin", "amp111", Some("off")).await;
    // Files: one only the host can see, the host's own environment as a file, the
    // config, a system file, and a relative name (the host's working directory).
    let config = host.config.display().to_string();
    let file = secret_file.display().to_string();
    for path in [
        file.as_str(),
        "/proc/self/environ",
        config.as_str(),
        "/etc/passwd",
        "secret.txt",
    ] {
        let m = c
            .request(&["Action: ReadFile", &format!("Path: {path}")])
            .await;
        got_nothing(&m, &[("File", "read "), ("Home", "set: ")], &secret);
        if m.get("Response") == Some("Success") {
            assert!(!m.raw.contains("root:"), "{path}: {m:?}");
            assert!(!m.raw.contains("amp111"), "{path}: {m:?}");
        }
    }
    // The environment: the variable set on the host process, PATH, and all of it.
    let mut statuses = Vec::new();
    for var in ["AMIHOST_TEST_SECRET", "PATH", "RUST_LOG"] {
        let m = c
            .request(&["Action: ReadEnv", &format!("Var: {var}")])
            .await;
        got_nothing(&m, &[("Var", "set: ")], &secret);
        statuses.push(m.get("Response").map(str::to_string));
        if m.get("Response") == Some("Success") {
            assert_eq!(m.get("Vars"), Some("0"), "{m:?}");
            assert_eq!(m.get("Env"), Some(""), "{m:?}");
        }
    }
    // Nothing of it hurt the plugin (it answers as before) or the host.
    let again = c.request(&["Action: ReadEnv"]).await;
    assert_eq!(again.get("Response").map(str::to_string), statuses[0]);
    assert_eq!(
        c.request(&["Action: Ping"]).await.get("Response"),
        Some("Pong")
    );
    assert!(
        !host.log().contains(&secret),
        "the secret reached the log:\n{}",
        host.log()
    );
}

/// Counts the 1 bits of hex text.
fn ones(hex: &str) -> u32 {
    hex.chars()
        .map(|c| c.to_digit(16).expect("hex digit").count_ones())
        .sum()
}

#[tokio::test]
async fn http_session_ids_are_distinct_unbiased_128_bit_values() {
    const N: usize = 1000;
    let host = HostBuilder::default()
        .general("webenabled = true")
        .http("")
        .start();
    let addr = host.http.expect("http");
    let stream = TcpStream::connect(addr).await.expect("connect");
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    tokio::spawn(conn);
    let mut ids = Vec::with_capacity(N);
    for _ in 0..N {
        // No cookie: every request opens a new session.
        let req = hyper::Request::builder()
            .uri("/asterisk/rawman?action=ping")
            .header("host", addr.to_string())
            .body(Empty::<Bytes>::new())
            .expect("request");
        let resp = tokio::time::timeout(Duration::from_secs(10), sender.send_request(req))
            .await
            .expect("no answer")
            .expect("response");
        let cookie = resp
            .headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .expect("Set-Cookie")
            .to_string();
        resp.into_body().collect().await.expect("body");
        let id = cookie
            .strip_prefix("mansession_id=\"")
            .and_then(|r| r.split_once('"'))
            .map(|(id, _)| id.to_string())
            .unwrap_or_else(|| panic!("{cookie:?}"));
        assert!(
            id.len() == 32 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')),
            "{id:?}"
        );
        ids.push(id);
    }
    let distinct: HashSet<&String> = ids.iter().collect();
    assert_eq!(distinct.len(), N, "repeated session ids");
    // 128 000 fair coin flips: 64 000 ones, standard deviation about 179.
    let total: u32 = ids.iter().map(|id| ones(id)).sum();
    assert!(total.abs_diff(64_000) < 1_500, "{total} one bits");
    // Every nibble position takes many values (a counter or a timestamp would not).
    for pos in 0..32 {
        let values: HashSet<u8> = ids.iter().map(|id| id.as_bytes()[pos]).collect();
        assert_eq!(values.len(), 16, "position {pos} takes {values:?}");
    }
}

#[tokio::test]
async fn md5_challenges_are_unpredictable_and_well_formed() {
    const N: usize = 1000;
    // A session keeps its challenge (as in Asterisk): one connection per challenge.
    let host = HostBuilder::default().general("authlimit = 100000").start();
    let mut values = Vec::with_capacity(N);
    for i in 0..N {
        let mut c = host.connect().await;
        let m = c
            .request(&[
                "Action: Challenge",
                "AuthType: md5",
                &format!("ActionID: {i}"),
            ])
            .await;
        assert_eq!(m.get("Response"), Some("Success"), "{m:?}");
        assert_eq!(m.get("ActionID"), Some(i.to_string().as_str()));
        let ch = m.get("Challenge").expect("Challenge");
        // As Asterisk: decimal, at most nine digits.
        assert!(
            !ch.is_empty() && ch.len() <= 9 && ch.bytes().all(|b| b.is_ascii_digit()),
            "{ch:?}"
        );
        values.push(ch.parse::<u64>().expect("number"));
    }
    // Nine digits hold about 30 bits: among 1000 draws a repeat has a chance of 1 in
    // 2000, three of them practically none.
    let distinct: HashSet<u64> = values.iter().copied().collect();
    assert!(distinct.len() >= N - 2, "{} distinct", distinct.len());
    // Spread over the range, not rising (a counter or a clock would rise).
    let mean = values.iter().sum::<u64>() / N as u64;
    assert!((350_000_000..650_000_000).contains(&mean), "mean {mean}");
    let rises = values.windows(2).filter(|w| w[1] > w[0]).count();
    assert!(
        (400..600).contains(&rises),
        "{rises} of {} steps rise",
        N - 1
    );
    for decile in 0..10u64 {
        let inside = values
            .iter()
            .filter(|v| **v / 100_000_000 == decile)
            .count();
        assert!((40..180).contains(&inside), "decile {decile}: {inside}");
    }
}
