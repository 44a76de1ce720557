//! HTTP manager sessions (`mansession_id`, AMI-1.0 §7.4).
//!
//! A request that presents no id, or one that is unknown, expired, or was issued to a
//! different client address, silently gets a new unauthenticated session (event mask
//! none), registered in the host's session table so `manager show connected` counts it.
//! Ids are 128 bits from the operating system's CSPRNG ([`random_id`]). The table is
//! keyed by the SHA-256 of the id, so a lookup's timing says nothing about the id itself,
//! and the id found is then compared with the one presented in constant time.
//!
//! A session lives `httptimeout` seconds (read per check, so a reload applies) after the
//! end of its last request, and never expires while a request is running on it; a
//! background task removes expired sessions once a second and logs
//! `HTTP Manager '<user>' timed out from <ip>`. Logoff or a failed Login ends the session
//! at once. At most [`MAX_UNAUTHENTICATED`] sessions may be unauthenticated: a new one
//! beyond that evicts the idle unauthenticated session used least recently.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::ops::Deref;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::session::Session;
use crate::state::{random_id, SessionInfo, Shared, Transport};

/// Most unauthenticated HTTP sessions kept at once.
pub const MAX_UNAUTHENTICATED: usize = 1024;

type Key = [u8; 32];

fn key(id: &str) -> Key {
    Sha256::digest(id.as_bytes()).into()
}

/// One HTTP session.
pub struct HttpSession {
    /// The `mansession_id` cookie value.
    id: String,
    /// The host's view of the session (also in [`Shared::sessions`]).
    pub info: Arc<SessionInfo>,
    /// The dispatcher's state, held by a request for its whole dispatch. Requests that
    /// find it busy (another request is, say, long-polling in WaitEvent) run on a side
    /// session sharing `info`, so they never wait behind a long poll.
    pub state: tokio::sync::Mutex<Session>,
    /// Requests running on the session; it does not expire while any does.
    in_use: AtomicUsize,
    /// End of the last request (start of the running one).
    last_used: Mutex<Instant>,
    /// WaitEvent generation: each new waiter, and the session's end, bumps it; a waiter
    /// whose generation is no longer current gives up (§4.19: the newest waiter wins).
    waiters: watch::Sender<u64>,
}

impl HttpSession {
    /// The cookie value.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Makes the caller the session's WaitEvent waiter, abandoning any earlier one. The
    /// future resolves when this waiter is abandoned in turn (a newer waiter, or the end
    /// of the session).
    pub fn become_waiter(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut mine = 0;
        self.waiters.send_modify(|g| {
            *g = g.wrapping_add(1);
            mine = *g;
        });
        let mut rx = self.waiters.subscribe();
        async move {
            let _ = rx.wait_for(|g| *g != mine).await;
        }
    }

    /// Abandons the current waiter, if any.
    fn abandon_waiter(&self) {
        self.waiters.send_modify(|g| *g = g.wrapping_add(1));
    }

    fn idle_for(&self, now: Instant) -> Duration {
        now.saturating_duration_since(*lock(&self.last_used))
    }

    fn touch(&self) {
        *lock(&self.last_used) = Instant::now();
    }
}

/// A request's hold on a session: keeps it from expiring, and marks the end of the
/// request as its last use when dropped.
pub struct Lease(Arc<HttpSession>);

