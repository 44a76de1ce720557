//! Test harness: start the real `amihost` binary on port 0 with a config written for the
//! test, wait for its ready line, and talk AMI to it.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long any single read waits before the test fails.
pub const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// The cargo target directory (the test binary lives in `<target>/debug/deps`).
pub fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test exe path");
    let deps = exe.parent().expect("deps dir");
    let profile = deps.parent().expect("profile dir");
    profile.parent().expect("target dir").to_path_buf()
}

/// Path of the `amihost` binary built beside this test binary.
pub fn amihost_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("test exe path");
    let profile = exe.parent().and_then(Path::parent).expect("profile dir");
    let bin = profile.join("amihost");
    assert!(
        bin.exists(),
        "{} not found: build it first (cargo build -p ami-host)",
        bin.display()
    );
    bin
}

/// The built-in plugins directory that `plugins/build.sh` fills.
pub fn builtin_plugins() -> PathBuf {
    let dir = target_dir().join("plugins");
    assert!(
        dir.join("ping.wasm").exists(),
        "{} has no built-in plugins: run plugins/build.sh",
        dir.display()
    );
    dir
}

/// A test fixture plugin (`target/test-plugins/<name>.wasm`).
pub fn fixture_plugin(name: &str) -> PathBuf {
    let p = target_dir()
        .join("test-plugins")
        .join(format!("{name}.wasm"));
    assert!(p.exists(), "{} missing: run plugins/build.sh", p.display());
    p
}

/// A scratch directory of one test, removed with everything in it when dropped (also
/// when the test fails and unwinds). Hold it as long as a host may use it.
pub struct Scratch(PathBuf);

