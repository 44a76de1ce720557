//! Nothing half-written: UpdateConfig write loops killed with SIGKILL at random moments
//! leave the file either as it was or as one complete new version, and a restart is not
//! disturbed by what a killed write left behind; a reload of a broken configuration keeps
//! the running one and reports the file and line.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{builtin_plugins, scratch_dir, Host, HostBuilder, Scratch, USERS};

/// The file the write loops update.
const TARGET: &str = "target.conf";
/// Variables in its `[bulk]` category, and the length of each value: about 150 KB a
/// version, so a write takes a while and a kill often lands in one.
const BULK: usize = 25;
const VALUE_LEN: usize = 6000;

/// A value of version `generation`: every byte depends on it, so two versions mixed in
/// one file are told apart.
fn value(generation: u64, i: usize) -> String {
    let unit = format!("{generation:08}-{i:02}/");
    unit.repeat(VALUE_LEN / unit.len() + 1)[..VALUE_LEN].to_string()
}

/// The categories of version `generation`, exactly as the host writes them after its
/// generated header (`[state]`, `[bulk]`, `[end]`, each followed by a blank line).
fn body(generation: u64) -> String {
    let mut s = format!("[state]\ngen = {generation}\n\n[bulk]\n");
    for i in 0..BULK {
        s.push_str(&format!("v{i:02} = {}\n", value(generation, i)));
    }
    s.push_str(&format!("\n[end]\ngen = {generation}\n\n"));
    s
}

/// The version a file holds, if it is one complete version: either version 0 as the test
/// wrote it, or the host's generated header followed by a whole version.
fn version_of(text: &str) -> Result<u64, String> {
    let rest = if text.starts_with(";!") {
        let mut lines = text.splitn(8, '\n');
        let header: Vec<&str> = lines.by_ref().take(7).collect();
        let ok = header.len() == 7
            && header[0] == ";!"
            && header[1] == ";! Automatically generated configuration file"
            && header[2] == format!(";! Filename: {TARGET}")
            && header[3] == ";! Generator: Manager"
            && header[4].starts_with(";! Creation Date: ")
            && header[4].ends_with(" UTC")
            && header[5] == ";!"
            && header[6].is_empty();
        if !ok {
            return Err(format!("bad header {header:?}"));
        }
        lines.next().unwrap_or("")
    } else {
        text
    };
    let generation: u64 = rest
        .strip_prefix("[state]\ngen = ")
        .and_then(|r| r.split('\n').next())
        .and_then(|g| g.parse().ok())
        .ok_or_else(|| {
            format!(
                "no [state] gen at the start: {:?}",
                &rest[..rest.len().min(80)]
            )
        })?;
    if rest != body(generation) {
        return Err(format!(
            "not a complete version {generation} ({} bytes, a whole one has {})",
            rest.len(),
            body(generation).len()
        ));
    }
    Ok(generation)
}

/// The UpdateConfig request writing version `generation` over [`TARGET`].
fn update_request(generation: u64) -> String {
    let mut s = format!(
        "Action: UpdateConfig\r\nActionID: {generation}\r\nSrcFilename: {TARGET}\r\nDstFilename: {TARGET}\r\n"
    );
    let mut step = 0;
    let mut update = |s: &mut String, cat: &str, var: &str, val: &str| {
        s.push_str(&format!(
            "Action-{step:06}: Update\r\nCat-{step:06}: {cat}\r\nVar-{step:06}: {var}\r\nValue-{step:06}: {val}\r\n"
        ));
        step += 1;
    };
    update(&mut s, "state", "gen", &generation.to_string());
    for i in 0..BULK {
        update(&mut s, "bulk", &format!("v{i:02}"), &value(generation, i));
    }
    update(&mut s, "end", "gen", &generation.to_string());
    s.push_str("\r\n");
    s
}

/// What the write loops of one round did.
#[derive(Default)]
struct Writes {
    /// Versions whose request was (at least partly) sent.
    sent: Vec<u64>,
    /// Versions the host confirmed.
    acked: Vec<u64>,
}

