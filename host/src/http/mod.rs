//! AMI over HTTP (AMI-1.0 §7): `/<prefix>/rawman`, `/<prefix>/manager` and
//! `/<prefix>/mxml`, served by axum on hyper.
//!
//! A GET's query parameters, or a POST's form body (after any query parameters), become
//! one AMI message, dispatched exactly as a TCP request is ([`Session::dispatch`]: same
//! registry, plugins, permission checks, and ACLs against the HTTP peer's address). The
//! session is the one the `mansession_id` cookie names ([`sessions`]). The answer is the
//! AMI output followed by the session's queued events that pass its read classes and
//! event mask: as raw AMI text (`rawman`), an HTML table (`manager`) or XML (`mxml`)
//! ([`render`]). Output of nothing (a WaitEvent abandoned for a newer one) is a `200`
//! with an empty body, and every `200` carries the cookie.
//!
//! Status codes: `404` for any other path, and for the manager paths while
//! `[general] webenabled` (checked per request, so a reload applies at once) is off;
//! `405` for methods other than GET and POST (HEAD too: a request runs an action);
//! `400` for a malformed query or body; `413` for a body over [`MAX_BODY`]; `415` for a
//! POST body that is not `application/x-www-form-urlencoded`. Parameters past the AMI
//! limits ([`codec::MAX_HEADERS`], [`codec::MAX_LINE`]) get the same AMI error a TCP
//! client gets. Before any of this, hyper bounds the request head: `414` for a request
//! target longer than 65 534 bytes (so a query string is never longer), `431` for a
//! head over its read buffer (about 400 KiB) or with more than 100 header lines.
//!
//! Events and the bounded queue: an HTTP session collects events once logged in, through
//! the event bus's ring (`[general] eventqueue` entries, shared by all sessions, so an
//! idle HTTP session costs no memory of its own); they ride on its next response, or
//! wake its WaitEvent. When more events arrive between two requests than the ring holds,
//! the session loses the oldest: it gets the newest `eventqueue` events, the loss is
//! logged with its count (a warning when its event mask lets events through), the client
//! is told nothing in-band (AMI 1.0 has no message for it), and the session goes on.
//! `block-sockets` does not apply: nothing is ever written to an HTTP client outside its
//! own requests, so there is no slow socket to drop.

pub mod render;
pub mod request;
pub mod sessions;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::header::{ALLOW, CACHE_CONTROL, CONTENT_TYPE, COOKIE, SET_COOKIE};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::Response;
use axum::Router;
use bytes::{BufMut, BytesMut};
use tokio::sync::watch;

use crate::codec;
use crate::events::Missed;
use crate::message::Message;
use crate::response::send_error;
use crate::session::{Flow, Session};
use crate::state::Shared;
use request::{Format, Malformed};
use sessions::{HttpSessions, Lease};

/// Largest accepted POST body.
pub const MAX_BODY: usize = 64 * 1024;

/// How long [`HttpServer::stop`] waits for running requests.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// How often expired sessions are looked for.
const REAP_PERIOD: Duration = Duration::from_secs(1);

/// What the handlers share: the host and the HTTP session table. Cheap to clone.
#[derive(Clone)]
pub struct HttpState {
    /// The host.
    pub shared: Arc<Shared>,
    /// The HTTP sessions.
    pub sessions: Arc<HttpSessions>,
}

impl HttpState {
    /// A state with no session yet.
    pub fn new(shared: Arc<Shared>) -> HttpState {
        HttpState {
            shared,
            sessions: Arc::new(HttpSessions::default()),
        }
    }

    /// Removes expired sessions (what the background task runs each second).
    pub fn expire_sessions(&self) -> usize {
        let lifetime = lifetime(&self.shared);
        self.sessions.expire(&self.shared, lifetime)
    }
}

fn lifetime(shared: &Shared) -> Duration {
    Duration::from_secs(u64::from(shared.config().general.httptimeout))
}

