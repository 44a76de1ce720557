//! One task per TCP connection: reads requests, dispatches them in order, writes replies
//! and the events the session may see. The task owns the socket's write half, so writes
//! need no lock; events are written between replies, never inside one.
//!
//! Dispatch follows Asterisk 1.4's `process_message`: missing `Action`; before login only
//! Challenge, Login and Logoff; after login, Login again, then the registry lookup, the
//! permission check and the call into the plugin.
//!
//! Slow consumers: a session's events come from the bus's bounded ring. A session that
//! falls further behind than the ring holds is closed (`block-sockets = no`, the default,
//! as Asterisk drops a client that cannot take an event in time), or keeps going without
//! the events it missed (`block-sockets = yes`); either way it is logged, and no other
//! session or producer ever waits for it. A session whose socket stops taking events
//! (the peer does not read) is closed once one write of events has been blocked for its
//! `writetimeout` (per user, else `[general]`); replies alone are not bounded.
//!
//! Hostile clients: once the first byte of a request has arrived, the whole request must
//! arrive within `messagetimeout`, logged in or not, so a client trickling bytes cannot
//! hold a session's buffers. Until it logs in, a TCP session counts against `authlimit` (see
//! [`crate::admission`]) and is closed `authtimeout` seconds after its connect, however
//! it trickles bytes; its writes are bounded by the same deadline. Logins from an address
//! that used up its failure budget are refused without checking the secret.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::{BufMut, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::admission::{Budget, UnauthGuard};
use crate::auth;
use crate::busypoll::Pacer;
use crate::codec::{Decoder, Frame};
use crate::dialect::Dialect;
use crate::events::{put_header, Event, EventStream, Missed};
use crate::message::Message;
use crate::plugins::{CallContext, InstanceCache};
use crate::privilege::{parse_event_mask, Privilege};
use crate::registry::Provider;
use crate::response::{send_ack, send_error, send_response};
use crate::state::{AuthState, SessionInfo, Shared, Transport};

/// Delay before answering a failed login (as Asterisk does), without blocking anything.
const LOGIN_FAILURE_DELAY: Duration = Duration::from_secs(1);

/// Events written per wake-up before going back to read requests.
const EVENT_BATCH: usize = 256;

/// Whether the session goes on after a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Keep serving.
    Continue,
    /// Close once the output is written.
    Close,
}

/// Per-connection state the dispatcher works on (transport-independent, so AMI over HTTP
/// can drive the same dispatch).
pub struct Session {
    /// The shared view of this session (table entry).
    pub info: Arc<SessionInfo>,
    /// Nonce issued by Challenge, kept for the session's life as Asterisk does.
    pub challenge: Option<String>,
    /// The event stream, present once logged in. Boxed: it is lent to every plugin call,
    /// and inline it would be carried at its full size by each call's future and so by
    /// every session's task.
    pub events: Option<Box<EventStream>>,
    /// Live plugin instances of this session (see [`InstanceCache`]).
    pub instances: InstanceCache,
    /// Counts this session against `authlimit` until it logs in (TCP only).
    pub unauth: Option<UnauthGuard>,
    /// How long an event write may stay blocked (`writetimeout`), set at login.
    pub write_timeout: Option<Duration>,
    /// The session's authentication state: the same as `info`'s, which only this
    /// session changes (at login), kept here so a request need not lock to read it.
    auth: Arc<AuthState>,
    /// The action registry as last read, with its generation.
    registry: Option<(u64, Arc<crate::registry::Registry>)>,
}

impl Session {
    /// A new session for `peer`, registered in the session table.
    pub fn new(shared: &Shared, peer: SocketAddr, transport: Transport) -> Session {
        let dialect = shared.config().general.dialect;
        let mask = match transport {
            Transport::Tcp => Privilege::ALL,
            Transport::Http => Privilege::NONE,
        };
        let info = Arc::new(SessionInfo::new(peer, transport, dialect, mask));
        shared.sessions.insert(info.clone());
        Session::beside(info)
    }

