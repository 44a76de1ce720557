//! The `Command` action and `amihost cli`: both run the host's CLI commands.

use std::process::Command;

use crate::support::{amihost_bin, scratch_dir, Client, Host, HostBuilder};

/// What `core show version` prints.
fn version_line() -> String {
    format!(
        "ami-host {} (AMI 1.0, 11.0.0) on a {} running {}",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::ARCH,
        std::env::consts::OS
    )
}

/// Sends `Action: Command` and reads a 1.0 `Follows` block whole.
async fn v1_command(c: &mut Client, id: &str, command: &str) -> String {
    let id = format!("ActionID: {id}");
    let command = format!("Command: {command}");
    c.send(&["Action: Command", &id, &command]).await;
    c.read_until(b"--END COMMAND--\r\n\r\n").await
}

/// Runs `amihost cli --config <config> <line>`.
fn amihost_cli(config: &std::path::Path, line: &str) -> std::process::Output {
    Command::new(amihost_bin())
        .arg("cli")
        .arg("--config")
        .arg(config)
        .arg(line)
        .output()
        .expect("run amihost cli")
}

#[tokio::test]
async fn core_show_version_v1_follows_block() {
    let host = Host::start();
    let mut c = host.login("admin", "amp111", Some("off")).await;
    assert_eq!(
        v1_command(&mut c, "c7", "core show version").await,
        format!(
            "Response: Follows\r\nPrivilege: Command\r\nActionID: c7\r\n{}\n--END COMMAND--\r\n\r\n",
            version_line()
        )
    );
    // Words match case-insensitively, extra blanks ignored.
    c.send(&["Action: Command", "Command:   CORE  show\tVersion "])
        .await;
    assert_eq!(
        c.read_until(b"--END COMMAND--\r\n\r\n").await,
        format!(
            "Response: Follows\r\nPrivilege: Command\r\n{}\n--END COMMAND--\r\n\r\n",
            version_line()
        )
    );
}

#[tokio::test]
async fn core_show_version_modern_as_transcript_13() {
    let host = Host::start();
    let mut c = host.login("modern", "modern", Some("off")).await;
    let reply = c
        .request(&[
            "Action: Command",
            "ActionID: 13",
            "Command: core show version",
        ])
        .await;
    assert_eq!(
        reply.raw,
        format!(
            "Response: Success\r\nActionID: 13\r\nMessage: Command output follows\r\n\
             Output: {}\r\n\r\n",
            version_line()
        )
    );
}

#[tokio::test]
async fn unknown_cli_command_in_both_dialects() {
    let host = Host::start();
    let mut v1 = host.login("admin", "amp111", Some("off")).await;
    assert_eq!(
        v1_command(&mut v1, "u1", "no such cli command").await,
        "Response: Follows\r\nPrivilege: Command\r\nActionID: u1\r\n\
         No such command 'no such cli command' (type 'help' for help)\n--END COMMAND--\r\n\r\n"
    );
    let mut modern = host.login("modern", "modern", Some("off")).await;
    let reply = modern
        .request(&[
            "Action: Command",
            "ActionID: 13b",
            "Command: no such cli command",
        ])
        .await;
    assert_eq!(
        reply.raw,
        "Response: Error\r\nActionID: 13b\r\nMessage: Command output follows\r\n\
         Output: No such command 'no such cli command' (type 'help' for help)\r\n\r\n"
    );
}