/// The HTTP service. Every path goes to one handler, which matches the manager paths
/// itself (case-insensitively, after %-decoding, as §7.1 says). Serve it with
/// `into_make_service_with_connect_info::<SocketAddr>()` (tests: a `MockConnectInfo`
/// layer): the peer address is needed for ACLs, and a request without it is answered
/// `500`.
pub fn router(state: HttpState) -> Router {
    Router::new().fallback(handle).with_state(state)
}

/// A running HTTP listener.
pub struct HttpServer {
    addr: SocketAddr,
    state: HttpState,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl HttpServer {
    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, ends every session (long polls return at once) and waits a few
    /// seconds for running requests.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        self.state.sessions.clear(&self.state.shared);
        let mut task = self.task;
        if tokio::time::timeout(SHUTDOWN_GRACE, &mut task)
            .await
            .is_err()
        {
            task.abort();
        }
    }
}

/// Starts the HTTP listener when `[http] enabled` is set, on `listen` if given (port 0:
/// any free port), else on `[http] bindaddr`/`bindport`. `Ok(None)` when disabled.
pub async fn start(
    shared: &Arc<Shared>,
    listen: Option<SocketAddr>,
) -> anyhow::Result<Option<HttpServer>> {
    let config = shared.config();
    if !config.http.enabled {
        if listen.is_some() {
            tracing::info!("--http-listen ignored: [http] enabled is false");
        }
        return Ok(None);
    }
    let addr = listen.unwrap_or(SocketAddr::new(config.http.bindaddr, config.http.bindport));
    let listener = crate::server::bind(addr)?;
    let local = listener.local_addr()?;
    let state = HttpState::new(shared.clone());
    let (stop, mut stopped) = watch::channel(false);
    let app = router(state.clone()).into_make_service_with_connect_info::<SocketAddr>();
    let reaper_state = state.clone();
    let mut reaper_stopped = stopped.clone();
    let task = tokio::spawn(async move {
        let reaper = tokio::spawn(async move {
            let mut tick = tokio::time::interval(REAP_PERIOD);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = reaper_stopped.changed() => return,
                    _ = tick.tick() => {
                        reaper_state.expire_sessions();
                    }
                }
            }
        });
        let shutdown = async move {
            let _ = stopped.wait_for(|s| *s).await;
        };
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
        {
            tracing::error!(error = %e, "HTTP server failed");
        }
        reaper.abort();
    });
    let prefix = &config.http.prefix;
    tracing::info!(addr = %local, prefix = %prefix, webenabled = config.general.webenabled, "HTTP manager interface listening on {local}");
    Ok(Some(HttpServer {
        addr: local,
        state,
        stop,
        task,
    }))
}

