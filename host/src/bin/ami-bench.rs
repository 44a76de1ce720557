//! `ami-bench`: a load generator for an AMI server on this machine.
//!
//! ```text
//! ami-bench ping   [--conns N] [--depth N]
//! ami-bench events [--listeners N] [--senders N] [--window N] [--payload-headers N]
//!                  [--bystanders N] [--pid PID]
//! ami-bench logins [--auth plain|md5] [--workers N]
//! ami-bench idle   [--conns N] [--pid PID] [--concurrency N]
//! ami-bench swap   --plugin-dir DIR --swap-from FILE --swap-to FILE [--plugin-name NAME]
//!                  [--conns N] [--depth N] [--swap-at SECS] [--swap-window SECS]
//! ami-bench soak   [--pid PID] [--sample SECS] [--http ADDR:PORT] [--plugin-dir DIR
//!                  --swap-plugin NAME] [--config FILE] [--ping-rate N] [--event-rate N] ...
//! common: [--target 127.0.0.1:5038] [--user admin] [--secret amp111] [--duration SECS]
//!         [--warmup SECS] [--connect-timeout SECS] [--drain SECS]
//!         [--threads N] [--runtime multi|per-core]
//! ```
//!
//! Every scenario prints human-readable lines and, last, one machine-readable line
//! `RESULT <scenario> key=value ...`. Only loopback targets are accepted. Every phase
//! (connect + login, warm-up, run, drain) has a deadline, and a watchdog ends the process
//! if the whole run overstays its budget, so the tool always ends.
//!
//! The client runs one task per connection on `--threads` (the number of cores) worker
//! threads: one work-stealing tokio runtime (`--runtime multi`, the default), or one
//! single-threaded runtime per thread with the connections spread over them round-robin
//! (`--runtime per-core`). Measured on a 2-core box against ami-host (ping 8x16, 5 s
//! runs): the same throughput within noise (~300-320k actions/s), per-core ~10 % less
//! client CPU, but per-core doubles p99 (~2 ms against ~1 ms), because a reply that lands
//! on a busy thread waits for that thread's other connections; multi is the default so
//! the client adds less to the latencies it reports. Either way the client used ~20 % of
//! the machine at 300k actions/s (~1.3 us of CPU per action). Replies are parsed only as
//! far as needed: the message boundary (`\r\n\r\n`), `Response:` and `ActionID:`
//! (events: `BenchSeq:`/`BenchTs:`).
//!
//! Both dialects are understood: `Response: Pong` (1.0) and `Response: Success` (modern)
//! both count as a successful Ping.
//!
//! `soak` runs every kind of load at once, each stream at a modest fixed rate, for a long
//! time, and samples the host's RSS, open file descriptors, OS threads and live tokio
//! tasks (`core show tasks`) every `--sample` seconds; it fails (exit 1) on any error,
//! lost event or upward trend of a resource.

use std::collections::VecDeque;
use std::future::Future;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::runtime::Handle;
use tokio::sync::{watch, Notify, Semaphore};

const USAGE: &str = "usage: ami-bench SCENARIO [options]

scenarios:
  ping     Ping round trips            --conns N (1) --depth N (1, pipelined per connection)
  events   UserEvent fan-out           --listeners N (1) --senders N (1) --window N (64)
                                       --payload-headers N (0) --bystanders N (0 idle
                                       sessions with Events: off beside them) --pid PID
                                       (host CPU reported; else found from the port)
  logins   connect+Login+Logoff cycles --auth plain|md5 (plain) --workers N (8)
  idle     idle logged-in sessions     --conns N (1000) --pid PID (else found from the port)
                                       --concurrency N (1000 connects in flight)
  swap     ping load while a plugin file is replaced
           --plugin-dir DIR --swap-from FILE --swap-to FILE --plugin-name NAME (ping)
           --conns N (8) --depth N (16) --swap-at SECS (half the run) --swap-window SECS (1)
           --settle SECS (1)
  soak     mixed load for --duration with the host's resources sampled
           --pid PID (else found from the port) --sample SECS (60)
           --conns N (2 ping connections) --ping-rate N/s (2000)
           --listeners N (4) --event-rate N/s (2000 UserEvents, sequence-checked)
           --originate-rate N/s (10) --originate-channel CHAN (Local/102@default)
           --login-rate N/s (20, plain and MD5 alternately)
           --http ADDR:PORT --http-prefix P (asterisk) --http-rate N/s (5 rawman sessions)
           --plugin-dir DIR --swap-plugin NAME (ping) --swap-every SECS (30)
           --config FILE (the host's; rewritten before each reload) --reload-every SECS (20)
           --max-growth PCT (10: growth that counts as an upward trend)
           --warmup SECS (samples before it are left out of the trend)
           a rate of 0 turns a stream off; HTTP and swaps run only when given

common options:
  --target ADDR:PORT       server, loopback only (127.0.0.1:5038)
  --user NAME --secret S   credentials (admin / amp111)
  --duration SECS          measured run (10)
  --warmup SECS            load before measuring (1)
  --connect-timeout SECS   bound on connecting and logging in every connection (10)
  --drain SECS             bound on waiting for replies after the run (3)
  --threads N              client threads (number of cores)
  --runtime multi|per-core one multi-thread runtime (default) or one
                           current-thread runtime per thread";

// ---------------------------------------------------------------------------------------
// Options

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scenario {
    Ping,
    Events,
    Logins,
    Idle,
    Swap,
    Soak,
}

impl Scenario {
    fn name(self) -> &'static str {
        match self {
            Scenario::Ping => "ping",
            Scenario::Events => "events",
            Scenario::Logins => "logins",
            Scenario::Idle => "idle",
            Scenario::Swap => "swap",
            Scenario::Soak => "soak",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AuthKind {
    Plain,
    Md5,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RuntimeKind {
    PerCore,
    Multi,
}

#[derive(Debug, Clone)]
struct Opts {
    scenario: Scenario,
    target: SocketAddr,
    user: String,
    secret: String,
    duration: Duration,
    warmup: Duration,
    connect_timeout: Duration,
    drain: Duration,
    threads: usize,
    runtime: RuntimeKind,
    conns: usize,
    depth: usize,
    listeners: usize,
    senders: usize,
    bystanders: usize,
    window: u64,
    payload_headers: usize,
    auth: AuthKind,
    workers: usize,
    pid: Option<u32>,
    concurrency: usize,
    plugin_dir: Option<PathBuf>,
    swap_from: Option<PathBuf>,
    swap_to: Option<PathBuf>,
    plugin_name: String,
    swap_at: Option<Duration>,
    swap_window: Duration,
    settle: Duration,
    sample: Duration,
    http: Option<SocketAddr>,
    http_prefix: String,
    config: Option<PathBuf>,
    ping_rate: u64,
    event_rate: u64,
    originate_rate: u64,
    originate_channel: String,
    login_rate: u64,
    http_rate: u64,
    swap_every: Duration,
    reload_every: Duration,
    max_growth: f64,
}

fn parse_secs(name: &str, v: &str) -> Result<Duration, String> {
    match v.parse::<f64>() {
        Ok(s) if s.is_finite() && (0.0..=86_400.0).contains(&s) => Ok(Duration::from_secs_f64(s)),
        _ => Err(format!("{name}: \"{v}\" is not a number of seconds")),
    }
}

fn parse_count(name: &str, v: &str, min: usize) -> Result<usize, String> {
    match v.parse::<usize>() {
        Ok(n) if n >= min && n <= 10_000_000 => Ok(n),
        _ => Err(format!("{name}: \"{v}\" is not a whole number >= {min}")),
    }
}

/// Resolves `text` and insists that every address it names is a loopback address.
fn parse_target(text: &str) -> Result<SocketAddr, String> {
    parse_loopback("--target", text)
}

/// [`parse_target`] for the option `name`.
fn parse_loopback(name: &str, text: &str) -> Result<SocketAddr, String> {
    let addrs: Vec<SocketAddr> = text
        .to_socket_addrs()
        .map_err(|e| format!("{name}: \"{text}\" is not HOST:PORT ({e})"))?
        .collect();
    let Some(first) = addrs.first().copied() else {
        return Err(format!("{name}: \"{text}\" resolves to no address"));
    };
    if let Some(bad) = addrs.iter().find(|a| !a.ip().is_loopback()) {
        return Err(format!(
            "{name} {text}: refusing non-loopback address {bad}; ami-bench floods the \
             server it talks to and only runs against this machine (127.0.0.0/8 or ::1)"
        ));
    }
    Ok(first)
}

fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Opts, String> {
    let mut args = args.into_iter();
    let scenario = match args.next().as_deref() {
        Some("ping") => Scenario::Ping,
        Some("events") => Scenario::Events,
        Some("logins") => Scenario::Logins,
        Some("idle") => Scenario::Idle,
        Some("swap") => Scenario::Swap,
        Some("soak") => Scenario::Soak,
        Some("--help" | "-h") | None => return Err(String::new()),
        Some(other) => return Err(format!("unknown scenario \"{other}\"")),
    };
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    let mut o = Opts {
        scenario,
        target: SocketAddr::from(([127, 0, 0, 1], 5038)),
        user: "admin".into(),
        secret: "amp111".into(),
        duration: Duration::from_secs(10),
        warmup: Duration::from_secs(1),
        connect_timeout: Duration::from_secs(10),
        drain: Duration::from_secs(3),
        threads: cores,
        runtime: RuntimeKind::Multi,
        conns: 0,
        depth: 0,
        listeners: 0,
        senders: 1,
        bystanders: 0,
        window: 64,
        payload_headers: 0,
        auth: AuthKind::Plain,
        workers: 8,
        pid: None,
        concurrency: 1000,
        plugin_dir: None,
        swap_from: None,
        swap_to: None,
        plugin_name: "ping".into(),
        swap_at: None,
        swap_window: Duration::from_secs(1),
        settle: Duration::from_secs(1),
        sample: Duration::from_secs(60),
        http: None,
        http_prefix: "asterisk".into(),
        config: None,
        ping_rate: 2000,
        event_rate: 2000,
        originate_rate: 10,
        originate_channel: "Local/102@default".into(),
        login_rate: 20,
        http_rate: 5,
        swap_every: Duration::from_secs(30),
        reload_every: Duration::from_secs(20),
        max_growth: 10.0,
    };
    while let Some(flag) = args.next() {
        if flag == "--help" || flag == "-h" {
            return Err(String::new());
        }
        let v = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let f = flag.as_str();
        match f {
            "--target" => o.target = parse_target(&v)?,
            "--user" => o.user = v,
            "--secret" => o.secret = v,
            "--duration" => o.duration = parse_secs(f, &v)?,
            "--warmup" => o.warmup = parse_secs(f, &v)?,
            "--connect-timeout" => o.connect_timeout = parse_secs(f, &v)?,
            "--drain" => o.drain = parse_secs(f, &v)?,
            "--threads" => o.threads = parse_count(f, &v, 1)?.min(256),
            "--runtime" => {
                o.runtime = match v.as_str() {
                    "per-core" => RuntimeKind::PerCore,
                    "multi" => RuntimeKind::Multi,
                    _ => return Err(format!("--runtime: \"{v}\" is not multi or per-core")),
                }
            }
            "--conns" => o.conns = parse_count(f, &v, 1)?,
            "--depth" => o.depth = parse_count(f, &v, 1)?,
            "--listeners" => o.listeners = parse_count(f, &v, 1)?,
            "--senders" => o.senders = parse_count(f, &v, 1)?,
            "--bystanders" => o.bystanders = parse_count(f, &v, 0)?,
            "--window" => o.window = parse_count(f, &v, 1)? as u64,
            "--payload-headers" => o.payload_headers = parse_count(f, &v, 0)?.min(120),
            "--auth" => {
                o.auth = match v.to_ascii_lowercase().as_str() {
                    "plain" => AuthKind::Plain,
                    "md5" => AuthKind::Md5,
                    _ => return Err(format!("--auth: \"{v}\" is not plain or md5")),
                }
            }
            "--workers" => o.workers = parse_count(f, &v, 1)?,
            "--pid" => {
                o.pid = Some(
                    v.parse()
                        .map_err(|_| format!("--pid: \"{v}\" is not a process id"))?,
                )
            }
            "--concurrency" => o.concurrency = parse_count(f, &v, 1)?,
            "--plugin-dir" => o.plugin_dir = Some(PathBuf::from(v)),
            "--swap-from" => o.swap_from = Some(PathBuf::from(v)),
            "--swap-to" => o.swap_to = Some(PathBuf::from(v)),
            "--plugin-name" | "--swap-plugin" => o.plugin_name = v,
            "--swap-at" => o.swap_at = Some(parse_secs(f, &v)?),
            "--swap-window" => o.swap_window = parse_secs(f, &v)?,
            "--settle" => o.settle = parse_secs(f, &v)?,
            "--sample" => o.sample = parse_secs(f, &v)?,
            "--http" => o.http = Some(parse_loopback(f, &v)?),
            "--http-prefix" => o.http_prefix = v.trim_matches('/').to_string(),
            "--config" => o.config = Some(PathBuf::from(v)),
            "--ping-rate" => o.ping_rate = parse_count(f, &v, 0)? as u64,
            "--event-rate" => o.event_rate = parse_count(f, &v, 0)? as u64,
            "--originate-rate" => o.originate_rate = parse_count(f, &v, 0)? as u64,
            "--originate-channel" => o.originate_channel = v,
            "--login-rate" => o.login_rate = parse_count(f, &v, 0)? as u64,
            "--http-rate" => o.http_rate = parse_count(f, &v, 0)? as u64,
            "--swap-every" => o.swap_every = parse_secs(f, &v)?,
            "--reload-every" => o.reload_every = parse_secs(f, &v)?,
            "--max-growth" => {
                o.max_growth = match v.parse::<f64>() {
                    Ok(p) if p.is_finite() && p >= 0.0 => p,
                    _ => return Err(format!("{f}: \"{v}\" is not a percentage")),
                }
            }
            other => return Err(format!("unknown option \"{other}\"")),
        }
    }
    if o.duration.is_zero() {
        return Err("--duration must be more than 0".into());
    }
    let (conns, depth) = match scenario {
        Scenario::Idle => (1000, 1),
        Scenario::Swap => (8, 16),
        Scenario::Soak => (2, 1),
        _ => (1, 1),
    };
    if o.listeners == 0 {
        o.listeners = if scenario == Scenario::Soak { 4 } else { 1 };
    }
    if o.conns == 0 {
        o.conns = conns;
    }
    if o.depth == 0 {
        o.depth = depth;
    }
    if scenario == Scenario::Soak {
        if o.sample < Duration::from_secs(1) || o.sample > o.duration {
            return Err("soak: --sample must be at least 1 s and at most --duration".into());
        }
        if o.plugin_dir.is_some() && (o.plugin_name.is_empty() || o.plugin_name.contains('/')) {
            return Err("--swap-plugin: a plugin file stem such as ping".into());
        }
        for (name, d) in [
            ("--swap-every", o.swap_every),
            ("--reload-every", o.reload_every),
        ] {
            if d < Duration::from_secs(1) {
                return Err(format!("{name} must be at least 1 s"));
            }
        }
        if o.originate_channel.contains(['\r', '\n']) {
            return Err("--originate-channel: one line".into());
        }
    }
    if scenario == Scenario::Swap {
        for (name, v) in [
            ("--plugin-dir", &o.plugin_dir),
            ("--swap-from", &o.swap_from),
            ("--swap-to", &o.swap_to),
        ] {
            if v.is_none() {
                return Err(format!("swap: {name} is required"));
            }
        }
        if o.plugin_name.is_empty() || o.plugin_name.contains('/') {
            return Err("--plugin-name: a plugin file stem such as ping".into());
        }
        if let Some(at) = o.swap_at {
            if at >= o.duration {
                return Err("--swap-at must fall inside --duration".into());
            }
        }
    }
    Ok(o)
}

// ---------------------------------------------------------------------------------------
// Latency histogram: log-linear buckets of nanoseconds, 64 sub-buckets per power of two
// (at most ~1.6 % error), fixed size, mergeable.

const SUB_BITS: u32 = 6;
const SUB: u64 = 1 << SUB_BITS;
const BUCKETS: usize = ((64 - SUB_BITS as usize) + 1) * SUB as usize;

#[derive(Clone)]
struct Hist {
    counts: Vec<u64>,
    total: u64,
    max: u64,
}

impl Hist {
    fn new() -> Hist {
        Hist {
            counts: vec![0; BUCKETS],
            total: 0,
            max: 0,
        }
    }

    fn index(v: u64) -> usize {
        if v < 2 * SUB {
            return v as usize;
        }
        let e = 63 - v.leading_zeros(); // >= SUB_BITS + 1
        let top = v >> (e - SUB_BITS); // in [SUB, 2 SUB)
        ((e - SUB_BITS) as u64 * SUB + top) as usize
    }

    /// The middle of bucket `i`.
    fn value(i: usize) -> u64 {
        let i = i as u64;
        if i < 2 * SUB {
            return i;
        }
        let shift = i / SUB - 1;
        let top = i % SUB + SUB;
        (top << shift) + ((1u64 << shift) >> 1)
    }

    fn record(&mut self, d: Duration) {
        let v = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.counts[Hist::index(v)] += 1;
        self.total += 1;
        self.max = self.max.max(v);
    }

    fn merge(&mut self, other: &Hist) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.total += other.total;
        self.max = self.max.max(other.max);
    }

    /// The `q` quantile in nanoseconds (0 when empty).
    fn quantile(&self, q: f64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        let rank = ((q * self.total as f64).ceil() as u64).clamp(1, self.total);
        let mut seen = 0;
        for (i, c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return Hist::value(i).min(self.max);
            }
        }
        self.max
    }

    fn us(&self, q: f64) -> u64 {
        (self.quantile(q) + 500) / 1000
    }

    fn max_us(&self) -> u64 {
        (self.max + 500) / 1000
    }
}

// ---------------------------------------------------------------------------------------
// Client runtimes

/// Where connection tasks run: one current-thread runtime per OS thread (connections are
/// spread round-robin and each stays on its thread), or one multi-thread runtime.
struct Pool {
    handles: Vec<Handle>,
    next: AtomicUsize,
    stops: Vec<tokio::sync::oneshot::Sender<()>>,
    threads: Vec<std::thread::JoinHandle<()>>,
    multi: Option<tokio::runtime::Runtime>,
}

impl Pool {
    fn new(kind: RuntimeKind, threads: usize) -> std::io::Result<Pool> {
        let mut pool = Pool {
            handles: Vec::new(),
            next: AtomicUsize::new(0),
            stops: Vec::new(),
            threads: Vec::new(),
            multi: None,
        };
        match kind {
            RuntimeKind::Multi => {
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(threads)
                    .thread_name("ami-bench")
                    .enable_all()
                    .build()?;
                pool.handles.push(rt.handle().clone());
                pool.multi = Some(rt);
            }
            RuntimeKind::PerCore => {
                for i in 0..threads {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()?;
                    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
                    pool.handles.push(rt.handle().clone());
                    pool.stops.push(stop);
                    pool.threads.push(
                        std::thread::Builder::new()
                            .name(format!("ami-bench-{i}"))
                            .spawn(move || {
                                rt.block_on(async {
                                    let _ = stopped.await;
                                });
                                rt.shutdown_background();
                            })?,
                    );
                }
            }
        }
        Ok(pool)
    }

    fn spawn<F>(&self, fut: F) -> tokio::task::JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.handles.len();
        self.handles[i].spawn(fut)
    }

    fn shutdown(mut self) {
        self.stops.clear();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
        if let Some(rt) = self.multi.take() {
            rt.shutdown_background();
        }
    }
}

// ---------------------------------------------------------------------------------------
// Wire helpers

/// Index just past the first `\r\n\r\n` in `buf` (the end of a message), if any.
fn find_blank(buf: &[u8]) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = find_lf(&buf[from..]) {
        let i = from + i;
        if i >= 3 && &buf[i - 3..i] == b"\r\n\r" {
            return Some(i + 1);
        }
        from = i + 1;
    }
    None
}

