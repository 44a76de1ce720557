//! Micro-benchmark of one plugin call: an in-process host (`server::start` with the
//! built-in plugins), one logged-in `Session`, and `Session::dispatch` of `Action: Ping`
//! (and of `UserEvent`, and of an unknown action) in a loop. Prints the median µs per
//! call over the rounds.
//! `plugins/build.sh && cargo bench -p ami-host --bench plugin_call`
//!
//! The plugin directory is `$AMIHOST_PLUGIN_DIR`, else `<target>/plugins` (cargo's target
//! directory, found from this executable's path or the workspace). Uses only `std::time`
//! and the crate's public API (no benchmark framework).

use std::hint::black_box;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use ami_host::config::Config;
use ami_host::message::Message;
use ami_host::session::{Flow, Session};
use ami_host::state::{Shared, Transport};
use bytes::BytesMut;

const CALLS: usize = 200;
const ROUNDS: usize = 50;

fn plugin_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("AMIHOST_PLUGIN_DIR").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir));
    }
    // <target>/<profile>/deps/plugin_call-HASH
    let from_exe = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.ancestors().nth(3).map(|t| t.join("plugins")));
    let from_workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/plugins");
    [from_exe, Some(from_workspace)]
        .into_iter()
        .flatten()
        .find(|d| d.join("ping.wasm").is_file())
}

fn main() -> ExitCode {
    let Some(dir) = plugin_dir() else {
        eprintln!("plugin_call: no ping.wasm found; run plugins/build.sh first (or set AMIHOST_PLUGIN_DIR)");
        return ExitCode::FAILURE;
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("plugin_call: {e}");
            return ExitCode::FAILURE;
        }
    };
    // The host's config directory, removed however the run ends.
    let work = std::env::temp_dir().join(format!("ami-bench-plugin-call-{}", std::process::id()));
    let result = runtime.block_on(run(&dir, &work));
    let _ = std::fs::remove_dir_all(&work);
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("plugin_call: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(dir: &Path, work: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(work)?;
    let toml = format!(
        r#"
[general]
displayconnects = false

[plugins]
dir = "{}"

[users.admin]
secret = "amp111"
read = "all"
write = "all"
"#,
        dir.display()
            .to_string()
            .replace('\\', "\\\\")
            .replace('"', "\\\"")
    );
    let config = Config::from_toml_str(&toml, &work.join("amihost.toml"))?;
    let t = Instant::now();
    let shared = ami_host::server::start(config).await?;
    println!(
        "host started in {:.0} ms with the plugins of {}",
        t.elapsed().as_secs_f64() * 1000.0,
        dir.display()
    );

    let peer: SocketAddr = "127.0.0.1:40000".parse()?;
    let mut session = Session::new(&shared, peer, Transport::Tcp);
    let mut out = BytesMut::with_capacity(4096);
    let login = Message::from_pairs([
        ("Action", "Login"),
        ("Username", "admin"),
        ("Secret", "amp111"),
        ("Events", "off"),
    ]);
    session.dispatch(&shared, login, &mut out).await;
    if !out.starts_with(b"Response: Success") {
        anyhow::bail!("login failed: {}", String::from_utf8_lossy(&out));
    }
    out.clear();

    // One call, checked.
    let ping = || Message::from_pairs([("Action", "Ping"), ("ActionID", "1")]);
    let flow = session.dispatch(&shared, ping(), &mut out).await;
    let reply = String::from_utf8_lossy(&out).into_owned();
    if flow != Flow::Continue
        || !(reply.starts_with("Response: Pong") || reply.starts_with("Response: Success"))
    {
        anyhow::bail!("Ping did not answer Pong: {reply:?}");
    }
    println!("reply: {:?}", reply);

    let samples = rounds(&mut session, &shared, &mut out, false, ping).await;
    report("Session::dispatch(Ping), the session's instance", samples);

    // A fresh instance for every call (what a session's first call to a plugin costs,
    // and what every call would cost without per-session reuse): the session's
    // instance cache is emptied before each call.
    let samples = rounds(&mut session, &shared, &mut out, true, ping).await;
    report("Session::dispatch(Ping), fresh instance", samples);

    // UserEvent, as `ami-bench events` sends it: the call, the event it emits (published
    // on the bus, rendered for no one) and the reply. This is the serial part of one
    // sending session's work per event.
    let user_event = || {
        Message::from_pairs([
            ("Action", "UserEvent"),
            ("UserEvent", "Bench"),
            ("BenchSrc", "0"),
            ("BenchSeq", "123456"),
            ("BenchTs", "987654321"),
        ])
    };
    let samples = rounds(&mut session, &shared, &mut out, false, user_event).await;
    report(
        "Session::dispatch(UserEvent), the session's instance",
        samples,
    );

    // The same request answered without a plugin (an unknown action), for the overhead
    // of the dispatcher itself.
    let unknown = || Message::from_pairs([("Action", "NoSuchAction"), ("ActionID", "1")]);
    let samples = rounds(&mut session, &shared, &mut out, false, unknown).await;
    report("Session::dispatch(unknown action), no plugin", samples);
    session.finish(&shared);
    Ok(())
}

/// Per-call times (us) of `ROUNDS` rounds of `CALLS` dispatches of `request()`, after a
/// tenth as many warm-up rounds; `fresh` empties the session's instance cache first.
async fn rounds(
    session: &mut Session,
    shared: &Arc<Shared>,
    out: &mut BytesMut,
    fresh: bool,
    request: impl Fn() -> Message,
) -> Vec<f64> {
    let mut samples = Vec::with_capacity(ROUNDS);
    for round in 0..ROUNDS + ROUNDS / 10 {
        let t = Instant::now();
        for _ in 0..CALLS {
            out.clear();
            if fresh {
                session.instances.clear();
            }
            black_box(session.dispatch(shared, request(), out).await);
        }
        let us = t.elapsed().as_secs_f64() * 1e6 / CALLS as f64;
        if round >= ROUNDS / 10 {
            samples.push(us);
        }
    }
    samples
}

/// Prints the median (and range) of per-call samples in microseconds.
fn report(what: &str, mut samples: Vec<f64>) {
    samples.sort_by(f64::total_cmp);
    if let (Some(min), Some(max)) = (samples.first(), samples.last()) {
        println!(
            "{what:<52} median {:>9.2} us/call (min {min:.2}, max {max:.2}; {ROUNDS} rounds of {CALLS})",
            samples[samples.len() / 2],
        );
    }
}