    /// A handle on the session `info` without an event stream: a new session's first
    /// state, and for AMI over HTTP a request that runs beside a long poll.
    pub fn beside(info: Arc<SessionInfo>) -> Session {
        Session {
            auth: info.auth(),
            registry: None,
            info,
            challenge: None,
            events: None,
            instances: InstanceCache::default(),
            unauth: None,
            write_timeout: None,
        }
    }

    /// Rereads the authentication state from the session table (it changes when another
    /// handle on the same session logs in).
    pub fn refresh_auth(&mut self) {
        self.auth = self.info.auth();
    }

    /// Handles one request, appending every byte of output to `out`.
    pub async fn dispatch(
        &mut self,
        shared: &Arc<Shared>,
        req: Message,
        out: &mut BytesMut,
    ) -> Flow {
        let auth = self.auth.clone();
        let dialect = auth.dialect;
        let action = req.header("Action");
        if action.is_empty() {
            send_error(out, &req, "Missing action in request");
            return Flow::Continue;
        }
        if !auth.authenticated {
            return self
                .dispatch_unauthenticated(shared, action, &req, out)
                .await;
        }
        if action.eq_ignore_ascii_case("Login") {
            send_ack(out, &req, "Already logged in");
            return Flow::Continue;
        }
        if action.eq_ignore_ascii_case("Challenge") && dialect == Dialect::Modern {
            self.challenge(&req, out);
            return Flow::Continue;
        }
        let registry = shared.registry_cached(&mut self.registry);
        let entry = match registry.get(action) {
            Some(e) if !matches!(e.provider, Provider::Session) => e.clone(),
            _ => {
                match dialect {
                    Dialect::V1 => send_error(out, &req, "Invalid/unknown command"),
                    Dialect::Modern => send_error(
                        out,
                        &req,
                        &format!(
                            "Invalid/unknown command: {action}. Use Action: ListCommands to show available commands."
                        ),
                    ),
                }
                return Flow::Continue;
            }
        };
        if !entry.info.allowed(dialect, auth.write) {
            send_error(out, &req, "Permission denied");
            return Flow::Continue;
        }
        let Provider::Plugin(plugin) = &entry.provider else {
            return Flow::Continue;
        };
        let caller = CallContext {
            session: &self.info,
            auth: &auth,
        };
        let events = self.events.take();
        let (result, events) = plugin
            .invoke(
                &shared.runtime,
                shared,
                caller,
                &entry.info.name,
                &req,
                events,
                &mut self.instances,
                out,
            )
            .await;
        self.events = events;
        match result {
            Ok(true) => return Flow::Close,
            Ok(false) => {}
            Err(failure) => send_error(
                out,
                &req,
                &format!(
                    "Action {} failed: plugin {} {failure}",
                    entry.info.name, plugin.name
                ),
            ),
        }
        Flow::Continue
    }

    fn challenge(&mut self, req: &Message, out: &mut BytesMut) {
        if !req.header("AuthType").eq_ignore_ascii_case("md5") {
            send_error(out, req, "Must specify AuthType");
            return;
        }
        let nonce = self.challenge.get_or_insert_with(auth::new_challenge);
        put_header(out, "Response", "Success");
        if let Some(id) = req.action_id() {
            put_header(out, "ActionID", id);
        }
        put_header(out, "Challenge", nonce);
        out.put_slice(b"\r\n");
    }

    async fn dispatch_unauthenticated(
        &mut self,
        shared: &Arc<Shared>,
        action: &str,
        req: &Message,
        out: &mut BytesMut,
    ) -> Flow {
        let dialect = self.auth.dialect;
        if action.eq_ignore_ascii_case("Challenge") {
            self.challenge(req, out);
            Flow::Continue
        } else if action.eq_ignore_ascii_case("Login") {
            self.login(shared, req, out).await
        } else if action.eq_ignore_ascii_case("Logoff") {
            match dialect {
                Dialect::V1 => send_ack(out, req, "See ya"),
                Dialect::Modern => {
                    send_response(out, req, "Goodbye", Some("Thanks for all the fish."))
                }
            }
            Flow::Close
        } else {
            match dialect {
                Dialect::V1 => send_error(out, req, "Authentication Required"),
                Dialect::Modern => send_error(out, req, "Permission denied"),
            }
            Flow::Continue
        }
    }