/// One write loop: UpdateConfig after UpdateConfig on one connection until the host goes
/// away (then it just stops: the kill is expected).
async fn write_loop(
    stream: TcpStream,
    mut buf: Vec<u8>,
    next: Arc<AtomicU64>,
    writes: Arc<Mutex<Writes>>,
) {
    let mut stream = stream;
    loop {
        let generation = next.fetch_add(1, Ordering::SeqCst);
        writes.lock().expect("lock").sent.push(generation);
        if stream
            .write_all(update_request(generation).as_bytes())
            .await
            .is_err()
        {
            return;
        }
        let reply = loop {
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let reply: Vec<u8> = buf.drain(..end + 4).collect();
                break String::from_utf8_lossy(&reply).into_owned();
            }
            match stream.read_buf(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        };
        assert_eq!(
            reply,
            format!("Response: Success\r\nActionID: {generation}\r\n\r\n"),
            "UpdateConfig failed"
        );
        writes.lock().expect("lock").acked.push(generation);
    }
}

/// A config directory with only the plugins these tests need (so restarts are quick) and
/// the target file at version 0.
fn durable_dir() -> Scratch {
    let dir = scratch_dir("durable");
    let plugins = dir.join("plugins");
    std::fs::create_dir_all(&plugins).expect("plugin dir");
    for name in ["update-config", "get-config", "ping"] {
        let file = format!("{name}.wasm");
        std::fs::copy(builtin_plugins().join(&file), plugins.join(&file)).expect("copy plugin");
    }
    std::fs::write(
        dir.join("amihost.toml"),
        format!(
            "[general]\n\n[plugins]\ndir = \"{}\"\n{USERS}",
            plugins.display()
        ),
    )
    .expect("write config");
    std::fs::write(dir.join(TARGET), body(0)).expect("write target");
    dir
}

/// Names in `dir` that are neither what the test put there nor a temporary file of an
/// interrupted write (`.target.conf.<pid>.<n>.tmp`), and the number of such temporary
/// files.
fn unexpected_files(dir: &Path) -> (Vec<String>, usize) {
    let mut strays = 0;
    let mut unexpected = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read dir") {
        let name = entry
            .expect("entry")
            .file_name()
            .to_string_lossy()
            .into_owned();
        // `amihost.ctl` is the CLI's control socket, left behind by a killed host.
        if ["amihost.toml", "amihost.ctl", "plugins", TARGET].contains(&name.as_str()) {
            continue;
        }
        let temp = name
            .strip_prefix(&format!(".{TARGET}."))
            .and_then(|r| r.strip_suffix(".tmp"))
            .and_then(|r| r.split_once('.'))
            .is_some_and(|(pid, n)| {
                pid.bytes().all(|b| b.is_ascii_digit()) && n.bytes().all(|b| b.is_ascii_digit())
            });
        if temp {
            strays += 1;
        } else {
            unexpected.push(name);
        }
    }
    (unexpected, strays)
}