#[tokio::test]
async fn blacklisted_and_empty_commands_are_refused() {
    let host = Host::start();
    for (user, secret) in [("admin", "amp111"), ("modern", "modern")] {
        let mut c = host.login(user, secret, Some("off")).await;
        for command in [
            "Command: module load chan_sip.so",
            "Command: MODULE  unload res_agi.so",
            "Command: restart gracefully",
        ] {
            let reply = c
                .request(&["Action: Command", "ActionID: b1", command])
                .await;
            assert_eq!(
                reply.raw,
                "Response: Error\r\nActionID: b1\r\nMessage: Command blacklisted\r\n\r\n",
                "{user}: {command}"
            );
        }
        for command in ["Command: ", "Command:    "] {
            let reply = c
                .request(&["Action: Command", "ActionID: e1", command])
                .await;
            assert_eq!(
                reply.raw,
                "Response: Error\r\nActionID: e1\r\nMessage: No command provided\r\n\r\n",
                "{user}"
            );
        }
        let reply = c.request(&["Action: Command", "ActionID: e2"]).await;
        assert_eq!(
            reply.raw,
            "Response: Error\r\nActionID: e2\r\nMessage: No command provided\r\n\r\n"
        );
    }
}

#[tokio::test]
async fn command_needs_the_command_class() {
    let host = Host::start();
    for (user, secret) in [("userclass", "uc"), ("reader", "reader")] {
        let mut c = host.login(user, secret, Some("off")).await;
        let reply = c
            .request(&[
                "Action: Command",
                "ActionID: p1",
                "Command: core show version",
            ])
            .await;
        assert_eq!(
            reply.raw, "Response: Error\r\nActionID: p1\r\nMessage: Permission denied\r\n\r\n",
            "{user}"
        );
    }
}

#[tokio::test]
async fn manager_show_connected_lists_the_sessions() {
    let host = Host::start();
    let mut admin = host.login("admin", "amp111", Some("off")).await;
    let _reader = host.login("reader", "reader", Some("off")).await;
    let block = v1_command(&mut admin, "m1", "manager show connected").await;
    let header = "Response: Follows\r\nPrivilege: Command\r\nActionID: m1\r\n";
    assert!(block.starts_with(header), "{block:?}");
    let output = &block[header.len()..block.len() - "--END COMMAND--\r\n\r\n".len()];
    assert_eq!(
        output,
        format!(
            "  {:<15}  {:<15}\n  {:<15}  {:<15}\n  {:<15}  {:<15}\n2 users connected.\n",
            "Username", "IP Address", "admin", "127.0.0.1", "reader", "127.0.0.1"
        )
    );

    // Modern: one Output line each.
    let mut modern = host.login("modern", "modern", Some("off")).await;
    let reply = modern
        .request(&["Action: Command", "Command: manager show connected"])
        .await;
    let outputs: Vec<&str> = reply
        .headers
        .iter()
        .filter(|(n, _)| n == "Output")
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(outputs.len(), 5, "{reply:?}");
    assert_eq!(outputs[4], "3 users connected.");
}

#[tokio::test]
async fn amihost_cli_runs_commands_in_the_running_host() {
    let host = HostBuilder::default().start();
    let out = amihost_cli(&host.config, "manager show users");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("\nusername\n--------\n"), "{text:?}");
    for user in ["admin", "reader", "userclass", "modern"] {
        assert!(text.contains(&format!("\n{user}\n")), "{text:?}");
    }
    assert!(text.contains("\n-------------------\n"), "{text:?}");
    assert!(text.ends_with(" manager users configured.\n"), "{text:?}");

    // Several words work as well as one quoted line.
    let out = Command::new(amihost_bin())
        .args(["cli", "--config"])
        .arg(&host.config)
        .args(["core", "show", "version"])
        .output()
        .expect("run amihost cli");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("{}\n", version_line())
    );

    // Reload prints nothing when it works.
    let out = amihost_cli(&host.config, "reload");
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "");

    let out = amihost_cli(&host.config, "frobnicate");
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "No such command 'frobnicate' (type 'help' for help)\n"
    );

    // Without a running host: exit 1 and a message.
    let config = host.config.clone();
    drop(host);
    let out = amihost_cli(&config, "manager show users");
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("cannot reach the host"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let scratch = scratch_dir("cli-nohost");
    let nowhere = scratch.join("amihost.toml");
    let out = amihost_cli(&nowhere, "help");
    assert_eq!(out.status.code(), Some(1));
}