    async fn login(&mut self, shared: &Arc<Shared>, req: &Message, out: &mut BytesMut) -> Flow {
        let config = shared.config();
        let ip = self.info.peer.ip();
        let general = &config.general;
        let window = Duration::from_secs(u64::from(general.loginfailurewindow));
        let now = std::time::Instant::now();
        if let Budget::Exhausted { warn } =
            shared
                .admission
                .login_budget(ip, general.loginfailures, window, now)
        {
            if warn {
                tracing::warn!(
                    peer = %ip,
                    "{ip} exceeded the login failure budget ({} failures within {} s); refusing its logins unchecked for the rest of the window",
                    general.loginfailures,
                    general.loginfailurewindow
                );
            } else {
                tracing::debug!(peer = %ip, "login from {ip} refused: failure budget exhausted");
            }
            tokio::time::sleep(LOGIN_FAILURE_DELAY).await;
            send_error(out, req, "Authentication failed");
            return Flow::Close;
        }
        let user = match auth::authenticate(&config, req, ip, self.challenge.as_deref()) {
            Ok(u) => u,
            Err(why) => {
                shared
                    .admission
                    .record_failure(ip, general.loginfailures, window, now);
                tracing::info!(peer = %ip, "{ip} {why}");
                tokio::time::sleep(LOGIN_FAILURE_DELAY).await;
                send_error(out, req, "Authentication failed");
                return Flow::Close;
            }
        };
        let dialect = user.dialect.unwrap_or(config.general.dialect);
        if let Some(mask) = parse_event_mask(req.header("Events")) {
            self.info.set_event_mask(mask);
        }
        self.auth = self.info.set_auth(AuthState {
            authenticated: true,
            username: user.name.clone(),
            read: user.read,
            write: user.write,
            dialect,
        });
        self.events = Some(Box::new(self.info.subscribe(&shared.bus)));
        self.unauth = None;
        self.write_timeout = Some(Duration::from_millis(
            user.writetimeout.unwrap_or(general.writetimeout),
        ));
        if config.general.displayconnects && user.displayconnects {
            let what = match self.info.transport {
                Transport::Tcp => "Manager",
                Transport::Http => "HTTP Manager",
            };
            tracing::info!(user = %user.name, peer = %ip, "{what} '{}' logged on from {ip}", user.name);
        }
        send_ack(out, req, "Authentication accepted");
        if dialect == Dialect::Modern {
            let (uptime, since_reload) = uptimes(shared);
            let booted = Event::new(
                Privilege::SYSTEM,
                "FullyBooted",
                vec![
                    ("Uptime".into(), uptime.to_string()),
                    ("LastReload".into(), since_reload.to_string()),
                    ("Status".into(), "Fully Booted".into()),
                ],
                config.general.timestampevents,
            );
            if booted.visible_to(dialect, user.read, self.info.event_mask()) {
                out.put_slice(&booted.bytes(dialect));
            }
        }
        Flow::Continue
    }

    /// Appends the queued events this session may see to `out` (at most `limit`).
    /// Returns `Err` when the session lost events and must close.
    pub fn drain_events(
        &mut self,
        shared: &Shared,
        out: &mut BytesMut,
        limit: usize,
    ) -> Result<(), Lost> {
        let Some(stream) = self.events.as_deref_mut() else {
            return Ok(());
        };
        if !stream.pending() {
            // Nothing for it: it gives up its place in the ring until something is.
            stream.rest();
            return Ok(());
        }
        let dialect = self.auth.dialect;
        for _ in 0..limit {
            match stream.try_next() {
                Ok(Some(ev)) => out.put_slice(&ev.bytes(dialect)),
                Ok(None) => break,
                Err(Missed(n)) => lagged(shared, &self.info, &self.auth, n)?,
            }
        }
        Ok(())
    }

