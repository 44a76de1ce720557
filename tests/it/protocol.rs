//! Banner, login, dispatch errors and the simple built-ins, byte for byte, in both
//! dialects.

use std::time::{Duration, Instant};

use crate::support::{Host, HostBuilder};

const V1_BANNER: &str = "Asterisk Call Manager/1.0";
const MODERN_BANNER: &str = "Asterisk Call Manager/11.0.0";

#[tokio::test]
async fn banner_in_each_dialect() {
    let v1 = Host::start();
    assert_eq!(v1.connect().await.banner, V1_BANNER);
    let modern = HostBuilder::default().modern().start();
    assert_eq!(modern.connect().await.banner, MODERN_BANNER);
}

#[tokio::test]
async fn login_ok_v1() {
    let host = Host::start();
    let mut c = host.connect().await;
    c.send(&[
        "Action: Login",
        "ActionID: 1",
        "Username: admin",
        "Secret: amp111",
    ])
    .await;
    let m = c.read_msg().await;
    assert_eq!(
        m.raw,
        "Response: Success\r\nActionID: 1\r\nMessage: Authentication accepted\r\n\r\n"
    );
    // No event follows a 1.0 login.
    assert!(c.quiet_for(Duration::from_millis(300)).await);
}

#[tokio::test]
async fn login_ok_modern_pushes_fully_booted() {
    let host = HostBuilder::default().modern().start();
    let mut c = host.connect().await;
    c.send(&[
        "Action: Login",
        "ActionID: 1",
        "Username: admin",
        "Secret: amp111",
    ])
    .await;
    let m = c.read_msg().await;
    assert_eq!(
        m.raw,
        "Response: Success\r\nActionID: 1\r\nMessage: Authentication accepted\r\n\r\n"
    );
    let ev = c.read_msg().await;
    assert!(ev.is_event("FullyBooted"), "{ev:?}");
    assert_eq!(ev.get("Privilege"), Some("system,all"));
    assert_eq!(ev.get("Status"), Some("Fully Booted"));
    assert!(ev.get("Uptime").is_some() && ev.get("LastReload").is_some());
}

#[tokio::test]
async fn login_with_events_off_gets_no_fully_booted() {
    let host = HostBuilder::default().modern().start();
    let mut c = host.login("admin", "amp111", Some("off")).await;
    assert!(c.quiet_for(Duration::from_millis(300)).await);
}

async fn bad_secret(host: &Host) {
    let mut c = host.connect().await;
    let t = Instant::now();
    c.send(&[
        "Action: Login",
        "ActionID: 2",
        "Username: admin",
        "Secret: wrong-secret",
    ])
    .await;
    let m = c.read_msg().await;
    assert!(
        t.elapsed() >= Duration::from_millis(900),
        "answered too early"
    );
    assert_eq!(
        m.raw,
        "Response: Error\r\nActionID: 2\r\nMessage: Authentication failed\r\n\r\n"
    );
    assert!(
        c.closed().await,
        "connection stays open after a failed login"
    );
}

#[tokio::test]
async fn login_with_bad_secret_is_rejected_and_closed() {
    bad_secret(&Host::start()).await;
    bad_secret(&HostBuilder::default().modern().start()).await;
}

#[tokio::test]
async fn login_with_unknown_user_looks_like_a_bad_secret() {
    let host = Host::start();
    let mut c = host.connect().await;
    let m = c
        .request(&["Action: Login", "Username: nobody", "Secret: amp111"])
        .await;
    assert_eq!(
        m.raw,
        "Response: Error\r\nMessage: Authentication failed\r\n\r\n"
    );
}

#[tokio::test]
async fn failed_login_does_not_stall_other_sessions() {
    let host = Host::start();
    let mut bad = host.connect().await;
    bad.send(&["Action: Login", "Username: admin", "Secret: nope"])
        .await;
    let mut good = host.login("admin", "amp111", Some("off")).await;
    let t = Instant::now();
    let m = good.request(&["Action: Ping"]).await;
    assert_eq!(m.get("Response"), Some("Pong"));
    assert!(t.elapsed() < Duration::from_millis(500));
}

