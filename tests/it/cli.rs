//! The `amihost` command line: config checking, Asterisk-format configs, shutdown.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::{amihost_bin, builtin_plugins, scratch_dir, Host};

#[test]
fn check_config_accepts_a_good_file_and_names_file_line_and_key_of_a_bad_one() {
    let dir = scratch_dir("check");
    let good = dir.join("good.toml");
    std::fs::write(
        &good,
        "[general]\nport = 5038\n\n[users.admin]\nsecret = \"x\"\nread = \"all\"\n",
    )
    .unwrap();
    let out = Command::new(amihost_bin())
        .arg("--check-config")
        .arg(&good)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let bad = dir.join("bad.toml");
    std::fs::write(
        &bad,
        "[general]\nport = 5038\n\n[users.admin]\nsecret = \"x\"\nread = \"system,cal\"\n",
    )
    .unwrap();
    let out = Command::new(amihost_bin())
        .arg("--check-config")
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.toml:6"), "{err}");
    assert!(err.contains("users.admin.read"), "{err}");
    assert!(err.contains("cal"), "{err}");

    let unknown = dir.join("unknown.toml");
    std::fs::write(&unknown, "[general]\nprot = 5038\n").unwrap();
    let out = Command::new(amihost_bin())
        .arg("--check-config")
        .arg(&unknown)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("unknown.toml:2") && err.contains("prot"),
        "{err}"
    );
}

#[test]
fn bad_arguments_print_usage() {
    let out = Command::new(amihost_bin()).arg("--bogus").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("usage: amihost"));
}

#[tokio::test]
async fn asterisk_manager_conf_and_users_conf_are_accepted() {
    let dir = scratch_dir("conf");
    std::fs::write(
        dir.join("manager.conf"),
        "; Asterisk-style configuration\n[general]\nenabled = yes\nport = 5038\nbindaddr = 127.0.0.1\n\n\
         [admin]\nsecret = amp111\nread = system,call,log,verbose,command,agent,user,config\nwrite = all\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("users.conf"),
        "[general]\nhasmanager = no\n\n[6000]\nfullname = Joe\nsecret = 1234\nhasmanager = yes\nmanagerread = user\n",
    )
    .unwrap();
    // `.conf` configs have no [plugins] section; point the host at the built-ins.
    let env = [(
        "AMIHOST_PLUGIN_DIR".to_string(),
        builtin_plugins().display().to_string(),
    )];
    let host = Host::spawn(&dir.join("manager.conf"), &env);
    let mut admin = host.login("admin", "amp111", Some("off")).await;
    assert_eq!(
        admin.request(&["Action: Ping"]).await.get("Response"),
        Some("Pong")
    );
    let mut joe = host.login("6000", "1234", None).await;
    admin
        .request(&["Action: UserEvent", "UserEvent: ToJoe"])
        .await;
    assert_eq!(
        joe.wait_event("UserEvent").await.get("UserEvent"),
        Some("ToJoe")
    );
}

#[tokio::test]
async fn sigterm_shuts_down_gracefully() {
    let mut host = Host::start();
    // Every session that may see a system event gets it before its socket closes; one
    // that may not (read = call) is closed without it.
    let mut c = host.login("admin", "amp111", None).await;
    let mut d = host.login("admin", "amp111", Some("system")).await;
    let mut reader = host.login("reader", "reader", None).await;
    let t = Instant::now();
    let status = Command::new("kill")
        .arg("-TERM")
        .arg(host.pid().to_string())
        .status()
        .unwrap();
    assert!(status.success());
    for s in [&mut c, &mut d] {
        let ev = s.wait_event("Shutdown").await;
        assert_eq!(ev.get("Shutdown"), Some("Cleanly"));
        assert_eq!(ev.get("Restart"), Some("False"));
        assert_eq!(ev.get("Privilege"), Some("system,all"));
        assert!(s.closed().await);
    }
    assert!(reader.closed().await);
    let (_, rest) = reader.into_parts();
    let rest = String::from_utf8_lossy(&rest);
    assert!(!rest.contains("Shutdown"), "{rest:?}");
    while host.is_running() {
        assert!(t.elapsed() < Duration::from_secs(10), "host did not exit");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