    /// Whether events this session receives were published since it last read.
    fn events_waiting(&self) -> bool {
        self.events.as_deref().is_some_and(EventStream::pending)
    }

    /// Drops the session from the session table and logs the logoff.
    pub fn finish(&self, shared: &Shared) {
        shared.sessions.remove(&self.info.id);
        let auth = &self.auth;
        let config = shared.config();
        if !config.general.displayconnects {
            return;
        }
        let ip = self.info.peer.ip();
        if auth.authenticated {
            tracing::info!(user = %auth.username, peer = %ip, "Manager '{}' logged off from {ip}", auth.username);
        } else if self.info.transport == Transport::Tcp {
            tracing::info!(peer = %ip, "Connect attempt from '{ip}' unable to authenticate");
        }
    }
}

/// The session fell behind the event ring and must close.
#[derive(Debug)]
pub struct Lost(pub u64);

fn lagged(shared: &Shared, info: &SessionInfo, auth: &AuthState, n: u64) -> Result<(), Lost> {
    if shared.config().general.block_sockets {
        tracing::warn!(user = %auth.username, peer = %info.peer, missed = n, "slow session missed events");
        Ok(())
    } else {
        tracing::warn!(user = %auth.username, peer = %info.peer, missed = n, "slow session fell behind the event queue; closing it");
        Err(Lost(n))
    }
}

fn uptimes(shared: &Shared) -> (u64, u64) {
    let now = std::time::SystemTime::now();
    let reloaded = match shared.reloaded.lock() {
        Ok(t) => *t,
        Err(p) => *p.into_inner(),
    };
    (
        now.duration_since(shared.started)
            .unwrap_or_default()
            .as_secs(),
        now.duration_since(reloaded).unwrap_or_default().as_secs(),
    )
}

/// Serves one TCP connection until the peer leaves, Logoff, a failed login, shutdown,
/// `authtimeout` (not logged in in time) or `writetimeout` (an event write blocked too
/// long). `unauth` counts the session against `authlimit` until it logs in.
pub async fn serve(
    shared: Arc<Shared>,
    stream: TcpStream,
    peer: SocketAddr,
    unauth: Option<UnauthGuard>,
    mut shutdown: watch::Receiver<bool>,
) {
    let connected = Instant::now();
    let _ = stream.set_nodelay(true);
    let mut session = Session::new(&shared, peer, Transport::Tcp);
    session.unauth = unauth;
    let result = run(&shared, &mut session, stream, connected, &mut shutdown).await;
    if let Err(e) = result {
        tracing::debug!(peer = %peer, error = %e, "session ended with an I/O error");
    }
    session.unauth = None;
    session.finish(&shared);
}

/// Why a bounded write did not finish.
enum Stalled {
    /// The login deadline passed.
    AuthTimeout,
    /// An event write was blocked for `writetimeout`.
    WriteTimeout(Duration),
}

/// The login deadline of an unauthenticated session (`authtimeout` as configured now,
/// counted from the connect), or `None` once logged in.
fn auth_deadline(shared: &Shared, session: &Session, connected: Instant) -> Option<Instant> {
    if session.auth.authenticated {
        return None;
    }
    let secs = u64::from(shared.config().general.authtimeout);
    Some(connected + Duration::from_secs(secs))
}

