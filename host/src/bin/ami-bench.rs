//! `ami-bench`: a load generator for an AMI server on this machine.
//!
//! ```text
//! ami-bench ping   [--conns N] [--depth N]
//! ami-bench events [--listeners N] [--senders N] [--window N] [--payload-headers N]
//! ami-bench logins [--auth plain|md5] [--workers N]
//! ami-bench idle   [--conns N] [--pid PID] [--concurrency N]
//! ami-bench swap   --plugin-dir DIR --swap-from FILE --swap-to FILE [--plugin-name NAME]
//!                  [--conns N] [--depth N] [--swap-at SECS] [--swap-window SECS]
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
                                       --payload-headers N (0)
  logins   connect+Login+Logoff cycles --auth plain|md5 (plain) --workers N (8)
  idle     idle logged-in sessions     --conns N (1000) --pid PID (else found from the port)
                                       --concurrency N (1000 connects in flight)
  swap     ping load while a plugin file is replaced
           --plugin-dir DIR --swap-from FILE --swap-to FILE --plugin-name NAME (ping)
           --conns N (8) --depth N (16) --swap-at SECS (half the run) --swap-window SECS (1)
           --settle SECS (1)

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
}

impl Scenario {
    fn name(self) -> &'static str {
        match self {
            Scenario::Ping => "ping",
            Scenario::Events => "events",
            Scenario::Logins => "logins",
            Scenario::Idle => "idle",
            Scenario::Swap => "swap",
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
    let addrs: Vec<SocketAddr> = text
        .to_socket_addrs()
        .map_err(|e| format!("--target: \"{text}\" is not HOST:PORT ({e})"))?
        .collect();
    let Some(first) = addrs.first().copied() else {
        return Err(format!("--target: \"{text}\" resolves to no address"));
    };
    if let Some(bad) = addrs.iter().find(|a| !a.ip().is_loopback()) {
        return Err(format!(
            "--target {text}: refusing non-loopback address {bad}; ami-bench floods the \
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
        listeners: 1,
        senders: 1,
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
            "--plugin-name" => o.plugin_name = v,
            "--swap-at" => o.swap_at = Some(parse_secs(f, &v)?),
            "--swap-window" => o.swap_window = parse_secs(f, &v)?,
            "--settle" => o.settle = parse_secs(f, &v)?,
            other => return Err(format!("unknown option \"{other}\"")),
        }
    }
    if o.duration.is_zero() {
        return Err("--duration must be more than 0".into());
    }
    let (conns, depth) = match scenario {
        Scenario::Idle => (1000, 1),
        Scenario::Swap => (8, 16),
        _ => (1, 1),
    };
    if o.conns == 0 {
        o.conns = conns;
    }
    if o.depth == 0 {
        o.depth = depth;
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
    if let Some(e) = &first_error {
        println!("first problem: {e}");
    }
    Ok(format!(
        "RESULT events listeners={} senders={} window={} payload_headers={} dialect={dialect} duration_s={} events={sent_in_window} events_rate={ev_rate:.0} deliveries={in_window} deliveries_rate={del_rate:.0} delay_p50_us={} delay_p90_us={} delay_p99_us={} delay_max_us={} lost={lost} dups={dups} errors={errors} closed={closed} client={}",
        o.listeners,
        o.senders,
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
    let permits = Arc::new(Semaphore::new(o.concurrency));
    let (close_tx, close_rx) = watch::channel(false);
    let t0 = Instant::now();
    let tasks: Vec<_> = (0..o.conns)
        .map(|_| {
            pool.spawn(idle_conn(
                login.clone(),
                deadline,
                permits.clone(),
                close_rx.clone(),
            ))
        })
        .collect();
    let mut conns = Vec::with_capacity(o.conns);
    let mut connect = Hist::new();
    let (mut failed, mut first_error) = (0u64, None);
    for t in tasks {
        match join_by(t, deadline + Duration::from_secs(2)).await {
            Ok(Ok(c)) => {
                connect.record(c.connect);
                conns.push(c);
            }
            Ok(Err(e)) => {
                failed += 1;
                first_error.get_or_insert(e);
            }
            Err(()) => failed += 1,
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
    let alive = conns.iter().filter(|c| !c.task.is_finished()).count();
    close_tx.send_replace(true);
    for c in conns {
        let _ = join_by(c.task, Instant::now() + Duration::from_secs(2)).await;
    }
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
// main

fn budget(o: &Opts) -> Duration {
    // The probe session and the connect + login phase each have `connect_timeout`.
    let mut b = o.connect_timeout * 2 + o.warmup + o.duration + o.drain + Duration::from_secs(15);
    match o.scenario {
        Scenario::Swap => b += o.settle,
        Scenario::Logins => b += Duration::from_secs(5),
        Scenario::Idle => b += Duration::from_secs(5),
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
        match opts.scenario {
            Scenario::Ping => scenario_ping(&opts, &pool, &probe).await,
            Scenario::Events => scenario_events(&opts, &pool, &probe).await,
            Scenario::Logins => scenario_logins(&opts, &pool, &probe).await,
            Scenario::Idle => scenario_idle(&opts, &pool, &probe).await,
            Scenario::Swap => scenario_swap(&opts, &pool, &probe).await,
        }
    });
    main_rt.shutdown_background();
    pool.shutdown();
    match result {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
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