/// Asks the running host for the target's `gen` values through GetConfig.
async fn generation_via_getconfig(host: &Host) -> (String, String) {
    let mut c = host.login("admin", "amp111", Some("off")).await;
    let m = c
        .request(&["Action: GetConfig", &format!("Filename: {TARGET}")])
        .await;
    assert_eq!(m.get("Response"), Some("Success"), "{:.300}", m.raw);
    assert_eq!(m.get("Category-000000"), Some("state"));
    assert_eq!(m.get("Category-000001"), Some("bulk"));
    assert_eq!(m.get("Category-000002"), Some("end"));
    let first = m.get("Line-000000-000000").unwrap_or_default().to_string();
    let last = m.get("Line-000002-000000").unwrap_or_default().to_string();
    (first, last)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_update_config_loops_never_leaves_a_half_written_file() {
    const ROUNDS: usize = 20;
    const WRITERS: usize = 3;
    let started = Instant::now();
    let mut seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1)
        | 1;
    let first_seed = seed;
    let mut random = move |below: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % below
    };
    let dir = durable_dir();
    let config = dir.join("amihost.toml");
    let target = dir.join(TARGET);
    let next = Arc::new(AtomicU64::new(1));
    let mut current = 0;
    let mut strays_seen = 0;
    let mut changed = 0;
    let mut host = Host::spawn(&config, &[]);
    for round in 0..ROUNDS {
        let writes = Arc::new(Mutex::new(Writes::default()));
        let mut loops = Vec::new();
        for _ in 0..WRITERS {
            let (stream, buf) = host
                .login("admin", "amp111", Some("off"))
                .await
                .into_parts();
            loops.push(tokio::spawn(write_loop(
                stream,
                buf,
                next.clone(),
                writes.clone(),
            )));
        }
        // Kill at a random moment once writing is under way: after 0 to 3 completed
        // writes, then 0 to 40 ms more.
        let wait_acks = random(4) as usize;
        let deadline = Instant::now() + Duration::from_secs(30);
        while writes.lock().expect("lock").acked.len() < wait_acks {
            assert!(Instant::now() < deadline, "no UpdateConfig completed");
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        tokio::time::sleep(Duration::from_micros(random(40_000))).await;
        host.kill();
        for l in loops {
            l.await.expect("write loop");
        }

        let text = std::fs::read_to_string(&target).expect("read target");
        let (sent, acked) = {
            let w = writes.lock().expect("lock");
            (w.sent.clone(), w.acked.clone())
        };
        let found = version_of(&text).unwrap_or_else(|e| {
            panic!("round {round} (seed {first_seed}): {TARGET} is not a whole version: {e}")
        });
        assert!(
            found == current || sent.contains(&found),
            "round {round} (seed {first_seed}): version {found} was never written (before: {current})"
        );
        // A confirmed write was renamed into place before its reply: never lost.
        if !acked.is_empty() {
            assert_ne!(
                found, current,
                "round {round} (seed {first_seed}): the confirmed writes {acked:?} are lost"
            );
        }
        if found != current {
            changed += 1;
        }
        current = found;
        let (unexpected, strays) = unexpected_files(&dir);
        assert!(unexpected.is_empty(), "round {round}: {unexpected:?}");
        strays_seen = strays;

        // A restart beside whatever the killed write left behind serves the file as it is.
        host = Host::spawn(&config, &[]);
        let want = format!("gen={current}");
        assert_eq!(
            generation_via_getconfig(&host).await,
            (want.clone(), want),
            "round {round}"
        );
    }
    // And it still writes.
    let mut c = host.login("admin", "amp111", Some("off")).await;
    let last = next.fetch_add(1, Ordering::SeqCst);
    c.send_raw(update_request(last).as_bytes()).await;
    assert_eq!(
        c.read_msg().await.raw,
        format!("Response: Success\r\nActionID: {last}\r\n\r\n")
    );
    let text = std::fs::read_to_string(&target).expect("read target");
    assert_eq!(version_of(&text), Ok(last));
    // Three rounds in four wait for a confirmed write, so most rounds changed the file.
    assert!(
        changed >= ROUNDS / 4,
        "only {changed} of {ROUNDS} rounds wrote anything before the kill"
    );
    eprintln!(
        "{ROUNDS} kills (seed {first_seed}): the file changed in {changed} rounds; \
         {strays_seen} temporary files of interrupted writes were left; {:?}",
        started.elapsed()
    );
}

/// The 1-based line of `text` that starts with `start`.
fn line_of(text: &str, start: &str) -> usize {
    text.lines()
        .position(|l| l.starts_with(start))
        .map(|i| i + 1)
        .unwrap_or_else(|| panic!("no line {start:?} in {text}"))
}

/// Sends `Action: Reload` and returns its reply's `Response` and `Message`.
async fn reload(c: &mut crate::support::Client) -> (String, String) {
    let m = c.request(&["Action: Reload", "ActionID: rl"]).await;
    assert_eq!(m.get("ActionID"), Some("rl"), "{m:?}");
    (
        m.get("Response").unwrap_or_default().to_string(),
        m.get("Message").unwrap_or_default().to_string(),
    )
}

/// Whether `user` can log in with `secret` (a new connection).
async fn can_log_in(host: &Host, user: &str, secret: &str) -> bool {
    let mut c = host.connect().await;
    let m = c
        .request(&[
            "Action: Login",
            &format!("Username: {user}"),
            &format!("Secret: {secret}"),
        ])
        .await;
    m.get("Response") == Some("Success")
}