/// Writes `buf`. Before login the write is bounded by the login deadline; after login,
/// a write carrying events is bounded by the session's `writetimeout`; replies alone are
/// not bounded.
async fn write_bounded(
    writer: &mut OwnedWriteHalf,
    buf: &[u8],
    session: &Session,
    auth_deadline: Option<Instant>,
    has_events: bool,
) -> std::io::Result<Result<(), Stalled>> {
    let (deadline, stalled) = match (auth_deadline, session.write_timeout) {
        (Some(d), _) => (d, Stalled::AuthTimeout),
        (None, Some(wt)) if has_events => (Instant::now() + wt, Stalled::WriteTimeout(wt)),
        _ => {
            writer.write_all(buf).await?;
            return Ok(Ok(()));
        }
    };
    match tokio::time::timeout_at(deadline, writer.write_all(buf)).await {
        Ok(r) => r.map(Ok),
        Err(_) => Ok(Err(stalled)),
    }
}

fn log_stalled(session: &Session, why: &Stalled) {
    let peer = session.info.peer;
    match why {
        Stalled::AuthTimeout => {
            tracing::info!(peer = %peer, "{peer} did not log in within authtimeout; closing the connection");
        }
        Stalled::WriteTimeout(wt) => {
            let user = &session.auth.username;
            tracing::warn!(
                user = %user,
                peer = %peer,
                "Manager '{user}' at {peer}: an event write was blocked for {} ms (writetimeout); closing the session",
                wt.as_millis()
            );
        }
    }
}

async fn run(
    shared: &Arc<Shared>,
    session: &mut Session,
    stream: TcpStream,
    connected: Instant,
    shutdown: &mut watch::Receiver<bool>,
) -> std::io::Result<()> {
    let (mut reader, mut writer) = stream.into_split();
    let dialect = session.auth.dialect;
    let deadline = auth_deadline(shared, session, connected);
    if let Err(why) = write_bounded(
        &mut writer,
        dialect.banner().as_bytes(),
        session,
        deadline,
        false,
    )
    .await?
    {
        log_stalled(session, &why);
        return Ok(());
    }

    let mut decoder = Decoder::new();
    let mut inbuf = BytesMut::with_capacity(ReadRoom::MIN);
    let mut room = ReadRoom::default();
    let mut out = BytesMut::with_capacity(1024);
    // Whether `out` holds event bytes (which makes its write subject to writetimeout).
    let mut has_events = false;
    macro_rules! flush {
        () => {{
            let deadline = auth_deadline(shared, session, connected);
            let wrote =
                write_bounded(&mut writer, &out, session, deadline, take(&mut has_events)).await?;
            out.clear();
            if let Err(why) = wrote {
                log_stalled(session, &why);
                return Ok(());
            }
        }};
    }
    macro_rules! drain {
        () => {{
            let before = out.len();
            let lost = session.drain_events(shared, &mut out, EVENT_BATCH).is_err();
            has_events |= out.len() > before;
            lost
        }};
    }
    // When the request now arriving began, and when it must be complete by.
    let mut message_deadline: Option<Instant> = None;
    let busypoll = u64::from(shared.config().general.busypoll);
    let mut pacer = Pacer::new(Duration::from_micros(busypoll));
    loop {
        // Serve every complete request already buffered, in order, then flush once.
        let mut answered = 0usize;
        while let Some(frame) = decoder.decode(&mut inbuf) {
            answered += 1;
            message_deadline = None;
            let flow = match frame {
                Frame::Message(lines) => {
                    let req = Message::parse(lines, session.auth.dialect);
                    session.dispatch(shared, req, &mut out).await
                }
                Frame::Rejected { reason, lines } => {
                    let req = Message::parse(lines, session.auth.dialect);
                    tracing::warn!(peer = %session.info.peer, reason = %reason.message(), "rejected request");
                    send_error(&mut out, &req, &reason.message());
                    Flow::Continue
                }
            };
            if flow == Flow::Close {
                flush!();
                let _ = writer.shutdown().await;
                return Ok(());
            }
            if drain!() {
                flush!();
                return Ok(());
            }
            if out.len() >= 64 * 1024 {
                flush!();
            }
        }
        if !out.is_empty() {
            flush!();
            if out.capacity() > 256 * 1024 {
                out = BytesMut::with_capacity(1024);
            }
        }
        // A client that sent one request and waits for its reply before the next is worth
        // polling for; one that pipelines sends the next requests while this batch is
        // served, and a poll would only keep this worker from the other sessions.
        if answered == 1 && session.auth.authenticated {
            if let Some(window) = pacer.replied() {
                match poll_briefly(shared, session, &reader, &mut inbuf, &mut room, window).await? {
                    Polled::Request | Polled::Events => {
                        pacer.polled(true);
                        continue;
                    }
                    Polled::Closed => return Ok(()),
                    Polled::Nothing => pacer.polled(false),
                    Polled::Busy => {}
                }
            }
        }
        if !decoder.message_pending(&inbuf) {
            message_deadline = None;
        } else if message_deadline.is_none() {
            let secs = u64::from(shared.config().general.messagetimeout);
            message_deadline = Some(Instant::now() + Duration::from_secs(secs));
        }

        let deadline = auth_deadline(shared, session, connected);
        let events = session.events.as_deref_mut();
        let spare = room.prepare(&mut inbuf);
        tokio::select! {
            biased;
            _ = shutdown.changed() => {
                // Events emitted before the stop (the Shutdown event) still go out.
                let _ = drain!();
                if !out.is_empty() {
                    flush!();
                }
                return Ok(());
            }
            _ = sleep_until_opt(deadline) => {
                log_stalled(session, &Stalled::AuthTimeout);
                return Ok(());
            }
            _ = sleep_until_opt(message_deadline) => {
                let peer = session.info.peer;
                tracing::info!(
                    user = %session.auth.username,
                    peer = %peer,
                    "{peer}: a request took longer than messagetimeout to arrive; closing the connection"
                );
                return Ok(());
            }
            read = reader.read_buf(&mut inbuf) => {
                match read? {
                    0 => return Ok(()),
                    n => room.read(n, spare),
                }
            }
            () = ready(events) => {
                if drain!() {
                    flush!();
                    return Ok(());
                }
            }
        }
    }
}