/// Position of the first `\n`, eight bytes at a time.
fn find_lf(buf: &[u8]) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    const LF: u64 = 0x0a0a_0a0a_0a0a_0a0a;
    let mut chunks = buf.chunks_exact(8);
    let mut base = 0;
    for c in &mut chunks {
        let x = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]) ^ LF;
        let found = x.wrapping_sub(LO) & !x & HI;
        if found != 0 {
            return Some(base + (found.trailing_zeros() / 8) as usize);
        }
        base += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&b| b == b'\n')
        .map(|p| base + p)
}

/// The value of the first header `name` (case-insensitive; blanks after the colon
/// skipped) in `msg`.
fn header<'a>(msg: &'a [u8], name: &str) -> Option<&'a [u8]> {
    let name = name.as_bytes();
    for line in msg.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.len() > name.len()
            && line[name.len()] == b':'
            && line[..name.len()].eq_ignore_ascii_case(name)
        {
            let mut v = &line[name.len() + 1..];
            while let [b' ' | b'\t', rest @ ..] = v {
                v = rest;
            }
            return Some(v);
        }
    }
    None
}

fn parse_u64(v: &[u8]) -> Option<u64> {
    if v.is_empty() || v.len() > 19 {
        return None;
    }
    let mut n = 0u64;
    for &b in v {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n * 10 + u64::from(b - b'0');
    }
    Some(n)
}