impl std::ops::Deref for Scratch {
    type Target = Path;

    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for Scratch {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The prefix of every scratch directory: `amihost-it-<pid>-<n>-<tag>`.
const SCRATCH_PREFIX: &str = "amihost-it-";

/// A fresh scratch directory.
pub fn scratch_dir(tag: &str) -> Scratch {
    static N: AtomicUsize = AtomicUsize::new(0);
    static SWEEP: std::sync::Once = std::sync::Once::new();
    SWEEP.call_once(sweep_dead_runs);
    let dir = std::env::temp_dir().join(format!(
        "{SCRATCH_PREFIX}{}-{}-{tag}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    Scratch(dir)
}

/// Removes the scratch directories of test runs that were killed before they could drop
/// them (their process is gone).
fn sweep_dead_runs() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.map_while(Result::ok) {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(SCRATCH_PREFIX))
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// The usual users of the tests (same as the Asterisk 22 transcripts' config, plus more).
pub const USERS: &str = r#"
[users.admin]
secret = "amp111"
read = "all"
write = "all"

[users.reader]
secret = "reader"
read = "call"
write = "none"

[users.userclass]
secret = "uc"
read = "user"
write = "user"

[users.modern]
secret = "modern"
read = "all"
write = "all"
dialect = "modern"
"#;

/// Options for starting a host.
pub struct HostBuilder {
    general: String,
    extra: String,
    fixtures: Vec<&'static str>,
    files: Vec<(String, String)>,
    builtins: bool,
    http: bool,
    env: Vec<(String, String)>,
    listen: Option<String>,
}

impl Default for HostBuilder {
    fn default() -> Self {
        HostBuilder {
            general: String::new(),
            extra: String::new(),
            fixtures: Vec::new(),
            files: Vec::new(),
            builtins: true,
            http: false,
            env: Vec::new(),
            listen: None,
        }
    }
}

impl HostBuilder {
    /// Lines added to `[general]`.
    pub fn general(mut self, lines: &str) -> Self {
        self.general.push_str(lines);
        self.general.push('\n');
        self
    }

    /// The modern dialect for the listener.
    pub fn modern(self) -> Self {
        self.general("dialect = \"modern\"")
    }

    /// Extra TOML appended to the config (e.g. `[plugins]` keys).
    pub fn extra(mut self, toml: &str) -> Self {
        self.extra.push_str(toml);
        self.extra.push('\n');
        self
    }

    /// Enables the HTTP listener (`[http] enabled = true` plus `lines`), started on a free
    /// port; its address is [`Host::http`].
    pub fn http(mut self, lines: &str) -> Self {
        self.http = true;
        self.extra(&format!("[http]\nenabled = true\n{lines}\n"))
    }

    /// Sets an environment variable of the host process (e.g. `RUST_LOG`).
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_string(), value.to_string()));
        self
    }

    /// Listens on `addr` instead of `127.0.0.1:0` (e.g. `[::1]:0`).
    pub fn listen(mut self, addr: &str) -> Self {
        self.listen = Some(addr.to_string());
        self
    }

    /// Adds a fixture plugin to the plugin directory.
    pub fn fixture(mut self, name: &'static str) -> Self {
        self.fixtures.push(name);
        self
    }

    /// Writes a file (path relative to the config directory) before starting.
    pub fn file(mut self, path: &str, contents: &str) -> Self {
        self.files.push((path.to_string(), contents.to_string()));
        self
    }

    /// Writes the config and starts the host.
    pub fn start(self) -> Host {
        let dir = scratch_dir("host");
        let plugins = dir.join("plugins");
        std::fs::create_dir_all(&plugins).expect("plugin dir");
        if self.builtins {
            for entry in std::fs::read_dir(builtin_plugins()).expect("read builtins") {
                let p = entry.expect("entry").path();
                if p.extension().is_some_and(|e| e == "wasm") {
                    std::fs::copy(&p, plugins.join(p.file_name().expect("name")))
                        .expect("copy plugin");
                }
            }
        }
        for f in &self.fixtures {
            std::fs::copy(fixture_plugin(f), plugins.join(format!("{f}.wasm")))
                .expect("copy fixture");
        }
        for (path, contents) in &self.files {
            let p = dir.join(path);
            if let Some(parent) = p.parent() {
                std::fs::create_dir_all(parent).expect("file dir");
            }
            std::fs::write(p, contents).expect("write file");
        }
        let extra_has_plugins = self.extra.contains("[plugins]");
        let mut toml = format!("[general]\n{}\n", self.general);
        if !extra_has_plugins {
            toml.push_str(&format!("[plugins]\ndir = \"{}\"\n", plugins.display()));
        }
        toml.push_str(&self.extra);
        toml.push_str(USERS);
        let config = dir.join("amihost.toml");
        std::fs::write(&config, toml).expect("write config");
        let mut host = Host::spawn_listening(
            &config,
            &self.env,
            self.http,
            self.listen.as_deref().unwrap_or("127.0.0.1:0"),
        );
        host.scratch = Some(dir);
        host
    }
}

/// A running `amihost`.
pub struct Host {
    child: Child,
    /// The AMI address it listens on.
    pub addr: std::net::SocketAddr,
    /// The HTTP address, when started with HTTP ([`HostBuilder::http`]).
    pub http: Option<std::net::SocketAddr>,
    /// Everything it wrote to stderr so far.
    pub stderr: Arc<Mutex<String>>,
    /// The configuration file it was started with.
    pub config: PathBuf,
    /// The directory of its config and plugins, when [`HostBuilder::start`] made it;
    /// removed after the process is killed.
    scratch: Option<Scratch>,
}

impl Host {
    /// Starts a host with the default config.
    pub fn start() -> Host {
        HostBuilder::default().start()
    }

    /// Starts `amihost --config <config> --listen 127.0.0.1:0` and waits for its ready line.
    pub fn spawn(config: &Path, env: &[(String, String)]) -> Host {
        Host::spawn_with(config, env, false)
    }

    /// As [`Host::spawn`]; with `http`, also `--http-listen 127.0.0.1:0`, and waits for
    /// the `HTTP listening on` line too.
    pub fn spawn_with(config: &Path, env: &[(String, String)], http: bool) -> Host {
        Host::spawn_listening(config, env, http, "127.0.0.1:0")
    }