/// Sizes a session's read buffer. It starts at [`ReadRoom::MIN`]. A read that fills the
/// room it had doubles the room for the next read (up to [`ReadRoom::MAX`]), so a client
/// pipelining many requests is read in few syscalls, and the replies to a whole read go
/// out in one write. A short read sets it back to the minimum, and the buffer itself
/// goes back to the minimum once it is read out. No I/O here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ReadRoom {
    room: usize,
}

impl Default for ReadRoom {
    fn default() -> Self {
        ReadRoom {
            room: ReadRoom::MIN,
        }
    }
}

impl ReadRoom {
    /// The room for a read at first and after a short read.
    pub(crate) const MIN: usize = 1024;
    /// The most room a read is given.
    pub(crate) const MAX: usize = 64 * 1024;

    /// Makes room in `buf` for the next read; returns the room there is.
    pub(crate) fn prepare(&self, buf: &mut BytesMut) -> usize {
        if buf.is_empty() && buf.capacity() > 4 * self.room {
            *buf = BytesMut::with_capacity(self.room);
        } else {
            buf.reserve(self.room);
        }
        buf.capacity() - buf.len()
    }

    /// A read of `n` bytes was made with `spare` bytes of room.
    pub(crate) fn read(&mut self, n: usize, spare: usize) {
        self.room = if n >= spare {
            (self.room * 2).min(ReadRoom::MAX)
        } else if n < ReadRoom::MIN {
            ReadRoom::MIN
        } else {
            self.room
        };
    }
}

/// What [`poll_briefly`] found.
enum Polled {
    /// Request bytes, now in the input buffer.
    Request,
    /// The peer closed the connection.
    Closed,
    /// Events for the session.
    Events,
    /// Nothing within the window.
    Nothing,
    /// No polling slot was free.
    Busy,
}