fn push_u64(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

fn is_success(response: &[u8]) -> bool {
    response.eq_ignore_ascii_case(b"Success") || response.eq_ignore_ascii_case(b"Pong")
}

fn tokio_deadline(at: Instant) -> tokio::time::Instant {
    tokio::time::Instant::from_std(at)
}

/// Why a read gave nothing.
#[derive(Debug)]
enum ReadError {
    /// The deadline passed.
    Timeout,
    /// The socket failed.
    Io(std::io::Error),
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::Timeout => f.write_str("timed out"),
            ReadError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl From<ReadError> for String {
    fn from(e: ReadError) -> String {
        e.to_string()
    }
}

/// Reads more bytes into `buf` before `deadline`. `Ok(false)` on end of stream.
async fn read_more<R: AsyncRead + Unpin>(
    rd: &mut R,
    buf: &mut BytesMut,
    deadline: Instant,
) -> Result<bool, ReadError> {
    buf.reserve(16 * 1024);
    match tokio::time::timeout_at(tokio_deadline(deadline), rd.read_buf(buf)).await {
        Err(_) => Err(ReadError::Timeout),
        Ok(Err(e)) => Err(ReadError::Io(e)),
        Ok(Ok(n)) => Ok(n > 0),
    }
}

/// One connection while it logs in.
struct Conn {
    stream: TcpStream,
    buf: BytesMut,
    banner: String,
}

/// What a login asks for.
#[derive(Clone)]
struct Login {
    target: SocketAddr,
    user: String,
    secret: String,
    auth: AuthKind,
    /// The `Events:` header of the Login request.
    events: &'static str,
}

impl Conn {
    /// Connects and reads the banner.
    async fn open(target: SocketAddr, deadline: Instant) -> Result<Conn, String> {
        let stream =
            match tokio::time::timeout_at(tokio_deadline(deadline), TcpStream::connect(target))
                .await
            {
                Err(_) => return Err("connect timed out".into()),
                Ok(Err(e)) => return Err(format!("connect: {e}")),
                Ok(Ok(s)) => s,
            };
        let _ = stream.set_nodelay(true);
        let mut conn = Conn {
            stream,
            buf: BytesMut::with_capacity(4096),
            banner: String::new(),
        };
        loop {
            if let Some(i) = conn.buf.windows(2).position(|w| w == b"\r\n") {
                conn.banner = String::from_utf8_lossy(&conn.buf[..i]).into_owned();
                conn.buf.advance(i + 2);
                return Ok(conn);
            }
            if conn.buf.len() > 1024 {
                return Err("no banner line".into());
            }
            if !read_more(&mut conn.stream, &mut conn.buf, deadline)
                .await
                .map_err(|e| format!("reading the banner: {e}"))?
            {
                return Err("closed before the banner".into());
            }
        }
    }

    /// The next message that is not an event.
    async fn reply(&mut self, deadline: Instant) -> Result<BytesMut, String> {
        loop {
            while let Some(end) = find_blank(&self.buf) {
                let msg = self.buf.split_to(end);
                if !msg.starts_with(b"Event:") {
                    return Ok(msg);
                }
            }
            if !read_more(&mut self.stream, &mut self.buf, deadline).await? {
                return Err("connection closed by the server".into());
            }
        }
    }

    async fn request(&mut self, text: &str, deadline: Instant) -> Result<BytesMut, String> {
        match tokio::time::timeout_at(
            tokio_deadline(deadline),
            self.stream.write_all(text.as_bytes()),
        )
        .await
        {
            Err(_) => return Err("write timed out".into()),
            Ok(Err(e)) => return Err(format!("write: {e}")),
            Ok(Ok(())) => {}
        }
        self.reply(deadline).await
    }

    /// Logs in (plain text or MD5 challenge) and checks the reply.
    async fn login(&mut self, l: &Login, deadline: Instant) -> Result<(), String> {
        let text = match l.auth {
            AuthKind::Plain => format!(
                "Action: Login\r\nUsername: {}\r\nSecret: {}\r\nEvents: {}\r\nActionID: login\r\n\r\n",
                l.user, l.secret, l.events
            ),
            AuthKind::Md5 => {
                let reply = self
                    .request(
                        "Action: Challenge\r\nAuthType: MD5\r\nActionID: ch\r\n\r\n",
                        deadline,
                    )
                    .await?;
                let challenge = header(&reply, "Challenge")
                    .map(|c| String::from_utf8_lossy(c).into_owned())
                    .ok_or_else(|| {
                        format!("Challenge refused: {}", String::from_utf8_lossy(&reply).trim())
                    })?;
                let key = ami_host::auth::md5_key(&challenge, &l.secret);
                format!(
                    "Action: Login\r\nAuthType: MD5\r\nUsername: {}\r\nKey: {key}\r\nEvents: {}\r\nActionID: login\r\n\r\n",
                    l.user, l.events
                )
            }
        };
        let reply = self.request(&text, deadline).await?;
        match header(&reply, "Response") {
            Some(r) if is_success(r) => Ok(()),
            _ => Err(format!(
                "login refused: {}",
                String::from_utf8_lossy(&reply)
                    .trim()
                    .replace("\r\n", " | ")
            )),
        }
    }
}

/// What one probe session found out about the server.
struct Probe {
    banner: String,
    /// The session's dialect, from the Ping reply: `Response: Pong` is 1.0,
    /// `Response: Success` the modern dialect (a user may speak another dialect than the
    /// banner announces).
    dialect: &'static str,
}

/// Connects, logs in, pings once and logs off: fails fast on a wrong address or password
/// and tells the dialect.
async fn probe(o: &Opts) -> Result<Probe, String> {
    let deadline = Instant::now() + o.connect_timeout.min(Duration::from_secs(10));
    let login = Login {
        target: o.target,
        user: o.user.clone(),
        secret: o.secret.clone(),
        auth: o.auth,
        events: "off",
    };
    let mut c = Conn::open(o.target, deadline)
        .await
        .map_err(|e| format!("{}: {e}", o.target))?;
    c.login(&login, deadline).await?;
    let reply = c
        .request("Action: Ping\r\nActionID: probe\r\n\r\n", deadline)
        .await?;
    let dialect = match header(&reply, "Response") {
        Some(r) if r.eq_ignore_ascii_case(b"Pong") => "1.0",
        Some(r) if r.eq_ignore_ascii_case(b"Success") => "modern",
        _ => {
            return Err(format!(
                "Ping failed: {}",
                String::from_utf8_lossy(&reply)
                    .trim()
                    .replace("\r\n", " | ")
            ))
        }
    };
    let _ = c
        .request("Action: Logoff\r\nActionID: bye\r\n\r\n", deadline)
        .await;
    Ok(Probe {
        banner: c.banner,
        dialect,
    })
}

// ---------------------------------------------------------------------------------------
// Phases and the start barrier

/// The run's time line, fixed once every connection is ready.
#[derive(Debug, Clone, Copy)]
struct Phases {
    /// Measurement starts (end of warm-up).
    start: Instant,
    /// Measurement and load end.
    end: Instant,
    /// Give up waiting for replies.
    drain_end: Instant,
}

impl Phases {
    fn in_window(&self, t: Instant) -> bool {
        t >= self.start && t < self.end
    }
}

/// Connection tasks report here when logged in (or failed), then wait for the phases.
struct Gate {
    ready: AtomicUsize,
    failed: AtomicUsize,
    first_error: std::sync::Mutex<Option<String>>,
    phases: watch::Sender<Option<Phases>>,
}

impl Gate {
    fn new() -> Arc<Gate> {
        Arc::new(Gate {
            ready: AtomicUsize::new(0),
            failed: AtomicUsize::new(0),
            first_error: std::sync::Mutex::new(None),
            phases: watch::channel(None).0,
        })
    }

    fn fail(&self, e: String) {
        self.failed.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut first) = self.first_error.lock() {
            first.get_or_insert(e);
        }
    }

    fn first_error(&self) -> String {
        self.first_error
            .lock()
            .ok()
            .and_then(|e| e.clone())
            .unwrap_or_default()
    }

    /// Marks a connection ready and waits for the phases (None if the run was called off).
    async fn ready(&self, deadline: Instant) -> Option<Phases> {
        let mut rx = self.phases.subscribe();
        self.ready.fetch_add(1, Ordering::Relaxed);
        let phases =
            match tokio::time::timeout_at(tokio_deadline(deadline), rx.wait_for(|p| p.is_some()))
                .await
            {
                Ok(Ok(p)) => *p,
                _ => None,
            };
        phases
    }

    /// Waits until every one of `n` tasks is ready or failed, or `deadline`; then fixes
    /// the phases. Returns the number ready and the phases.
    async fn open(
        &self,
        n: usize,
        deadline: Instant,
        warmup: Duration,
        run: Duration,
        drain: Duration,
    ) -> (usize, Phases) {
        loop {
            let ready = self.ready.load(Ordering::Relaxed);
            let failed = self.failed.load(Ordering::Relaxed);
            if ready + failed >= n || Instant::now() >= deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let now = Instant::now();
        let phases = Phases {
            start: now + warmup,
            end: now + warmup + run,
            drain_end: now + warmup + run + drain,
        };
        self.phases.send_replace(Some(phases));
        (self.ready.load(Ordering::Relaxed), phases)
    }
}

// ---------------------------------------------------------------------------------------
// ping (and swap): pipelined Pings

/// The swap's time line.
#[derive(Debug, Clone, Copy)]
struct SwapTimes {
    at: Instant,
    until: Instant,
}

#[derive(Clone)]
struct PingStats {
    /// Latencies of successful actions sent in the window.
    hist: Hist,
    /// Per swap phase (before, during, after).
    phase_hist: [Hist; 3],
    ok: u64,
    errors: u64,
    phase_errors: [u64; 3],
    unanswered: u64,
    phase_unanswered: [u64; 3],
    /// Errors and unanswered actions outside the window (warm-up), too.
    errors_total: u64,
    unanswered_total: u64,
    protocol_errors: u64,
    first_error: Option<String>,
    closed_early: bool,
}

impl PingStats {
    fn new() -> PingStats {
        PingStats {
            hist: Hist::new(),
            phase_hist: [Hist::new(), Hist::new(), Hist::new()],
            ok: 0,
            errors: 0,
            phase_errors: [0; 3],
            unanswered: 0,
            phase_unanswered: [0; 3],
            errors_total: 0,
            unanswered_total: 0,
            protocol_errors: 0,
            first_error: None,
            closed_early: false,
        }
    }

    fn merge(&mut self, o: &PingStats) {
        self.hist.merge(&o.hist);
        for i in 0..3 {
            self.phase_hist[i].merge(&o.phase_hist[i]);
            self.phase_errors[i] += o.phase_errors[i];
            self.phase_unanswered[i] += o.phase_unanswered[i];
        }
        self.ok += o.ok;
        self.errors += o.errors;
        self.unanswered += o.unanswered;
        self.errors_total += o.errors_total;
        self.unanswered_total += o.unanswered_total;
        self.protocol_errors += o.protocol_errors;
        self.closed_early |= o.closed_early;
        if self.first_error.is_none() {
            self.first_error.clone_from(&o.first_error);
        }
    }
}

/// Before (0), during (1) or after (2) the swap, by send time. Until the swap happens
/// (`None`: the task reads the swap time after every read, so any action sent after the
/// swap is answered after the task saw it) everything is "before".
fn swap_phase(swap: Option<SwapTimes>, sent: Instant) -> usize {
    match swap {
        None => 0,
        Some(s) if sent < s.at => 0,
        Some(s) if sent < s.until => 1,
        Some(_) => 2,
    }
}

async fn ping_task(
    login: Login,
    depth: usize,
    gate: Arc<Gate>,
    login_deadline: Instant,
    swap: watch::Receiver<Option<SwapTimes>>,
) -> PingStats {
    let mut stats = PingStats::new();
    let mut conn = match Conn::open(login.target, login_deadline).await {
        Ok(c) => c,
        Err(e) => {
            gate.fail(e);
            return stats;
        }
    };
    if let Err(e) = conn.login(&login, login_deadline).await {
        gate.fail(e);
        return stats;
    }
    let Some(ph) = gate.ready(login_deadline + Duration::from_secs(5)).await else {
        return stats;
    };
    let Conn {
        mut stream,
        mut buf,
        ..
    } = conn;
    let mut queue: VecDeque<(u64, Instant)> = VecDeque::with_capacity(depth);
    let mut out: Vec<u8> = Vec::with_capacity(depth * 40);
    let mut next_id: u64 = 1;
    let mut swap_times: Option<SwapTimes> = None;
    loop {
        let now = Instant::now();
        if now < ph.end {
            while queue.len() < depth {
                out.extend_from_slice(b"Action: Ping\r\nActionID: ");
                push_u64(&mut out, next_id);
                out.extend_from_slice(b"\r\n\r\n");
                queue.push_back((next_id, now));
                next_id += 1;
            }
            if !out.is_empty() {
                let w =
                    tokio::time::timeout_at(tokio_deadline(ph.drain_end), stream.write_all(&out));
                match w.await {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => {
                        stats.first_error.get_or_insert(format!("write: {e}"));
                        stats.closed_early = true;
                        break;
                    }
                    Err(_) => break,
                }
                out.clear();
            }
        } else if queue.is_empty() {
            break;
        }
        match read_more(&mut stream, &mut buf, ph.drain_end).await {
            Ok(true) => {}
            Ok(false) => {
                stats.closed_early = !queue.is_empty() || Instant::now() < ph.end;
                stats
                    .first_error
                    .get_or_insert_with(|| "connection closed by the server".into());
                break;
            }
            Err(ReadError::Timeout) => break,
            Err(e) => {
                stats.first_error.get_or_insert(format!("read: {e}"));
                stats.closed_early = true;
                break;
            }
        }
        if swap_times.is_none() {
            swap_times = *swap.borrow();
        }
        let now = Instant::now();
        while let Some(end) = find_blank(&buf) {
            let msg = &buf[..end];
            if !msg.starts_with(b"Event:") {
                match queue.pop_front() {
                    None => stats.protocol_errors += 1,
                    Some((id, sent)) => {
                        if header(msg, "ActionID").and_then(parse_u64) != Some(id) {
                            stats.protocol_errors += 1;
                        }
                        let ok = header(msg, "Response").is_some_and(is_success);
                        let phase = swap_phase(swap_times, sent);
                        if !ok {
                            stats.errors_total += 1;
                            if stats.first_error.is_none() {
                                stats.first_error = Some(
                                    String::from_utf8_lossy(msg).trim().replace("\r\n", " | "),
                                );
                            }
                        }
                        if ph.in_window(sent) {
                            if ok {
                                let lat = now.saturating_duration_since(sent);
                                stats.ok += 1;
                                stats.hist.record(lat);
                                stats.phase_hist[phase].record(lat);
                            } else {
                                stats.errors += 1;
                                stats.phase_errors[phase] += 1;
                            }
                        }
                    }
                }
            }
            buf.advance(end);
        }
    }
    if swap_times.is_none() {
        swap_times = *swap.borrow();
    }
    for &(_, sent) in &queue {
        stats.unanswered_total += 1;
        if ph.in_window(sent) {
            stats.unanswered += 1;
            stats.phase_unanswered[swap_phase(swap_times, sent)] += 1;
        }
    }
    stats
}

/// Starts the swap once the phases are known.
type SwapStart =
    Box<dyn FnOnce(Phases) -> tokio::task::JoinHandle<Result<SwapReport, String>> + Send>;

/// What a ping run found.
struct PingRun {
    stats: PingStats,
    ready: usize,
    swap: Option<SwapReport>,
}

/// Runs `conns` ping connections (and the swap, if given).
async fn run_pings(
    o: &Opts,
    pool: &Pool,
    swap: Option<(watch::Sender<Option<SwapTimes>>, SwapStart)>,
) -> Result<PingRun, String> {
    let gate = Gate::new();
    let login_deadline = Instant::now() + o.connect_timeout;
    let login = Login {
        target: o.target,
        user: o.user.clone(),
        secret: o.secret.clone(),
        auth: AuthKind::Plain,
        events: "off",
    };
    let (swap_tx, swap_start) = match swap {
        Some((tx, start)) => (tx, Some(start)),
        None => (watch::channel(None).0, None),
    };
    let mut tasks = Vec::with_capacity(o.conns);
    for _ in 0..o.conns {
        tasks.push(pool.spawn(ping_task(
            login.clone(),
            o.depth,
            gate.clone(),
            login_deadline,
            swap_tx.subscribe(),
        )));
    }
    let (ready, phases) = gate
        .open(o.conns, login_deadline, o.warmup, o.duration, o.drain)
        .await;
    report_ready(&gate, ready, o.conns)?;
    let swap_task = swap_start.map(|start| start(phases));
    let mut total = PingStats::new();
    for t in tasks {
        if let Ok(s) = join_by(t, phases.drain_end + Duration::from_secs(2)).await {
            total.merge(&s);
        }
    }
    let swap_report = match swap_task {
        Some(t) => Some(
            join_by(t, phases.drain_end + Duration::from_secs(5))
                .await
                .map_err(|_| "the swap task did not finish".to_string())??,
        ),
        None => None,
    };
    Ok(PingRun {
        stats: total,
        ready,
        swap: swap_report,
    })
}

fn report_ready(gate: &Gate, ready: usize, wanted: usize) -> Result<(), String> {
    if ready < wanted {
        println!(
            "connected and logged in: {ready} of {wanted} (first error: {})",
            gate.first_error()
        );
    } else {
        println!("connected and logged in: {ready} of {wanted}");
    }
    if ready == 0 {
        return Err(format!(
            "no connection could log in: {}",
            gate.first_error()
        ));
    }
    Ok(())
}

async fn join_by<T>(task: tokio::task::JoinHandle<T>, deadline: Instant) -> Result<T, ()> {
    match tokio::time::timeout_at(tokio_deadline(deadline), task).await {
        Ok(Ok(v)) => Ok(v),
        _ => Err(()),
    }
}

async fn scenario_ping(o: &Opts, pool: &Pool, probe: &Probe) -> Result<String, String> {
    println!(
        "ping: {} connection(s) x {} outstanding, {} s (+{} s warm-up), target {}",
        o.conns,
        o.depth,
        secs(o.duration),
        secs(o.warmup),
        o.target
    );
    let PingRun {
        stats: s, ready, ..
    } = run_pings(o, pool, None).await?;
    let dialect = probe.dialect;
    let rate = s.ok as f64 / o.duration.as_secs_f64();
    println!(
        "actions: {} ok in {} s = {:.0}/s; errors {}, unanswered {}",
        s.ok,
        secs(o.duration),
        rate,
        s.errors,
        s.unanswered
    );
    println!(
        "latency: p50 {} us, p90 {} us, p99 {} us, p99.9 {} us, max {} us",
        s.hist.us(0.5),
        s.hist.us(0.9),
        s.hist.us(0.99),
        s.hist.us(0.999),
        s.hist.max_us()
    );
    print_problems(&s);
    Ok(format!(
        "RESULT ping conns={} depth={} ready={ready} dialect={dialect} duration_s={} actions={} rate={:.0} p50_us={} p90_us={} p99_us={} p999_us={} max_us={} errors={} unanswered={} protocol_errors={} client={}",
        o.conns,
        o.depth,
        secs(o.duration),
        s.ok,
        rate,
        s.hist.us(0.5),
        s.hist.us(0.9),
        s.hist.us(0.99),
        s.hist.us(0.999),
        s.hist.max_us(),
        s.errors,
        s.unanswered,
        s.protocol_errors,
        client_desc(o),
    ))
}

fn print_problems(s: &PingStats) {
    if s.errors_total + s.unanswered_total + s.protocol_errors > 0 || s.closed_early {
        println!(
            "problems (whole run, warm-up included): {} error replies, {} unanswered, {} out-of-order/unexpected replies{}; first: {}",
            s.errors_total,
            s.unanswered_total,
            s.protocol_errors,
            if s.closed_early { ", a connection closed early" } else { "" },
            s.first_error.as_deref().unwrap_or("-")
        );
    }
}

fn client_desc(o: &Opts) -> String {
    match o.runtime {
        RuntimeKind::PerCore => format!("per-core:{}", o.threads),
        RuntimeKind::Multi => format!("multi:{}", o.threads),
    }
}

fn secs(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s.fract() == 0.0 {
        format!("{s:.0}")
    } else {
        format!("{s}")
    }
}

// ---------------------------------------------------------------------------------------
// swap

struct SwapReport {
    at_offset: Duration,
    rename_took: Duration,
    restored: bool,
}

/// Copies `from` to a temporary name inside `dir` (not ending in `.wasm`, so a watcher
/// ignores it) and renames it over `dir/name.wasm`.
fn install(from_bytes: &[u8], dir: &Path, name: &str) -> std::io::Result<()> {
    let tmp = dir.join(format!(".{name}.ami-bench-{}.tmp", std::process::id()));
    std::fs::write(&tmp, from_bytes)?;
    let dest = dir.join(format!("{name}.wasm"));
    if let Err(e) = std::fs::rename(&tmp, &dest) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    Ok(())
}

async fn scenario_swap(o: &Opts, pool: &Pool, probe: &Probe) -> Result<String, String> {
    let (Some(dir), Some(from), Some(to)) = (&o.plugin_dir, &o.swap_from, &o.swap_to) else {
        return Err("swap needs --plugin-dir, --swap-from and --swap-to".into());
    };
    if !dir.is_dir() {
        return Err(format!("--plugin-dir {}: not a directory", dir.display()));
    }
    let from_bytes =
        std::fs::read(from).map_err(|e| format!("--swap-from {}: {e}", from.display()))?;
    let to_bytes = std::fs::read(to).map_err(|e| format!("--swap-to {}: {e}", to.display()))?;
    let dest = dir.join(format!("{}.wasm", o.plugin_name));
    let original = std::fs::read(&dest).ok();
    println!(
        "swap: {} connection(s) x {} outstanding Pings, {} s (+{} s warm-up); {} replaced by {} at +{} s of the run, 'during' = {} s from the rename",
        o.conns,
        o.depth,
        secs(o.duration),
        secs(o.warmup),
        dest.display(),
        to.display(),
        secs(o.swap_at.unwrap_or(o.duration / 2)),
        secs(o.swap_window),
    );
    if original.as_deref() != Some(&from_bytes[..]) {
        install(&from_bytes, dir, &o.plugin_name)
            .map_err(|e| format!("installing --swap-from as {}: {e}", dest.display()))?;
        println!(
            "installed {} as {}; waiting {} s for the host to settle",
            from.display(),
            dest.display(),
            secs(o.settle)
        );
        tokio::time::sleep(o.settle).await;
    }
    let (tx, _) = watch::channel(None);
    let swap_at = o.swap_at.unwrap_or(o.duration / 2);
    let window = o.swap_window;
    let handle = Handle::current();
    let tx2 = tx.clone();
    let dir2 = dir.clone();
    let name = o.plugin_name.clone();
    let to2 = to_bytes.clone();
    let start = Box::new(move |ph: Phases| {
        handle.spawn(async move {
            let at = ph.start + swap_at;
            tokio::time::sleep_until(tokio_deadline(at)).await;
            let t0 = Instant::now();
            tx2.send_replace(Some(SwapTimes {
                at: t0,
                until: t0 + window,
            }));
            let r = tokio::task::spawn_blocking(move || install(&to2, &dir2, &name))
                .await
                .map_err(|e| format!("swap: {e}"))?;
            r.map_err(|e| format!("swap: renaming the new plugin into place: {e}"))?;
            Ok(SwapReport {
                at_offset: t0 - ph.start,
                rename_took: t0.elapsed(),
                restored: false,
            })
        })
    });
    let result = run_pings(o, pool, Some((tx, start))).await;
    // Leave the directory as it was found.
    let mut restored = false;
    if let Some(orig) = &original {
        if orig[..] != to_bytes[..] && install(orig, dir, &o.plugin_name).is_ok() {
            restored = true;
        }
    }
    let PingRun {
        stats: s,
        ready,
        swap: report,
    } = result?;
    let mut report = report.ok_or("the swap did not happen")?;
    report.restored = restored;
    let dialect = probe.dialect;
    let rate = s.ok as f64 / o.duration.as_secs_f64();
    println!(
        "renamed at +{:.3} s of the run (rename took {} us){}",
        report.at_offset.as_secs_f64(),
        report.rename_took.as_micros(),
        if report.restored {
            "; the original file was put back after the run"
        } else {
            ""
        }
    );
    println!(
        "actions: {} ok = {:.0}/s; errors {}, unanswered {}",
        s.ok, rate, s.errors, s.unanswered
    );
    for (i, name) in ["before", "during", "after"].iter().enumerate() {
        let h = &s.phase_hist[i];
        println!(
            "  {name:>6}: {} ok, {} failed, {} unanswered; p50 {} us, p99 {} us, max {} us",
            h.total,
            s.phase_errors[i],
            s.phase_unanswered[i],
            h.us(0.5),
            h.us(0.99),
            h.max_us()
        );
    }
    print_problems(&s);
    let p99 = |i: usize| s.phase_hist[i].us(0.99);
    Ok(format!(
        "RESULT swap conns={} depth={} ready={ready} dialect={dialect} plugin={} duration_s={} actions={} rate={:.0} errors={} unanswered={} failed_during={} unanswered_during={} p99_before_us={} p99_during_us={} p99_after_us={} max_during_us={} p99_us={} swap_at_s={:.3} client={}",
        o.conns,
        o.depth,
        o.plugin_name,
        secs(o.duration),
        s.ok,
        rate,
        s.errors,
        s.unanswered,
        s.phase_errors[1],
        s.phase_unanswered[1],
        p99(0),
        p99(1),
        p99(2),
        s.phase_hist[1].max_us(),
        s.hist.us(0.99),
        report.at_offset.as_secs_f64(),
        client_desc(o),
    ))
}

// ---------------------------------------------------------------------------------------
// events: UserEvent fan-out

/// What senders and listeners share.
struct EvShared {
    senders: usize,
    /// `progress[l * senders + s]`: next sequence number listener `l` expects from `s`.
    progress: Vec<AtomicU64>,
    /// Per sender: woken when a listener made progress.
    wake: Vec<Notify>,
    /// Per sender: how many events it sent in all (set when it stops).
    sent_final: Vec<AtomicU64>,
    senders_done: AtomicUsize,
    clock: Instant,
}

struct SenderStats {
    sent: u64,
    sent_in_window: u64,
    acks: u64,
    errors: u64,
    first_error: Option<String>,
}

struct ListenerStats {
    received: u64,
    in_window: u64,
    delay: Hist,
    gaps: u64,
    dups: u64,
    closed: bool,
    first_error: Option<String>,
}

fn payload(n: usize) -> Vec<u8> {
    let mut p = Vec::new();
    for i in 0..n {
        p.extend_from_slice(
            format!("Payload{i:03}: 0123456789abcdefghijklmnopqrstuv\r\n").as_bytes(),
        );
    }
    p
}

/// What one sender needs.
struct SenderJob {
    login: Login,
    me: usize,
    window: u64,
    payload: Arc<Vec<u8>>,
    listeners: usize,
    login_deadline: Instant,
}

async fn sender_task(job: SenderJob, ev: Arc<EvShared>, gate: Arc<Gate>) -> SenderStats {
    let SenderJob {
        login,
        me,
        window,
        payload,
        listeners,
        login_deadline,
    } = job;
    let mut st = SenderStats {
        sent: 0,
        sent_in_window: 0,
        acks: 0,
        errors: 0,
        first_error: None,
    };
    let finish = |ev: &EvShared, sent: u64| {
        ev.sent_final[me].store(sent, Ordering::Release);
        ev.senders_done.fetch_add(1, Ordering::AcqRel);
    };
    let conn = async {
        let mut c = Conn::open(login.target, login_deadline).await?;
        c.login(&login, login_deadline).await?;
        Ok::<Conn, String>(c)
    };
    let conn = match conn.await {
        Ok(c) => c,
        Err(e) => {
            gate.fail(e);
            finish(&ev, 0);
            return st;
        }
    };
    let Some(ph) = gate.ready(login_deadline + Duration::from_secs(5)).await else {
        finish(&ev, 0);
        return st;
    };
    let Conn { stream, buf, .. } = conn;
    let (mut rd, mut wr) = stream.into_split();
    // Replies (acks of UserEvent, if the server sends them) are read and counted aside.
    let sent_so_far = Arc::new(AtomicU64::new(0));
    let sent_seen = sent_so_far.clone();
    let reader = tokio::spawn(async move {
        let (mut acks, mut errors, mut first_error) = (0u64, 0u64, None);
        let mut buf = buf;
        loop {
            while let Some(end) = find_blank(&buf) {
                let msg = &buf[..end];
                if !msg.starts_with(b"Event:") {
                    acks += 1;
                    if !header(msg, "Response").is_some_and(is_success) {
                        errors += 1;
                        first_error.get_or_insert_with(|| {
                            String::from_utf8_lossy(msg).trim().replace("\r\n", " | ")
                        });
                    }
                }
                buf.advance(end);
            }
            // After the run: stop once every request is answered, or after 300 ms of
            // silence (a server that does not answer UserEvent, as Asterisk 1.4.23).
            let now = Instant::now();
            let deadline = if now < ph.end {
                ph.end
            } else {
                if acks >= sent_seen.load(Ordering::Acquire) || now >= ph.drain_end {
                    break;
                }
                (now + Duration::from_millis(300)).min(ph.drain_end)
            };
            match read_more(&mut rd, &mut buf, deadline).await {
                Ok(true) => {}
                Ok(false) => break,
                Err(ReadError::Timeout) if deadline == ph.end => {}
                Err(ReadError::Timeout) => break,
                Err(e) => {
                    first_error.get_or_insert(format!("read: {e}"));
                    break;
                }
            }
        }
        (acks, errors, first_error)
    });
    let mut seq: u64 = 0;
    let mut min_seen: u64 = 0;
    let mut out: Vec<u8> = Vec::with_capacity(4096);
    let ts_base = ev.clock;
    loop {
        let now = Instant::now();
        if now >= ph.end {
            break;
        }
        if seq - min_seen >= window {
            min_seen = (0..listeners)
                .map(|l| ev.progress[l * ev.senders + me].load(Ordering::Acquire))
                .min()
                .unwrap_or(seq);
            if seq - min_seen >= window {
                let wait = (now + Duration::from_millis(20)).min(ph.end);
                let _ = tokio::time::timeout_at(tokio_deadline(wait), ev.wake[me].notified()).await;
                continue;
            }
        }
        let n = (window - (seq - min_seen)).min(256);
        let ts = now.duration_since(ts_base).as_micros() as u64;
        for _ in 0..n {
            out.extend_from_slice(b"Action: UserEvent\r\nUserEvent: Bench\r\nBenchSrc: ");
            push_u64(&mut out, me as u64);
            out.extend_from_slice(b"\r\nBenchSeq: ");
            push_u64(&mut out, seq);
            out.extend_from_slice(b"\r\nBenchTs: ");
            push_u64(&mut out, ts);
            out.extend_from_slice(b"\r\n");
            out.extend_from_slice(&payload);
            out.extend_from_slice(b"\r\n");
            seq += 1;
        }
        if ph.in_window(now) {
            st.sent_in_window += n;
        }
        sent_so_far.store(seq, Ordering::Release);
        match tokio::time::timeout_at(tokio_deadline(ph.drain_end), wr.write_all(&out)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                st.first_error = Some(format!("write: {e}"));
                break;
            }
            Err(_) => {
                st.first_error = Some("write timed out".into());
                break;
            }
        }
        out.clear();
    }
    st.sent = seq;
    finish(&ev, seq);
    if let Ok(Ok((acks, errors, first))) = tokio::time::timeout_at(
        tokio_deadline(ph.drain_end + Duration::from_secs(1)),
        reader,
    )
    .await
    {
        st.acks = acks;
        st.errors = errors;
        if st.first_error.is_none() {
            st.first_error = first;
        }
    }
    // Keep the write half open until the replies are read, then close politely.
    let _ = wr.shutdown().await;
    st
}

async fn listener_task(
    login: Login,
    me: usize,
    ev: Arc<EvShared>,
    gate: Arc<Gate>,
    login_deadline: Instant,
) -> ListenerStats {
    let mut st = ListenerStats {
        received: 0,
        in_window: 0,
        delay: Hist::new(),
        gaps: 0,
        dups: 0,
        closed: false,
        first_error: None,
    };
    let conn = async {
        let mut c = Conn::open(login.target, login_deadline).await?;
        c.login(&login, login_deadline).await?;
        Ok::<Conn, String>(c)
    };
    let conn = match conn.await {
        Ok(c) => c,
        Err(e) => {
            gate.fail(e);
            return st;
        }
    };
    let Some(ph) = gate.ready(login_deadline + Duration::from_secs(5)).await else {
        return st;
    };
    let Conn {
        mut stream,
        mut buf,
        ..
    } = conn;
    let senders = ev.senders;
    let mut expected = vec![0u64; senders];
    let start_us = ph.start.duration_since(ev.clock).as_micros() as u64;
    let end_us = ph.end.duration_since(ev.clock).as_micros() as u64;
    loop {
        let now = Instant::now();
        if now >= ph.end && ev.senders_done.load(Ordering::Acquire) == senders {
            let caught_up =
                (0..senders).all(|s| expected[s] >= ev.sent_final[s].load(Ordering::Acquire));
            if caught_up || now >= ph.drain_end {
                break;
            }
        }
        let deadline = if now < ph.end {
            ph.drain_end
        } else {
            (now + Duration::from_millis(50)).min(ph.drain_end)
        };
        match read_more(&mut stream, &mut buf, deadline).await {
            Ok(true) => {}
            Ok(false) => {
                st.closed = true;
                st.first_error = Some("connection closed by the server".into());
                break;
            }
            Err(ReadError::Timeout) => {
                if Instant::now() >= ph.drain_end {
                    break;
                }
                continue;
            }
            Err(e) => {
                st.closed = true;
                st.first_error = Some(format!("read: {e}"));
                break;
            }
        }
        let now_us = ev.clock.elapsed().as_micros() as u64;
        while let Some(end) = find_blank(&buf) {
            let msg = &buf[..end];
            if msg.starts_with(b"Event: UserEvent\r\n") {
                // The Bench* headers come right after UserEvent (and Action in 1.0).
                let (mut src, mut seq, mut ts) = (None, None, None);
                for line in msg.split(|&b| b == b'\n').skip(1) {
                    let line = line.strip_suffix(b"\r").unwrap_or(line);
                    if let Some(v) = line.strip_prefix(b"BenchSrc: ") {
                        src = parse_u64(v);
                    } else if let Some(v) = line.strip_prefix(b"BenchSeq: ") {
                        seq = parse_u64(v);
                    } else if let Some(v) = line.strip_prefix(b"BenchTs: ") {
                        ts = parse_u64(v);
                        break;
                    }
                }
                if let (Some(src), Some(seq), Some(ts)) = (src, seq, ts) {
                    let s = src as usize;
                    if s < senders {
                        st.received += 1;
                        let exp = &mut expected[s];
                        if seq >= *exp {
                            st.gaps += seq - *exp;
                            *exp = seq + 1;
                        } else {
                            st.dups += 1;
                        }
                        if ts >= start_us && ts < end_us {
                            st.in_window += 1;
                            st.delay
                                .record(Duration::from_micros(now_us.saturating_sub(ts)));
                        }
                    }
                }
            }
            buf.advance(end);
        }
        for (s, &e) in expected.iter().enumerate() {
            ev.progress[me * senders + s].store(e, Ordering::Release);
            ev.wake[s].notify_one();
        }
    }
    st
}

async fn scenario_events(o: &Opts, pool: &Pool, probe: &Probe) -> Result<String, String> {
    println!(
        "events: {} sender(s) -> {} listener(s), window {} outstanding per sender, {} payload header(s), {} s (+{} s warm-up)",
        o.senders,
        o.listeners,
        o.window,
        o.payload_headers,
        secs(o.duration),
        secs(o.warmup)
    );
    let ev = Arc::new(EvShared {
        senders: o.senders,
        progress: (0..o.senders * o.listeners)
            .map(|_| AtomicU64::new(0))
            .collect(),
        wake: (0..o.senders).map(|_| Notify::new()).collect(),
        sent_final: (0..o.senders).map(|_| AtomicU64::new(0)).collect(),
        senders_done: AtomicUsize::new(0),
        clock: Instant::now(),
    });
    let gate = Gate::new();
    let login_deadline = Instant::now() + o.connect_timeout;
    let base = Login {
        target: o.target,
        user: o.user.clone(),
        secret: o.secret.clone(),
        auth: AuthKind::Plain,
        events: "off",
    };
    let listen_login = Login {
        events: "user",
        ..base.clone()
    };
    let payload = Arc::new(payload(o.payload_headers));
    let bystanders = bystanders(o, &base, pool, login_deadline).await?;
    let pid = o.pid.or_else(|| find_pid(o.target.port()));
    let mut senders = Vec::new();
    for s in 0..o.senders {
        let job = SenderJob {
            login: base.clone(),
            me: s,
            window: o.window,
            payload: payload.clone(),
            listeners: o.listeners,
            login_deadline,
        };
        senders.push(pool.spawn(sender_task(job, ev.clone(), gate.clone())));
    }
    let mut listeners = Vec::new();
    for l in 0..o.listeners {
        listeners.push(pool.spawn(listener_task(
            listen_login.clone(),
            l,
            ev.clone(),
            gate.clone(),
            login_deadline,
        )));
    }
    let n = o.senders + o.listeners;
    let (ready, phases) = gate
        .open(n, login_deadline, o.warmup, o.duration, o.drain)
        .await;
    report_ready(&gate, ready, n)?;
    if ready < n {
        return Err(format!(
            "only {ready} of {n} connections logged in; not measuring a partial fan-out"
        ));
    }
    let host_cpu = pid.map(|pid| tokio::spawn(cpu_between(pid, phases.start, phases.end)));
    let by = phases.drain_end + Duration::from_secs(3);
    let mut sent = 0;
    let mut sent_in_window = 0;
    let mut acks = 0;
    let mut errors = 0;
    let mut first_error = None;
    for t in senders {
        if let Ok(s) = join_by(t, by).await {
            sent += s.sent;
            sent_in_window += s.sent_in_window;
            acks += s.acks;
            errors += s.errors;
            if first_error.is_none() {
                first_error = s.first_error;
            }
        }
    }
    let mut delay = Hist::new();
    let (mut received, mut in_window, mut gaps, mut dups, mut closed) = (0, 0, 0, 0, 0);
    for t in listeners {
        if let Ok(s) = join_by(t, by).await {
            received += s.received;
            in_window += s.in_window;
            gaps += s.gaps;
            dups += s.dups;
            closed += u64::from(s.closed);
            delay.merge(&s.delay);
            if first_error.is_none() {
                first_error = s.first_error;
            }
        }
    }
    let host_cpu = match host_cpu {
        Some(t) => join_by(t, by).await.ok().flatten(),
        None => None,
    };
    let (bystanders_left, bystanders) = bystanders.close().await;
    let expected = sent * o.listeners as u64;
    let lost = expected.saturating_sub(received.saturating_sub(dups));
    let d = o.duration.as_secs_f64();
    let ev_rate = sent_in_window as f64 / d;
    let del_rate = in_window as f64 / d;
    let dialect = probe.dialect;
    println!(
        "sent {sent} UserEvents ({sent_in_window} in the window = {ev_rate:.0}/s); {acks} replies, {errors} error replies"
    );
    println!(
        "deliveries: {received} of {expected} expected ({in_window} in the window = {del_rate:.0}/s); lost {lost} (sequence gaps {gaps}), duplicates {dups}, listeners closed by the server {closed}"
    );
    println!(
        "delivery delay: p50 {} us, p90 {} us, p99 {} us, max {} us",
        delay.us(0.5),
        delay.us(0.9),
        delay.us(0.99),
        delay.max_us()
    );
    let host_cpu = match host_cpu {
        Some(pct) => {
            println!(
                "host CPU: {pct:.1} % of one core, {:.2} us per UserEvent",
                pct / 100.0 / ev_rate.max(1.0) * 1e6
            );
            format!("{pct:.1}")
        }
        None => "unknown".into(),
    };
    if o.bystanders > 0 {
        println!(
            "bystanders (Events: off): {bystanders} logged in, {bystanders_left} still open at the end"
        );
    }
    if let Some(e) = &first_error {
        println!("first problem: {e}");
    }
    Ok(format!(
        "RESULT events listeners={} senders={} bystanders={bystanders} bystanders_closed={} window={} payload_headers={} dialect={dialect} duration_s={} events={sent_in_window} events_rate={ev_rate:.0} deliveries={in_window} deliveries_rate={del_rate:.0} delay_p50_us={} delay_p90_us={} delay_p99_us={} delay_max_us={} lost={lost} dups={dups} errors={errors} closed={closed} host_cpu_pct={host_cpu} client={}",
        o.listeners,
        o.senders,
        bystanders - bystanders_left,
        o.window,
        o.payload_headers,
        secs(o.duration),
        delay.us(0.5),
        delay.us(0.9),
        delay.us(0.99),
        delay.max_us(),
        client_desc(o),
    ))
}

/// Idle logged-in sessions kept open beside a scenario.
struct Bystanders {
    conns: Vec<IdleConn>,
    close: watch::Sender<bool>,
}

impl Bystanders {
    /// Closes them; returns how many were still open, and how many there were.
    async fn close(self) -> (usize, usize) {
        let n = self.conns.len();
        (close_idle(self.conns, self.close).await, n)
    }
}

/// Opens `n` idle sessions logged in as `login`, at most `concurrency` connecting at
/// once: the outcome of each, and the switch that closes those that opened.
async fn open_idle(
    login: &Login,
    n: usize,
    concurrency: usize,
    pool: &Pool,
    deadline: Instant,
) -> (Vec<Result<IdleConn, String>>, watch::Sender<bool>) {
    let permits = Arc::new(Semaphore::new(concurrency));
    let (close, close_rx) = watch::channel(false);
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            pool.spawn(idle_conn(
                login.clone(),
                deadline,
                permits.clone(),
                close_rx.clone(),
            ))
        })
        .collect();
    let mut opened = Vec::with_capacity(n);
    for t in tasks {
        opened.push(match join_by(t, deadline + Duration::from_secs(2)).await {
            Ok(r) => r,
            Err(()) => Err("timed out".into()),
        });
    }
    (opened, close)
}