    /// As [`Host::spawn_with`], listening on `listen`.
    pub fn spawn_listening(
        config: &Path,
        env: &[(String, String)],
        http: bool,
        listen: &str,
    ) -> Host {
        let mut cmd = Command::new(amihost_bin());
        cmd.arg("--config")
            .arg(config)
            .arg("--listen")
            .arg(listen)
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if http {
            cmd.arg("--http-listen").arg("127.0.0.1:0");
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn amihost");
        let stderr = Arc::new(Mutex::new(String::new()));
        {
            let pipe = child.stderr.take().expect("stderr");
            let sink = stderr.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    let mut s = sink.lock().expect("stderr lock");
                    s.push_str(&line);
                    s.push('\n');
                }
            });
        }
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            while let Some(Ok(line)) = lines.next() {
                if let Some(addr) = line.strip_prefix("AMI listening on ") {
                    let _ = tx.send(addr.trim().to_string());
                }
                if let Some(addr) = line.strip_prefix("HTTP listening on ") {
                    let _ = tx.send(addr.trim().to_string());
                }
            }
        });
        let ready = |n: usize| -> Result<Vec<String>, std::sync::mpsc::RecvTimeoutError> {
            (0..n)
                .map(|_| rx.recv_timeout(Duration::from_secs(120)))
                .collect()
        };
        let (addr, http) = match ready(if http { 2 } else { 1 }) {
            Ok(a) => (
                a[0].parse().expect("ready line address"),
                a.get(1)
                    .map(|h| h.parse().expect("HTTP ready line address")),
            ),
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                std::thread::sleep(Duration::from_millis(100));
                panic!(
                    "amihost did not print its ready line; stderr:\n{}",
                    stderr.lock().expect("lock")
                );
            }
        };
        Host {
            child,
            addr,
            http,
            stderr,
            config: config.to_path_buf(),
            scratch: None,
        }
    }

    /// The directory of its configuration file (the PBX's config directory).
    pub fn dir(&self) -> PathBuf {
        self.config
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default()
    }

    /// The host's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Connects and reads the banner.
    pub async fn connect(&self) -> Client {
        let mut c = Client::connect(self.addr).await;
        let banner = c.read_line().await;
        assert!(
            banner.starts_with("Asterisk Call Manager/"),
            "banner {banner:?}"
        );
        c.banner = banner;
        c
    }

    /// Connects and logs in as `user` (events as given, e.g. `Some("off")`).
    pub async fn login(&self, user: &str, secret: &str, events: Option<&str>) -> Client {
        let mut c = self.connect().await;
        c.login(user, secret, events).await;
        c
    }

    /// The captured log so far.
    pub fn log(&self) -> String {
        self.stderr.lock().expect("lock").clone()
    }

    /// The captured log once it contains `needle` (or after 5 s without it): the host's
    /// stderr is read as it comes, so a line written before a reply may arrive after it.
    pub async fn wait_log(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let log = self.log();
            if log.contains(needle) || Instant::now() >= deadline {
                return log;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Resident memory of the host, in KiB.
    pub fn rss_kib(&self) -> u64 {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid())).expect("proc status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS")
    }

    /// CPU time the host has used (user + system), in clock ticks (1/100 s), from
    /// `/proc/PID/stat`.
    pub fn cpu_ticks(&self) -> u64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).expect("stat");
        // Fields after the command name (which may hold blanks): state is field 3,
        // utime 14 and stime 15.
        let after_comm = &stat[stat.rfind(')').expect("comm") + 2..];
        after_comm
            .split(' ')
            .skip(11)
            .take(2)
            .map(|v| v.parse::<u64>().expect("ticks"))
            .sum()
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Stops the host and hands over the directory [`HostBuilder::start`] made for it, to
    /// start another host on its config or plugins.
    pub fn stop_keeping_dir(mut self) -> Scratch {
        self.scratch.take().expect("a host started by HostBuilder")
    }

    /// Kills the process with SIGKILL (no chance to clean up) and reaps it.
    pub fn kill(&mut self) {
        self.child.kill().expect("SIGKILL the host");
        let status = self.child.wait().expect("reap the host");
        assert!(!status.success(), "the host exited on its own: {status}");
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An AMI client over TCP.
pub struct Client {
    stream: TcpStream,
    buf: Vec<u8>,
    /// The banner line read on connect.
    pub banner: String,
}

/// A message read from the server: raw bytes and parsed headers.
#[derive(Debug, Clone)]
pub struct Msg {
    /// The exact bytes, blank line included.
    pub raw: String,
    /// `(name, value)` pairs.
    pub headers: Vec<(String, String)>,
}

impl Msg {
    /// First header named `name` (case-insensitive).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether it is the event `name`.
    pub fn is_event(&self, name: &str) -> bool {
        self.get("Event") == Some(name)
    }
}

impl Client {
    /// Connects without reading anything.
    pub async fn connect(addr: std::net::SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).await.expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        Client {
            stream,
            buf: Vec::new(),
            banner: String::new(),
        }
    }

    /// Wraps a connected stream (nothing read yet).
    pub fn from_stream(stream: TcpStream) -> Client {
        Client {
            stream,
            buf: Vec::new(),
            banner: String::new(),
        }
    }

    /// The stream and the bytes read from it but not consumed yet.
    pub fn into_parts(self) -> (TcpStream, Vec<u8>) {
        (self.stream, self.buf)
    }

    /// The client's own address.
    pub fn local_addr(&self) -> std::net::SocketAddr {
        self.stream.local_addr().expect("local addr")
    }

    /// Sends raw bytes.
    pub async fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.expect("write");
    }

    /// Sends a message built from `lines` (each gets CR LF, plus the blank line).
    pub async fn send(&mut self, lines: &[&str]) {
        let mut s = String::new();
        for l in lines {
            s.push_str(l);
            s.push_str("\r\n");
        }
        s.push_str("\r\n");
        self.send_raw(s.as_bytes()).await;
    }

    async fn fill(&mut self) -> bool {
        self.buf.reserve(64 * 1024);
        match tokio::time::timeout(READ_TIMEOUT, self.stream.read_buf(&mut self.buf)).await {
            Ok(Ok(0)) => false,
            Ok(Ok(_)) => true,
            Ok(Err(_)) => false,
            Err(_) => panic!(
                "timed out waiting for the server; buffered: {:?}",
                String::from_utf8_lossy(&self.buf)
            ),
        }
    }

    /// Reads one line (without CR LF).
    pub async fn read_line(&mut self) -> String {
        loop {
            if let Some(pos) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line: Vec<u8> = self.buf.drain(..pos + 2).collect();
                return String::from_utf8_lossy(&line[..pos]).into_owned();
            }
            assert!(self.fill().await, "connection closed while reading a line");
        }
    }

    /// Reads bytes up to and including `marker`.
    pub async fn read_until(&mut self, marker: &[u8]) -> String {
        loop {
            if let Some(pos) = self.buf.windows(marker.len()).position(|w| w == marker) {
                let bytes: Vec<u8> = self.buf.drain(..pos + marker.len()).collect();
                return String::from_utf8_lossy(&bytes).into_owned();
            }
            assert!(self.fill().await, "connection closed while reading");
        }
    }

    /// Reads one message (up to its blank line).
    pub async fn read_msg(&mut self) -> Msg {
        let raw = self.read_until(b"\r\n\r\n").await;
        let headers = raw
            .split("\r\n")
            .filter(|l| !l.is_empty())
            .map(|l| match l.split_once(": ") {
                Some((n, v)) => (n.to_string(), v.to_string()),
                None => (l.to_string(), String::new()),
            })
            .collect();
        Msg { raw, headers }
    }

    /// Reads messages until one that is not an event (a reply), returning it.
    pub async fn read_reply(&mut self) -> Msg {
        loop {
            let m = self.read_msg().await;
            if m.get("Event").is_none() {
                return m;
            }
        }
    }

    /// Reads messages until the event `name` arrives.
    pub async fn wait_event(&mut self, name: &str) -> Msg {
        loop {
            let m = self.read_msg().await;
            if m.is_event(name) {
                return m;
            }
        }
    }

    /// Sends a request and returns the reply (skipping events).
    pub async fn request(&mut self, lines: &[&str]) -> Msg {
        self.send(lines).await;
        self.read_reply().await
    }

    /// Logs in, asserting success.
    pub async fn login(&mut self, user: &str, secret: &str, events: Option<&str>) {
        let u = format!("Username: {user}");
        let s = format!("Secret: {secret}");
        let mut lines = vec!["Action: Login", u.as_str(), s.as_str()];
        let e;
        if let Some(ev) = events {
            e = format!("Events: {ev}");
            lines.push(e.as_str());
        }
        let reply = self.request(&lines).await;
        assert_eq!(
            reply.get("Response"),
            Some("Success"),
            "login reply {reply:?}"
        );
    }

    /// True when the server closes the connection within the read timeout (buffered
    /// bytes are discarded).
    pub async fn closed(&mut self) -> bool {
        let deadline = Instant::now() + READ_TIMEOUT;
        while Instant::now() < deadline {
            if !self.fill().await {
                return true;
            }
        }
        false
    }

    /// Whether anything arrives within `wait` (consumes nothing).
    pub async fn quiet_for(&mut self, wait: Duration) -> bool {
        if !self.buf.is_empty() {
            return false;
        }
        match tokio::time::timeout(wait, self.stream.read_buf(&mut self.buf)).await {
            Err(_) => true,
            Ok(Ok(_)) => false,
            Ok(Err(_)) => false,
        }
    }
}
