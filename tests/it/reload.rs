//! reload_manager, hot plugin swap, capability grants and the sandbox.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::support::{fixture_plugin, Client, Host, HostBuilder};

/// Puts `src` into `dir/name` the safe way: write elsewhere in the directory under a
/// name the host ignores, then rename over the target.
fn install(src: &Path, dir: &Path, name: &str) {
    let tmp = dir.join(format!(".{name}.partial"));
    std::fs::copy(src, &tmp).expect("copy plugin");
    std::fs::rename(&tmp, dir.join(name)).expect("rename plugin");
}

fn plugin_dir(host: &Host) -> std::path::PathBuf {
    host.dir().join("plugins")
}

async fn probe_version(c: &mut Client) -> Option<String> {
    let m = c.request(&["Action: SwapProbe"]).await;
    m.get("Version").map(str::to_string)
}

async fn wait_for_version(c: &mut Client, want: &str, within: Duration) -> Duration {
    let t = Instant::now();
    loop {
        if probe_version(c).await.as_deref() == Some(want) {
            return t.elapsed();
        }
        assert!(
            t.elapsed() < within,
            "version {want} not serving after {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn swap_host() -> Host {
    HostBuilder::default()
        .extra("[plugins.swap]\ngrants = [\"log\"]")
        .start()
}

#[tokio::test]
async fn swap_under_load_loses_no_action() {
    let host = swap_host();
    let dir = plugin_dir(&host);
    install(&fixture_plugin("swap-v1"), &dir, "swap.wasm");
    let mut c = host.login("admin", "amp111", Some("off")).await;
    wait_for_version(&mut c, "1", Duration::from_secs(10)).await;

    // Four clients pipeline SwapProbe continuously, checking every reply.
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for w in 0..4 {
        let mut cl = host.login("admin", "amp111", Some("off")).await;
        let stop = stop.clone();
        let sent = sent.clone();
        tasks.push(tokio::spawn(async move {
            let mut n = 0u64;
            let mut v2 = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let mut batch = String::new();
                for i in 0..8 {
                    batch.push_str(&format!(
                        "Action: SwapProbe\r\nActionID: {w}-{}\r\n\r\n",
                        n + i
                    ));
                }
                cl.send_raw(batch.as_bytes()).await;
                for i in 0..8 {
                    let m = cl.read_msg().await;
                    let id = format!("{w}-{}", n + i);
                    assert_eq!(
                        m.get("ActionID"),
                        Some(id.as_str()),
                        "reply out of order or missing: {m:?}"
                    );
                    assert_eq!(
                        m.get("Response"),
                        Some("Success"),
                        "failed during the swap: {m:?}"
                    );
                    match m.get("Version") {
                        Some("1") => assert_eq!(v2, 0, "v1 answered after v2"),
                        Some("2") => v2 += 1,
                        other => panic!("unexpected version {other:?}"),
                    }
                }
                n += 8;
                sent.fetch_add(8, Ordering::Relaxed);
            }
            (n, v2)
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let t = Instant::now();
    install(&fixture_plugin("swap-v2"), &dir, "swap.wasm");
    let took = wait_for_version(&mut c, "2", Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    let mut total = 0;
    for t in tasks {
        let (n, v2) = t.await.expect("load task");
        assert!(v2 > 0, "a client never saw v2");
        total += n;
    }
    assert!(total > 0);
    eprintln!(
        "swap: rename to v2 serving in {took:?} (measured {:?}); {total} actions, none failed",
        t.elapsed()
    );

    // A broken v3 (imports an interface it is not granted) leaves v2 serving, and says so.
    let mut watcher = host.login("admin", "amp111", Some("system")).await;
    install(&fixture_plugin("swap-broken"), &dir, "swap.wasm");
    let ev = watcher.wait_event("PluginLoadFailed").await;
    assert_eq!(ev.get("Plugin"), Some("swap"));
    assert!(
        ev.get("Reason").is_some_and(|r| r.contains("channels")),
        "{ev:?}"
    );
    assert_eq!(probe_version(&mut c).await.as_deref(), Some("2"));
    // An invalid file likewise.
    std::fs::write(dir.join(".junk"), b"\0asm-not-really").expect("write");
    std::fs::rename(dir.join(".junk"), dir.join("swap.wasm")).expect("rename");
    watcher.wait_event("PluginLoadFailed").await;
    assert_eq!(probe_version(&mut c).await.as_deref(), Some("2"));
    c.send(&["Action: Command", "Command: manager show plugins"])
        .await;
    let out = c.read_until(b"--END COMMAND--\r\n\r\n").await;
    assert!(
        out.contains("Plugin: swap") && out.contains("Last error:"),
        "{out}"
    );

    // Removing the file unregisters the action; re-adding registers it again.
    std::fs::remove_file(dir.join("swap.wasm")).expect("remove");
    let t = Instant::now();
    loop {
        let m = c.request(&["Action: SwapProbe"]).await;
        if m.get("Message") == Some("Invalid/unknown command") {
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(10), "still registered");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    install(&fixture_plugin("swap-v1"), &dir, "swap.wasm");
    wait_for_version(&mut c, "1", Duration::from_secs(10)).await;
}

#[tokio::test]
async fn a_copy_in_pieces_never_loads_half_a_file() {
    let host = swap_host();
    let dir = plugin_dir(&host);
    install(&fixture_plugin("swap-v1"), &dir, "swap.wasm");
    let mut c = host.login("admin", "amp111", Some("off")).await;
    wait_for_version(&mut c, "1", Duration::from_secs(10)).await;
    // The unsafe way: write v2 in place, in slow pieces.
    let bytes = std::fs::read(fixture_plugin("swap-v2")).expect("v2");
    let mut f = std::fs::File::create(dir.join("swap.wasm")).expect("open");
    for chunk in bytes.chunks(bytes.len() / 5 + 1) {
        use std::io::Write;
        f.write_all(chunk).expect("write");
        f.flush().expect("flush");
        // Meanwhile every call is answered, by v1 (or v2 once complete).
        let v = probe_version(&mut c).await;
        assert!(matches!(v.as_deref(), Some("1") | Some("2")), "{v:?}");
        tokio::time::sleep(Duration::from_millis(60)).await;
    }
    drop(f);
    wait_for_version(&mut c, "2", Duration::from_secs(10)).await;
}

#[tokio::test]
async fn reload_applies_new_secrets_and_permissions_to_new_logins() {
    let host = Host::start();
    let mut admin = host.login("admin", "amp111", Some("off")).await;
    let mut reader = host.login("reader", "reader", Some("off")).await;
    let text = std::fs::read_to_string(&host.config).expect("config");
    let text = text.replace(
        "[users.reader]\nsecret = \"reader\"\nread = \"call\"\nwrite = \"none\"",
        "[users.reader]\nsecret = \"changed\"\nread = \"call\"\nwrite = \"system\"",
    );
    std::fs::write(&host.config, text).expect("write config");
    let mut l = host.login("admin", "amp111", Some("system")).await;
    let m = admin.request(&["Action: Reload", "ActionID: r1"]).await;
    assert_eq!(m.get("Response"), Some("Success"), "{m:?}");
    assert_eq!(
        l.wait_event("Reload").await.get("Message"),
        Some("Reload Requested")
    );
    // The session already logged in keeps its permissions.
    assert_eq!(
        reader.request(&["Action: CoreStatus"]).await.get("Message"),
        Some("Permission denied")
    );
    // New logins use the new secret and permissions.
    let mut old = host.connect().await;
    let m = old
        .request(&["Action: Login", "Username: reader", "Secret: reader"])
        .await;
    assert_eq!(m.get("Message"), Some("Authentication failed"));
    let mut new = host.login("reader", "changed", Some("off")).await;
    assert_eq!(
        new.request(&["Action: CoreStatus"]).await.get("Response"),
        Some("Success")
    );
    // A broken configuration keeps the running one and says where.
    std::fs::write(&host.config, "[general]\nport = \"nope\"\n").expect("write");
    admin.send(&["Action: Command", "Command: reload"]).await;
    let out = admin.read_until(b"--END COMMAND--\r\n\r\n").await;
    assert!(out.starts_with("Response: Follows\r\n"), "{out}");
    assert!(out.contains("amihost.toml:2"), "{out}");
    host.login("reader", "changed", Some("off")).await;
}

#[tokio::test]
async fn module_load_unload_check_and_plugin_list() {
    for modern in [false, true] {
        let mut b = HostBuilder::default().extra("[plugins.swap]\ngrants = [\"log\"]");
        if modern {
            b = b.modern();
        }
        let host = b.start();
        install(&fixture_plugin("swap-v1"), &plugin_dir(&host), "swap.wasm");
        let mut c = host.login("admin", "amp111", Some("off")).await;
        wait_for_version(&mut c, "1", Duration::from_secs(10)).await;
        let m = c.request(&["Action: ModuleCheck", "Module: swap"]).await;
        assert_eq!(m.get("Response"), Some("Success"), "{m:?}");
        let m = c
            .request(&["Action: ModuleLoad", "LoadType: unload", "Module: swap"])
            .await;
        assert_eq!(m.get("Response"), Some("Success"), "{m:?}");
        assert!(c
            .request(&["Action: SwapProbe"])
            .await
            .get("Message")
            .is_some_and(|s| s.starts_with("Invalid/unknown command")));
        let m = c.request(&["Action: ModuleCheck", "Module: swap"]).await;
        assert_eq!(m.get("Response"), Some("Error"), "{m:?}");
        let m = c
            .request(&["Action: ModuleLoad", "LoadType: load", "Module: swap.wasm"])
            .await;
        assert_eq!(m.get("Response"), Some("Success"), "{m:?}");
        assert_eq!(probe_version(&mut c).await.as_deref(), Some("1"));
        let m = c
            .request(&["Action: ModuleLoad", "LoadType: reload", "Module: nosuch"])
            .await;
        assert_eq!(m.get("Response"), Some("Error"), "{m:?}");
        c.send(&["Action: PluginList", "ActionID: pl"]).await;
        let first = c.read_msg().await;
        assert_eq!(first.get("Response"), Some("Success"));
        let mut names = Vec::new();
        loop {
            let m = c.read_msg().await;
            if m.is_event("PluginListComplete") {
                break;
            }
            assert!(m.is_event("PluginEntry"), "{m:?}");
            names.push(m.get("Name").unwrap_or_default().to_string());
        }
        assert!(
            names.contains(&"swap".to_string()) && names.contains(&"ping".to_string()),
            "{names:?}"
        );
    }
}

#[tokio::test]
async fn ungranted_imports_refuse_to_load_and_wasi_gives_nothing() {
    // probe imports `session`; granted only `log` it does not load, and the log says why.
    let host = HostBuilder::default()
        .fixture("probe")
        .fixture("wasi-file")
        .fixture("oversize")
        .extra("[plugins.probe]\ngrants = [\"log\"]\n\n[plugins.oversize]\nresponse-limit-kb = 64")
        .start();
    let mut c = host.login("admin", "amp111", Some("off")).await;
    assert_eq!(
        c.request(&["Action: SessionProbe"]).await.get("Message"),
        Some("Invalid/unknown command")
    );
    let log = host.wait_log("imports session without a grant").await;
    assert!(log.contains("imports session without a grant"), "{}", log);
    // A plugin reading a file or the environment through WASI gets nothing.
    let m = c.request(&["Action: ReadFile"]).await;
    let hostname = std::fs::read_to_string("/etc/hostname").unwrap_or_default();
    if hostname.trim().len() > 3 {
        assert!(!m.raw.contains(hostname.trim()), "{m:?}");
    }
    if let Ok(home) = std::env::var("HOME") {
        if home.len() > 3 {
            assert!(!m.raw.contains(&home), "{m:?}");
        }
    }
    assert!(m.get("Response").is_some(), "{m:?}");
    // An oversized response is refused, and the plugin keeps serving.
    let m = c.request(&["Action: Oversize"]).await;
    assert!(
        m.get("Message")
            .is_some_and(|s| s.contains("over the size limit")),
        "{m:?}"
    );
    assert_eq!(
        c.request(&["Action: Ping"]).await.get("Response"),
        Some("Pong")
    );
}

#[tokio::test]
async fn a_restart_with_unchanged_plugins_uses_the_compile_cache() {
    let first = Host::start();
    drop(first);
    let second = Host::start();
    let log = second.log();
    let loaded = log.matches("plugin loaded").count();
    let cached = log.matches("cached=true").count();
    assert!(loaded >= 22, "{log}");
    assert_eq!(cached, loaded, "{log}");
}

#[tokio::test]
async fn the_template_and_the_example_hot_load_without_a_restart() {
    let built = crate::support::target_dir().join("example-plugins");
    assert!(
        built.join("action-rust.wasm").exists(),
        "run plugins/examples/build.sh (tests/run.sh does)"
    );
    let host = HostBuilder::default()
        .extra("[plugins.hello]\ngrants = [\"events\"]\n\n[plugins.queue-summary]\ngrants = [\"channels\"]")
        .extra(crate::pbx::DEVICES)
        .file("extensions.conf", crate::pbx::DIALPLAN)
        .start();
    let dir = plugin_dir(&host);
    let mut c = host.login("admin", "amp111", Some("off")).await;
    assert!(c
        .request(&["Action: Hello"])
        .await
        .get("Message")
        .is_some_and(|m| m.starts_with("Invalid/unknown")));
    install(&built.join("action-rust.wasm"), &dir, "hello.wasm");
    install(
        &built.join("queue-summary.wasm"),
        &dir,
        "queue-summary.wasm",
    );
    let t = Instant::now();
    loop {
        let m = c.request(&["Action: ListCommands"]).await;
        if m.raw.contains("\r\nHello: ") && m.raw.contains("\r\nQueueSummary: ") {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(15),
            "not listed: {}",
            m.raw
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let m = c.request(&["Action: Hello", "Name: Ann"]).await;
    assert_eq!(m.get("Message"), Some("Hello, Ann!"), "{m:?}");
    c.request(&[
        "Action: Originate",
        "Channel: SIP/100",
        "Context: default",
        "Exten: 102",
        "Priority: 1",
    ])
    .await;
    let m = c.request(&["Action: QueueSummary"]).await;
    assert_eq!(m.get("Response"), Some("Success"), "{m:?}");
    assert_eq!(m.get("Channels"), Some("1"), "{m:?}");
}

#[tokio::test]
async fn a_truncated_or_foreign_cache_file_is_recompiled_not_loaded() {
    let cache = crate::support::scratch_dir("cache");
    // The leftover of a write interrupted two hours ago: the first compile removes it.
    let stale = cache.join("0123-4567.tmp999");
    std::fs::write(&stale, "half").expect("stale temp");
    std::fs::File::options()
        .write(true)
        .open(&stale)
        .and_then(|f| f.set_modified(std::time::SystemTime::now() - Duration::from_secs(7200)))
        .expect("age the stale temp");
    let extra = format!("[plugins]\ncache-dir = \"{}\"", cache.display());
    // `extra` replaces the builder's [plugins] table: keep the plugin directory too.
    let first = HostBuilder::default().extra(&extra).start();
    let first_dir = first.stop_keeping_dir();
    let dir = first_dir.join("plugins");
    assert!(!stale.exists(), "a stale temporary file stays in the cache");
    let mut files: Vec<_> = std::fs::read_dir(&cache)
        .expect("cache dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "cwasm"))
        .collect();
    files.sort();
    assert!(files.len() >= 22, "{files:?}");
    for (i, f) in files.iter().enumerate() {
        let bytes = std::fs::read(f).expect("read");
        if i % 2 == 0 {
            std::fs::write(f, &bytes[..bytes.len() / 3]).expect("truncate");
        } else {
            std::fs::write(f, b"\x7fELF not a component at all").expect("foreign");
        }
    }
    let scratch = crate::support::scratch_dir("cache-host");
    let config = scratch.join("amihost.toml");
    std::fs::write(
        &config,
        format!(
            "[plugins]\ndir = \"{}\"\ncache-dir = \"{}\"\n{}",
            dir.display(),
            cache.display(),
            crate::support::USERS
        ),
    )
    .expect("config");
    let second = Host::spawn(&config, &[]);
    let mut c = second.login("admin", "amp111", Some("off")).await;
    assert_eq!(
        c.request(&["Action: Ping"]).await.get("Response"),
        Some("Pong")
    );
    let log = second.wait_log("discarding unreadable cache entry").await;
    assert!(log.contains("discarding unreadable cache entry"), "{log}");
    assert!(
        !log.contains("cached=true"),
        "a damaged entry was loaded: {log}"
    );
}

/// The `manager show plugins` entry of plugin `name`: from its `Plugin:` line to the next.
fn plugin_entry<'a>(listing: &'a str, name: &str) -> &'a str {
    let start = listing
        .find(&format!("Plugin: {name}\r\n"))
        .or_else(|| listing.find(&format!("Plugin: {name}\n")))
        .unwrap_or_else(|| panic!("{name} not listed: {listing}"));
    let rest = &listing[start + "Plugin: ".len()..];
    let end = rest.find("Plugin: ").unwrap_or(rest.len());
    &rest[..end]
}

/// A host serving the contract 1.0 fixture, granted the `events` it imports.
fn contract_1_0_host() -> Host {
    HostBuilder::default()
        .fixture("contract-1-0")
        .extra("[plugins.contract-1-0]\ngrants = [\"events\"]")
        .start()
}

#[tokio::test]
async fn a_plugin_built_against_contract_1_0_is_still_served() {
    // The fixture exports `ami:manager/action@1.0.0` only (no `action-packed`, no SDK).
    let host = contract_1_0_host();
    for (user, secret) in [("admin", "amp111"), ("modern", "modern")] {
        let mut c = host.login(user, secret, Some("off")).await;
        c.send(&["Action: LegacyEcho", "ActionID: c1", "Echo: hi"])
            .await;
        assert_eq!(
            c.read_until(b"\r\n\r\n").await,
            format!(
                "Response: Success\r\nActionID: c1\r\nContract: 1.0.0\r\nEcho: hi\r\nUser: {user}\r\n\r\n"
            )
        );
        // No ActionID, no Echo: neither echoed, Echo empty.
        c.send(&["Action: legacyecho"]).await;
        assert_eq!(
            c.read_until(b"\r\n\r\n").await,
            format!("Response: Success\r\nContract: 1.0.0\r\nEcho: \r\nUser: {user}\r\n\r\n")
        );
    }

    // The CLI lists it with the contract it was built against, beside a 1.1 plugin.
    let mut c = host.login("admin", "amp111", Some("off")).await;
    c.send(&["Action: Command", "Command: manager show plugins"])
        .await;
    let out = c.read_until(b"--END COMMAND--\r\n\r\n").await;
    let legacy = plugin_entry(&out, "contract-1-0");
    assert!(
        legacy.contains("(contract ami:manager@1.0.0)")
            && legacy.contains("Actions: LegacyEcho, LegacyEmit"),
        "{legacy}"
    );
    let ping = plugin_entry(&out, "ping");
    assert!(ping.contains("(contract ami:manager@1.1.0)"), "{ping}");
}

#[tokio::test]
async fn a_plugin_built_against_contract_1_0_emits_through_events_emit() {
    // `LegacyEmit` calls 1.0's `events.emit` (the body as a list of header records), which
    // no 1.1 plugin uses: the event reaches listeners of both dialects.
    let host = contract_1_0_host();
    let mut v1 = host.login("admin", "amp111", None).await;
    let mut modern = host.login("modern", "modern", Some("on")).await;
    let mut sender = host.login("admin", "amp111", Some("off")).await;
    sender
        .send(&["Action: LegacyEmit", "ActionID: e1", "Note: a b"])
        .await;
    assert_eq!(
        sender.read_msg().await.raw,
        "Response: Success\r\nActionID: e1\r\nMessage: Event Sent\r\n\r\n"
    );
    for listener in [&mut v1, &mut modern] {
        assert_eq!(
            listener.wait_event("LegacyEvent").await.raw,
            "Event: LegacyEvent\r\nPrivilege: user,all\r\nSource: contract-1-0\r\nNote: a b\r\n\r\n"
        );
    }

    // No ActionID, no Note: the reply has no ActionID, the event an empty Note.
    sender.send(&["Action: legacyemit"]).await;
    assert_eq!(
        sender.read_msg().await.raw,
        "Response: Success\r\nMessage: Event Sent\r\n\r\n"
    );
    assert_eq!(
        v1.wait_event("LegacyEvent").await.raw,
        "Event: LegacyEvent\r\nPrivilege: user,all\r\nSource: contract-1-0\r\nNote: \r\n\r\n"
    );

    // It needs the write class `user`.
    let mut reader = host.login("reader", "reader", Some("off")).await;
    reader.send(&["Action: LegacyEmit", "ActionID: e2"]).await;
    assert_eq!(
        reader.read_msg().await.raw,
        "Response: Error\r\nActionID: e2\r\nMessage: Permission denied\r\n\r\n"
    );
}

#[tokio::test]
async fn a_plugin_built_against_contract_1_0_needs_the_events_grant() {
    let host = HostBuilder::default().fixture("contract-1-0").start();
    let mut c = host.login("admin", "amp111", Some("off")).await;
    assert_eq!(
        c.request(&["Action: LegacyEcho"]).await.get("Message"),
        Some("Invalid/unknown command")
    );
    let log = host.wait_log("imports events without a grant").await;
    assert!(log.contains("imports events without a grant"), "{log}");
}

/// `AMIHOST_PERFMAP=1` has wasmtime write the plugins' symbols where `perf` looks for
/// them; without it, no map is written.
#[tokio::test]
async fn perf_map_of_the_plugins_only_when_asked() {
    let map = |host: &Host| std::path::PathBuf::from(format!("/tmp/perf-{}.map", host.pid()));
    let plain = HostBuilder::default().start();
    let profiled = HostBuilder::default().env("AMIHOST_PERFMAP", "1").start();
    let mut c = profiled.login("admin", "amp111", Some("off")).await;
    assert_eq!(
        c.request(&["Action: Ping"]).await.get("Response"),
        Some("Pong")
    );
    let symbols = std::fs::read_to_string(map(&profiled)).unwrap_or_default();
    let _ = std::fs::remove_file(map(&profiled));
    assert!(
        symbols.contains("ami:manager/action-packed"),
        "no plugin symbols in the perf map ({} bytes)",
        symbols.len()
    );
    assert!(!map(&plain).exists(), "a perf map without AMIHOST_PERFMAP");
}