async fn md5_flow(host: &Host) {
    let mut c = host.connect().await;
    let ch = c
        .request(&["Action: Challenge", "ActionID: 19a", "AuthType: MD5"])
        .await;
    let nonce = ch.get("Challenge").expect("challenge").to_string();
    assert!(!nonce.is_empty() && nonce.len() <= 9 && nonce.bytes().all(|b| b.is_ascii_digit()));
    assert_eq!(
        ch.raw,
        format!("Response: Success\r\nActionID: 19a\r\nChallenge: {nonce}\r\n\r\n")
    );
    // A second Challenge returns the same nonce.
    let again = c.request(&["Action: Challenge", "AuthType: md5"]).await;
    assert_eq!(again.get("Challenge"), Some(nonce.as_str()));
    let key = md5_hex(&format!("{nonce}amp111"));
    let k = format!("Key: {key}");
    let ok = c
        .request(&[
            "Action: Login",
            "ActionID: 19b",
            "AuthType: MD5",
            "Username: admin",
            k.as_str(),
            "Events: off",
        ])
        .await;
    assert_eq!(
        ok.raw,
        "Response: Success\r\nActionID: 19b\r\nMessage: Authentication accepted\r\n\r\n"
    );

    let mut b = host.connect().await;
    b.request(&["Action: Challenge", "AuthType: MD5"]).await;
    let bad = b
        .request(&[
            "Action: Login",
            "ActionID: 19e",
            "AuthType: MD5",
            "Username: admin",
            "Key: 00000000000000000000000000000000",
        ])
        .await;
    assert_eq!(
        bad.raw,
        "Response: Error\r\nActionID: 19e\r\nMessage: Authentication failed\r\n\r\n"
    );
    assert!(b.closed().await);

    let mut c2 = host.connect().await;
    let sha = c2
        .request(&["Action: Challenge", "ActionID: 19f", "AuthType: SHA1"])
        .await;
    assert_eq!(
        sha.raw,
        "Response: Error\r\nActionID: 19f\r\nMessage: Must specify AuthType\r\n\r\n"
    );
}

#[tokio::test]
async fn md5_challenge_login() {
    md5_flow(&Host::start()).await;
    md5_flow(&HostBuilder::default().modern().start()).await;
}

#[tokio::test]
async fn md5_key_without_challenge_fails() {
    let host = Host::start();
    let mut c = host.connect().await;
    let key = format!("Key: {}", md5_hex("amp111"));
    let m = c
        .request(&[
            "Action: Login",
            "AuthType: MD5",
            "Username: admin",
            key.as_str(),
        ])
        .await;
    assert_eq!(m.get("Message"), Some("Authentication failed"));
}

#[tokio::test]
async fn actions_before_login() {
    let host = Host::start();
    let mut c = host.connect().await;
    let m = c.request(&["Action: Ping", "ActionID: 5"]).await;
    assert_eq!(
        m.raw,
        "Response: Error\r\nActionID: 5\r\nMessage: Authentication Required\r\n\r\n"
    );
    let m = c.request(&["Action: Logoff", "ActionID: 5d"]).await;
    assert_eq!(
        m.raw,
        "Response: Success\r\nActionID: 5d\r\nMessage: See ya\r\n\r\n"
    );
    assert!(c.closed().await);

    let host = HostBuilder::default().modern().start();
    let mut c = host.connect().await;
    for (action, id) in [("Ping", "5"), ("CoreStatus", "5b"), ("NoSuchAction", "5c")] {
        let a = format!("Action: {action}");
        let i = format!("ActionID: {id}");
        let m = c.request(&[a.as_str(), i.as_str()]).await;
        assert_eq!(
            m.raw,
            format!("Response: Error\r\nActionID: {id}\r\nMessage: Permission denied\r\n\r\n")
        );
    }
    let m = c.request(&["Action: Logoff", "ActionID: 5d"]).await;
    assert_eq!(
        m.raw,
        "Response: Goodbye\r\nActionID: 5d\r\nMessage: Thanks for all the fish.\r\n\r\n"
    );
    assert!(c.closed().await);
}

#[tokio::test]
async fn missing_action() {
    for host in [Host::start(), HostBuilder::default().modern().start()] {
        let mut c = host.login("admin", "amp111", Some("off")).await;
        let m = c.request(&["ActionID: 4", "Foo: bar"]).await;
        assert_eq!(
            m.raw,
            "Response: Error\r\nActionID: 4\r\nMessage: Missing action in request\r\n\r\n"
        );
        let m = c.request(&["Action: ", "ActionID: 4b"]).await;
        assert_eq!(
            m.raw,
            "Response: Error\r\nActionID: 4b\r\nMessage: Missing action in request\r\n\r\n"
        );
        // Before login too.
        let mut u = host.connect().await;
        let m = u.request(&["Foo: bar"]).await;
        assert_eq!(
            m.raw,
            "Response: Error\r\nMessage: Missing action in request\r\n\r\n"
        );
    }
}