/// Closes idle sessions opened by [`open_idle`]; returns how many were still open.
async fn close_idle(conns: Vec<IdleConn>, close: watch::Sender<bool>) -> usize {
    let open = conns.iter().filter(|c| !c.task.is_finished()).count();
    close.send_replace(true);
    for c in conns {
        let _ = join_by(c.task, Instant::now() + Duration::from_secs(2)).await;
    }
    open
}

/// `--bystanders` sessions logged in as `base` with `Events: off`; all must log in.
async fn bystanders(
    o: &Opts,
    base: &Login,
    pool: &Pool,
    deadline: Instant,
) -> Result<Bystanders, String> {
    let login = Login {
        events: "off",
        ..base.clone()
    };
    let (opened, close) = open_idle(&login, o.bystanders, o.concurrency, pool, deadline).await;
    let mut set = Bystanders {
        conns: Vec::with_capacity(o.bystanders),
        close,
    };
    let mut problem = None;
    for outcome in opened {
        match outcome {
            Ok(c) => set.conns.push(c),
            Err(e) => {
                problem.get_or_insert(e);
            }
        }
    }
    if let Some(e) = problem {
        let (_, n) = set.close().await;
        return Err(format!(
            "only {n} of {} bystanders logged in (first problem: {e})",
            o.bystanders
        ));
    }
    Ok(set)
}

/// The CPU `pid` used between `start` and `end`, in % of one core.
async fn cpu_between(pid: u32, start: Instant, end: Instant) -> Option<f64> {
    tokio::time::sleep_until(tokio_deadline(start)).await;
    let (t0, c0) = (Instant::now(), proc_cpu_ticks(pid).ok()?);
    tokio::time::sleep_until(tokio_deadline(end)).await;
    let c1 = proc_cpu_ticks(pid).ok()?;
    Some(c1.saturating_sub(c0) as f64 / CLOCK_TICKS / t0.elapsed().as_secs_f64() * 100.0)
}

// ---------------------------------------------------------------------------------------
// logins: connect + Login + Logoff cycles

struct LoginStats {
    cycles: u64,
    hist: Hist,
    errors: u64,
    errors_total: u64,
    first_error: Option<String>,
}

/// One connect + Login + Logoff cycle.
async fn login_cycle(login: &Login, deadline: Instant) -> Result<(), String> {
    let mut c = Conn::open(login.target, deadline).await?;
    c.login(login, deadline).await?;
    let reply = c
        .request("Action: Logoff\r\nActionID: bye\r\n\r\n", deadline)
        .await?;
    match header(&reply, "Response") {
        Some(r) if r.eq_ignore_ascii_case(b"Goodbye") || is_success(r) => {}
        _ => {
            return Err(format!(
                "Logoff: {}",
                String::from_utf8_lossy(&reply)
                    .trim()
                    .replace("\r\n", " | ")
            ))
        }
    }
    // Wait for the server to close, so the TIME_WAIT stays on its side.
    loop {
        c.buf.clear();
        match read_more(&mut c.stream, &mut c.buf, deadline).await {
            Ok(true) => continue,
            Ok(false) => return Ok(()),
            Err(e) => return Err(format!("waiting for the close after Logoff: {e}")),
        }
    }
}

async fn login_worker(login: Login, ph: Phases) -> LoginStats {
    let mut st = LoginStats {
        cycles: 0,
        hist: Hist::new(),
        errors: 0,
        errors_total: 0,
        first_error: None,
    };
    loop {
        let t = Instant::now();
        if t >= ph.end {
            break;
        }
        let deadline = (t + Duration::from_secs(5)).min(ph.drain_end);
        match login_cycle(&login, deadline).await {
            Ok(_) => {
                if ph.in_window(t) {
                    st.cycles += 1;
                    st.hist.record(t.elapsed());
                }
            }
            Err(e) => {
                st.errors_total += 1;
                if ph.in_window(t) {
                    st.errors += 1;
                }
                st.first_error.get_or_insert(e);
                // Do not spin on a refused connect.
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
    }
    st
}

async fn scenario_logins(o: &Opts, pool: &Pool, probe: &Probe) -> Result<String, String> {
    let auth = match o.auth {
        AuthKind::Plain => "plain",
        AuthKind::Md5 => "md5",
    };
    println!(
        "logins: {} worker(s) doing connect + Login ({auth}) + Logoff, {} s (+{} s warm-up)",
        o.workers,
        secs(o.duration),
        secs(o.warmup)
    );
    let login = Login {
        target: o.target,
        user: o.user.clone(),
        secret: o.secret.clone(),
        auth: o.auth,
        events: "off",
    };
    // One probe cycle first, so a wrong password or a dead server fails fast.
    let probe_deadline = Instant::now() + o.connect_timeout;
    login_cycle(&login, probe_deadline)
        .await
        .map_err(|e| format!("probe cycle failed: {e}"))?;
    let now = Instant::now();
    let ph = Phases {
        start: now + o.warmup,
        end: now + o.warmup + o.duration,
        drain_end: now + o.warmup + o.duration + o.drain.max(Duration::from_secs(5)),
    };
    let tasks: Vec<_> = (0..o.workers)
        .map(|_| pool.spawn(login_worker(login.clone(), ph)))
        .collect();
    let mut hist = Hist::new();
    let (mut cycles, mut errors, mut errors_total, mut first_error) = (0, 0, 0, None);
    for t in tasks {
        if let Ok(s) = join_by(t, ph.drain_end + Duration::from_secs(2)).await {
            cycles += s.cycles;
            errors += s.errors;
            errors_total += s.errors_total;
            hist.merge(&s.hist);
            if first_error.is_none() {
                first_error = s.first_error;
            }
        } else {
            errors += 1;
        }
    }
    let dialect = probe.dialect;
    let rate = cycles as f64 / o.duration.as_secs_f64();
    println!("cycles: {cycles} = {rate:.0}/s; errors {errors} ({errors_total} with the warm-up)");
    println!(
        "cycle time: p50 {} us, p90 {} us, p99 {} us, max {} us",
        hist.us(0.5),
        hist.us(0.9),
        hist.us(0.99),
        hist.max_us()
    );
    if let Some(e) = &first_error {
        println!("first error: {e}");
    }
    Ok(format!(
        "RESULT logins auth={auth} workers={} dialect={dialect} duration_s={} cycles={cycles} rate={rate:.0} p50_us={} p99_us={} max_us={} errors={errors} client={}",
        o.workers,
        secs(o.duration),
        hist.us(0.5),
        hist.us(0.99),
        hist.max_us(),
        client_desc(o),
    ))
}

// ---------------------------------------------------------------------------------------
// idle: many logged-in sessions doing nothing

/// RSS (KiB) and threads of `pid`, from `/proc/<pid>/status`.
fn proc_status(pid: u32) -> Result<(u64, u64), String> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|e| format!("/proc/{pid}/status: {e}"))?;
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
    };
    Ok((
        field("VmRSS:").ok_or("no VmRSS")?,
        field("Threads:").unwrap_or(0),
    ))
}

/// User + system CPU time of `pid` in clock ticks, from `/proc/<pid>/stat`.
fn proc_cpu_ticks(pid: u32) -> Result<u64, String> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map_err(|e| format!("/proc/{pid}/stat: {e}"))?;
    // Fields after the command name, which is in parentheses and may hold blanks.
    let rest = text
        .rsplit_once(')')
        .map(|(_, r)| r)
        .ok_or("malformed stat")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // rest[0] is field 3 (state); utime and stime are fields 14 and 15.
    let get = |i: usize| fields.get(i).and_then(|v| v.parse::<u64>().ok());
    match (get(11), get(12)) {
        (Some(u), Some(s)) => Ok(u + s),
        _ => Err("malformed stat".into()),
    }
}

/// Clock ticks per second of `/proc/<pid>/stat` (USER_HZ, 100 on Linux).
const CLOCK_TICKS: f64 = 100.0;

/// The process listening on `port` (TCP, any address): the socket inode from
/// `/proc/net/tcp{,6}`, then the process holding it from `/proc/*/fd`.
fn find_pid(port: u16) -> Option<u32> {
    let mut inodes = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 10 || f[3] != "0A" {
                continue;
            }
            let local_port = f[1]
                .rsplit_once(':')
                .and_then(|(_, p)| u16::from_str_radix(p, 16).ok());
            if local_port == Some(port) {
                inodes.push(format!("socket:[{}]", f[9]));
            }
        }
    }
    if inodes.is_empty() {
        return None;
    }
    let me = std::process::id();
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Ok(fds) = std::fs::read_dir(entry.path().join("fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            if let Ok(link) = std::fs::read_link(fd.path()) {
                if inodes.iter().any(|i| link.as_os_str() == i.as_str()) {
                    return Some(pid);
                }
            }
        }
    }
    None
}