/// Busy polling (see [`crate::busypoll`]): reads the socket without sleeping, yielding
/// between attempts, until a request or an event arrives or `window` passes. Does nothing
/// when the most sessions allowed to poll at once already do.
async fn poll_briefly(
    shared: &Shared,
    session: &Session,
    reader: &OwnedReadHalf,
    inbuf: &mut BytesMut,
    room: &mut ReadRoom,
    window: Duration,
) -> std::io::Result<Polled> {
    let Some(_slot) = shared.spinners.try_acquire() else {
        return Ok(Polled::Busy);
    };
    let until = std::time::Instant::now() + window;
    loop {
        let spare = room.prepare(inbuf);
        match reader.try_read_buf(inbuf) {
            Ok(0) => return Ok(Polled::Closed),
            Ok(n) => {
                room.read(n, spare);
                return Ok(Polled::Request);
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
        if session.events_waiting() {
            return Ok(Polled::Events);
        }
        if std::time::Instant::now() >= until {
            return Ok(Polled::Nothing);
        }
        // Let the other threads on this CPU (the client's, often) run, then this
        // worker's other tasks; the runtime polls the sockets' readiness meanwhile.
        std::thread::yield_now();
        tokio::task::yield_now().await;
    }
}

/// The flag's value, leaving it false.
fn take(flag: &mut bool) -> bool {
    std::mem::take(flag)
}

async fn sleep_until_opt(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// Waits for events the session receives (forever without a stream).
async fn ready(stream: Option<&mut EventStream>) {
    match stream {
        Some(stream) => stream.ready().await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads `n` bytes into `buf` as a socket read would, returning the room it had.
    fn read_into(room: &mut ReadRoom, buf: &mut BytesMut, n: usize) -> usize {
        let spare = room.prepare(buf);
        let n = n.min(spare);
        buf.put_bytes(b'x', n);
        room.read(n, spare);
        spare
    }

    #[test]
    fn reads_that_fill_the_room_double_it_up_to_the_most() {
        let mut room = ReadRoom::default();
        let mut buf = BytesMut::with_capacity(ReadRoom::MIN);
        let mut spares = Vec::new();
        for _ in 0..10 {
            spares.push(read_into(&mut room, &mut buf, usize::MAX));
            buf.clear();
        }
        assert_eq!(spares[0], ReadRoom::MIN);
        assert!(spares[1] >= 2 * ReadRoom::MIN, "{spares:?}");
        assert!(spares.windows(2).all(|w| w[1] >= w[0]), "{spares:?}");
        assert_eq!(room.room, ReadRoom::MAX);
        assert!(buf.capacity() <= 2 * ReadRoom::MAX, "{}", buf.capacity());
    }

    #[test]
    fn a_short_read_sets_the_room_back_and_an_empty_buffer_shrinks() {
        let mut room = ReadRoom::default();
        let mut buf = BytesMut::with_capacity(ReadRoom::MIN);
        for _ in 0..8 {
            read_into(&mut room, &mut buf, usize::MAX);
            buf.clear();
        }
        assert!(buf.capacity() >= ReadRoom::MAX / 2);
        read_into(&mut room, &mut buf, 100);
        assert_eq!(room.room, ReadRoom::MIN);
        // Bytes still buffered are kept; once read out, the buffer is small again.
        room.prepare(&mut buf);
        assert_eq!(buf.len(), 100);
        buf.clear();
        room.prepare(&mut buf);
        assert!(buf.capacity() < 4 * ReadRoom::MIN, "{}", buf.capacity());
    }

    #[test]
    fn a_read_between_the_least_and_the_room_keeps_it() {
        let mut room = ReadRoom::default();
        let mut buf = BytesMut::new();
        read_into(&mut room, &mut buf, usize::MAX);
        buf.clear();
        let kept = room.room;
        read_into(&mut room, &mut buf, ReadRoom::MIN + 10);
        assert_eq!(room.room, kept);
        assert_eq!(buf.len(), ReadRoom::MIN + 10);
    }
}
