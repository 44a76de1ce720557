//! The embedded PBX through its actions: a scripted call, Status, Hangup, variables,
//! mailboxes, extension states, config files, WaitEvent, and the permission matrix.

use std::time::{Duration, Instant};

use crate::support::{Client, Host, HostBuilder, Msg};

pub const DIALPLAN: &str = "[general]\nstatic = yes\n\n[globals]\nCOMPANY = Example\n\n[default]\n\
exten => 100,hint,SIP/100\n\
exten => 100,1,Answer()\n same => n,Wait(1)\n same => n,Hangup()\n\
exten => 101,1,Dial(SIP/100,10)\n same => n,Hangup()\n\
exten => 102,1,Answer()\n same => n(loop),Wait(30)\n same => n,Hangup()\n\
exten => 103,1,Answer()\n same => n,UserEvent(FromDialplan,Source: extension 103)\n same => n,Hangup()\n\
exten => 200,hint,SIP/200\nexten => 200,1,Dial(SIP/200,5)\n";

pub const DEVICES: &str = "[pbx.devices]\n\"SIP/100\" = \"answer 100\"\n\"SIP/200\" = \"busy\"\n\"SIP/300\" = \"noanswer\"\n";

pub fn pbx_host(modern: bool) -> Host {
    let mut b = HostBuilder::default()
        .extra(DEVICES)
        .file("extensions.conf", DIALPLAN)
        .file(
            "spool/voicemail/default/1234/INBOX/msg0000.txt",
            "[message]\n",
        )
        .file(
            "spool/voicemail/default/1234/INBOX/msg0001.txt",
            "[message]\n",
        )
        .file(
            "spool/voicemail/default/1234/Old/msg0000.txt",
            "[message]\n",
        )
        .file(
            "sip.conf",
            "[general]\ncontext = default\nallowguest=no\n\n[100]\ntype = friend\nsecret => abc\n",
        );
    if modern {
        b = b.modern();
    }
    b.start()
}

/// Reads events until `name` arrives, collecting the names of those seen on the way.
async fn collect_until(c: &mut Client, name: &str, seen: &mut Vec<Msg>) -> Msg {
    loop {
        let m = c.read_msg().await;
        seen.push(m.clone());
        if m.is_event(name) {
            return m;
        }
    }
}