struct IdleConn {
    connect: Duration,
    /// Kept open until told to close.
    task: tokio::task::JoinHandle<()>,
}

async fn idle_conn(
    login: Login,
    deadline: Instant,
    permits: Arc<Semaphore>,
    close: watch::Receiver<bool>,
) -> Result<IdleConn, String> {
    let permit = tokio::time::timeout_at(tokio_deadline(deadline), permits.acquire_owned())
        .await
        .map_err(|_| "timed out waiting for a connect slot".to_string())?
        .map_err(|_| "closed".to_string())?;
    let t = Instant::now();
    let mut c = Conn::open(login.target, deadline).await?;
    let connect = t.elapsed();
    c.login(&login, deadline).await?;
    drop(permit);
    let task = tokio::spawn(async move {
        let mut close = close;
        let Conn { mut stream, .. } = c;
        let mut buf = [0u8; 512];
        loop {
            tokio::select! {
                _ = close.wait_for(|c| *c) => break,
                r = stream.read(&mut buf) => match r {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
            }
        }
    });
    Ok(IdleConn { connect, task })
}

async fn scenario_idle(o: &Opts, pool: &Pool, probe: &Probe) -> Result<String, String> {
    let pid = match o.pid {
        Some(p) => p,
        None => find_pid(o.target.port()).ok_or_else(|| {
            format!(
                "cannot find the process listening on port {}; give --pid",
                o.target.port()
            )
        })?,
    };
    println!(
        "idle: {} logged-in session(s), {} connects in flight at most, server pid {pid}, {} s idle",
        o.conns,
        o.concurrency,
        secs(o.duration)
    );
    let (rss0, threads0) = proc_status(pid)?;
    println!("server before: RSS {rss0} KiB, {threads0} threads");
    let login = Login {
        target: o.target,
        user: o.user.clone(),
        secret: o.secret.clone(),
        auth: AuthKind::Plain,
        events: "on",
    };
    let deadline = Instant::now() + o.connect_timeout;
    let t0 = Instant::now();
    let (opened, close_tx) = open_idle(&login, o.conns, o.concurrency, pool, deadline).await;
    let mut conns = Vec::with_capacity(o.conns);
    let mut connect = Hist::new();
    let (mut failed, mut first_error) = (0u64, None);
    for outcome in opened {
        match outcome {
            Ok(c) => {
                connect.record(c.connect);
                conns.push(c);
            }
            Err(e) => {
                failed += 1;
                first_error.get_or_insert(e);
            }
        }
    }
    let setup = t0.elapsed();
    let logged_in = conns.len() as u64;
    let slow = connect
        .counts
        .iter()
        .enumerate()
        .filter(|(i, _)| Hist::value(*i) >= 900_000_000)
        .map(|(_, c)| c)
        .sum::<u64>();
    println!(
        "logged in: {logged_in} of {} in {:.2} s; failed {failed}{}",
        o.conns,
        setup.as_secs_f64(),
        first_error
            .as_ref()
            .map(|e| format!(" (first: {e})"))
            .unwrap_or_default()
    );
    println!(
        "connect time: p50 {} us, p99 {} us, max {} us; {slow} connect(s) took >= 0.9 s (a SYN retransmit)",
        connect.us(0.5),
        connect.us(0.99),
        connect.max_us()
    );
    // Let the host finish its per-login work before sampling.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (rss1, threads1) = proc_status(pid)?;
    let ticks0 = proc_cpu_ticks(pid)?;
    let idle_start = Instant::now();
    tokio::time::sleep(o.duration).await;
    let ticks1 = proc_cpu_ticks(pid)?;
    let idle = idle_start.elapsed().as_secs_f64();
    let (rss2, threads2) = proc_status(pid)?;
    let alive = close_idle(conns, close_tx).await;
    let cpu_pct = (ticks1.saturating_sub(ticks0)) as f64 / CLOCK_TICKS / idle * 100.0;
    let rss = rss1.max(rss2);
    let per_session = if logged_in > 0 {
        (rss.saturating_sub(rss0)) as f64 * 1024.0 / logged_in as f64
    } else {
        0.0
    };
    let dialect = probe.dialect;
    println!(
        "server while idle: RSS {rss1} -> {rss2} KiB (+{} KiB over the empty host = {:.0} bytes per session), threads {threads1} -> {threads2}",
        rss.saturating_sub(rss0),
        per_session
    );
    println!(
        "server CPU while idle: {:.2} % of one core over {:.1} s; sessions still open at the end: {alive}",
        cpu_pct, idle
    );
    Ok(format!(
        "RESULT idle conns={} logged_in={logged_in} failed={failed} dialect={dialect} pid={pid} idle_s={} rss_base_kib={rss0} rss_idle_kib={rss} rss_added_kib={} bytes_per_session={per_session:.0} threads={threads2} cpu_pct={cpu_pct:.2} setup_s={:.2} connect_p99_us={} connect_max_us={} slow_connects={slow} dropped={} client={}",
        o.conns,
        secs(o.duration),
        rss.saturating_sub(rss0),
        setup.as_secs_f64(),
        connect.us(0.99),
        connect.max_us(),
        logged_in as usize - alive,
        client_desc(o),
    ))
}

// ---------------------------------------------------------------------------------------
// soak: every kind of load at once, at modest rates, for a long time; the host's
// resources sampled

/// The soak's streams, as indexes into [`SoakCtx`]'s counters.
const SK_PINGS: usize = 0;
const SK_EVENTS: usize = 1;
const SK_DELIVERIES: usize = 2;
const SK_ORIGINATES: usize = 3;
const SK_HANGUPS: usize = 4;
const SK_LOGINS: usize = 5;
const SK_LOGINS_MD5: usize = 6;
const SK_HTTP: usize = 7;
const SK_SWAPS: usize = 8;
const SK_RELOADS: usize = 9;
const SK_SAMPLES: usize = 10;
const SK_N: usize = 11;
const SK_NAMES: [&str; SK_N] = [
    "pings",
    "events",
    "deliveries",
    "originates",
    "hangups",
    "logins",
    "logins_md5",
    "http_sessions",
    "swaps",
    "reloads",
    "samples",
];

/// How many errors of one stream are printed as they happen.
const SK_PRINTED_ERRORS: u64 = 3;

/// What the soak's tasks share.
struct SoakCtx {
    /// When the run started (the load begins).
    start: Instant,
    /// When the load stops.
    end: Instant,
    /// Give up waiting for replies and events.
    drain_end: Instant,
    ok: [AtomicU64; SK_N],
    errors: [AtomicU64; SK_N],
    first_error: [std::sync::Mutex<Option<String>>; SK_N],
    /// Ping latencies since the last sample, and in all.
    ping_hist: std::sync::Mutex<Hist>,
    /// The event sender's final count (valid once `ev_done`).
    ev_final: AtomicU64,
    ev_done: std::sync::atomic::AtomicBool,
    lost: AtomicU64,
    dups: AtomicU64,
    /// From the system-events session: `Event: Reload`, `PluginReloaded` of the swapped
    /// plugin, `PluginLoadFailed`.
    reload_events: AtomicU64,
    plugin_reloaded: AtomicU64,
    plugin_failed: AtomicU64,
    /// Set when the soak logs the system-events session off: its close is expected.
    system_closing: std::sync::atomic::AtomicBool,
}

impl SoakCtx {
    fn new(start: Instant, end: Instant, drain_end: Instant) -> SoakCtx {
        SoakCtx {
            start,
            end,
            drain_end,
            ok: std::array::from_fn(|_| AtomicU64::new(0)),
            errors: std::array::from_fn(|_| AtomicU64::new(0)),
            first_error: std::array::from_fn(|_| std::sync::Mutex::new(None)),
            ping_hist: std::sync::Mutex::new(Hist::new()),
            ev_final: AtomicU64::new(0),
            ev_done: std::sync::atomic::AtomicBool::new(false),
            lost: AtomicU64::new(0),
            dups: AtomicU64::new(0),
            reload_events: AtomicU64::new(0),
            plugin_reloaded: AtomicU64::new(0),
            plugin_failed: AtomicU64::new(0),
            system_closing: std::sync::atomic::AtomicBool::new(false),
        }
    }

    fn ok(&self, stream: usize, n: u64) {
        self.ok[stream].fetch_add(n, Ordering::Relaxed);
    }

    fn count(&self, stream: usize) -> u64 {
        self.ok[stream].load(Ordering::Relaxed)
    }

    fn errors_of(&self, stream: usize) -> u64 {
        self.errors[stream].load(Ordering::Relaxed)
    }

    /// Counts an error of `stream`; the first few are printed as they happen.
    fn fail(&self, stream: usize, e: impl Into<String>) {
        let e = e.into();
        let n = self.errors[stream].fetch_add(1, Ordering::Relaxed);
        if n < SK_PRINTED_ERRORS {
            println!(
                "  error +{:.1} s {}: {e}",
                self.start.elapsed().as_secs_f64(),
                SK_NAMES[stream]
            );
        }
        if let Ok(mut first) = self.first_error[stream].lock() {
            first.get_or_insert(e);
        }
    }

    fn total_ok(&self) -> u64 {
        (0..SK_N)
            .filter(|&s| s != SK_SAMPLES)
            .map(|s| self.count(s))
            .sum()
    }

    fn total_errors(&self) -> u64 {
        (0..SK_N).map(|s| self.errors_of(s)).sum()
    }

    /// Waits for the next tick of `iv`; `None` once the load is over.
    async fn tick(&self, iv: &mut tokio::time::Interval) -> Option<Instant> {
        if Instant::now() >= self.end {
            return None;
        }
        match tokio::time::timeout_at(tokio_deadline(self.end), iv.tick()).await {
            Ok(_) => {
                let now = Instant::now();
                (now < self.end).then_some(now)
            }
            Err(_) => None,
        }
    }
}

/// An interval of `period` whose first tick is one period from now; late ticks are
/// skipped, so a stalled host does not get a burst afterwards.
fn soak_interval(period: Duration) -> tokio::time::Interval {
    let period = period.max(Duration::from_millis(1));
    let mut iv = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    iv.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    iv
}

/// How many operations are due at `rate` per second: what the elapsed time allows minus
/// what was done, at most 100 ms' worth at once.
struct Pacer {
    rate: f64,
    start: Instant,
    done: u64,
}

impl Pacer {
    fn new(rate: f64) -> Pacer {
        Pacer {
            rate,
            start: Instant::now(),
            done: 0,
        }
    }

    fn due(&mut self, now: Instant) -> u64 {
        let want = (self.rate * now.duration_since(self.start).as_secs_f64()) as u64;
        let cap = ((self.rate / 10.0) as u64).max(1);
        let mut n = want.saturating_sub(self.done);
        if n > cap {
            self.done = want - cap;
            n = cap;
        }
        self.done += n;
        n
    }
}

fn one_line(msg: &[u8]) -> String {
    String::from_utf8_lossy(msg).trim().replace("\r\n", " | ")
}

/// Why a soak connection's exchange failed: `fatal` when the connection is gone.
struct Failure {
    text: String,
    fatal: bool,
}

impl Failure {
    fn soft(text: impl Into<String>) -> Failure {
        Failure {
            text: text.into(),
            fatal: false,
        }
    }

    fn fatal(text: impl Into<String>) -> Failure {
        Failure {
            text: text.into(),
            fatal: true,
        }
    }
}

async fn write_by<W: tokio::io::AsyncWrite + Unpin>(
    w: &mut W,
    bytes: &[u8],
    deadline: Instant,
) -> Result<(), Failure> {
    match tokio::time::timeout_at(tokio_deadline(deadline), w.write_all(bytes)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(Failure::fatal(format!("write: {e}"))),
        Err(_) => Err(Failure::fatal("write timed out")),
    }
}

/// The next whole message on `stream`, events included.
async fn next_message<R: AsyncRead + Unpin>(
    stream: &mut R,
    buf: &mut BytesMut,
    deadline: Instant,
) -> Result<BytesMut, Failure> {
    loop {
        if let Some(end) = find_blank(buf) {
            return Ok(buf.split_to(end));
        }
        match read_more(stream, buf, deadline).await {
            Ok(true) => {}
            Ok(false) => return Err(Failure::fatal("connection closed by the server")),
            Err(ReadError::Timeout) => return Err(Failure::soft("timed out waiting for a reply")),
            Err(e) => return Err(Failure::fatal(format!("read: {e}"))),
        }
    }
}

/// Sends `count` requests (built by `build` from a running id), then reads their replies
/// in order; counts each success in `stream_ok` and returns the first failure.
async fn soak_batch(
    ctx: &SoakCtx,
    stream_ok: usize,
    conn: &mut (TcpStream, BytesMut),
    out: &mut Vec<u8>,
    ids: std::ops::Range<u64>,
    build: impl Fn(&mut Vec<u8>, u64),
) -> Result<(), Failure> {
    out.clear();
    for id in ids.clone() {
        build(out, id);
    }
    let sent = Instant::now();
    let deadline = sent + Duration::from_secs(5);
    write_by(&mut conn.0, out, deadline).await?;
    let mut want = ids.start;
    while want < ids.end {
        let msg = match next_message(&mut conn.0, &mut conn.1, deadline).await {
            Ok(m) => m,
            Err(mut f) => {
                f.text = format!("{} ({} requests unanswered)", f.text, ids.end - want);
                // The stream's replies are out of step from here on.
                f.fatal = true;
                return Err(f);
            }
        };
        if msg.starts_with(b"Event:") {
            continue;
        }
        let id = header(&msg, "ActionID").and_then(parse_u64);
        let this = want;
        want += 1;
        if id != Some(this) {
            ctx.fail(
                stream_ok,
                format!(
                    "reply out of order (wanted ActionID {this}): {}",
                    one_line(&msg)
                ),
            );
        } else if header(&msg, "Response").is_some_and(is_success) {
            ctx.ok(stream_ok, 1);
            if stream_ok == SK_PINGS {
                if let Ok(mut h) = ctx.ping_hist.lock() {
                    h.record(sent.elapsed());
                }
            }
        } else {
            ctx.fail(stream_ok, one_line(&msg));
        }
    }
    Ok(())
}

/// Pings at `rate` per second on one connection, in batches every 10 ms.
async fn soak_pings(ctx: Arc<SoakCtx>, conn: Conn, rate: f64) {
    let mut c = (conn.stream, conn.buf);
    let mut pacer = Pacer::new(rate);
    let mut iv = soak_interval(Duration::from_millis(10));
    let mut out = Vec::new();
    let mut next = 1u64;
    while let Some(now) = ctx.tick(&mut iv).await {
        let n = pacer.due(now);
        if n == 0 {
            continue;
        }
        let ids = next..next + n;
        next += n;
        let r = soak_batch(&ctx, SK_PINGS, &mut c, &mut out, ids, |out, id| {
            out.extend_from_slice(b"Action: Ping\r\nActionID: ");
            push_u64(out, id);
            out.extend_from_slice(b"\r\n\r\n");
        })
        .await;
        if let Err(f) = r {
            ctx.fail(SK_PINGS, f.text);
            return;
        }
    }
    let _ = c.0.write_all(b"Action: Logoff\r\n\r\n").await;
}

/// UserEvents `SoakFlood` with `SoakSeq: 0, 1, ...` at `rate` per second.
async fn soak_sender(ctx: Arc<SoakCtx>, conn: Conn, rate: f64) {
    let mut c = (conn.stream, conn.buf);
    let mut pacer = Pacer::new(rate);
    let mut iv = soak_interval(Duration::from_millis(10));
    let mut out = Vec::new();
    let mut seq = 0u64;
    while let Some(now) = ctx.tick(&mut iv).await {
        let n = pacer.due(now);
        if n == 0 {
            continue;
        }
        let ids = seq..seq + n;
        seq += n;
        let r = soak_batch(&ctx, SK_EVENTS, &mut c, &mut out, ids, |out, id| {
            out.extend_from_slice(b"Action: UserEvent\r\nUserEvent: SoakFlood\r\nSoakSeq: ");
            push_u64(out, id);
            out.extend_from_slice(b"\r\nActionID: ");
            push_u64(out, id);
            out.extend_from_slice(b"\r\n\r\n");
        })
        .await;
        if let Err(f) = r {
            ctx.fail(SK_EVENTS, f.text);
            break;
        }
    }
    ctx.ev_final.store(seq, Ordering::Release);
    ctx.ev_done.store(true, Ordering::Release);
    let _ = c.0.write_all(b"Action: Logoff\r\n\r\n").await;
}

/// Reads the flood, checking that `SoakSeq` goes up by one each time; after the load,
/// waits (until the drain deadline) for every event the sender sent.
async fn soak_listener(ctx: Arc<SoakCtx>, conn: Conn) {
    let Conn {
        mut stream,
        mut buf,
        ..
    } = conn;
    let mut expected = 0u64;
    loop {
        let now = Instant::now();
        if ctx.ev_done.load(Ordering::Acquire) && expected >= ctx.ev_final.load(Ordering::Acquire) {
            break;
        }
        if now >= ctx.drain_end {
            break;
        }
        let deadline = if now < ctx.end {
            ctx.end
        } else {
            (now + Duration::from_millis(100)).min(ctx.drain_end)
        };
        match read_more(&mut stream, &mut buf, deadline).await {
            Ok(true) => {}
            Ok(false) => {
                ctx.fail(SK_DELIVERIES, "listener closed by the server");
                break;
            }
            Err(ReadError::Timeout) => continue,
            Err(e) => {
                ctx.fail(SK_DELIVERIES, format!("listener read: {e}"));
                break;
            }
        }
        while let Some(end) = find_blank(&buf) {
            let msg = buf.split_to(end);
            if !msg.starts_with(b"Event: UserEvent\r\n")
                || header(&msg, "UserEvent") != Some(&b"SoakFlood"[..])
            {
                continue;
            }
            match header(&msg, "SoakSeq").and_then(parse_u64) {
                Some(seq) if seq == expected => {
                    ctx.ok(SK_DELIVERIES, 1);
                    expected += 1;
                }
                Some(seq) if seq > expected => {
                    ctx.lost.fetch_add(seq - expected, Ordering::Relaxed);
                    ctx.fail(
                        SK_DELIVERIES,
                        format!("gap: expected SoakSeq {expected}, got {seq}"),
                    );
                    ctx.ok(SK_DELIVERIES, 1);
                    expected = seq + 1;
                }
                Some(seq) => {
                    ctx.dups.fetch_add(1, Ordering::Relaxed);
                    ctx.fail(
                        SK_DELIVERIES,
                        format!("duplicate or reordered: SoakSeq {seq} after {expected}"),
                    );
                }
                None => ctx.fail(SK_DELIVERIES, format!("no SoakSeq: {}", one_line(&msg))),
            }
        }
    }
    let fin = ctx.ev_final.load(Ordering::Acquire);
    if expected < fin {
        ctx.lost.fetch_add(fin - expected, Ordering::Relaxed);
        ctx.fail(
            SK_DELIVERIES,
            format!(
                "{} event(s) never arrived (last seen {expected} of {fin})",
                fin - expected
            ),
        );
    }
    let _ = stream.write_all(b"Action: Logoff\r\n\r\n").await;
}

/// One Originate (async, into `Application: Wait`) and the Hangup of the channel its
/// `OriginateResponse` names.
async fn originate_and_hangup(
    ctx: &SoakCtx,
    c: &mut (TcpStream, BytesMut),
    channel: &str,
    n: u64,
) -> Result<(), Failure> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let oid = format!("o{n}");
    let req = format!(
        "Action: Originate\r\nActionID: {oid}\r\nChannel: {channel}\r\nApplication: Wait\r\nData: 30\r\nCallerID: \"Soak\" <{n}>\r\nAsync: true\r\n\r\n"
    );
    write_by(&mut c.0, req.as_bytes(), deadline).await?;
    let (mut acked, mut chan) = (false, None::<String>);
    while !(acked && chan.is_some()) {
        let msg = next_message(&mut c.0, &mut c.1, deadline).await?;
        if header(&msg, "ActionID") != Some(oid.as_bytes()) {
            continue;
        }
        if msg.starts_with(b"Event:") {
            if header(&msg, "Event") != Some(&b"OriginateResponse"[..]) {
                continue;
            }
            match (header(&msg, "Response"), header(&msg, "Channel")) {
                (Some(r), Some(ch)) if r.eq_ignore_ascii_case(b"Success") => {
                    chan = Some(String::from_utf8_lossy(ch).into_owned());
                }
                _ => {
                    return Err(Failure::soft(format!(
                        "OriginateResponse: {}",
                        one_line(&msg)
                    )))
                }
            }
        } else if header(&msg, "Response").is_some_and(is_success) {
            acked = true;
        } else {
            return Err(Failure::soft(format!("Originate: {}", one_line(&msg))));
        }
    }
    ctx.ok(SK_ORIGINATES, 1);
    let chan = chan.unwrap_or_default();
    let hid = format!("h{n}");
    let req = format!("Action: Hangup\r\nActionID: {hid}\r\nChannel: {chan}\r\n\r\n");
    write_by(&mut c.0, req.as_bytes(), deadline).await?;
    loop {
        let msg = next_message(&mut c.0, &mut c.1, deadline).await?;
        if msg.starts_with(b"Event:") || header(&msg, "ActionID") != Some(hid.as_bytes()) {
            continue;
        }
        if header(&msg, "Response").is_some_and(is_success) {
            ctx.ok(SK_HANGUPS, 1);
            return Ok(());
        }
        ctx.fail(SK_HANGUPS, format!("Hangup {chan}: {}", one_line(&msg)));
        return Ok(());
    }
}