/// Every request.
async fn handle(
    State(state): State<HttpState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
) -> Response {
    let config = state.shared.config();
    let Some(format) = request::route(req.uri().path(), &config.http.prefix) else {
        return status_page(StatusCode::NOT_FOUND);
    };
    if !state.shared.webmanager_enabled() {
        return status_page(StatusCode::NOT_FOUND);
    }
    if req.method() != Method::GET && req.method() != Method::POST {
        let mut resp = status_page(StatusCode::METHOD_NOT_ALLOWED);
        resp.headers_mut()
            .insert(ALLOW, HeaderValue::from_static("GET, POST"));
        return resp;
    }
    let (params, id) = match read_request(req).await {
        Ok(r) => r,
        Err(status) => {
            tracing::debug!(peer = %peer, status = %status, "refused HTTP manager request");
            return status_page(status);
        }
    };
    let lease = state
        .sessions
        .open(&state.shared, id.as_deref(), peer, lifetime(&state.shared));
    let param = |name: &str| {
        params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    let (dest, objtype) = (param("ajaxdest"), param("ajaxobjtype"));
    let out = exchange(&state, &lease, params).await;
    let body = match format {
        Format::Raw => Body::from(out.freeze()),
        Format::Html => Body::from(render::html(&out)),
        Format::Xml => Body::from(render::xml(
            &out,
            dest.as_deref().unwrap_or("unknown"),
            objtype.as_deref().unwrap_or("generic"),
        )),
    };
    let mut resp = Response::new(body);
    let headers = resp.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    headers.insert(
        CACHE_CONTROL,
        HeaderValue::from_static("no-cache, no-store"),
    );
    let cookie = format!(
        "mansession_id=\"{}\"; Version=1; Max-Age={}",
        lease.id(),
        state.shared.config().general.httptimeout
    );
    match HeaderValue::try_from(cookie) {
        Ok(v) => {
            headers.insert(SET_COOKIE, v);
        }
        Err(e) => tracing::error!(error = %e, "unrepresentable session cookie"),
    }
    resp
}

/// The parameters of a GET or POST (query first, then a form body) and the session id it
/// presents, or the status refusing it.
async fn read_request(req: Request) -> Result<(Vec<(String, String)>, Option<String>), StatusCode> {
    let mut params = match req.uri().query() {
        Some(q) => request::parse_params(q.as_bytes()).map_err(malformed)?,
        None => Vec::new(),
    };
    let cookies: Vec<Vec<u8>> = req
        .headers()
        .get_all(COOKIE)
        .iter()
        .map(|v| v.as_bytes().to_vec())
        .collect();
    if req.method() == Method::POST {
        let form = req.headers().get(CONTENT_TYPE).map(|v| {
            let media = v.to_str().unwrap_or("").split(';').next().unwrap_or("");
            media
                .trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
        let body = axum::body::to_bytes(req.into_body(), MAX_BODY)
            .await
            .map_err(|_| StatusCode::PAYLOAD_TOO_LARGE)?;
        if !body.is_empty() {
            if form == Some(false) {
                return Err(StatusCode::UNSUPPORTED_MEDIA_TYPE);
            }
            params.extend(request::parse_params(&body).map_err(malformed)?);
        }
    }
    let id = request::session_id(&params, cookies.iter().map(Vec::as_slice));
    Ok((params, id))
}

fn malformed(why: Malformed) -> StatusCode {
    tracing::debug!(reason = %why, "malformed HTTP manager request");
    StatusCode::BAD_REQUEST
}

/// Runs one request on the session and returns the AMI output (with the queued events).
async fn exchange(state: &HttpState, lease: &Lease, params: Vec<(String, String)>) -> BytesMut {
    let shared = &state.shared;
    let mut out = BytesMut::with_capacity(256);
    let req = match limited(params) {
        Ok(req) => req,
        Err((req, why)) => {
            tracing::warn!(peer = %lease.info.peer, reason = %why.message(), "rejected HTTP request");
            send_error(&mut out, &req, &why.message());
            return out;
        }
    };
    if req.header("Action").eq_ignore_ascii_case("WaitEvent") {
        let abandoned = lease.become_waiter();
        tokio::pin!(abandoned);
        let mut session = tokio::select! {
            biased;
            s = lease.state.lock() => s,
            _ = &mut abandoned => return out,
        };
        resubscribe(shared, &mut session);
        let flow = tokio::select! {
            biased;
            flow = session.dispatch(shared, req, &mut out) => Some(flow),
            _ = &mut abandoned => None,
        };
        match flow {
            Some(flow) => conclude(state, lease, &mut session, flow, &mut out),
            None => {
                // A newer WaitEvent (or the session's end) took over: answer nothing. The
                // event stream went with the dropped call: take a new one.
                out.clear();
                resubscribe(shared, &mut session);
            }
        }
        return out;
    }
    match lease.state.try_lock() {
        Ok(mut session) => {
            // A request beside a busy one may have logged this session in meanwhile.
            session.refresh_auth();
            resubscribe(shared, &mut session);
            let flow = session.dispatch(shared, req, &mut out).await;
            conclude(state, lease, &mut session, flow, &mut out);
        }
        Err(_) => {
            // Busy (a long poll): run beside it on the same session, without its event
            // stream; the events stay for the request that holds it.
            let mut side = Session::beside(lease.info.clone());
            let flow = side.dispatch(shared, req, &mut out).await;
            if flow == Flow::Close {
                state.sessions.close(lease);
                side.finish(shared);
            }
        }
    }
    out
}

/// The message for `params`, or the AMI limit it breaks (with the message cut to the
/// limit, so the error can echo an early `ActionID`).
pub(crate) fn limited(
    mut params: Vec<(String, String)>,
) -> Result<Message, (Message, codec::Rejection)> {
    let too_long = params
        .iter()
        .any(|(n, v)| n.len() + v.len() + 4 > codec::MAX_LINE);
    if params.len() > codec::MAX_HEADERS {
        params.truncate(codec::MAX_HEADERS);
        return Err((
            Message::from_pairs(params),
            codec::Rejection::TooManyHeaders,
        ));
    }
    if too_long {
        params.retain(|(n, v)| n.len() + v.len() + 4 <= codec::MAX_LINE);
        return Err((Message::from_pairs(params), codec::Rejection::LineTooLong));
    }
    Ok(Message::from_pairs(params))
}

/// After a dispatch on the session's own state: end it on Logoff or a failed Login,
/// else append its queued events.
fn conclude(
    state: &HttpState,
    lease: &Lease,
    session: &mut Session,
    flow: Flow,
    out: &mut BytesMut,
) {
    if flow == Flow::Close {
        state.sessions.close(lease);
        session.finish(&state.shared);
        return;
    }
    drain_events(&state.shared, session, out);
}

/// A logged-in session whose event stream went with an abandoned call, or was opened by
/// a side request, gets a new one (from now on).
fn resubscribe(shared: &Shared, session: &mut Session) {
    if session.events.is_none() && session.info.auth().authenticated {
        session.events = Some(Box::new(session.info.subscribe(&shared.bus)));
    }
}

/// Appends the session's queued events that pass its read classes and mask. A session
/// that fell behind the ring loses the oldest events and goes on (see the module doc).
fn drain_events(shared: &Shared, session: &mut Session, out: &mut BytesMut) {
    let Some(stream) = session.events.as_deref_mut() else {
        return;
    };
    let auth = session.info.auth();
    // At most one ring's worth, so a busy bus cannot keep one response growing.
    let limit = shared.config().general.event_queue;
    let mut taken = 0;
    while taken < limit {
        match stream.try_next() {
            Ok(Some(ev)) => {
                taken += 1;
                out.put_slice(&ev.bytes(auth.dialect));
            }
            Ok(None) => {
                // Drained: it gives up its place in the ring until something is for it.
                stream.rest();
                break;
            }
            Err(Missed(n)) => {
                tracing::warn!(user = %auth.username, peer = %session.info.peer.ip(), missed = n, "HTTP session fell behind the event queue; the oldest events were dropped");
            }
        }
    }
}

/// A short plain-text page for an error status.
fn status_page(status: StatusCode) -> Response {
    let text = format!(
        "{} {}\r\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or("")
    );
    let mut resp = Response::new(Body::from(text));
    *resp.status_mut() = status;
    let headers = resp.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert(
        CACHE_CONTROL,
        HeaderValue::from_static("no-cache, no-store"),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::extract::connect_info::MockConnectInfo;
    use axum::http::HeaderMap;
    use tower::ServiceExt as _;

    use crate::config::Config;

    const USERS: &str = "[users.admin]\nsecret = \"amp111\"\nread = \"all\"\nwrite = \"all\"\n";

    /// A host without plugins (Login, Logoff and the unauthenticated replies need none).
    fn shared(general: &str) -> Arc<Shared> {
        use std::sync::atomic::AtomicU64;
        use std::sync::{Mutex, RwLock};
        use std::time::SystemTime;

        let dir = std::env::temp_dir().join(format!("amihost-http-tests-{}", std::process::id()));
        let toml = format!("[general]\n{general}\n{USERS}");
        let config = match Config::from_toml_str(&toml, &dir.join("amihost.toml")) {
            Ok(c) => c,
            Err(e) => panic!("{e}"),
        };
        let bus = crate::events::EventBus::new(config.general.event_queue);
        let pbx = crate::pbx::embedded::EmbeddedPbx::new(
            bus.clone(),
            &crate::pbx::embedded::settings_of(&config),
        )
        .unwrap_or_else(|e| panic!("pbx: {e}"));
        let runtime = crate::plugins::PluginRuntime::new(None)
            .unwrap_or_else(|e| panic!("plugin runtime: {e:#}"));
        let now = SystemTime::now();
        Arc::new(Shared {
            bus,
            config: RwLock::new(Arc::new(config)),
            registry: RwLock::new(Arc::new(crate::registry::Registry::default())),
            runtime,
            pbx: Arc::new(pbx),
            sessions: crate::state::SessionTable::default(),
            started: now,
            reloaded: Mutex::new(now),
            registry_generation: AtomicU64::new(0),
            admission: Default::default(),
            spinners: Default::default(),
            plugins: Mutex::new(crate::plugins::manager::PluginSet::default()),
            plugin_dir: dir,
            reload_lock: tokio::sync::Mutex::new(()),
        })
    }

    const PEER: ([u8; 4], u16) = ([192, 0, 2, 7], 40000);

    async fn get(
        state: &HttpState,
        uri: &str,
        cookie: Option<&str>,
    ) -> (StatusCode, HeaderMap, String) {
        let mut req = axum::http::Request::builder().uri(uri);
        if let Some(id) = cookie {
            req = req.header(COOKIE, format!("mansession_id=\"{id}\""));
        }
        let req = req.body(Body::empty()).unwrap_or_else(|e| panic!("{e}"));
        let app = router(state.clone()).layer(MockConnectInfo(SocketAddr::from(PEER)));
        let resp = match app.oneshot(req).await {
            Ok(r) => r,
            Err(e) => match e {},
        };
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        (status, headers, String::from_utf8_lossy(&body).into_owned())
    }

    fn cookie_id(headers: &HeaderMap) -> String {
        let cookie = headers
            .get(SET_COOKIE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("no Set-Cookie in {headers:?}"));
        let id = cookie
            .strip_prefix("mansession_id=\"")
            .and_then(|r| r.split_once("\"; Version=1; Max-Age="))
            .map(|(id, _)| id.to_string())
            .unwrap_or_else(|| panic!("cookie {cookie:?}"));
        id
    }

    #[tokio::test]
    async fn login_session_and_logoff_without_a_socket() {
        let state = HttpState::new(shared("webenabled = true"));
        let (status, headers, body) = get(
            &state,
            "/asterisk/rawman?action=login&username=admin&secret=amp111",
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            body,
            "Response: Success\r\nMessage: Authentication accepted\r\n\r\n"
        );
        let id = cookie_id(&headers);
        assert_eq!(state.shared.sessions.len(), 1);

        let (_, headers, body) = get(&state, "/asterisk/manager?action=login", Some(&id)).await;
        assert_eq!(
            body,
            format!(
                "{}<tr><td>Response</td><td>Success</td></tr>\r\n\
                 <tr><td>Message</td><td>Already logged in</td></tr>\r\n{}",
                render::HTML_HEAD,
                render::HTML_TAIL
            )
        );
        assert_eq!(cookie_id(&headers), id);

        // An unauthenticated Logoff ends the session; so does a failed Login.
        let (_, headers, _) = get(&state, "/asterisk/rawman?action=ping", None).await;
        let stranger = cookie_id(&headers);
        assert_eq!((state.sessions.len(), state.shared.sessions.len()), (2, 2));
        let (_, _, body) = get(&state, "/asterisk/rawman?action=logoff", Some(&stranger)).await;
        assert_eq!(body, "Response: Success\r\nMessage: See ya\r\n\r\n");
        assert_eq!((state.sessions.len(), state.shared.sessions.len()), (1, 1));
        let (_, _, body) = get(
            &state,
            "/asterisk/rawman?action=login&username=admin&secret=wrong",
            Some(&stranger),
        )
        .await;
        assert_eq!(
            body,
            "Response: Error\r\nMessage: Authentication failed\r\n\r\n"
        );
        assert_eq!((state.sessions.len(), state.shared.sessions.len()), (1, 1));
        // The logged-in session is untouched.
        let (_, headers, body) = get(&state, "/asterisk/rawman?action=login", Some(&id)).await;
        assert_eq!(
            body,
            "Response: Success\r\nMessage: Already logged in\r\n\r\n"
        );
        assert_eq!(cookie_id(&headers), id);
    }

    #[tokio::test]
    async fn webenabled_is_read_per_request() {
        let state = HttpState::new(shared("webenabled = false"));
        let (status, headers, _) = get(&state, "/asterisk/rawman?action=ping", None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(headers.get(SET_COOKIE).is_none());
        assert!(state.sessions.is_empty());
    }

    #[tokio::test]
    async fn sessions_expire_a_lifetime_after_their_last_use() {
        let state = HttpState::new(shared("webenabled = true"));
        let shared = &state.shared;
        let lifetime = Duration::from_millis(300);
        let expire = || state.sessions.expire(shared, lifetime);
        let peer = SocketAddr::from(PEER);
        let lease = state.sessions.open(shared, None, peer, lifetime);
        let id = lease.id().to_string();
        // In use: never expires.
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert_eq!(expire(), 0);
        drop(lease);
        tokio::time::sleep(Duration::from_millis(150)).await;
        assert_eq!(expire(), 0);
        // Used again: the lifetime starts over.
        let again = state.sessions.open(shared, Some(&id), peer, lifetime);
        assert_eq!(again.id(), id);
        drop(again);
        tokio::time::sleep(Duration::from_millis(150)).await;
        assert_eq!(expire(), 0);
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(expire(), 1);
        assert!(state.sessions.is_empty());
        assert!(shared.sessions.is_empty());
        // The old id now opens a new session.
        let fresh = state.sessions.open(shared, Some(&id), peer, lifetime);
        assert_ne!(fresh.id(), id);
    }

    #[tokio::test]
    async fn an_id_works_only_whole_and_from_its_address() {
        let state = HttpState::new(shared("webenabled = true"));
        let lifetime = Duration::from_secs(60);
        let peer = SocketAddr::from(PEER);
        let id = state
            .sessions
            .open(&state.shared, None, peer, lifetime)
            .id()
            .to_string();
        let other = SocketAddr::from(([192, 0, 2, 8], 40000));
        assert_ne!(
            state
                .sessions
                .open(&state.shared, Some(&id), other, lifetime)
                .id(),
            id
        );
        assert_ne!(
            state
                .sessions
                .open(&state.shared, Some(&id[..31]), peer, lifetime)
                .id(),
            id
        );
        let new_port = SocketAddr::from(([192, 0, 2, 7], 40001));
        assert_eq!(
            state
                .sessions
                .open(&state.shared, Some(&id), new_port, lifetime)
                .id(),
            id
        );
    }

    #[tokio::test]
    async fn unauthenticated_sessions_are_capped() {
        let state = HttpState::new(shared("webenabled = true"));
        let lifetime = Duration::from_secs(60);
        let peer = SocketAddr::from(PEER);
        let first = state
            .sessions
            .open(&state.shared, None, peer, lifetime)
            .id()
            .to_string();
        for _ in 0..sessions::MAX_UNAUTHENTICATED {
            drop(state.sessions.open(&state.shared, None, peer, lifetime));
        }
        assert_eq!(state.sessions.len(), sessions::MAX_UNAUTHENTICATED);
        assert_eq!(state.shared.sessions.len(), sessions::MAX_UNAUTHENTICATED);
        // The least recently used one went.
        assert_ne!(
            state
                .sessions
                .open(&state.shared, Some(&first), peer, lifetime)
                .id(),
            first
        );
    }
}