#[tokio::test]
async fn scripted_call_v1_events_in_order_and_status_while_up() {
    let host = pbx_host(false);
    let mut listener = host.login("admin", "amp111", Some("call")).await;
    let mut c = host.login("admin", "amp111", Some("off")).await;
    let ack = c
        .request(&[
            "Action: Originate",
            "ActionID: o1",
            "Channel: Local/100@default",
            "Context: default",
            "Exten: 102",
            "Priority: 1",
            "CallerID: \"Alice\" <555-0100>",
            "Async: true",
        ])
        .await;
    assert_eq!(
        ack.raw,
        "Response: Success\r\nActionID: o1\r\nMessage: Originate successfully queued\r\n\r\n"
    );
    let mut seen = Vec::new();
    let resp = collect_until(&mut listener, "OriginateResponse", &mut seen).await;
    assert_eq!(resp.get("ActionID"), Some("o1"));
    assert_eq!(resp.get("Response"), Some("Success"));
    assert_eq!(resp.get("Reason"), Some("4"));
    assert_eq!(resp.get("CallerIDNum"), Some("5550100"));
    let chan = resp.get("Channel").expect("channel").to_string();
    assert!(
        chan.starts_with("Local/100@default-") && chan.ends_with(";1"),
        "{chan}"
    );
    let uid = resp.get("Uniqueid").expect("uniqueid").to_string();
    let names: Vec<&str> = seen.iter().filter_map(|m| m.get("Event")).collect();
    assert_eq!(names[0], "Newchannel", "{names:?}");
    assert_eq!(seen[0].get("Channel"), Some(chan.as_str()));
    assert_eq!(seen[0].get("Uniqueid"), Some(uid.as_str()));
    assert!(
        names.contains(&"Newexten") && names.contains(&"Newstate"),
        "{names:?}"
    );
    let ids: std::collections::HashSet<&str> = seen
        .iter()
        .filter(|m| m.is_event("Newchannel"))
        .filter_map(|m| m.get("Uniqueid"))
        .collect();
    assert_eq!(ids.len(), 2, "two channels with distinct unique ids");

    // Status shows the channel while it is up (1.0 layout).
    c.send(&["Action: Status", "ActionID: s1"]).await;
    let first = c.read_msg().await;
    assert_eq!(
        first.raw,
        "Response: Success\r\nActionID: s1\r\nMessage: Channel status will follow\r\n\r\n"
    );
    let mut blocks = Vec::new();
    loop {
        let m = c.read_msg().await;
        if m.is_event("StatusComplete") {
            assert_eq!(m.raw, "Event: StatusComplete\r\nActionID: s1\r\n\r\n");
            break;
        }
        assert!(m.is_event("Status"), "{m:?}");
        assert_eq!(m.get("Privilege"), Some("Call"));
        assert_eq!(m.headers.last().map(|h| h.0.as_str()), Some("ActionID"));
        blocks.push(m);
    }
    assert!(
        blocks
            .iter()
            .any(|b| b.get("Channel") == Some(chan.as_str()) && b.get("State") == Some("Up")),
        "{blocks:?}"
    );

    // Hang it up: Hangup events for both halves.
    let ch = format!("Channel: {chan}");
    let m = c
        .request(&["Action: Hangup", "ActionID: h1", ch.as_str()])
        .await;
    assert_eq!(
        m.raw,
        "Response: Success\r\nActionID: h1\r\nMessage: Channel Hungup\r\n\r\n"
    );
    let h = listener.wait_event("Hangup").await;
    assert!(h.get("Cause").is_some() && h.get("Cause-txt").is_some());
    let t = Instant::now();
    loop {
        let m = c.request(&["Action: Status", ch.as_str()]).await;
        if m.get("Message") == Some("No such channel") {
            break;
        }
        // Drain the blocks of this Status.
        loop {
            if c.read_msg().await.is_event("StatusComplete") {
                break;
            }
        }
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "channel never went away"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn scripted_call_modern_events() {
    let host = pbx_host(true);
    let mut listener = host.login("admin", "amp111", Some("on")).await;
    let mut c = host.login("admin", "amp111", Some("off")).await;
    let ack = c
        .request(&[
            "Action: Originate",
            "ActionID: 10",
            "Channel: Local/100@default",
            "Application: Wait",
            "Data: 1",
            "Async: true",
            "CallerID: \"AMI Ref\" <5550100>",
        ])
        .await;
    assert_eq!(
        ack.raw,
        "Response: Success\r\nActionID: 10\r\nMessage: Originate successfully queued\r\n\r\n"
    );
    let mut seen = Vec::new();
    let resp = collect_until(&mut listener, "OriginateResponse", &mut seen).await;
    let names: Vec<&str> = resp.headers.iter().map(|h| h.0.as_str()).collect();
    assert_eq!(
        names,
        [
            "Event",
            "Privilege",
            "ActionID",
            "Response",
            "Channel",
            "Application",
            "Data",
            "Reason",
            "Uniqueid",
            "CallerIDNum",
            "CallerIDName"
        ]
    );
    let nc = seen
        .iter()
        .find(|m| m.is_event("Newchannel"))
        .expect("Newchannel");
    let fields: Vec<&str> = nc.headers.iter().map(|h| h.0.as_str()).collect();
    assert_eq!(
        fields,
        [
            "Event",
            "Privilege",
            "Channel",
            "ChannelState",
            "ChannelStateDesc",
            "CallerIDNum",
            "CallerIDName",
            "ConnectedLineNum",
            "ConnectedLineName",
            "Language",
            "AccountCode",
            "Context",
            "Exten",
            "Priority",
            "Uniqueid",
            "Linkedid"
        ]
    );
    let ne = seen
        .iter()
        .find(|m| m.is_event("Newexten"))
        .expect("Newexten");
    assert_eq!(ne.get("Privilege"), Some("dialplan,all"));
    // Both halves hang up after the 1 s Wait.
    listener.wait_event("Hangup").await;
    listener.wait_event("Hangup").await;
}

#[tokio::test]
async fn originate_sync_success_and_failures() {
    let host = pbx_host(false);
    let mut c = host.login("admin", "amp111", Some("off")).await;
    let m = c
        .request(&[
            "Action: Originate",
            "Channel: SIP/100",
            "Context: default",
            "Exten: 102",
            "Priority: 1",
            "ActionID: a",
        ])
        .await;
    assert_eq!(
        m.raw,
        "Response: Success\r\nActionID: a\r\nMessage: Originate successfully queued\r\n\r\n"
    );
    let m = c
        .request(&[
            "Action: Originate",
            "Channel: SIP/200",
            "Context: default",
            "Exten: 102",
            "Priority: 1",
        ])
        .await;
    assert_eq!(
        m.raw,
        "Response: Error\r\nMessage: Originate failed\r\n\r\n"
    );
    let m = c
        .request(&[
            "Action: Originate",
            "Channel: SIP/300",
            "Application: Wait",
            "Data: 1",
            "Timeout: 300",
        ])
        .await;
    assert_eq!(m.get("Message"), Some("Originate failed"));
    for (lines, msg) in [
        (vec!["Action: Originate"], "Channel not specified"),
        (
            vec!["Action: Originate", "Channel: SIP100", "Application: Wait"],
            "Invalid channel",
        ),
        (
            vec![
                "Action: Originate",
                "Channel: SIP/100",
                "Timeout: soon",
                "Application: Wait",
            ],
            "Invalid timeout",
        ),
        (
            vec!["Action: Originate", "Channel: SIP/100", "Exten: 100"],
            "Originate with 'Exten' requires 'Context' and 'Priority'",
        ),
    ] {
        let m = c.request(&lines).await;
        assert_eq!(m.get("Message"), Some(msg), "{lines:?}");
    }
}

#[tokio::test]
async fn variables_global_and_channel() {
    for modern in [false, true] {
        let host = pbx_host(modern);
        let mut c = host.login("admin", "amp111", Some("off")).await;
        let m = c
            .request(&["Action: Getvar", "Variable: COMPANY", "ActionID: g1"])
            .await;
        if modern {
            assert_eq!(
                m.raw,
                "Response: Success\r\nActionID: g1\r\nVariable: COMPANY\r\nValue: Example\r\n\r\n"
            );
        } else {
            assert_eq!(
                m.raw,
                "Response: Success\r\nVariable: COMPANY\r\nValue: Example\r\nActionID: g1\r\n\r\n"
            );
        }
        let m = c
            .request(&[
                "Action: Setvar",
                "Variable: NEWVAR",
                "Value: 42",
                "ActionID: s1",
            ])
            .await;
        assert_eq!(
            m.raw,
            "Response: Success\r\nActionID: s1\r\nMessage: Variable Set\r\n\r\n"
        );
        let m = c
            .request(&["Action: Getvar", "Channel: ", "Variable: NEWVAR"])
            .await;
        assert_eq!(m.get("Value"), Some("42"));
        let m = c
            .request(&["Action: Getvar", "Variable: UNSET_THING"])
            .await;
        assert_eq!(m.get("Value"), Some(""));
        assert!(m.raw.contains("Value: \r\n"));
        let m = c.request(&["Action: Getvar"]).await;
        assert_eq!(m.get("Message"), Some("No variable specified"));
        let m = c
            .request(&[
                "Action: Setvar",
                "Channel: SIP/none-1",
                "Variable: X",
                "Value: 1",
            ])
            .await;
        assert_eq!(m.get("Message"), Some("No such channel"));
    }
}

#[tokio::test]
async fn mailbox_count_and_status() {
    let host = pbx_host(false);
    let mut c = host.login("admin", "amp111", Some("off")).await;
    let m = c
        .request(&[
            "Action: MailboxCount",
            "Mailbox: 1234@default",
            "ActionID: m1",
        ])
        .await;
    assert_eq!(
        m.raw,
        "Response: Success\r\nActionID: m1\r\nMessage: Mailbox Message Count\r\nMailbox: 1234@default\r\nNewMessages: 2\r\nOldMessages: 1\r\n\r\n"
    );
    let m = c
        .request(&["Action: MailboxStatus", "Mailbox: 1234", "ActionID: m2"])
        .await;
    assert_eq!(m.raw, "Response: Success\r\nActionID: m2\r\nMessage: Mailbox Status\r\nMailbox: 1234\r\nWaiting: 1\r\n\r\n");
    let m = c.request(&["Action: MailboxStatus", "Mailbox: 999"]).await;
    assert_eq!(m.get("Waiting"), Some("0"));
    let m = c.request(&["Action: MailboxCount"]).await;
    assert_eq!(m.get("Message"), Some("Mailbox not specified"));
}

#[tokio::test]
async fn extension_state_follows_the_devices() {
    let host = pbx_host(false);
    let mut c = host.login("admin", "amp111", Some("off")).await;
    let m = c
        .request(&[
            "Action: ExtensionState",
            "Exten: 100",
            "Context: default",
            "ActionID: e1",
        ])
        .await;
    assert_eq!(
        m.raw,
        "Response: Success\r\nActionID: e1\r\nMessage: Extension Status\r\nExten: 100\r\nContext: default\r\nHint: SIP/100\r\nStatus: 0\r\n\r\n"
    );
    let m = c.request(&["Action: ExtensionState", "Exten: 102"]).await;
    assert_eq!((m.get("Hint"), m.get("Status")), (Some(""), Some("-1")));
    let m = c.request(&["Action: ExtensionState"]).await;
    assert_eq!(m.get("Message"), Some("Extension not specified"));
    // A call to SIP/100 makes it in use, announced by ExtensionStatus.
    let mut l = host.login("admin", "amp111", Some("call")).await;
    c.request(&[
        "Action: Originate",
        "Channel: SIP/100",
        "Context: default",
        "Exten: 102",
        "Priority: 1",
    ])
    .await;
    let ev = loop {
        let ev = l.wait_event("ExtensionStatus").await;
        if ev.get("Status") == Some("1") {
            break ev;
        }
    };
    assert_eq!(
        (ev.get("Exten"), ev.get("Context")),
        (Some("100"), Some("default"))
    );
    let m = c.request(&["Action: ExtensionState", "Exten: 100"]).await;
    assert_eq!(m.get("Status"), Some("1"));
}

#[tokio::test]
async fn absolute_timeout_hangs_the_channel_up() {
    let host = pbx_host(false);
    let mut l = host.login("admin", "amp111", Some("call")).await;
    let mut c = host.login("admin", "amp111", Some("off")).await;
    c.request(&[
        "Action: Originate",
        "Channel: SIP/100",
        "Context: default",
        "Exten: 102",
        "Priority: 1",
    ])
    .await;
    let nc = l.wait_event("Newchannel").await;
    let chan = nc.get("Channel").expect("channel").to_string();
    let ch = format!("Channel: {chan}");
    let m = c
        .request(&[
            "Action: AbsoluteTimeout",
            ch.as_str(),
            "Timeout: 1",
            "ActionID: t",
        ])
        .await;
    assert_eq!(
        m.raw,
        "Response: Success\r\nActionID: t\r\nMessage: Timeout Set\r\n\r\n"
    );
    let t = Instant::now();
    let h = l.wait_event("Hangup").await;
    assert_eq!(h.get("Channel"), Some(chan.as_str()));
    assert!(t.elapsed() < Duration::from_secs(4));
    for (lines, msg) in [
        (
            vec!["Action: AbsoluteTimeout", "Timeout: 1"],
            "No channel specified",
        ),
        (
            vec!["Action: AbsoluteTimeout", "Channel: SIP/x-1"],
            "No timeout specified",
        ),
        (
            vec!["Action: AbsoluteTimeout", "Channel: SIP/x-1", "Timeout: 5"],
            "No such channel",
        ),
    ] {
        assert_eq!(c.request(&lines).await.get("Message"), Some(msg));
    }
}

#[tokio::test]
async fn redirect_moves_a_channel() {
    let host = pbx_host(false);
    let mut l = host.login("admin", "amp111", Some("call")).await;
    let mut c = host.login("admin", "amp111", Some("off")).await;
    c.request(&[
        "Action: Originate",
        "Channel: SIP/100",
        "Context: default",
        "Exten: 102",
        "Priority: 1",
    ])
    .await;
    let chan = l
        .wait_event("Newchannel")
        .await
        .get("Channel")
        .expect("channel")
        .to_string();
    let ch = format!("Channel: {chan}");
    let m = c
        .request(&[
            "Action: Redirect",
            ch.as_str(),
            "Context: default",
            "Exten: 103",
            "Priority: 1",
            "ActionID: r",
        ])
        .await;
    assert_eq!(
        m.raw,
        "Response: Success\r\nActionID: r\r\nMessage: Redirect successful\r\n\r\n"
    );
    loop {
        let ev = l.wait_event("Newexten").await;
        if ev.get("Extension") == Some("103") {
            break;
        }
    }
    for (lines, msg) in [
        (
            vec!["Action: Redirect"],
            "Channel not specified".to_string(),
        ),
        (
            vec![
                "Action: Redirect",
                "Channel: SIP/nope-1",
                "Context: default",
                "Exten: 100",
                "Priority: 1",
            ],
            "Channel does not exist: SIP/nope-1".to_string(),
        ),
    ] {
        assert_eq!(c.request(&lines).await.get("Message"), Some(msg.as_str()));
    }
}

#[tokio::test]
async fn get_and_update_config() {
    let host = pbx_host(false);
    let mut c = host.login("admin", "amp111", Some("off")).await;
    let m = c
        .request(&["Action: GetConfig", "Filename: sip.conf", "ActionID: gc"])
        .await;
    assert_eq!(
        m.raw,
        "Response: Success\r\nActionID: gc\r\nCategory-000000: general\r\nLine-000000-000000: context=default\r\nLine-000000-000001: allowguest=no\r\nCategory-000001: 100\r\nLine-000001-000000: type=friend\r\nLine-000001-000001: secret=abc\r\n\r\n"
    );
    assert_eq!(
        c.request(&["Action: GetConfig"]).await.get("Message"),
        Some("Filename not specified")
    );
    assert_eq!(
        c.request(&["Action: GetConfig", "Filename: nothere.conf"])
            .await
            .get("Message"),
        Some("Config file not found")
    );
    assert_eq!(
        c.request(&["Action: GetConfig", "Filename: ../../etc/passwd"])
            .await
            .get("Message"),
        Some("Config file not found")
    );

    let m = c
        .request(&[
            "Action: UpdateConfig",
            "SrcFilename: sip.conf",
            "DstFilename: sip.conf",
            "ActionID: uc",
            "Action-000000: Update",
            "Cat-000000: general",
            "Var-000000: allowguest",
            "Value-000000: yes",
            "Action-000001: NewCat",
            "Cat-000001: 200",
            "Action-000002: Append",
            "Cat-000002: 200",
            "Var-000002: type",
            "Value-000002: peer",
            "Action-000003: Delete",
            "Cat-000003: 100",
            "Var-000003: secret",
            "Action-000004: RenameCat",
            "Cat-000004: 100",
            "Value-000004: 101",
            "Action-000005: DelCat",
            "Cat-000005: nothing",
        ])
        .await;
    assert_eq!(m.raw, "Response: Success\r\nActionID: uc\r\n\r\n");
    let m = c
        .request(&["Action: GetConfig", "Filename: sip.conf"])
        .await;
    assert!(
        m.raw.contains("Line-000000-000001: allowguest=yes\r\n"),
        "{}",
        m.raw
    );
    assert!(m.raw.contains("Category-000001: 101\r\nLine-000001-000000: type=friend\r\nCategory-000002: 200\r\nLine-000002-000000: type=peer\r\n"), "{}", m.raw);

    // A path that leaves the config directory is refused and nothing is written.
    let before = std::fs::read(host.dir().join("sip.conf")).expect("sip.conf");
    let m = c
        .request(&[
            "Action: UpdateConfig",
            "SrcFilename: sip.conf",
            "DstFilename: ../escape.conf",
            "Action-000000: NewCat",
            "Cat-000000: x",
        ])
        .await;
    assert_eq!(m.get("Response"), Some("Error"));
    assert!(!host.dir().join("../escape.conf").exists());
    // A failing write (the destination is a directory) leaves the original untouched.
    std::fs::create_dir_all(host.dir().join("adir.conf")).expect("dir");
    let m = c
        .request(&[
            "Action: UpdateConfig",
            "SrcFilename: sip.conf",
            "DstFilename: adir.conf",
            "Action-000000: NewCat",
            "Cat-000000: x",
        ])
        .await;
    assert_eq!(m.get("Message"), Some("Save of config failed"));
    assert_eq!(
        std::fs::read(host.dir().join("sip.conf")).expect("sip.conf"),
        before
    );
}

#[tokio::test]
async fn wait_event_returns_on_event_on_timeout_and_ignores_invisible_events() {
    let host = pbx_host(false);
    let mut w = host.login("admin", "amp111", Some("user")).await;
    let mut d = host.login("admin", "amp111", Some("off")).await;
    // Times out with no event.
    let t = Instant::now();
    w.send(&["Action: WaitEvent", "Timeout: 1", "ActionID: w1"])
        .await;
    let m = w.read_msg().await;
    assert_eq!(
        m.raw,
        "Response: Success\r\nActionID: w1\r\nMessage: Waiting for Event...\r\n\r\n"
    );
    let done = w.read_msg().await;
    assert_eq!(done.raw, "Event: WaitEventComplete\r\nActionID: w1\r\n\r\n");
    assert!(t.elapsed() >= Duration::from_millis(900));
    // Returns as soon as a visible event arrives, with the event inside.
    w.send(&["Action: WaitEvent", "Timeout: 20", "ActionID: w2"])
        .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    // A call event is invisible to this session (mask `user`): it must not wake it.
    d.request(&[
        "Action: Originate",
        "Channel: SIP/100",
        "Context: default",
        "Exten: 102",
        "Priority: 1",
    ])
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let t = Instant::now();
    d.request(&["Action: UserEvent", "UserEvent: Wake"]).await;
    let m = w.read_msg().await;
    assert_eq!(m.get("Message"), Some("Waiting for Event..."));
    let ev = w.read_msg().await;
    assert_eq!(ev.get("UserEvent"), Some("Wake"), "{ev:?}");
    let done = w.read_msg().await;
    assert!(done.is_event("WaitEventComplete"));
    assert!(t.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn permission_matrix() {
    // Each action's 1.0 class; a user with exactly that class may run it, one without may not.
    let actions: &[(&str, &str, &[&str])] = &[
        ("Hangup", "call", &["Channel: SIP/none-1"]),
        ("Status", "call", &[]),
        ("Setvar", "call", &["Variable: A", "Value: 1"]),
        ("Getvar", "call", &["Variable: A"]),
        ("GetConfig", "config", &["Filename: sip.conf"]),
        (
            "UpdateConfig",
            "config",
            &["SrcFilename: sip.conf", "DstFilename: sip.conf"],
        ),
        (
            "Redirect",
            "call",
            &[
                "Channel: SIP/none-1",
                "Context: default",
                "Exten: 100",
                "Priority: 1",
            ],
        ),
        ("Atxfer", "call", &["Channel: SIP/none-1", "Exten: 100"]),
        (
            "Originate",
            "call",
            &["Channel: SIP/200", "Application: Wait", "Data: 1"],
        ),
        ("Command", "command", &["Command: core show version"]),
        ("ExtensionState", "call", &["Exten: 100"]),
        (
            "AbsoluteTimeout",
            "call",
            &["Channel: SIP/none-1", "Timeout: 1"],
        ),
        ("MailboxStatus", "call", &["Mailbox: 1234"]),
        ("MailboxCount", "call", &["Mailbox: 1234"]),
        ("UserEvent", "user", &["UserEvent: X"]),
        ("CoreSettings", "system", &[]),
        ("CoreStatus", "system", &[]),
    ];
    let mut users = String::new();
    for class in ["call", "config", "command", "user", "system"] {
        users.push_str(&format!(
            "[users.only{class}]\nsecret = \"pw\"\nread = \"none\"\nwrite = \"{class}\"\n\n"
        ));
    }
    let host = HostBuilder::default()
        .extra(DEVICES)
        .extra(&users)
        .file("extensions.conf", DIALPLAN)
        .file("sip.conf", "[general]\n")
        .start();
    for class in ["call", "config", "command", "user", "system"] {
        let mut c = host.login(&format!("only{class}"), "pw", Some("off")).await;
        for (action, needs, extra) in actions {
            let a = format!("Action: {action}");
            let mut lines = vec![a.as_str()];
            lines.extend_from_slice(extra);
            let m = c.request(&lines).await;
            if action == &"Status" && m.get("Response") == Some("Success") {
                loop {
                    if c.read_msg().await.is_event("StatusComplete") {
                        break;
                    }
                }
            }
            let denied = m.get("Message") == Some("Permission denied");
            assert_eq!(
                denied,
                *needs != class,
                "{action} for a user with write = {class}: {m:?}"
            );
        }
    }
}

#[tokio::test]
async fn every_error_path_in_both_dialects() {
    let cases: &[(&[&str], &str)] = &[
        (&["Action: Hangup"], "No channel specified"),
        (
            &["Action: Hangup", "Channel: SIP/none-1"],
            "No such channel",
        ),
        (
            &["Action: Status", "Channel: SIP/none-1"],
            "No such channel",
        ),
        (&["Action: Setvar"], "No variable specified"),
        (
            &["Action: Setvar", "Channel: SIP/none-1", "Variable: A"],
            "No such channel",
        ),
        (&["Action: Getvar"], "No variable specified"),
        (
            &["Action: Getvar", "Channel: SIP/none-1", "Variable: A"],
            "No such channel",
        ),
        (&["Action: GetConfig"], "Filename not specified"),
        (
            &["Action: GetConfig", "Filename: missing.conf"],
            "Config file not found",
        ),
        (
            &["Action: UpdateConfig", "SrcFilename: sip.conf"],
            "Filename not specified",
        ),
        (
            &[
                "Action: UpdateConfig",
                "SrcFilename: missing.conf",
                "DstFilename: x.conf",
            ],
            "Config file not found",
        ),
        (&["Action: Redirect"], "Channel not specified"),
        (
            &[
                "Action: Redirect",
                "Channel: SIP/none-1",
                "Context: default",
                "Exten: 100",
                "Priority: nolabel",
            ],
            "Invalid priority",
        ),
        (
            &[
                "Action: Redirect",
                "Channel: SIP/none-1",
                "Context: default",
                "Exten: 100",
                "Priority: 1",
            ],
            "Channel does not exist: SIP/none-1",
        ),
        (&["Action: Atxfer"], "No channel specified"),
        (
            &["Action: Atxfer", "Channel: SIP/none-1"],
            "No extension specified",
        ),
        (
            &["Action: Atxfer", "Channel: SIP/none-1", "Exten: 100"],
            "No attended transfer feature found",
        ),
        (&["Action: Originate"], "Channel not specified"),
        (
            &[
                "Action: Originate",
                "Channel: SIP/100",
                "Context: default",
                "Exten: 100",
                "Priority: nolabel",
            ],
            "Invalid priority",
        ),
        (
            &[
                "Action: Originate",
                "Channel: SIP/100",
                "Application: Wait",
                "Timeout: x",
            ],
            "Invalid timeout",
        ),
        (
            &["Action: Originate", "Channel: SIP100", "Application: Wait"],
            "Invalid channel",
        ),
        (
            &["Action: Originate", "Channel: SIP/200", "Application: Wait"],
            "Originate failed",
        ),
        (&["Action: Command"], "No command provided"),
        (
            &["Action: Command", "Command: module load foo.so"],
            "Command blacklisted",
        ),
        (&["Action: ExtensionState"], "Extension not specified"),
        (&["Action: AbsoluteTimeout"], "No channel specified"),
        (
            &["Action: AbsoluteTimeout", "Channel: SIP/none-1"],
            "No timeout specified",
        ),
        (
            &[
                "Action: AbsoluteTimeout",
                "Channel: SIP/none-1",
                "Timeout: 3",
            ],
            "No such channel",
        ),
        (&["Action: MailboxStatus"], "Mailbox not specified"),
        (&["Action: MailboxCount"], "Mailbox not specified"),
        (&["Action: Events", "EventMask: "], "Invalid event mask"),
    ];
    for modern in [false, true] {
        let host = pbx_host(modern);
        let mut c = host.login("admin", "amp111", Some("off")).await;
        for (lines, msg) in cases {
            let mut req: Vec<&str> = lines.to_vec();
            req.push("ActionID: err");
            let m = c.request(&req).await;
            assert_eq!(
                m.raw,
                format!("Response: Error\r\nActionID: err\r\nMessage: {msg}\r\n\r\n"),
                "{lines:?} (modern: {modern})"
            );
        }
    }
}

#[tokio::test]
async fn modern_success_shapes() {
    let host = pbx_host(true);
    let mut l = host.login("admin", "amp111", Some("call")).await;
    let mut c = host.login("admin", "amp111", Some("off")).await;
    c.request(&[
        "Action: Originate",
        "Channel: SIP/100",
        "Context: default",
        "Exten: 102",
        "Priority: 1",
    ])
    .await;
    let chan = l
        .wait_event("Newchannel")
        .await
        .get("Channel")
        .expect("channel")
        .to_string();
    // Status as an EventList.
    c.send(&["Action: Status", "ActionID: st"]).await;
    let first = c.read_msg().await;
    assert_eq!(
        first.raw,
        "Response: Success\r\nActionID: st\r\nEventList: start\r\nMessage: Channel status will follow\r\n\r\n"
    );
    let item = c.read_msg().await;
    assert!(item.is_event("Status"), "{item:?}");
    assert_eq!(item.get("Channel"), Some(chan.as_str()));
    assert_eq!(item.get("ActionID"), Some("st"));
    let done = c.read_msg().await;
    assert!(done.is_event("StatusComplete"));
    assert_eq!(
        (done.get("EventList"), done.get("ListItems")),
        (Some("Complete"), Some("1"))
    );
    // ExtensionState with StatusText; MailboxCount with UrgMessages.
    let m = c
        .request(&["Action: ExtensionState", "Exten: 100", "ActionID: e"])
        .await;
    assert_eq!(m.get("StatusText"), Some("InUse"), "{m:?}");
    let m = c
        .request(&["Action: MailboxCount", "Mailbox: 1234", "ActionID: m"])
        .await;
    assert_eq!(
        m.raw,
        "Response: Success\r\nActionID: m\r\nMessage: Mailbox Message Count\r\nMailbox: 1234\r\nUrgMessages: 0\r\nNewMessages: 2\r\nOldMessages: 1\r\n\r\n"
    );
    // WaitEvent's modern message.
    c.send(&["Action: WaitEvent", "Timeout: 0", "ActionID: w"])
        .await;
    assert_eq!(
        c.read_msg().await.raw,
        "Response: Success\r\nActionID: w\r\nMessage: Waiting for Event completed.\r\n\r\n"
    );
    assert_eq!(
        c.read_msg().await.raw,
        "Event: WaitEventComplete\r\nActionID: w\r\n\r\n"
    );
}

#[tokio::test]
async fn dial_bridges_and_redirecting_the_callee_renames_it() {
    let host = pbx_host(false);
    let mut l = host.login("admin", "amp111", Some("call")).await;
    let mut c = host.login("admin", "amp111", Some("off")).await;
    c.request(&[
        "Action: Originate",
        "Channel: Local/101@default",
        "Application: Wait",
        "Data: 10",
        "Async: true",
    ])
    .await;
    let link = l.wait_event("Link").await;
    let callee = link.get("Channel2").expect("channel2").to_string();
    assert!(callee.starts_with("SIP/100-"), "{link:?}");
    // Status shows the bridge.
    c.send(&["Action: Status"]).await;
    let mut linked = false;
    loop {
        let m = c.read_msg().await;
        if m.is_event("StatusComplete") {
            break;
        }
        if m.get("Channel") == Some(callee.as_str()) {
            linked = m.get("Link").is_some();
        }
    }
    assert!(linked, "the callee's Status block names its bridged peer");
    let ch = format!("Channel: {callee}");
    let m = c
        .request(&[
            "Action: Redirect",
            ch.as_str(),
            "Context: default",
            "Exten: 103",
            "Priority: 1",
        ])
        .await;
    assert_eq!(m.get("Message"), Some("Redirect successful"));
    let rename = l.wait_event("Rename").await;
    assert_eq!(rename.get("Oldname"), Some(callee.as_str()));
    assert_eq!(
        rename.get("Newname"),
        Some(format!("AsyncGoto/{callee}").as_str())
    );
    l.wait_event("Unlink").await;
}