async fn soak_originates(ctx: Arc<SoakCtx>, conn: Conn, rate: f64, channel: String) {
    let mut c = (conn.stream, conn.buf);
    let mut iv = soak_interval(Duration::from_secs_f64(1.0 / rate));
    let mut n = 0u64;
    while ctx.tick(&mut iv).await.is_some() {
        n += 1;
        if let Err(f) = originate_and_hangup(&ctx, &mut c, &channel, n).await {
            ctx.fail(SK_ORIGINATES, f.text);
            if f.fatal {
                return;
            }
        }
    }
    let _ = c.0.write_all(b"Action: Logoff\r\n\r\n").await;
}

/// Connect + Login + Logoff cycles at `rate` per second, plain and MD5 in turn.
async fn soak_logins(ctx: Arc<SoakCtx>, login: Login, rate: f64) {
    let mut iv = soak_interval(Duration::from_secs_f64(1.0 / rate));
    let mut n = 0u64;
    while ctx.tick(&mut iv).await.is_some() {
        n += 1;
        let (auth, stream) = if n % 2 == 1 {
            (AuthKind::Plain, SK_LOGINS)
        } else {
            (AuthKind::Md5, SK_LOGINS_MD5)
        };
        let l = Login {
            auth,
            ..login.clone()
        };
        match login_cycle(&l, Instant::now() + Duration::from_secs(5)).await {
            Ok(()) => ctx.ok(stream, 1),
            Err(e) => ctx.fail(stream, e),
        }
    }
}

/// One HTTP/1.1 reply.
struct HttpReply {
    status: u16,
    body: Vec<u8>,
    /// The `mansession_id` of a `Set-Cookie`.
    session: Option<String>,
    close: bool,
}

const HTTP_BODY_LIMIT: usize = 1 << 20;

fn find_crlf(buf: &[u8]) -> Option<usize> {
    buf.windows(2).position(|w| w == b"\r\n")
}

/// The `mansession_id` value of a `Set-Cookie` header value.
fn cookie_session(v: &str) -> Option<String> {
    v.split(';')
        .find_map(|pair| {
            let (name, value) = pair.split_once('=')?;
            name.trim()
                .eq_ignore_ascii_case("mansession_id")
                .then(|| value.trim().trim_matches('"').to_string())
        })
        .filter(|v| !v.is_empty())
}

fn url_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Reads one reply (Content-Length, chunked, or up to the close).
async fn read_http_reply(
    stream: &mut TcpStream,
    buf: &mut BytesMut,
    deadline: Instant,
) -> Result<HttpReply, String> {
    let more = |ok: Result<bool, ReadError>, what: &str| match ok {
        Ok(true) => Ok(()),
        Ok(false) => Err(format!("connection closed {what}")),
        Err(e) => Err(format!("{what}: {e}")),
    };
    let head_end = loop {
        if let Some(e) = find_blank(buf) {
            break e;
        }
        if buf.len() > 64 * 1024 {
            return Err("reply head over 64 KiB".into());
        }
        more(
            read_more(stream, buf, deadline).await,
            "reading the reply head",
        )?;
    };
    let head = buf.split_to(head_end);
    let text = String::from_utf8_lossy(&head);
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| format!("bad status line {status_line:?}"))?;
    let (mut len, mut chunked, mut close, mut session) = (None, false, false, None);
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        match name.trim().to_ascii_lowercase().as_str() {
            "content-length" => len = value.parse::<usize>().ok(),
            "transfer-encoding" => chunked = value.to_ascii_lowercase().contains("chunked"),
            "connection" => close = value.eq_ignore_ascii_case("close"),
            "set-cookie" => {
                if let Some(id) = cookie_session(value) {
                    session = Some(id);
                }
            }
            _ => {}
        }
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            let line_end = loop {
                if let Some(i) = find_crlf(buf) {
                    break i;
                }
                more(read_more(stream, buf, deadline).await, "reading a chunk")?;
            };
            let line = buf.split_to(line_end + 2);
            let hex = String::from_utf8_lossy(&line[..line_end]);
            let hex = hex.split(';').next().unwrap_or_default().trim().to_string();
            let size =
                usize::from_str_radix(&hex, 16).map_err(|_| format!("bad chunk size {hex:?}"))?;
            if size == 0 {
                // Trailers, up to an empty line.
                loop {
                    let i = loop {
                        if let Some(i) = find_crlf(buf) {
                            break i;
                        }
                        more(
                            read_more(stream, buf, deadline).await,
                            "reading the trailers",
                        )?;
                    };
                    buf.advance(i + 2);
                    if i == 0 {
                        break;
                    }
                }
                break;
            }
            if body.len() + size > HTTP_BODY_LIMIT {
                return Err("reply body over 1 MiB".into());
            }
            while buf.len() < size + 2 {
                more(read_more(stream, buf, deadline).await, "reading a chunk")?;
            }
            body.extend_from_slice(&buf[..size]);
            buf.advance(size + 2);
        }
    } else if let Some(n) = len {
        if n > HTTP_BODY_LIMIT {
            return Err("reply body over 1 MiB".into());
        }
        while buf.len() < n {
            more(read_more(stream, buf, deadline).await, "reading the body")?;
        }
        body.extend_from_slice(&buf[..n]);
        buf.advance(n);
    } else {
        close = true;
        loop {
            body.extend_from_slice(buf);
            buf.clear();
            if body.len() > HTTP_BODY_LIMIT {
                return Err("reply body over 1 MiB".into());
            }
            match read_more(stream, buf, deadline).await {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => return Err(format!("reading the body: {e}")),
            }
        }
    }
    Ok(HttpReply {
        status,
        body,
        session,
        close,
    })
}

/// A keep-alive HTTP/1.1 client connection, reopened when the server closes it.
struct HttpConn {
    target: SocketAddr,
    stream: Option<TcpStream>,
    buf: BytesMut,
}

impl HttpConn {
    async fn get(
        &mut self,
        path: &str,
        session: Option<&str>,
        deadline: Instant,
    ) -> Result<HttpReply, String> {
        let mut stream = match self.stream.take() {
            Some(s) => s,
            None => {
                let s = match tokio::time::timeout_at(
                    tokio_deadline(deadline),
                    TcpStream::connect(self.target),
                )
                .await
                {
                    Err(_) => return Err("HTTP connect timed out".into()),
                    Ok(Err(e)) => return Err(format!("HTTP connect: {e}")),
                    Ok(Ok(s)) => s,
                };
                let _ = s.set_nodelay(true);
                self.buf.clear();
                s
            }
        };
        let mut req = format!(
            "GET {path} HTTP/1.1\r\nHost: {}\r\nUser-Agent: ami-bench\r\n",
            self.target
        );
        if let Some(id) = session {
            req.push_str(&format!("Cookie: mansession_id=\"{id}\"\r\n"));
        }
        req.push_str("\r\n");
        write_by(&mut stream, req.as_bytes(), deadline)
            .await
            .map_err(|f| f.text)?;
        let reply = read_http_reply(&mut stream, &mut self.buf, deadline).await?;
        if !reply.close {
            self.stream = Some(stream);
        }
        Ok(reply)
    }
}

/// One rawman session: login, ping, logoff.
async fn http_session(
    target: SocketAddr,
    prefix: &str,
    user: &str,
    secret: &str,
) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(5);
    let base = if prefix.is_empty() {
        "/rawman".to_string()
    } else {
        format!("/{prefix}/rawman")
    };
    let mut c = HttpConn {
        target,
        stream: None,
        buf: BytesMut::with_capacity(4096),
    };
    let check = |what: &str, r: &HttpReply, want: &[&[u8]]| {
        let resp = header(&r.body, "Response");
        if r.status == 200 && resp.is_some_and(|v| want.iter().any(|w| v.eq_ignore_ascii_case(w))) {
            Ok(())
        } else {
            Err(format!("{what}: HTTP {} {}", r.status, one_line(&r.body)))
        }
    };
    let login = format!(
        "{base}?action=login&username={}&secret={}",
        url_encode(user),
        url_encode(secret)
    );
    let r = c.get(&login, None, deadline).await?;
    check("login", &r, &[b"Success"])?;
    let id = r.session.ok_or("login: no mansession_id cookie")?;
    let r = c
        .get(
            &format!("{base}?action=ping&actionid=soak"),
            Some(&id),
            deadline,
        )
        .await?;
    check("ping", &r, &[b"Success", b"Pong"])?;
    let r = c
        .get(&format!("{base}?action=logoff"), Some(&id), deadline)
        .await?;
    check("logoff", &r, &[b"Goodbye"])?;
    Ok(())
}

async fn soak_http(ctx: Arc<SoakCtx>, target: SocketAddr, prefix: String, login: Login, rate: f64) {
    let mut iv = soak_interval(Duration::from_secs_f64(1.0 / rate));
    while ctx.tick(&mut iv).await.is_some() {
        match http_session(target, &prefix, &login.user, &login.secret).await {
            Ok(()) => ctx.ok(SK_HTTP, 1),
            Err(e) => ctx.fail(SK_HTTP, e),
        }
    }
}

/// `wasm` with a custom section appended: another file (another SHA-256) with the same
/// code, so the host really swaps versions.
fn with_custom_section(wasm: &[u8], name: &str, payload: &[u8]) -> Result<Vec<u8>, String> {
    fn leb128(out: &mut Vec<u8>, mut v: u64) {
        loop {
            let b = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                out.push(b);
                return;
            }
            out.push(b | 0x80);
        }
    }
    if !wasm.starts_with(b"\0asm") {
        return Err("not a WebAssembly binary".into());
    }
    let mut content = Vec::new();
    leb128(&mut content, name.len() as u64);
    content.extend_from_slice(name.as_bytes());
    content.extend_from_slice(payload);
    let mut out = wasm.to_vec();
    out.push(0);
    leb128(&mut out, content.len() as u64);
    out.extend_from_slice(&content);
    Ok(out)
}

/// Every `every`: the other version of the plugin renamed into place (not in the last
/// 3 s, so the host can report the last swap before the end).
async fn soak_swaps(
    ctx: Arc<SoakCtx>,
    dir: PathBuf,
    name: String,
    versions: Arc<[Vec<u8>; 2]>,
    every: Duration,
) {
    let mut iv = soak_interval(every);
    let mut k = 0usize;
    while let Some(now) = ctx.tick(&mut iv).await {
        if now + Duration::from_secs(3) > ctx.end {
            break;
        }
        k += 1;
        let (dir, name, versions) = (dir.clone(), name.clone(), versions.clone());
        let r = tokio::task::spawn_blocking(move || install(&versions[k % 2], &dir, &name)).await;
        match r {
            Ok(Ok(())) => ctx.ok(SK_SWAPS, 1),
            Ok(Err(e)) => ctx.fail(SK_SWAPS, format!("renaming the plugin into place: {e}")),
            Err(e) => ctx.fail(SK_SWAPS, format!("swap task: {e}")),
        }
    }
}

/// The system-events session's reader: counts `Reload`, `PluginReloaded` (of `plugin`)
/// and `PluginLoadFailed`; hands every other message to the reload task.
async fn soak_system_reader(
    ctx: Arc<SoakCtx>,
    mut rd: tokio::net::tcp::OwnedReadHalf,
    mut buf: BytesMut,
    replies: tokio::sync::mpsc::UnboundedSender<BytesMut>,
    plugin: String,
) {
    loop {
        let msg =
            match next_message(&mut rd, &mut buf, ctx.drain_end + Duration::from_secs(60)).await {
                Ok(m) => m,
                Err(f) => {
                    if f.fatal && !ctx.system_closing.load(Ordering::Acquire) {
                        ctx.fail(SK_RELOADS, format!("system-events session: {}", f.text));
                    }
                    return;
                }
            };
        if !msg.starts_with(b"Event:") {
            let _ = replies.send(msg);
            continue;
        }
        match header(&msg, "Event") {
            Some(b"Reload") => {
                ctx.reload_events.fetch_add(1, Ordering::Relaxed);
            }
            Some(b"PluginReloaded") if header(&msg, "Plugin") == Some(plugin.as_bytes()) => {
                ctx.plugin_reloaded.fetch_add(1, Ordering::Relaxed);
            }
            Some(b"PluginLoadFailed") => {
                ctx.plugin_failed.fetch_add(1, Ordering::Relaxed);
                ctx.fail(SK_SWAPS, format!("host: {}", one_line(&msg)));
            }
            _ => {}
        }
    }
}

/// The user the reloads add and remove in turn, when the soak may rewrite the config.
const SOAK_USER: &str = "ami-bench-soak";
const SOAK_SECRET: &str = "soak-secret";

fn soak_config_text(original: &str, with_user: bool) -> String {
    if !with_user {
        return original.to_string();
    }
    let mut text = original.to_string();
    if !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(&format!(
        "\n# Added by ami-bench soak; removed by the next reload.\n[users.{SOAK_USER}]\nsecret = \"{SOAK_SECRET}\"\nread = \"call\"\nwrite = \"none\"\n"
    ));
    text
}

/// Writes `text` to a temporary file beside `path` and renames it over `path`.
fn replace_file(path: &Path, text: &str) -> std::io::Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "config".into());
    let tmp = path.with_file_name(format!(".{name}.ami-bench-{}.tmp", std::process::id()));
    std::fs::write(&tmp, text)?;
    if let Err(e) = std::fs::rename(&tmp, path) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    Ok(())
}

/// What the reload task needs.
struct ReloadJob {
    wr: tokio::net::tcp::OwnedWriteHalf,
    replies: tokio::sync::mpsc::UnboundedReceiver<BytesMut>,
    every: Duration,
    pid: u32,
    /// The config file and its original text, when the soak may rewrite it.
    config: Option<(PathBuf, String)>,
    login: Login,
}