impl Deref for Lease {
    type Target = HttpSession;
    fn deref(&self) -> &HttpSession {
        &self.0
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.0.touch();
        self.0.in_use.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The live HTTP sessions.
#[derive(Default)]
pub struct HttpSessions {
    map: Mutex<HashMap<Key, Arc<HttpSession>>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

impl HttpSessions {
    /// The session a request from `peer` presenting `id` works on: the live one with that
    /// id if it was issued to the same IP address and has not expired (`lifetime` after
    /// its last use), else a new one.
    pub fn open(
        &self,
        shared: &Shared,
        id: Option<&str>,
        peer: SocketAddr,
        lifetime: Duration,
    ) -> Lease {
        let now = Instant::now();
        let mut map = lock(&self.map);
        if let Some(id) = id {
            if let Some(s) = map.get(&key(id)) {
                let same_id: bool = s.id.as_bytes().ct_eq(id.as_bytes()).into();
                let alive = s.in_use.load(Ordering::Acquire) > 0 || s.idle_for(now) < lifetime;
                if same_id && alive && s.info.peer.ip() == peer.ip() {
                    s.in_use.fetch_add(1, Ordering::AcqRel);
                    s.touch();
                    return Lease(s.clone());
                }
            }
        }
        if map.len() >= MAX_UNAUTHENTICATED {
            evict_unauthenticated(shared, &mut map);
        }
        let session = Session::new(shared, peer, Transport::Http);
        let s = Arc::new(HttpSession {
            id: random_id(),
            info: session.info.clone(),
            state: tokio::sync::Mutex::new(session),
            in_use: AtomicUsize::new(1),
            last_used: Mutex::new(now),
            waiters: watch::Sender::new(0),
        });
        map.insert(key(&s.id), s.clone());
        tracing::debug!(peer = %peer, "new HTTP manager session");
        Lease(s)
    }

    /// Ends `session` now (Logoff, failed Login): removes it from this table and
    /// abandons its waiter. The caller removes it from the host's table
    /// ([`Session::finish`]).
    pub fn close(&self, session: &HttpSession) {
        let mut map = lock(&self.map);
        let k = key(&session.id);
        if map
            .get(&k)
            .is_some_and(|s| std::ptr::eq(Arc::as_ptr(s), session))
        {
            map.remove(&k);
        }
        drop(map);
        session.abandon_waiter();
    }

    /// Removes every session idle for `lifetime` or more; returns how many.
    pub fn expire(&self, shared: &Shared, lifetime: Duration) -> usize {
        let now = Instant::now();
        let mut expired = Vec::new();
        lock(&self.map).retain(|_, s| {
            let keep = s.in_use.load(Ordering::Acquire) > 0 || s.idle_for(now) < lifetime;
            if !keep {
                expired.push(s.clone());
            }
            keep
        });
        for s in &expired {
            end(shared, s, "timed out");
        }
        expired.len()
    }

    /// Ends every session (shutdown): long polls give up at once.
    pub fn clear(&self, shared: &Shared) {
        let all: Vec<_> = lock(&self.map).drain().map(|(_, s)| s).collect();
        for s in &all {
            s.abandon_waiter();
            shared.sessions.remove(&s.info.id);
        }
    }

    /// Number of live HTTP sessions.
    pub fn len(&self) -> usize {
        lock(&self.map).len()
    }

    /// True when there is none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Removes the least recently used idle unauthenticated session when there are
/// [`MAX_UNAUTHENTICATED`] of them.
fn evict_unauthenticated(shared: &Shared, map: &mut HashMap<Key, Arc<HttpSession>>) {
    let now = Instant::now();
    let unauthenticated: Vec<(&Key, &Arc<HttpSession>)> = map
        .iter()
        .filter(|(_, s)| !s.info.auth().authenticated)
        .collect();
    if unauthenticated.len() < MAX_UNAUTHENTICATED {
        return;
    }
    let victim = unauthenticated
        .into_iter()
        .filter(|(_, s)| s.in_use.load(Ordering::Acquire) == 0)
        .max_by_key(|(_, s)| s.idle_for(now))
        .map(|(k, _)| *k);
    if let Some(s) = victim.and_then(|k| map.remove(&k)) {
        tracing::warn!(
            peer = %s.info.peer.ip(),
            limit = MAX_UNAUTHENTICATED,
            "too many unauthenticated HTTP manager sessions; dropping the oldest"
        );
        end(shared, &s, "evicted");
    }
}

/// Drops a session removed from the table from the host's session table, and logs it.
fn end(shared: &Shared, s: &HttpSession, why: &str) {
    s.abandon_waiter();
    shared.sessions.remove(&s.info.id);
    let auth = s.info.auth();
    let ip = s.info.peer.ip();
    if auth.authenticated && shared.config().general.displayconnects {
        tracing::info!(user = %auth.username, peer = %ip, "HTTP Manager '{}' {why} from {ip}", auth.username);
    } else {
        tracing::debug!(peer = %ip, user = %auth.username, "HTTP manager session {why}");
    }
}