#[tokio::test]
async fn unknown_action() {
    let host = Host::start();
    let mut c = host.login("admin", "amp111", Some("off")).await;
    let m = c.request(&["Action: NoSuchAction", "ActionID: 3"]).await;
    assert_eq!(
        m.raw,
        "Response: Error\r\nActionID: 3\r\nMessage: Invalid/unknown command\r\n\r\n"
    );
    // After login, Challenge is not an action in 1.0.
    let m = c.request(&["Action: Challenge", "AuthType: MD5"]).await;
    assert_eq!(m.get("Message"), Some("Invalid/unknown command"));
    // The connection stays usable.
    assert_eq!(
        c.request(&["Action: Ping"]).await.get("Response"),
        Some("Pong")
    );

    let host = HostBuilder::default().modern().start();
    let mut c = host.login("admin", "amp111", Some("off")).await;
    let m = c.request(&["Action: NoSuchAction", "ActionID: 3"]).await;
    assert_eq!(
        m.raw,
        "Response: Error\r\nActionID: 3\r\nMessage: Invalid/unknown command: NoSuchAction. Use Action: ListCommands to show available commands.\r\n\r\n"
    );
    let m = c.request(&["Action: noSUCHaction"]).await;
    assert_eq!(
        m.raw,
        "Response: Error\r\nMessage: Invalid/unknown command: noSUCHaction. Use Action: ListCommands to show available commands.\r\n\r\n"
    );
}

#[tokio::test]
async fn login_twice_is_acknowledged() {
    let host = Host::start();
    let mut c = host.login("admin", "amp111", Some("off")).await;
    let m = c
        .request(&[
            "Action: Login",
            "Username: admin",
            "Secret: whatever",
            "ActionID: x",
        ])
        .await;
    assert_eq!(
        m.raw,
        "Response: Success\r\nActionID: x\r\nMessage: Already logged in\r\n\r\n"
    );
}

#[tokio::test]
async fn header_and_action_names_in_any_case() {
    let host = Host::start();
    let mut c = host.connect().await;
    let m = c
        .request(&[
            "action: login",
            "USERNAME: admin",
            "secret: amp111",
            "actionid: L",
            "events: off",
        ])
        .await;
    assert_eq!(
        m.raw,
        "Response: Success\r\nActionID: L\r\nMessage: Authentication accepted\r\n\r\n"
    );
    let m = c.request(&["ACTION: PING", "ActionId: p1"]).await;
    assert_eq!(m.raw, "Response: Pong\r\nActionID: p1\r\n\r\n");
    // Header lines sorted alphabetically: Action is not first.
    let m = c.request(&["ActionID: p2", "Action: ping"]).await;
    assert_eq!(m.raw, "Response: Pong\r\nActionID: p2\r\n\r\n");
}

#[tokio::test]
async fn v1_header_needs_one_blank_after_the_colon() {
    let host = Host::start();
    let mut c = host.login("admin", "amp111", Some("off")).await;
    let m = c.request(&["Action:Ping", "ActionID: nb"]).await;
    assert_eq!(m.get("Message"), Some("Missing action in request"));
    // The modern dialect accepts it.
    let host = HostBuilder::default().modern().start();
    let mut c = host.login("admin", "amp111", Some("off")).await;
    let m = c.request(&["Action:Ping", "ActionID: nb"]).await;
    assert_eq!(m.get("Ping"), Some("Pong"));
}

#[tokio::test]
async fn bare_lf_ends_lines() {
    let host = Host::start();
    let mut c = host.connect().await;
    c.send_raw(b"Action: Login\nUsername: admin\nSecret: amp111\nEvents: off\n\nAction: Ping\nActionID: lf\n\n")
        .await;
    assert_eq!(
        c.read_msg().await.get("Message"),
        Some("Authentication accepted")
    );
    assert_eq!(
        c.read_msg().await.raw,
        "Response: Pong\r\nActionID: lf\r\n\r\n"
    );
}