/// Every `every`: (the config rewritten, toggling [`SOAK_USER`]) a reload, in turn by
/// `Command: reload`, `Action: Reload` and SIGHUP; after a reload that added the user, a
/// login as that user must succeed. Returns the session's write half, kept open until the
/// host has reported the last reloads and swaps.
async fn soak_reloads(ctx: Arc<SoakCtx>, job: ReloadJob) -> tokio::net::tcp::OwnedWriteHalf {
    let ReloadJob {
        mut wr,
        mut replies,
        every,
        pid,
        config,
        login,
    } = job;
    let mut iv = soak_interval(every);
    let mut k = 0u64;
    while let Some(now) = ctx.tick(&mut iv).await {
        if now + Duration::from_secs(2) > ctx.end {
            break;
        }
        k += 1;
        let with_user = k % 2 == 1;
        if let Some((path, original)) = &config {
            let (path, text) = (path.clone(), soak_config_text(original, with_user));
            match tokio::task::spawn_blocking(move || replace_file(&path, &text)).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => ctx.fail(SK_RELOADS, format!("rewriting the config: {e}")),
                Err(e) => ctx.fail(SK_RELOADS, format!("rewriting the config: {e}")),
            }
        }
        let seen_before = ctx.reload_events.load(Ordering::Relaxed);
        let deadline = Instant::now() + Duration::from_secs(10);
        let kind = k % 3;
        let request = match kind {
            1 => Some(format!(
                "Action: Command\r\nActionID: r{k}\r\nCommand: reload\r\n\r\n"
            )),
            2 => Some(format!("Action: Reload\r\nActionID: r{k}\r\n\r\n")),
            _ => None,
        };
        let synchronous = request.is_some();
        let result: Result<(), String> = match request {
            Some(req) => match write_by(&mut wr, req.as_bytes(), deadline).await {
                Err(f) => Err(f.text),
                Ok(()) => {
                    let want = format!("r{k}");
                    loop {
                        match tokio::time::timeout_at(tokio_deadline(deadline), replies.recv())
                            .await
                        {
                            Err(_) => break Err("no reply to the reload".into()),
                            Ok(None) => break Err("system-events session closed".into()),
                            Ok(Some(msg)) => {
                                if header(&msg, "ActionID") != Some(want.as_bytes()) {
                                    continue;
                                }
                                let text = String::from_utf8_lossy(&msg);
                                let ok = header(&msg, "Response").is_some_and(|r| {
                                    is_success(r) || r.eq_ignore_ascii_case(b"Follows")
                                }) && !text.contains("not reloaded");
                                break if ok {
                                    Ok(())
                                } else {
                                    Err(format!("reload refused: {}", one_line(&msg)))
                                };
                            }
                        }
                    }
                }
            },
            None => {
                let pid = pid.to_string();
                match tokio::task::spawn_blocking(move || {
                    std::process::Command::new("kill")
                        .args(["-HUP", &pid])
                        .status()
                })
                .await
                {
                    Ok(Ok(s)) if s.success() => Ok(()),
                    Ok(Ok(s)) => Err(format!("kill -HUP: {s}")),
                    Ok(Err(e)) => Err(format!("kill -HUP: {e}")),
                    Err(e) => Err(format!("kill -HUP: {e}")),
                }
            }
        };
        if let Err(e) = result {
            ctx.fail(SK_RELOADS, e);
            continue;
        }
        // Every reload announces itself with `Event: Reload`.
        while ctx.reload_events.load(Ordering::Relaxed) <= seen_before {
            if Instant::now() >= deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        if ctx.reload_events.load(Ordering::Relaxed) <= seen_before {
            ctx.fail(SK_RELOADS, "no Event: Reload for a reload");
            continue;
        }
        ctx.ok(SK_RELOADS, 1);
        if config.is_some() && with_user && synchronous {
            let l = Login {
                user: SOAK_USER.into(),
                secret: SOAK_SECRET.into(),
                auth: AuthKind::Plain,
                ..login.clone()
            };
            if let Err(e) = login_cycle(&l, Instant::now() + Duration::from_secs(5)).await {
                ctx.fail(
                    SK_RELOADS,
                    format!("the user added by the reload cannot log in: {e}"),
                );
            }
        }
    }
    wr
}

/// One row of the sample table.
#[derive(Clone)]
struct SoakSample {
    /// `before`, `<t> s` or `after`.
    label: String,
    /// Seconds since the load started.
    t: f64,
    rss_kib: u64,
    fds: u64,
    threads: u64,
    tasks: Option<u64>,
    sessions: Option<u64>,
    channels: Option<u64>,
    ping_p99_us: Option<u64>,
    /// CPU of the host and of ami-bench since the previous sample, % of one core.
    host_cpu: Option<f64>,
    bench_cpu: Option<f64>,
    ops: u64,
    errors: u64,
}

/// CPU clock ticks of the host and of this process, and when they were read.
struct CpuMark {
    at: Instant,
    host: u64,
    bench: u64,
}

impl CpuMark {
    fn now(pid: u32) -> Option<CpuMark> {
        Some(CpuMark {
            at: Instant::now(),
            host: proc_cpu_ticks(pid).ok()?,
            bench: proc_cpu_ticks(std::process::id()).ok()?,
        })
    }

    /// Fills in `s`'s CPU figures since `self`, and moves the mark.
    fn update(&mut self, pid: u32, s: &mut SoakSample) {
        let Some(next) = CpuMark::now(pid) else {
            return;
        };
        let secs = next.at.duration_since(self.at).as_secs_f64();
        if secs > 0.0 {
            let pct = |a: u64, b: u64| b.saturating_sub(a) as f64 / CLOCK_TICKS / secs * 100.0;
            s.host_cpu = Some(pct(self.host, next.host));
            s.bench_cpu = Some(pct(self.bench, next.bench));
        }
        *self = next;
    }
}

/// A number after `label` on a line of a `Command` reply (1.0 prints the output raw,
/// the modern dialect as `Output:` headers).
fn command_value(reply: &[u8], label: &str) -> Option<u64> {
    String::from_utf8_lossy(reply).lines().find_map(|l| {
        let l = l.strip_prefix("Output: ").unwrap_or(l);
        l.strip_prefix(label)?.trim().parse().ok()
    })
}

/// `N active channel(s)` of `core show channels count`.
fn channels_value(reply: &[u8]) -> Option<u64> {
    String::from_utf8_lossy(reply).lines().find_map(|l| {
        let l = l.strip_prefix("Output: ").unwrap_or(l).trim();
        if l.ends_with("active channels") || l.ends_with("active channel") {
            l.split(' ').next()?.parse().ok()
        } else {
            None
        }
    })
}

fn fd_count(pid: u32) -> Result<u64, String> {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count() as u64)
        .map_err(|e| format!("/proc/{pid}/fd: {e}"))
}

/// Reads the host's numbers: /proc, then `core show tasks` and `core show channels
/// count` over the sampler session.
async fn soak_sample(
    ctx: Option<&SoakCtx>,
    pid: u32,
    sampler: &mut Conn,
    label: String,
    t: f64,
) -> Result<SoakSample, String> {
    let (rss_kib, threads) = proc_status(pid)?;
    let fds = fd_count(pid)?;
    let deadline = Instant::now() + Duration::from_secs(10);
    let tasks_reply = sampler
        .request(
            "Action: Command\r\nActionID: tasks\r\nCommand: core show tasks\r\n\r\n",
            deadline,
        )
        .await?;
    let channels_reply = sampler
        .request(
            "Action: Command\r\nActionID: chans\r\nCommand: core show channels count\r\n\r\n",
            deadline,
        )
        .await?;
    let ping_p99_us = ctx.and_then(|c| {
        let mut h = c.ping_hist.lock().ok()?;
        let p = (h.total > 0).then(|| h.us(0.99));
        *h = Hist::new();
        p
    });
    Ok(SoakSample {
        label,
        t,
        rss_kib,
        fds,
        threads,
        tasks: command_value(&tasks_reply, "Tokio tasks alive:"),
        sessions: command_value(&tasks_reply, "Manager sessions:"),
        channels: channels_value(&channels_reply),
        ping_p99_us,
        host_cpu: None,
        bench_cpu: None,
        ops: ctx.map(|c| c.total_ok()).unwrap_or(0),
        errors: ctx.map(|c| c.total_errors()).unwrap_or(0),
    })
}

const SOAK_TABLE_HEAD: &str = "      time   rss_kib    fds threads  tasks sessions channels ping_p99_us host_cpu% bench_cpu%        ops errors";

fn soak_row(s: &SoakSample) -> String {
    let opt = |v: Option<u64>| v.map(|v| v.to_string()).unwrap_or_else(|| "-".into());
    let pct = |v: Option<f64>| v.map(|v| format!("{v:.1}")).unwrap_or_else(|| "-".into());
    format!(
        "{:>10} {:>9} {:>6} {:>7} {:>6} {:>8} {:>8} {:>11} {:>9} {:>10} {:>10} {:>6}",
        s.label,
        s.rss_kib,
        s.fds,
        s.threads,
        opt(s.tasks),
        opt(s.sessions),
        opt(s.channels),
        opt(s.ping_p99_us),
        pct(s.host_cpu),
        pct(s.bench_cpu),
        s.ops,
        s.errors
    )
}

/// How one resource moved over the samples taken under load.
struct Trend {
    first: f64,
    last: f64,
    max: f64,
    /// Least-squares slope, per hour.
    slope_h: f64,
    /// The same over the last third of the samples (near 0 once a warm-up has settled).
    late_slope_h: f64,
    /// Medians of the first and the last third of the samples.
    early: f64,
    late: f64,
    /// The growth that counts as upward: `max(rel * early, abs)`.
    allowed: f64,
    up: bool,
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// The trend of `points` (seconds, value): upward when the median of the last third
/// exceeds the median of the first third by more than `max(rel * early, abs)` and the
/// least-squares slope is positive. Fewer than three points never count as upward.
fn trend(points: &[(f64, f64)], rel: f64, abs: f64) -> Option<Trend> {
    let n = points.len();
    let first = points.first()?.1;
    let last = points.last()?.1;
    let max = points.iter().map(|p| p.1).fold(f64::MIN, f64::max);
    let slope_h = slope_per_hour(points);
    let k = (n / 3).max(1);
    let late_slope_h = slope_per_hour(&points[n - k..]);
    let values: Vec<f64> = points.iter().map(|p| p.1).collect();
    let early = median(&values[..k]);
    let late = median(&values[n - k..]);
    let allowed = (rel * early).max(abs);
    Some(Trend {
        first,
        last,
        max,
        slope_h,
        late_slope_h,
        early,
        late,
        allowed,
        up: n >= 3 && slope_h > 0.0 && late - early > allowed,
    })
}

/// The least-squares slope of `points` (seconds, value), per hour; 0 for fewer than two.
fn slope_per_hour(points: &[(f64, f64)]) -> f64 {
    if points.len() < 2 {
        return 0.0;
    }
    let nf = points.len() as f64;
    let mt = points.iter().map(|p| p.0).sum::<f64>() / nf;
    let mv = points.iter().map(|p| p.1).sum::<f64>() / nf;
    let sxx: f64 = points.iter().map(|p| (p.0 - mt).powi(2)).sum();
    let sxy: f64 = points.iter().map(|p| (p.0 - mt) * (p.1 - mv)).sum();
    if sxx > 0.0 {
        sxy / sxx * 3600.0
    } else {
        0.0
    }
}

fn soak_drain(o: &Opts) -> Duration {
    o.drain.max(Duration::from_secs(10))
}

async fn scenario_soak(o: &Opts, pool: &Pool, probe: &Probe) -> Result<(String, bool), String> {
    // The soak sends SIGHUP to this process: it must be the one serving the port.
    let listening = find_pid(o.target.port());
    let pid = match (o.pid, listening) {
        (Some(p), Some(l)) if p != l => {
            return Err(format!(
                "--pid {p} is not the process listening on port {} (that is {l})",
                o.target.port()
            ))
        }
        (Some(p), _) | (None, Some(p)) => p,
        (None, None) => {
            return Err(format!(
                "cannot find the process listening on port {}; give --pid",
                o.target.port()
            ))
        }
    };
    // The plugin versions to swap between: the file as found, and the same with a custom
    // section appended.
    let swap = match &o.plugin_dir {
        Some(dir) => {
            let dest = dir.join(format!("{}.wasm", o.plugin_name));
            let original = std::fs::read(&dest).map_err(|e| format!("{}: {e}", dest.display()))?;
            let other = with_custom_section(&original, "ami-bench-soak", b"swapped version")
                .map_err(|e| format!("{}: {e}", dest.display()))?;
            Some((dir.clone(), Arc::new([original, other])))
        }
        None => None,
    };
    let config = match &o.config {
        Some(path) => Some((
            path.clone(),
            std::fs::read_to_string(path)
                .map_err(|e| format!("--config {}: {e}", path.display()))?,
        )),
        None => None,
    };
    let rate = |r: u64| {
        if r == 0 {
            "off".to_string()
        } else {
            format!("{r}/s")
        }
    };
    println!(
        "soak: {} s, a sample every {} s, server pid {pid}",
        secs(o.duration),
        secs(o.sample)
    );
    println!(
        "  pings {} over {} connection(s); UserEvents {} to {} listener(s); originate+hangup {} ({}); logins {} (plain and MD5 in turn)",
        rate(o.ping_rate),
        o.conns,
        rate(o.event_rate),
        o.listeners,
        rate(o.originate_rate),
        o.originate_channel,
        rate(o.login_rate),
    );
    println!(
        "  HTTP rawman sessions {}; plugin swaps {}; reloads every {} s (Command reload, Reload, SIGHUP in turn{})",
        match o.http {
            Some(h) if o.http_rate > 0 => format!("{} at {h}", rate(o.http_rate)),
            _ => "off (no --http)".into(),
        },
        match &o.plugin_dir {
            Some(d) => format!("every {} s ({}/{}.wasm)", secs(o.swap_every), d.display(), o.plugin_name),
            None => "off (no --plugin-dir)".into(),
        },
        secs(o.reload_every),
        if config.is_some() {
            "; the config file rewritten before each, adding and removing a user"
        } else {
            ""
        }
    );
    let base = Login {
        target: o.target,
        user: o.user.clone(),
        secret: o.secret.clone(),
        auth: AuthKind::Plain,
        events: "off",
    };
    let connect = |events: &'static str| {
        let l = Login {
            events,
            ..base.clone()
        };
        let deadline = Instant::now() + o.connect_timeout;
        async move {
            let mut c = Conn::open(l.target, deadline).await?;
            c.login(&l, deadline).await?;
            Ok::<Conn, String>(c)
        }
    };
    let mut sampler = connect("off")
        .await
        .map_err(|e| format!("sampler session: {e}"))?;
    let before = soak_sample(None, pid, &mut sampler, "before".into(), 0.0).await?;
    if before.tasks.is_none() {
        println!("  the server does not answer 'core show tasks': task counts are not sampled");
    }
    // The persistent sessions, logged in before the load starts.
    let mut pings = Vec::new();
    if o.ping_rate > 0 {
        for _ in 0..o.conns {
            pings.push(
                connect("off")
                    .await
                    .map_err(|e| format!("ping session: {e}"))?,
            );
        }
    }
    let mut listeners = Vec::new();
    let mut sender = None;
    if o.event_rate > 0 {
        for _ in 0..o.listeners {
            listeners.push(
                connect("user")
                    .await
                    .map_err(|e| format!("listener: {e}"))?,
            );
        }
        sender = Some(
            connect("off")
                .await
                .map_err(|e| format!("event sender: {e}"))?,
        );
    }
    let originator = if o.originate_rate > 0 {
        Some(
            connect("call")
                .await
                .map_err(|e| format!("originate session: {e}"))?,
        )
    } else {
        None
    };
    let system = connect("system")
        .await
        .map_err(|e| format!("system-events session: {e}"))?;
    let start = Instant::now();
    // The load goes on a moment past the last sample, so that sample sees it.
    let end = start + o.duration + Duration::from_millis(500);
    let drain_end = end + soak_drain(o);
    let mut cpu = CpuMark::now(pid);
    let ctx = Arc::new(SoakCtx::new(start, end, drain_end));
    let mut tasks = Vec::new();
    let n_pings = pings.len().max(1) as f64;
    for c in pings {
        tasks.push(pool.spawn(soak_pings(ctx.clone(), c, o.ping_rate as f64 / n_pings)));
    }
    for c in listeners {
        tasks.push(pool.spawn(soak_listener(ctx.clone(), c)));
    }
    if let Some(c) = sender {
        tasks.push(pool.spawn(soak_sender(ctx.clone(), c, o.event_rate as f64)));
    } else {
        ctx.ev_done.store(true, Ordering::Release);
    }
    if let Some(c) = originator {
        tasks.push(pool.spawn(soak_originates(
            ctx.clone(),
            c,
            o.originate_rate as f64,
            o.originate_channel.clone(),
        )));
    }
    if o.login_rate > 0 {
        tasks.push(pool.spawn(soak_logins(ctx.clone(), base.clone(), o.login_rate as f64)));
    }
    if let Some(h) = o.http {
        if o.http_rate > 0 {
            tasks.push(pool.spawn(soak_http(
                ctx.clone(),
                h,
                o.http_prefix.clone(),
                base.clone(),
                o.http_rate as f64,
            )));
        }
    }
    if let Some((dir, versions)) = &swap {
        tasks.push(pool.spawn(soak_swaps(
            ctx.clone(),
            dir.clone(),
            o.plugin_name.clone(),
            versions.clone(),
            o.swap_every,
        )));
    }
    let Conn { stream, buf, .. } = system;
    let (rd, wr) = stream.into_split();
    let (reply_tx, reply_rx) = tokio::sync::mpsc::unbounded_channel();
    let reader = pool.spawn(soak_system_reader(
        ctx.clone(),
        rd,
        buf,
        reply_tx,
        o.plugin_name.clone(),
    ));
    let reloads = pool.spawn(soak_reloads(
        ctx.clone(),
        ReloadJob {
            wr,
            replies: reply_rx,
            every: o.reload_every,
            pid,
            config: config.clone(),
            login: base.clone(),
        },
    ));

    println!("{SOAK_TABLE_HEAD}");
    println!("{}", soak_row(&before));
    let mut samples = Vec::new();
    let mut k = 1u32;
    loop {
        let at = (o.sample * k).min(o.duration);
        tokio::time::sleep_until(tokio_deadline(start + at)).await;
        let t = at.as_secs_f64();
        match soak_sample(Some(&ctx), pid, &mut sampler, format!("{} s", secs(at)), t).await {
            Ok(mut s) => {
                if let Some(c) = &mut cpu {
                    c.update(pid, &mut s);
                }
                println!("{}", soak_row(&s));
                samples.push(s);
            }
            Err(e) => ctx.fail(SK_SAMPLES, e),
        }
        if at >= o.duration {
            break;
        }
        k += 1;
    }

