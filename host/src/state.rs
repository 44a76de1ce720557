//! Shared host state: configuration, event bus, action registry, plugin runtime and the
//! live session table. One `Arc<Shared>` is handed to every session and host call.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::SystemTime;

use crate::config::Config;
use crate::dialect::Dialect;
use crate::events::{Event, EventBus, EventStream, Subscriptions};
use crate::plugins::PluginRuntime;
use crate::privilege::Privilege;
use crate::registry::Registry;

/// Everything sessions and plugins share.
pub struct Shared {
    /// The configuration in force; replaced whole on reload.
    pub config: RwLock<Arc<Config>>,
    /// The event bus.
    pub bus: EventBus,
    /// The action table in force; replaced whole on reload.
    pub registry: RwLock<Arc<Registry>>,
    /// The plugin engine.
    pub runtime: PluginRuntime,
    /// The PBX the actions act on.
    pub pbx: Arc<dyn crate::pbx::Pbx>,
    /// The plugin files and the versions serving.
    pub plugins: Mutex<crate::plugins::manager::PluginSet>,
    /// The plugin directory.
    pub plugin_dir: std::path::PathBuf,
    /// Serialises reloads.
    pub reload_lock: tokio::sync::Mutex<()>,
    /// Live sessions.
    pub sessions: SessionTable,
    /// When the host started.
    pub started: SystemTime,
    /// When the configuration was last (re)loaded.
    pub reloaded: Mutex<SystemTime>,
    /// Bumped each time the registry is swapped, so a session can keep the registry it
    /// read and check it is still current without taking the lock.
    pub registry_generation: AtomicU64,
    /// Unauthenticated-session count and login failure budget.
    pub admission: crate::admission::Admission,
    /// Sessions busy polling now (`[general] busypoll`).
    pub spinners: crate::busypoll::Spinners,
}

impl Shared {
    /// The configuration in force.
    pub fn config(&self) -> Arc<Config> {
        match self.config.read() {
            Ok(c) => c.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// The registry in force.
    pub fn registry(&self) -> Arc<Registry> {
        match self.registry.read() {
            Ok(r) => r.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Swaps in a new registry.
    pub fn set_registry(&self, registry: Registry) {
        let new = Arc::new(registry);
        match self.registry.write() {
            Ok(mut r) => *r = new,
            Err(poisoned) => *poisoned.into_inner() = new,
        }
        self.registry_generation.fetch_add(1, Ordering::Release);
    }

    /// The registry in force, refreshing `cached` (a generation and the registry read
    /// then) only when it was swapped since.
    pub fn registry_cached<'a>(
        &self,
        cached: &'a mut Option<(u64, Arc<Registry>)>,
    ) -> &'a Arc<Registry> {
        let generation = self.registry_generation.load(Ordering::Acquire);
        if !matches!(cached, Some((g, _)) if *g == generation) {
            *cached = None;
        }
        &cached
            .get_or_insert_with(|| (generation, self.registry()))
            .1
    }

    /// `manager_event`: emits an event of class `class`, timestamped when the
    /// configuration says so.
    pub fn emit(&self, class: Privilege, name: &str, body: Vec<(String, String)>) {
        if self.bus.receivers() == 0 {
            return;
        }
        let timestamped = self.bus.timestamps();
        self.bus.publish(Event::new(class, name, body, timestamped));
    }

    /// `manager_event` with a body already in wire form (see [`Event::from_lines`]).
    pub fn emit_lines(&self, class: Privilege, name: String, lines: bytes::Bytes) {
        let timestamped = self.bus.timestamps();
        self.bus
            .publish(Event::from_lines(class, name, lines, timestamped));
    }

    /// `check_manager_enabled`.
    pub fn manager_enabled(&self) -> bool {
        self.config().general.enabled
    }

    /// `check_webmanager_enabled`.
    pub fn webmanager_enabled(&self) -> bool {
        let c = self.config();
        c.general.enabled && c.general.webenabled
    }
}

/// How a session reached the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// A TCP connection.
    Tcp,
    /// AMI over HTTP (`mansession_id`).
    Http,
}

/// Authentication state of a session.
#[derive(Debug, Clone)]
pub struct AuthState {
    /// Logged in.
    pub authenticated: bool,
    /// User name as configured (empty before login).
    pub username: String,
    /// Read classes.
    pub read: Privilege,
    /// Write classes.
    pub write: Privilege,
    /// Dialect spoken.
    pub dialect: Dialect,
}

/// A live session as other parts of the host see it.
#[derive(Debug)]
pub struct SessionInfo {
    /// Unguessable id (128 random bits, hex).
    pub id: String,
    /// Peer address.
    pub peer: SocketAddr,
    /// Transport.
    pub transport: Transport,
    auth: Mutex<Arc<AuthState>>,
    /// `peer` rendered once, for the invoke context.
    pub peer_text: String,
    event_mask: AtomicU32,
    /// The session's event subscriptions, refiled when the mask changes.
    pub(crate) subscriptions: Subscriptions,
}

impl SessionInfo {
    /// A new unauthenticated session with event mask `mask`.
    pub fn new(
        peer: SocketAddr,
        transport: Transport,
        dialect: Dialect,
        mask: Privilege,
    ) -> SessionInfo {
        SessionInfo {
            id: random_id(),
            peer,
            transport,
            peer_text: peer.to_string(),
            auth: Mutex::new(Arc::new(AuthState {
                authenticated: false,
                username: String::new(),
                read: Privilege::NONE,
                write: Privilege::NONE,
                dialect,
            })),
            event_mask: AtomicU32::new(mask.0),
            subscriptions: Subscriptions::default(),
        }
    }