#[tokio::test]
async fn long_action_ids_are_echoed_whole() {
    let host = Host::start();
    let mut c = host.login("admin", "amp111", Some("off")).await;
    let id = "i".repeat(1000);
    let line = format!("ActionID: {id}");
    let m = c.request(&["Action: Ping", line.as_str()]).await;
    assert_eq!(m.raw, format!("Response: Pong\r\nActionID: {id}\r\n\r\n"));
}

#[tokio::test]
async fn ping_in_each_dialect() {
    let host = Host::start();
    let mut c = host.login("admin", "amp111", Some("off")).await;
    assert_eq!(
        c.request(&["Action: Ping", "ActionID: k1"]).await.raw,
        "Response: Pong\r\nActionID: k1\r\n\r\n"
    );
    assert_eq!(
        c.request(&["Action: Ping"]).await.raw,
        "Response: Pong\r\n\r\n"
    );

    let host = HostBuilder::default().modern().start();
    let mut c = host.login("admin", "amp111", Some("off")).await;
    let m = c.request(&["Action: Ping", "ActionID: 6"]).await;
    let lines: Vec<&str> = m.raw.split("\r\n").collect();
    assert_eq!(
        &lines[..3],
        &["Response: Success", "ActionID: 6", "Ping: Pong"]
    );
    let ts = lines[3].strip_prefix("Timestamp: ").expect("timestamp");
    let (secs, micros) = ts.split_once('.').expect("dot");
    assert!(secs.parse::<u64>().expect("secs") > 1_700_000_000);
    assert_eq!(micros.len(), 6);
    assert_eq!(&lines[4..], &["", ""]);
}

#[tokio::test]
async fn pipelined_requests_are_answered_in_order() {
    let host = HostBuilder::default().modern().start();
    let mut c = host.login("admin", "amp111", Some("off")).await;
    c.send_raw(b"Action: Ping\r\nActionID: 6a\r\n\r\nAction: Ping\r\nActionID: 6b\r\n\r\nAction: Ping\r\nActionID: 6c\r\n\r\n")
        .await;
    for id in ["6a", "6b", "6c"] {
        assert_eq!(c.read_msg().await.get("ActionID"), Some(id));
    }
}

#[tokio::test]
async fn a_long_pipelined_burst_is_answered_in_order() {
    // About 100 KB of requests in one write: more than a read takes at first, so the
    // session's reads grow; the last request is cut inside a line across two writes.
    let host = Host::start();
    let mut c = host.login("admin", "amp111", Some("off")).await;
    let mut burst = Vec::new();
    for i in 0..3000 {
        burst.extend_from_slice(format!("Action: Ping\r\nActionID: b{i}\r\n\r\n").as_bytes());
    }
    burst.extend_from_slice(b"Action: Ping\r\nActi");
    c.send_raw(&burst).await;
    c.send_raw(b"onID: last\r\n\r\n").await;
    for i in 0..3000 {
        let m = c.read_msg().await;
        assert_eq!(m.get("Response"), Some("Pong"), "{}", m.raw);
        assert_eq!(m.get("ActionID"), Some(format!("b{i}").as_str()));
    }
    assert_eq!(c.read_msg().await.get("ActionID"), Some("last"));
    // After the burst, a lone request is answered as before.
    let m = c.request(&["Action: Ping", "ActionID: after"]).await;
    assert_eq!(m.raw, "Response: Pong\r\nActionID: after\r\n\r\n");
}

#[tokio::test]
async fn pipelined_user_events_reach_their_sender_between_the_replies() {
    // Each request's reply, then the events it caused, then the next request's reply:
    // however many requests one read brings.
    let host = Host::start();
    let mut c = host.login("admin", "amp111", Some("user")).await;
    let mut burst = Vec::new();
    for i in 0..200 {
        burst.extend_from_slice(
            format!("Action: UserEvent\r\nUserEvent: Burst\r\nActionID: u{i}\r\n\r\n").as_bytes(),
        );
    }
    c.send_raw(&burst).await;
    for i in 0..200 {
        let id = format!("u{i}");
        let reply = c.read_msg().await;
        assert_eq!(reply.get("Response"), Some("Success"), "{}", reply.raw);
        assert_eq!(reply.get("ActionID"), Some(id.as_str()));
        let event = c.read_msg().await;
        assert!(event.is_event("UserEvent"), "{}", event.raw);
        assert_eq!(event.get("ActionID"), Some(id.as_str()));
    }
}