    // Drain: every stream ends, the listeners catch up, the host reports the last
    // reloads and swaps.
    for t in tasks {
        if join_by(t, drain_end + Duration::from_secs(5))
            .await
            .is_err()
        {
            ctx.fail(
                SK_SAMPLES,
                "a load task did not finish by the drain deadline",
            );
        }
    }
    let system_wr = join_by(reloads, drain_end + Duration::from_secs(5)).await;
    if system_wr.is_err() {
        ctx.fail(
            SK_SAMPLES,
            "the reload task did not finish by the drain deadline",
        );
    }
    let want_reloads = ctx.count(SK_RELOADS);
    let want_swaps = ctx.count(SK_SWAPS);
    while Instant::now() < drain_end
        && (ctx.reload_events.load(Ordering::Relaxed) < want_reloads
            || ctx.plugin_reloaded.load(Ordering::Relaxed)
                + ctx.plugin_failed.load(Ordering::Relaxed)
                < want_swaps)
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Log off the system-events session.
    ctx.system_closing.store(true, Ordering::Release);
    if let Ok(mut wr) = system_wr {
        let _ = tokio::time::timeout(
            Duration::from_secs(2),
            wr.write_all(b"Action: Logoff\r\n\r\n"),
        )
        .await;
    }
    let _ = join_by(reader, Instant::now() + Duration::from_secs(2)).await;
    let swaps_applied = ctx.plugin_reloaded.load(Ordering::Relaxed);
    let reloads_seen = ctx.reload_events.load(Ordering::Relaxed);
    if swaps_applied < want_swaps {
        ctx.fail(
            SK_SWAPS,
            format!("{want_swaps} swap(s) but the host reported {swaps_applied} PluginReloaded"),
        );
    }
    // Leave the files as they were found.
    let mut restored = Vec::new();
    if let Some((dir, versions)) = &swap {
        let dest = dir.join(format!("{}.wasm", o.plugin_name));
        if std::fs::read(&dest).ok().as_deref() != Some(&versions[0][..]) {
            match install(&versions[0], dir, &o.plugin_name) {
                Ok(()) => restored.push("plugin"),
                Err(e) => println!("could not put the original plugin back: {e}"),
            }
        }
    }
    if let Some((path, original)) = &config {
        if std::fs::read_to_string(path).ok().as_deref() != Some(original.as_str()) {
            match replace_file(path, original) {
                Ok(()) => restored.push("config"),
                Err(e) => println!("could not put the original config back: {e}"),
            }
        }
    }
    // Let the host finish closing the sessions, then sample once more.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = match soak_sample(
        Some(&ctx),
        pid,
        &mut sampler,
        "after".into(),
        o.duration.as_secs_f64(),
    )
    .await
    {
        Ok(mut s) => {
            if let Some(c) = &mut cpu {
                c.update(pid, &mut s);
            }
            println!("{}", soak_row(&s));
            Some(s)
        }
        Err(e) => {
            ctx.fail(SK_SAMPLES, e);
            None
        }
    };
    let _ = sampler
        .request(
            "Action: Logoff\r\nActionID: bye\r\n\r\n",
            Instant::now() + Duration::from_secs(2),
        )
        .await;
    if !restored.is_empty() {
        println!("put back the original {}", restored.join(" and "));
    }

    // Trends over the samples taken under load (after --warmup).
    let warm = o.warmup.as_secs_f64().min(o.duration.as_secs_f64() / 2.0);
    let used: Vec<&SoakSample> = samples.iter().filter(|s| s.t >= warm).collect();
    let rel = o.max_growth / 100.0;
    type Metric = (
        &'static str,
        &'static str,
        f64,
        fn(&SoakSample) -> Option<u64>,
    );
    let metrics: [Metric; 4] = [
        ("rss", "kib", 4096.0, |s| Some(s.rss_kib)),
        ("fds", "", 8.0, |s| Some(s.fds)),
        ("threads", "", 4.0, |s| Some(s.threads)),
        ("tasks", "", 16.0, |s| s.tasks),
    ];
    let mut up = Vec::new();
    let mut result_trends = String::new();
    println!(
        "trends over {} sample(s) under load (upward: last-third median above first-third median by more than max({}%, slack) with a positive slope):",
        used.len(),
        o.max_growth
    );
    for (name, unit, abs, get) in metrics {
        let points: Option<Vec<(f64, f64)>> = used
            .iter()
            .map(|s| get(s).map(|v| (s.t, v as f64)))
            .collect();
        let Some(t) = points.as_deref().and_then(|p| trend(p, rel, abs)) else {
            println!("  {name}: not sampled");
            continue;
        };
        let u = if unit.is_empty() {
            String::new()
        } else {
            format!("_{unit}")
        };
        println!(
            "  {name}: first {:.0} last {:.0} max {:.0}; slope {:+.1}/h (last third {:+.1}/h); medians {:.0} -> {:.0} ({:+.1} %, allowed +{:.0}): {}",
            t.first,
            t.last,
            t.max,
            t.slope_h,
            t.late_slope_h,
            t.early,
            t.late,
            if t.early > 0.0 { (t.late - t.early) / t.early * 100.0 } else { 0.0 },
            t.allowed,
            if t.up { "UPWARD" } else { "flat" }
        );
        if t.up {
            up.push(name);
        }
        result_trends.push_str(&format!(
            " {name}_first{u}={:.0} {name}_last{u}={:.0} {name}_max{u}={:.0} {name}_slope{u}_per_h={:.1} {name}_late_slope{u}_per_h={:.1} {name}_growth_pct={:.1}",
            t.first,
            t.last,
            t.max,
            t.slope_h,
            t.late_slope_h,
            if t.early > 0.0 { (t.late - t.early) / t.early * 100.0 } else { 0.0 },
        ));
    }
    for (s, name) in SK_NAMES.iter().enumerate() {
        let (ok, errors) = (ctx.count(s), ctx.errors_of(s));
        if ok + errors == 0 {
            continue;
        }
        let first = ctx.first_error[s]
            .lock()
            .ok()
            .and_then(|e| e.clone())
            .map(|e| format!(" (first: {e})"))
            .unwrap_or_default();
        println!("  {name:<14} {ok:>10} ok {errors:>6} errors{first}");
    }
    let lost = ctx.lost.load(Ordering::Relaxed);
    let dups = ctx.dups.load(Ordering::Relaxed);
    let errors = ctx.total_errors();
    let sessions_leaked = match (&after, before.sessions) {
        (Some(a), Some(b)) => a.sessions.is_some_and(|n| n > b),
        _ => false,
    };
    let channels_after = after.as_ref().and_then(|a| a.channels);
    let channels_left = channels_after.is_some_and(|n| n > 0);
    let reloads_missing = reloads_seen < want_reloads;
    let passed = errors == 0
        && lost == 0
        && up.is_empty()
        && !sessions_leaked
        && !channels_left
        && !reloads_missing
        && !used.is_empty();
    let verdict = if passed {
        "flat".to_string()
    } else {
        let mut why = Vec::new();
        if !up.is_empty() {
            why.push(format!("upward:{}", up.join(",")));
        }
        if errors > 0 {
            why.push(format!("errors:{errors}"));
        }
        if lost > 0 {
            why.push(format!("lost:{lost}"));
        }
        if sessions_leaked {
            why.push("sessions-left".into());
        }
        if channels_left {
            why.push("channels-left".into());
        }
        if reloads_missing {
            why.push("reload-events-missing".into());
        }
        if used.is_empty() {
            why.push("no-samples".into());
        }
        why.join(";")
    };
    println!("verdict: {verdict}");
    let opt = |v: Option<u64>| v.map(|v| v.to_string()).unwrap_or_else(|| "-".into());
    let all_p99 = samples.iter().filter_map(|s| s.ping_p99_us).max();
    let mean = |f: fn(&SoakSample) -> Option<f64>| {
        let v: Vec<f64> = samples.iter().filter_map(f).collect();
        if v.is_empty() {
            "-".to_string()
        } else {
            format!("{:.1}", v.iter().sum::<f64>() / v.len() as f64)
        }
    };
    let (host_cpu, bench_cpu) = (mean(|s| s.host_cpu), mean(|s| s.bench_cpu));
    let dialect = probe.dialect;
    let line = format!(
        "RESULT soak duration_s={} sample_s={} samples={} dialect={dialect} pid={pid}{result_trends} pings={} ping_p99_max_us={} events={} deliveries={} lost={lost} dups={dups} originates={} hangups={} logins={} logins_md5={} http_sessions={} swaps={} swaps_applied={swaps_applied} reloads={} reload_events={reloads_seen} sessions_before={} sessions_after={} channels_after={} host_cpu_pct={host_cpu} bench_cpu_pct={bench_cpu} errors={errors} verdict={verdict} client={}",
        secs(o.duration),
        secs(o.sample),
        used.len(),
        ctx.count(SK_PINGS),
        opt(all_p99),
        ctx.count(SK_EVENTS),
        ctx.count(SK_DELIVERIES),
        ctx.count(SK_ORIGINATES),
        ctx.count(SK_HANGUPS),
        ctx.count(SK_LOGINS),
        ctx.count(SK_LOGINS_MD5),
        ctx.count(SK_HTTP),
        ctx.count(SK_SWAPS),
        ctx.count(SK_RELOADS),
        opt(before.sessions),
        opt(after.as_ref().and_then(|a| a.sessions)),
        opt(channels_after),
        client_desc(o),
    );
    Ok((line, passed))
}

// ---------------------------------------------------------------------------------------
// main

fn budget(o: &Opts) -> Duration {
    // The probe session and the connect + login phase each have `connect_timeout`.
    let mut b = o.connect_timeout * 2 + o.warmup + o.duration + o.drain + Duration::from_secs(15);
    match o.scenario {
        Scenario::Swap => b += o.settle,
        Scenario::Logins => b += Duration::from_secs(5),
        Scenario::Idle => b += Duration::from_secs(5),
        Scenario::Soak => b += soak_drain(o) + Duration::from_secs(90),
        _ => {}
    }
    b
}

fn main() -> ExitCode {
    let opts = match parse_args(std::env::args().skip(1)) {
        Ok(o) => o,
        Err(msg) => {
            if msg.is_empty() {
                eprintln!("{USAGE}");
            } else {
                eprintln!("ami-bench: {msg} (ami-bench --help for the options)");
            }
            return ExitCode::from(2);
        }
    };
    // The watchdog: whatever happens, the process ends.
    let limit = budget(&opts);
    let name = opts.scenario.name();
    std::thread::spawn(move || {
        std::thread::sleep(limit);
        eprintln!(
            "ami-bench: giving up after {} s (the run overstayed its time budget)",
            limit.as_secs()
        );
        println!("RESULT {name} error=timeout");
        std::process::exit(3);
    });
    let pool = match Pool::new(opts.runtime, opts.threads) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("ami-bench: cannot start the client runtimes: {e}");
            return ExitCode::FAILURE;
        }
    };
    let main_rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("ami-bench: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "ami-bench {}: client {} (runtime {})",
        opts.scenario.name(),
        client_desc(&opts),
        match opts.runtime {
            RuntimeKind::PerCore => "one current-thread runtime per thread",
            RuntimeKind::Multi => "multi-thread",
        }
    );
    let result = main_rt.block_on(async {
        let probe = probe(&opts).await?;
        println!(
            "server: {} (session dialect {})",
            probe.banner, probe.dialect
        );
        let passed = |line: String| (line, true);
        match opts.scenario {
            Scenario::Ping => scenario_ping(&opts, &pool, &probe).await.map(passed),
            Scenario::Events => scenario_events(&opts, &pool, &probe).await.map(passed),
            Scenario::Logins => scenario_logins(&opts, &pool, &probe).await.map(passed),
            Scenario::Idle => scenario_idle(&opts, &pool, &probe).await.map(passed),
            Scenario::Swap => scenario_swap(&opts, &pool, &probe).await.map(passed),
            Scenario::Soak => scenario_soak(&opts, &pool, &probe).await,
        }
    });
    main_rt.shutdown_background();
    pool.shutdown();
    match result {
        Ok((line, passed)) => {
            println!("{line}");
            if passed {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("ami-bench: {e}");
            println!("RESULT {} error=1", opts.scenario.name());
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_round_trip() {
        for v in [0u64, 1, 127, 128, 129, 1000, 33_000, 1 << 40, u64::MAX / 2] {
            let i = Hist::index(v);
            assert!(i < BUCKETS, "{v}");
            let mid = Hist::value(i);
            let err = (mid as f64 - v as f64).abs() / (v.max(1) as f64);
            assert!(err < 0.02, "{v} -> {i} -> {mid}");
        }
        let mut h = Hist::new();
        for us in 1..=100u64 {
            h.record(Duration::from_micros(us));
        }
        assert_eq!(h.us(0.5), 50);
        assert_eq!(h.us(0.99), 99);
        assert_eq!(h.max_us(), 100);
    }

    #[test]
    fn finds_message_ends() {
        let buf = b"Response: Pong\r\nActionID: 7\r\n\r\nResponse: Po";
        let end = find_blank(buf).unwrap();
        assert_eq!(&buf[end..], b"Response: Po");
        assert_eq!(header(&buf[..end], "actionid").and_then(parse_u64), Some(7));
        assert_eq!(find_blank(b"Response: Pong\r\n"), None);
        let long = [b"x".repeat(100), b"\r\n\r\n".to_vec()].concat();
        assert_eq!(find_blank(&long), Some(104));
        assert_eq!(find_lf(b"abcdefghijklmno\n"), Some(15));
    }

    #[test]
    fn refuses_remote_targets() {
        assert!(parse_target("127.0.0.1:5038").is_ok());
        assert!(parse_target("[::1]:5038").is_ok());
        let e = parse_target("192.0.2.1:5038").unwrap_err();
        assert!(e.contains("non-loopback"), "{e}");
    }

    #[test]
    fn soak_trend_flags_only_real_growth() {
        let flat: Vec<(f64, f64)> = (0..30)
            .map(|i| {
                (
                    60.0 * i as f64,
                    40_000.0 + if i % 2 == 0 { 300.0 } else { 0.0 },
                )
            })
            .collect();
        let t = trend(&flat, 0.10, 4096.0).unwrap();
        assert!(!t.up, "slope {}", t.slope_h);
        assert_eq!((t.first, t.max), (40_300.0, 40_300.0));
        // +1 MiB a minute: upward.
        let leak: Vec<(f64, f64)> = (0..30)
            .map(|i| (60.0 * i as f64, 40_000.0 + 1024.0 * i as f64))
            .collect();
        let t = trend(&leak, 0.10, 4096.0).unwrap();
        assert!(t.up && (t.slope_h - 61_440.0).abs() < 1.0, "{}", t.slope_h);
        assert!(
            (t.late_slope_h - 61_440.0).abs() < 1.0,
            "{}",
            t.late_slope_h
        );
        // A step inside the slack is not a trend; two points never are.
        let step: Vec<(f64, f64)> = (0..9)
            .map(|i| (i as f64, if i < 4 { 50.0 } else { 53.0 }))
            .collect();
        assert!(!trend(&step, 0.10, 8.0).unwrap().up);
        assert!(!trend(&[(0.0, 1.0), (1.0, 100.0)], 0.0, 0.0).unwrap().up);
        assert!(trend(&[], 0.1, 1.0).is_none());
    }

    #[test]
    fn soak_helpers() {
        // A custom section appended: id 0, size, name length, name, payload.
        let wasm = b"\0asm\x0d\0\x01\0".to_vec();
        let out = with_custom_section(&wasm, "ab", b"xyz").unwrap();
        assert_eq!(&out[..8], &wasm[..]);
        assert_eq!(&out[8..], b"\0\x06\x02abxyz");
        assert!(with_custom_section(b"junk", "ab", b"").is_err());
        assert_eq!(
            cookie_session("mansession_id=\"6afa\"; Version=1; Max-Age=60").as_deref(),
            Some("6afa")
        );
        assert_eq!(cookie_session("other=1; mansession_id=\"\""), None);
        assert_eq!(url_encode("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
        let v1 = b"Response: Follows\r\nPrivilege: Command\r\nTokio tasks alive: 57\nManager sessions: 3\n--END COMMAND--\r\n\r\n";
        assert_eq!(command_value(v1, "Tokio tasks alive:"), Some(57));
        assert_eq!(command_value(v1, "Manager sessions:"), Some(3));
        let modern =
            b"Response: Success\r\nOutput: 2 active channels\r\nOutput: 1 active call\r\n\r\n";
        assert_eq!(channels_value(modern), Some(2));
        assert_eq!(channels_value(b"1 active channel\n"), Some(1));
        assert_eq!(
            command_value(b"No such command", "Tokio tasks alive:"),
            None
        );
        let mut p = Pacer::new(1000.0);
        let t0 = p.start;
        assert_eq!(p.due(t0 + Duration::from_millis(10)), 10);
        assert_eq!(p.due(t0 + Duration::from_millis(10)), 0);
        // After a stall, at most 100 ms' worth at once.
        assert_eq!(p.due(t0 + Duration::from_secs(5)), 100);
        assert_eq!(p.due(t0 + Duration::from_millis(5010)), 10);
    }

    #[test]
    fn soak_options() {
        let args = |a: &str| a.split(' ').map(String::from).collect::<Vec<_>>();
        let o = parse_args(args(
            "soak --duration 20 --sample 5 --swap-plugin ping --http 127.0.0.1:8088",
        ))
        .unwrap();
        assert_eq!(o.scenario, Scenario::Soak);
        assert_eq!((o.conns, o.listeners), (2, 4));
        assert_eq!(o.sample, Duration::from_secs(5));
        assert!(parse_args(args("soak --duration 20 --sample 30")).is_err());
        let e = parse_args(args("soak --http 192.0.2.1:8088")).unwrap_err();
        assert!(e.contains("non-loopback"), "{e}");
        assert_eq!(parse_args(args("events")).unwrap().listeners, 1);
    }

    #[test]
    fn numbers() {
        let mut v = Vec::new();
        push_u64(&mut v, 0);
        v.push(b' ');
        push_u64(&mut v, 18_446_744_073_709_551_615);
        assert_eq!(v, b"0 18446744073709551615");
        assert_eq!(parse_u64(b"123"), Some(123));
        assert_eq!(parse_u64(b"12a"), None);
    }
}