    /// The authentication state (shared; replaced whole on change).
    pub fn auth(&self) -> Arc<AuthState> {
        match self.auth.lock() {
            Ok(a) => a.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// Replaces the authentication state, returning the new one.
    pub fn set_auth(&self, state: AuthState) -> Arc<AuthState> {
        let state = Arc::new(state);
        match self.auth.lock() {
            Ok(mut a) => *a = state.clone(),
            Err(p) => *p.into_inner() = state.clone(),
        }
        state
    }

    /// The event mask.
    pub fn event_mask(&self) -> Privilege {
        Privilege(self.event_mask.load(Ordering::SeqCst))
    }

    /// Sets the event mask; the session's event streams take it at once (the bus wakes
    /// them for the events the new mask lets through).
    pub fn set_event_mask(&self, mask: Privilege) {
        self.event_mask.store(mask.0, Ordering::SeqCst);
        self.subscriptions.refile(|| self.event_mask());
    }

    /// A stream of the events this session receives from now on, with its dialect, read
    /// classes and event mask (followed as the mask changes).
    pub fn subscribe(&self, bus: &EventBus) -> EventStream {
        let auth = self.auth();
        bus.subscribe(auth.dialect, auth.read, &self.subscriptions, || {
            self.event_mask()
        })
    }
}

/// The live sessions by id.
#[derive(Debug, Default)]
pub struct SessionTable {
    map: Mutex<HashMap<String, Arc<SessionInfo>>>,
}

impl SessionTable {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<SessionInfo>>> {
        match self.map.lock() {
            Ok(m) => m,
            Err(p) => p.into_inner(),
        }
    }

    /// Adds a session.
    pub fn insert(&self, s: Arc<SessionInfo>) {
        self.lock().insert(s.id.clone(), s);
    }

    /// Removes a session.
    pub fn remove(&self, id: &str) {
        self.lock().remove(id);
    }

    /// The session with this id. The id is compared through a hash map, whose timing
    /// does not reveal how much of a guess matched beyond the hash.
    pub fn get(&self, id: &str) -> Option<Arc<SessionInfo>> {
        self.lock().get(id).cloned()
    }

    /// All sessions.
    pub fn all(&self) -> Vec<Arc<SessionInfo>> {
        self.lock().values().cloned().collect()
    }

    /// Number of sessions.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// True when no session is live.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `astman_verify_session_readpermissions`.
    pub fn verify_read(&self, id: &str, perm: Privilege) -> bool {
        self.get(id).is_some_and(|s| {
            let a = s.auth();
            a.authenticated && a.read.contains(perm)
        })
    }

    /// `astman_verify_session_writepermissions`.
    pub fn verify_write(&self, id: &str, perm: Privilege) -> bool {
        self.get(id).is_some_and(|s| {
            let a = s.auth();
            a.authenticated && a.write.contains(perm)
        })
    }
}

/// 128 bits from the operating system's CSPRNG, as 32 hex digits.
pub fn random_id() -> String {
    let mut bytes = [0u8; 16];
    fill_random(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Fills `buf` from the operating system's CSPRNG. Without one the host cannot issue
/// safe ids, so failure aborts start-up paths loudly instead of degrading.
pub fn fill_random(buf: &mut [u8]) {
    if let Err(e) = getrandom::getrandom(buf) {
        tracing::error!(error = %e, "operating system random source failed");
        std::process::abort();
    }
}