#[tokio::test]
async fn a_reload_of_a_broken_toml_config_keeps_the_running_one_and_names_file_and_line() {
    let host = HostBuilder::default().start();
    let mut admin = host.login("admin", "amp111", Some("off")).await;
    let good = std::fs::read_to_string(&host.config).expect("config");
    // A valid new user, a changed secret, and one bad value further down: nothing of it
    // may apply.
    let broken = good.replace("secret = \"reader\"", "secret = \"changed\"")
        + "\n[users.newbie]\nsecret = \"nb\"\nread = \"all\"\nwrite = \"all\"\n\n\
           [users.bad]\nsecret = \"x\"\nread = \"everything\"\n";
    let line = line_of(&broken, "read = \"everything\"");
    std::fs::write(&host.config, &broken).expect("write config");
    let (response, message) = reload(&mut admin).await;
    let place = format!("amihost.toml:{line}:");
    assert_eq!(response, "Error", "{message}");
    assert!(
        message.contains(&place) && message.contains("users.bad.read"),
        "{message:?} does not name {place} and the key"
    );
    let logged = host
        .wait_log("not reloaded")
        .await
        .lines()
        .any(|l| l.contains("ERROR") && l.contains("not reloaded") && l.contains(&place));
    assert!(logged, "no error log line naming {place}:\n{}", host.log());
    // The running configuration is the old one.
    assert!(can_log_in(&host, "reader", "reader").await);
    assert!(!can_log_in(&host, "reader", "changed").await);
    assert!(!can_log_in(&host, "newbie", "nb").await);
    assert_eq!(
        admin.request(&["Action: Ping"]).await.get("Response"),
        Some("Pong")
    );
    // Fixed, it reloads.
    let fixed = broken.replace("read = \"everything\"", "read = \"all\"");
    std::fs::write(&host.config, fixed).expect("write config");
    assert_eq!(reload(&mut admin).await.0, "Success");
    assert!(can_log_in(&host, "newbie", "nb").await);
    assert!(can_log_in(&host, "reader", "changed").await);
}

#[tokio::test]
async fn a_reload_of_a_broken_included_conf_file_names_that_file_and_line() {
    let dir = scratch_dir("broken-conf");
    std::fs::write(
        dir.join("manager.conf"),
        "[general]\nenabled = yes\n\n[admin]\nsecret = amp111\nread = all\nwrite = all\n\n\
         #include \"ops.conf\"\n",
    )
    .expect("manager.conf");
    std::fs::write(
        dir.join("ops.conf"),
        "[ops]\nsecret = ops\nread = all\nwrite = all\n",
    )
    .expect("ops.conf");
    let env = [(
        "AMIHOST_PLUGIN_DIR".to_string(),
        builtin_plugins().display().to_string(),
    )];
    let host = Host::spawn(&dir.join("manager.conf"), &env);
    let mut admin = host.login("admin", "amp111", Some("off")).await;
    assert!(can_log_in(&host, "ops", "ops").await);

    // A new secret, then an unknown permission class on line 3 of the included file.
    std::fs::write(
        dir.join("ops.conf"),
        "[ops]\nsecret = new\nread = everything\nwrite = all\n",
    )
    .expect("ops.conf");
    let (response, message) = reload(&mut admin).await;
    assert_eq!(response, "Error", "{message}");
    assert!(message.contains("ops.conf:3:"), "{message:?}");
    assert!(
        host.wait_log("not reloaded")
            .await
            .lines()
            .any(|l| l.contains("not reloaded") && l.contains("ops.conf:3:")),
        "{}",
        host.log()
    );
    assert!(can_log_in(&host, "ops", "ops").await);
    assert!(!can_log_in(&host, "ops", "new").await);

    // A syntax error (a line that is nothing) in the included file, line 2.
    std::fs::write(dir.join("ops.conf"), "[ops]\nthis is not a line\n").expect("ops.conf");
    let (response, message) = reload(&mut admin).await;
    assert_eq!(response, "Error", "{message}");
    assert!(message.contains("ops.conf:2:"), "{message:?}");
    assert!(can_log_in(&host, "ops", "ops").await);
}