#[tokio::test]
async fn logoff_after_login() {
    for host in [Host::start(), HostBuilder::default().modern().start()] {
        let mut c = host.login("admin", "amp111", Some("off")).await;
        let m = c.request(&["Action: Logoff", "ActionID: 22"]).await;
        assert_eq!(
            m.raw,
            "Response: Goodbye\r\nActionID: 22\r\nMessage: Thanks for all the fish.\r\n\r\n"
        );
        assert!(c.closed().await);
    }
}

#[tokio::test]
async fn core_settings_and_status() {
    let host = Host::start();
    let mut c = host.login("admin", "amp111", Some("off")).await;
    let m = c.request(&["Action: CoreSettings", "ActionID: 17"]).await;
    let names: Vec<&str> = m.headers.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "Response",
            "ActionID",
            "AMIversion",
            "AsteriskVersion",
            "SystemName",
            "CoreMaxCalls",
            "CoreMaxLoadAvg",
            "CoreRunUser",
            "CoreRunGroup",
            "CoreMaxFilehandles",
            "CoreRealTimeEnabled",
            "CoreCDRenabled",
            "CoreHTTPenabled"
        ]
    );
    assert_eq!(m.get("AMIversion"), Some("1.0"));
    assert_eq!(m.get("CoreMaxLoadAvg"), Some("0.000000"));
    assert_eq!(m.get("CoreHTTPenabled"), Some("No"));
    let m = c.request(&["Action: CoreStatus", "ActionID: 18"]).await;
    let names: Vec<&str> = m.headers.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "Response",
            "ActionID",
            "CoreStartupTime",
            "CoreReloadTime",
            "CoreCurrentCalls"
        ]
    );
    let t = m.get("CoreStartupTime").expect("time");
    assert!(t.len() == 8 && t.as_bytes()[2] == b':' && t.as_bytes()[5] == b':');

    let host = HostBuilder::default()
        .modern()
        .general("webenabled = true")
        .start();
    let mut c = host.login("admin", "amp111", Some("off")).await;
    let m = c.request(&["Action: CoreSettings", "ActionID: 17"]).await;
    assert_eq!(m.get("AMIversion"), Some("11.0.0"));
    assert_eq!(m.get("CoreHTTPenabled"), Some("Yes"));
    assert_eq!(
        m.headers.last().map(|(n, v)| (n.as_str(), v.as_str())),
        Some(("SoundsSearchCustomDir", "No"))
    );
    let m = c.request(&["Action: CoreStatus", "ActionID: 18"]).await;
    let names: Vec<&str> = m.headers.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "Response",
            "ActionID",
            "CoreStartupDate",
            "CoreStartupTime",
            "CoreReloadDate",
            "CoreReloadTime",
            "CoreCurrentCalls",
            "CoreProcessedCalls"
        ]
    );
}

#[tokio::test]
async fn list_commands_lists_every_registered_action() {
    let host = HostBuilder::default()
        .fixture("probe")
        .extra("[plugins.probe]\ngrants = [\"session\"]")
        .start();
    let mut c = host.login("admin", "amp111", Some("off")).await;
    let m = c.request(&["Action: ListCommands", "ActionID: 7"]).await;
    let lines = [
        "AbsoluteTimeout: Set Absolute Timeout (Priv: call,all)",
        "Atxfer: Attended transfer (Priv: call,all)",
        "Command: Execute Asterisk CLI Command (Priv: command,all)",
        "CoreSettings: Show PBX core settings (version etc) (Priv: system,all)",
        "CoreStatus: Show PBX core status variables (Priv: system,all)",
        "Events: Control Event Flow (Priv: <none>)",
        "ExtensionState: Check Extension Status (Priv: call,all)",
        "GetConfig: Retrieve configuration (Priv: config,all)",
        "Getvar: Gets a Channel Variable (Priv: call,all)",
        "Hangup: Hangup Channel (Priv: call,all)",
        "ListCommands: List available manager commands (Priv: <none>)",
        "Logoff: Logoff Manager (Priv: <none>)",
        "MailboxCount: Check Mailbox Message Count (Priv: call,all)",
        "MailboxStatus: Check Mailbox (Priv: call,all)",
        "ModuleCheck: Check if module is loaded (Priv: system,all)",
        "ModuleLoad: Module management (Priv: system,all)",
        "Originate: Originate Call (Priv: call,all)",
        "Ping: Keepalive command (Priv: <none>)",
        "PluginList: List the plugins (Priv: system,all)",
        "Redirect: Redirect (transfer) a call (Priv: call,all)",
        "Reload: Send a reload event (Priv: system,all)",
        "SessionProbe: Probe the session interface (Priv: <none>)",
        "Setvar: Set Channel Variable (Priv: call,all)",
        "Status: Lists channel status (Priv: call,all)",
        "UpdateConfig: Update basic configuration (Priv: config,all)",
        "UserEvent: Send an arbitrary event (Priv: user,all)",
        "WaitEvent: Wait for an event to occur (Priv: <none>)",
    ];
    let expected = format!(
        "Response: Success\r\nActionID: 7\r\n{}\r\n\r\n",
        lines.join("\r\n")
    );
    // All 22 actions of the seed and the four plugin-management actions, each from a
    // plugin, plus the fixture's SessionProbe.
    assert_eq!(m.raw, expected);
    assert!(!m.raw.contains("Login:"));

    // A user without write classes sees only what it may run.
    let mut r = host.login("reader", "reader", Some("off")).await;
    let m = r.request(&["Action: ListCommands"]).await;
    assert!(
        !m.raw.contains("CoreSettings") && !m.raw.contains("UserEvent"),
        "{}",
        m.raw
    );
    assert!(m.raw.contains("Ping: Keepalive command (Priv: <none>)"));

    let host = HostBuilder::default().modern().start();
    let mut c = host.login("admin", "amp111", Some("off")).await;
    let m = c.request(&["Action: ListCommands", "ActionID: 7"]).await;
    assert!(
        m.raw
            .contains("\r\nChallenge: Generate Challenge for MD5 Auth.  (Priv: <none>)\r\n"),
        "{}",
        m.raw
    );
    assert!(m.raw.contains("\r\nCoreSettings: Show PBX core settings (version etc).  (Priv: system,reporting,all)\r\n"), "{}", m.raw);
    assert!(m
        .raw
        .contains("\r\nLogin: Login Manager.  (Priv: <none>)\r\n"));
    assert!(m
        .raw
        .contains("\r\nPing: Keepalive command.  (Priv: <none>)\r\n"));
}

fn md5_hex(s: &str) -> String {
    use md5::{Digest, Md5};
    Md5::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[tokio::test]
async fn permit_and_deny_are_checked_against_the_peer() {
    let host = HostBuilder::default()
        .extra(
            "[users.lanonly]\nsecret = \"lan\"\nread = \"all\"\nwrite = \"all\"\ndeny = [\"0.0.0.0/0\"]\npermit = [\"10.0.0.0/8\"]\n\n\
             [users.local]\nsecret = \"loc\"\nread = \"all\"\nwrite = \"all\"\ndeny = [\"0.0.0.0/0.0.0.0\"]\npermit = [\"127.0.0.1/32\"]\n",
        )
        .start();
    let mut c = host.connect().await;
    let m = c
        .request(&["Action: Login", "Username: lanonly", "Secret: lan"])
        .await;
    assert_eq!(
        m.raw,
        "Response: Error\r\nMessage: Authentication failed\r\n\r\n"
    );
    assert!(c.closed().await);
    let needle = "failed to pass IP ACL as 'lanonly'";
    let log = host.wait_log(needle).await;
    assert!(log.contains(needle), "{log}");
    host.login("local", "loc", Some("off")).await;
}

#[tokio::test]
async fn two_plugins_serving_one_action_is_a_load_error_naming_both() {
    let dir = crate::support::scratch_dir("dup");
    let plugins = dir.join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    for e in std::fs::read_dir(crate::support::builtin_plugins()).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, plugins.join(p.file_name().unwrap())).unwrap();
    }
    std::fs::copy(plugins.join("ping.wasm"), plugins.join("ping2.wasm")).unwrap();
    let config = dir.join("amihost.toml");
    std::fs::write(
        &config,
        format!(
            "[plugins]\ndir = \"{}\"\n\n[plugins.ping2]\ngrants = [\"core\"]\n{}",
            plugins.display(),
            crate::support::USERS
        ),
    )
    .unwrap();
    let host = Host::spawn(&config, &[]);
    let mut c = host.login("admin", "amp111", Some("off")).await;
    assert_eq!(
        c.request(&["Action: Ping"]).await.get("Response"),
        Some("Pong")
    );
    let needle = "action \"Ping\" is served by both plugin ping and plugin ping2";
    let log = host.wait_log(needle).await;
    assert!(log.contains(needle), "{log}");
}
