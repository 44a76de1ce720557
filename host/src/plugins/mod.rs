//! Plugins: WebAssembly components that serve actions through the `ami:manager` contract.
//!
//! Each `*.wasm` in the plugin directory is compiled once (or loaded from the on-disk
//! cache of compiled artifacts), linked against the host interfaces and pre-instantiated.
//! A session's first call to a plugin version gets a fresh store and instance from the
//! pooling allocator; the session keeps it for its next calls ([`InstanceCache`]), never
//! sharing it, so no guest state of one session's call is visible to another session's
//! (`host/DESIGN.md` has the measurements behind this). Each call runs under a CPU deadline
//! (epoch ticks counted while the guest runs, not while it waits on the host) and a
//! memory cap. A trap, a missed deadline or a memory fault fails that call only.

pub mod bindings;
mod cache;
pub mod convert;
pub mod counter;
pub mod grants;
mod host;
mod host_pbx;
pub mod manager;
pub mod reply;

pub use host_pbx::originate_response;
pub use reply::render;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{anyhow, bail, Context as _};
use bytes::BytesMut;
use wasmtime::component::{
    Component, ComponentExportIndex, HasSelf, InstancePre, Linker, TypedFunc,
};
use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, ResourceLimiter, Store,
    UpdateDeadline,
};

use crate::config::Config as HostConfig;
use crate::dialect::Dialect;
use crate::events::EventStream;
use crate::registry::ActionInfo;
use crate::state::{SessionInfo, Shared};
use bindings::ami::manager::types;
use bindings::{Plugin, PluginIndices};

/// The contract version this host serves. Plugins built against an earlier minor version
/// of the same major one load too ([`contract_supported`]).
pub const CONTRACT_VERSION: &str = "1.1.0";

/// The optional export of contract 1.1 (see `wit/action.wit`), and its function.
const PACKED_INTERFACE: &str = "ami:manager/action-packed@1.1.0";
const PACKED_FUNCTION: &str = "invoke";

/// `action-packed.invoke`.
type PackedInvoke = TypedFunc<(Vec<u8>,), (Vec<u8>,)>;

/// Whether a plugin built against contract version `version` can be served: the same
/// major version, a minor version no later than this host's.
pub fn contract_supported(version: &str) -> bool {
    let mut ours = CONTRACT_VERSION.split('.');
    let (major, minor) = (ours.next(), ours.next());
    let mut theirs = version.split('.');
    let (their_major, their_minor) = (theirs.next(), theirs.next());
    let number = |s: Option<&str>| s.and_then(|s| s.parse::<u64>().ok());
    let patch_ok =
        theirs.next().is_none_or(|p| p.parse::<u64>().is_ok()) && theirs.next().is_none();
    number(their_major).is_some()
        && number(their_major) == number(major)
        && number(their_minor).is_some_and(|m| Some(m) <= number(minor))
        && patch_ok
}

/// Length of one epoch tick: the resolution of CPU deadlines.
const TICK: Duration = Duration::from_millis(10);

/// Set (not empty, not `0`) to have wasmtime write a perf map of the plugins' code.
const PERFMAP_ENV: &str = "AMIHOST_PERFMAP";

/// Largest linear memory any plugin may be granted (the pool's slot size).
const MAX_MEMORY_BYTES: usize = 4096 << 20;

/// Memory of a freed instance slot reset in place rather than returned to the kernel.
const KEEP_RESIDENT_BYTES: usize = 2 << 20;

/// Per-call limits of one plugin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// CPU time a call may use, in epoch ticks.
    pub cpu_ticks: u64,
    /// Linear memory cap, bytes.
    pub memory_bytes: usize,
    /// Largest rendered response, bytes.
    pub response_bytes: usize,
}

impl Limits {
    /// The limits the configuration gives plugin `name`.
    pub fn for_plugin(config: &HostConfig, name: &str) -> Limits {
        let p = &config.plugins;
        let own = p.per_plugin.get(name);
        let ms = own
            .and_then(|o| o.cpu_deadline_ms)
            .unwrap_or(p.cpu_deadline_ms);
        let mb = own
            .and_then(|o| o.memory_limit_mb)
            .unwrap_or(p.memory_limit_mb);
        let kb = own
            .and_then(|o| o.response_limit_kb)
            .unwrap_or(p.response_limit_kb);
        Limits {
            cpu_ticks: (ms / TICK.as_millis() as u64).max(1),
            memory_bytes: ((mb as usize) << 20).min(MAX_MEMORY_BYTES),
            response_bytes: (kb as usize) << 10,
        }
    }
}

/// The engine, the linker with the host interfaces, and the compiled-artifact cache.
pub struct PluginRuntime {
    engine: Engine,
    linker: Linker<HostState>,
    cache: cache::ArtifactCache,
}

impl std::fmt::Debug for PluginRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginRuntime").finish_non_exhaustive()
    }
}

/// Store state of one call.
pub struct HostState {
    shared: Arc<Shared>,
    session: Arc<SessionInfo>,
    plugin: String,
    dialect: Dialect,
    /// The session's event stream, lent to the call so `session.wait-events` can read it.
    events: Option<Box<EventStream>>,
    limiter: MemoryLimiter,
    /// Epoch ticks the current call has run for, and its budget.
    ticks: u64,
    max_ticks: u64,
}

/// Memory cap of one store; remembers that it refused a growth so the failure can be
/// reported as such.
struct MemoryLimiter {
    memory_bytes: usize,
    hit: bool,
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.memory_bytes {
            self.hit = true;
            return Err(wasmtime::format_err!(
                "memory limit of {} MiB exceeded",
                self.memory_bytes >> 20
            ));
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }

    fn instances(&self) -> usize {
        64
    }

    fn tables(&self) -> usize {
        64
    }

    fn memories(&self) -> usize {
        16
    }
}

/// Why a call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallFailure {
    /// The CPU deadline passed.
    Deadline,
    /// The memory cap was hit.
    Memory,
    /// The guest trapped (panic, unreachable, bad access); the text says how.
    Trap(String),
    /// The rendered response exceeded the response cap.
    TooLarge(usize),
    /// The packed reply did not parse; the text says why.
    Malformed(String),
    /// No instance could be created (pool exhausted or link failure).
    Instantiate(String),
}

impl std::fmt::Display for CallFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallFailure::Deadline => f.write_str("exceeded its CPU deadline"),
            CallFailure::Memory => f.write_str("exceeded its memory limit"),
            CallFailure::Trap(_) => f.write_str("trapped"),
            CallFailure::TooLarge(n) => {
                write!(f, "sent a response over the size limit ({n} bytes)")
            }
            CallFailure::Instantiate(_) => f.write_str("could not be instantiated"),
            CallFailure::Malformed(_) => f.write_str("sent a malformed reply"),
        }
    }
}

/// `anyhow::Context` for results carrying `wasmtime::Error`.
pub(crate) trait WasmContext<T> {
    /// Converts the error to `anyhow::Error` with `msg` as context.
    fn wctx(self, msg: &'static str) -> anyhow::Result<T>;
}

impl<T> WasmContext<T> for Result<T, wasmtime::Error> {
    fn wctx(self, msg: &'static str) -> anyhow::Result<T> {
        self.map_err(|e| anyhow::Error::from(e).context(msg))
    }
}

/// Marker error of the epoch callback.
#[derive(Debug)]
struct DeadlineExceeded;

impl std::fmt::Display for DeadlineExceeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CPU deadline exceeded")
    }
}

impl std::error::Error for DeadlineExceeded {}

/// A compiled, linked plugin and what it declared.
pub struct LoadedPlugin {
    /// Name: the file stem.
    pub name: String,
    /// The file it came from.
    pub path: PathBuf,
    /// SHA-256 of the file, hex.
    pub hash: String,
    /// SDK version it was built with.
    pub sdk_version: String,
    /// Contract version it was built against.
    pub contract_version: String,
    /// Actions it serves.
    pub actions: Vec<ActionInfo>,
    /// Its per-call limits.
    pub limits: Limits,
    /// Interfaces it was granted.
    pub grants: Vec<String>,
    /// When it was loaded.
    pub loaded_at: SystemTime,
    /// Whether its compiled form came from the cache.
    pub from_cache: bool,
    /// Calls served.
    pub calls: counter::Counter,
    /// Calls that failed in the guest.
    pub traps: AtomicU64,
    pre: InstancePre<HostState>,
    indices: PluginIndices,
    /// `action-packed.invoke` (contract 1.1), which calls use when the plugin has it.
    packed_index: Option<ComponentExportIndex>,
}

impl std::fmt::Debug for LoadedPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedPlugin")
            .field("name", &self.name)
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// What one call needs to know about its caller.
pub struct CallContext<'a> {
    /// The session.
    pub session: &'a Arc<SessionInfo>,
    /// Its authentication state at the time of the call.
    pub auth: &'a crate::state::AuthState,
}

impl PluginRuntime {
    /// An engine configured for plugins: component model, async host calls, epoch
    /// interruption, the pooling allocator; and the linker with the host interfaces.
    pub fn new(cache_dir: Option<&Path>) -> anyhow::Result<PluginRuntime> {
        let mut config = Config::new();
        config.wasm_component_model(true);
        config.epoch_interruption(true);
        // Profiling: the compiled plugins' symbols in /tmp/perf-<pid>.map for `perf`.
        if std::env::var_os(PERFMAP_ENV).is_some_and(|v| !v.is_empty() && v != "0") {
            config.profiler(wasmtime::ProfilingStrategy::PerfMap);
            tracing::info!(env = PERFMAP_ENV, "writing plugin symbols for perf");
        }
        let mut pool = PoolingAllocationConfig::default();
        pool.total_component_instances(1000);
        pool.total_core_instances(2000);
        pool.total_memories(1000);
        pool.total_tables(1000);
        pool.max_memory_size(MAX_MEMORY_BYTES);
        // A fresh instance (a session's first call to a plugin) reuses a slot whose
        // memory was reset. Resetting the pages a call dirtied with memset, found with
        // PAGEMAP_SCAN where the kernel has it, keeps them mapped: no madvise, no
        // cross-core TLB shootdown, no page faults on the next use.
        pool.linear_memory_keep_resident(KEEP_RESIDENT_BYTES);
        pool.table_keep_resident(64 << 10);
        pool.pagemap_scan(wasmtime::Enabled::Auto);
        pool.decommit_batch_size(16);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        let engine = Engine::new(&config).wctx("creating the wasm engine")?;

        let ticker = engine.clone();
        std::thread::Builder::new()
            .name("epoch-ticker".into())
            .spawn(move || loop {
                std::thread::sleep(TICK);
                ticker.increment_epoch();
            })
            .context("starting the epoch ticker")?;

        let mut linker: Linker<HostState> = Linker::new(&engine);
        use bindings::ami::manager as m;
        m::types::add_to_linker::<_, HasSelf<HostState>>(&mut linker, |s| s)?;
        // `events` reads bodies in place (see `host::emit`), not through bindings.
        let mut events = linker.instance(&format!("ami:manager/events@{CONTRACT_VERSION}"))?;
        events.func_wrap("emit", host::emit)?;
        events.func_wrap("emit-packed", host::emit_packed)?;
        m::session::add_to_linker::<_, HasSelf<HostState>>(&mut linker, |s| s)?;
        m::log::add_to_linker::<_, HasSelf<HostState>>(&mut linker, |s| s)?;
        m::core::add_to_linker::<_, HasSelf<HostState>>(&mut linker, |s| s)?;
        m::channels::add_to_linker::<_, HasSelf<HostState>>(&mut linker, |s| s)?;
        m::variables::add_to_linker::<_, HasSelf<HostState>>(&mut linker, |s| s)?;
        m::dialplan::add_to_linker::<_, HasSelf<HostState>>(&mut linker, |s| s)?;
        m::mailboxes::add_to_linker::<_, HasSelf<HostState>>(&mut linker, |s| s)?;
        m::config_files::add_to_linker::<_, HasSelf<HostState>>(&mut linker, |s| s)?;
        m::cli::add_to_linker::<_, HasSelf<HostState>>(&mut linker, |s| s)?;
        m::modules::add_to_linker::<_, HasSelf<HostState>>(&mut linker, |s| s)?;

        let cache = cache::ArtifactCache::new(cache_dir, &engine);
        Ok(PluginRuntime {
            engine,
            linker,
            cache,
        })
    }

    /// Compiles (or fetches from the cache), links and describes the plugin at `path`.
    pub async fn load(
        &self,
        shared: &Arc<Shared>,
        path: &Path,
        config: &HostConfig,
    ) -> anyhow::Result<LoadedPlugin> {
        let name = plugin_name(path)?;
        let started = Instant::now();
        let bytes = tokio::fs::read(path)
            .await
            .with_context(|| format!("reading {}", path.display()))?;
        let hash = cache::sha256_hex(&bytes);
        let (component, from_cache) = {
            let engine = self.engine.clone();
            let cache = self.cache.clone();
            let hash = hash.clone();
            tokio::task::spawn_blocking(move || cache.component(&engine, &bytes, &hash))
                .await
                .context("compile task failed")??
        };
        check_contract(&component, &self.engine)?;
        let grants = grants::grants_for(config, &name);
        grants::check(&component, &self.engine, &grants).map_err(|e| anyhow!(e))?;

        let mut linker = self.linker.clone();
        grants::stub_wasi_imports(&mut linker.root(), &component, &self.engine)
            .wctx("linking WASI imports")?;
        let pre = linker
            .instantiate_pre(&component)
            .wctx("linking the plugin against the host interfaces")?;
        let indices =
            PluginIndices::new(&pre).wctx("the component does not export ami:manager/action")?;
        let packed_index = component
            .get_export_index(None, PACKED_INTERFACE)
            .map(|iface| {
                component
                    .get_export_index(Some(&iface), PACKED_FUNCTION)
                    .ok_or_else(|| anyhow!("{PACKED_INTERFACE} does not export {PACKED_FUNCTION}"))
            })
            .transpose()?;

        let limits = Limits::for_plugin(config, &name);
        let probe = Arc::new(SessionInfo::new(
            ([127, 0, 0, 1], 0).into(),
            crate::state::Transport::Tcp,
            Dialect::V1,
            crate::privilege::Privilege::NONE,
        ));
        let mut store = new_store(
            &self.engine,
            shared,
            &probe,
            &name,
            Dialect::V1,
            limits,
            None,
        );
        let (plugin, _) = instantiate(&pre, &indices, packed_index.as_ref(), &mut store)
            .await
            .wctx("instantiating for describe()")?;
        let info = plugin
            .ami_manager_action()
            .call_describe(&mut store)
            .await
            .wctx("describe() failed")?;
        if !contract_supported(&info.contract_version) {
            bail!(
                "built against contract ami:manager@{}, this host serves ami:manager@{CONTRACT_VERSION} (and earlier 1.x)",
                info.contract_version
            );
        }
        let actions: Vec<ActionInfo> = info
            .actions
            .into_iter()
            .map(convert::from_wit_info)
            .collect();
        if actions.is_empty() {
            bail!("describe() lists no actions");
        }
        for a in &actions {
            if a.name.is_empty() || a.name.bytes().any(|b| !b.is_ascii_graphic() || b == b':') {
                bail!("invalid action name {:?}", a.name);
            }
        }
        tracing::info!(
            plugin = %name,
            actions = ?actions.iter().map(|a| a.name.as_str()).collect::<Vec<_>>(),
            cached = from_cache,
            ms = started.elapsed().as_millis() as u64,
            "plugin loaded"
        );
        Ok(LoadedPlugin {
            name,
            path: path.to_path_buf(),
            hash,
            sdk_version: info.sdk_version,
            contract_version: info.contract_version,
            actions,
            limits,
            grants,
            loaded_at: SystemTime::now(),
            from_cache,
            calls: counter::Counter::default(),
            traps: AtomicU64::new(0),
            pre,
            indices,
            packed_index,
        })
    }
}

/// The plugin name of a file: its stem.
pub fn plugin_name(path: &Path) -> anyhow::Result<String> {
    path.file_stem()
        .and_then(|s| s.to_str())
        .map(str::to_string)
        .ok_or_else(|| anyhow!("plugin file name {} is not valid UTF-8", path.display()))
}

/// Refuses a component built against another version of the contract with a message
/// naming both versions, rather than a link error.
fn check_contract(component: &Component, engine: &Engine) -> anyhow::Result<()> {
    let ty = component.component_type();
    let mut other = None;
    for (name, _) in ty.exports(engine) {
        if let Some(v) = name.strip_prefix("ami:manager/action@") {
            if contract_supported(v) {
                return Ok(());
            }
            other = Some(v.to_string());
        }
    }
    match other {
        Some(v) => bail!(
            "built against contract ami:manager@{v}, this host serves ami:manager@{CONTRACT_VERSION} (and earlier 1.x)"
        ),
        None => bail!("the component does not export ami:manager/action@{CONTRACT_VERSION}"),
    }
}

/// A new instance of a plugin in `store`, with its `action-packed.invoke` when it has
/// one (`packed`).
async fn instantiate(
    pre: &InstancePre<HostState>,
    indices: &PluginIndices,
    packed: Option<&ComponentExportIndex>,
    store: &mut Store<HostState>,
) -> wasmtime::Result<(Plugin, Option<PackedInvoke>)> {
    let instance = pre.instantiate_async(&mut *store).await?;
    let plugin = indices.load(&mut *store, &instance)?;
    let packed = match packed {
        Some(index) => Some(instance.get_typed_func(&mut *store, index)?),
        None => None,
    };
    Ok((plugin, packed))
}

fn new_store(
    engine: &Engine,
    shared: &Arc<Shared>,
    session: &Arc<SessionInfo>,
    plugin: &str,
    dialect: Dialect,
    limits: Limits,
    events: Option<Box<EventStream>>,
) -> Store<HostState> {
    let mut store = Store::new(
        engine,
        HostState {
            shared: shared.clone(),
            session: session.clone(),
            plugin: plugin.to_string(),
            dialect,
            events,
            limiter: MemoryLimiter {
                memory_bytes: limits.memory_bytes,
                hit: false,
            },
            ticks: 0,
            max_ticks: limits.cpu_ticks,
        },
    );
    store.limiter(|s| &mut s.limiter);
    // The callback runs each time the guest reaches a tick boundary while executing;
    // waiting in an async host call does not run guest code, so only CPU is counted
    // (give or take the tick in progress when the wait started).
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(|mut ctx| {
        let data = ctx.data_mut();
        data.ticks += 1;
        if data.ticks > data.max_ticks {
            Err(DeadlineExceeded.into())
        } else {
            Ok(UpdateDeadline::Yield(1))
        }
    });
    store
}

/// Live instances kept by one session between its calls, so a session's next call to the
/// same plugin version skips instantiation. Instances are never shared between sessions:
/// no guest state of one session's call is visible to another session's call. A call
/// that fails drops its instance; a new plugin version is never served by an old
/// instance (the cache is keyed by the version's identity).
#[derive(Default)]
pub struct InstanceCache {
    entries: Vec<Cached>,
    /// The invoke context of the last call, reused while the session's user is the same
    /// (its strings are lowered into the guest on every call, but built only once).
    context: Option<types::InvokeContext>,
}

impl std::fmt::Debug for InstanceCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InstanceCache")
            .field("entries", &self.entries.len())
            .finish()
    }
}

/// Instances a session keeps at most.
const CACHE_PER_SESSION: usize = 4;

/// Instances kept by all sessions together, so idle sessions cannot exhaust the pool.
const CACHE_TOTAL: usize = 512;

static CACHED_INSTANCES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

struct Cached {
    plugin: Arc<LoadedPlugin>,
    store: Store<HostState>,
    /// Boxed once, at instantiation: a call's future, and so every session's task,
    /// carries a pointer instead of the exports' indices.
    instance: Box<Live>,
}

/// A live instance: its `action` export, and `action-packed.invoke` when it has one.
struct Live {
    plugin: Plugin,
    packed: Option<PackedInvoke>,
}

impl Drop for InstanceCache {
    fn drop(&mut self) {
        CACHED_INSTANCES.fetch_sub(self.entries.len(), Ordering::Relaxed);
    }
}

impl InstanceCache {
    /// Takes the cached instance of `plugin` out for a call. It still counts against
    /// [`CACHE_TOTAL`] until it is put back ([`InstanceCache::put`] with `reused`) or
    /// given up ([`InstanceCache::give_up`]), so the common take-call-put cycle touches
    /// no counter shared between sessions.
    fn take(&mut self, plugin: &Arc<LoadedPlugin>) -> Option<(Store<HostState>, Box<Live>)> {
        let i = self
            .entries
            .iter()
            .position(|c| Arc::ptr_eq(&c.plugin, plugin))?;
        let c = self.entries.remove(i);
        Some((c.store, c.instance))
    }

    /// Stops counting an instance taken out that will not be put back.
    fn give_up(&mut self) {
        CACHED_INSTANCES.fetch_sub(1, Ordering::Relaxed);
    }

    /// Keeps `instance` for the session's next call; `reused` says it was taken out of
    /// this cache (and is still counted).
    fn put(
        &mut self,
        plugin: &Arc<LoadedPlugin>,
        store: Store<HostState>,
        instance: Box<Live>,
        reused: bool,
    ) {
        if !reused && CACHED_INSTANCES.fetch_add(1, Ordering::Relaxed) >= CACHE_TOTAL {
            CACHED_INSTANCES.fetch_sub(1, Ordering::Relaxed);
            return;
        }
        if !reused {
            // A new instance: another version of the same plugin (replaced by a hot
            // swap) will not be called again by this session; let it go now rather
            // than when evicted.
            let before = self.entries.len();
            self.entries
                .retain(|c| Arc::ptr_eq(&c.plugin, plugin) || c.plugin.name != plugin.name);
            CACHED_INSTANCES.fetch_sub(before - self.entries.len(), Ordering::Relaxed);
        }
        if self.entries.len() >= CACHE_PER_SESSION {
            self.entries.remove(0);
            CACHED_INSTANCES.fetch_sub(1, Ordering::Relaxed);
        }
        self.entries.push(Cached {
            plugin: plugin.clone(),
            store,
            instance,
        });
    }

    /// Drops every cached instance.
    pub fn clear(&mut self) {
        CACHED_INSTANCES.fetch_sub(self.entries.len(), Ordering::Relaxed);
        self.entries.clear();
    }

    /// The invoke context for `caller`, built once per session and user.
    fn context(&mut self, caller: &CallContext<'_>) -> &types::InvokeContext {
        let auth = caller.auth;
        let dialect = match auth.dialect {
            Dialect::V1 => types::Dialect::V1,
            Dialect::Modern => types::Dialect::Modern,
        };
        let fresh = || types::InvokeContext {
            session_id: caller.session.id.clone(),
            username: auth.username.clone(),
            peer: caller.session.peer_text.clone(),
            dialect,
            read_privilege: convert::to_wit_privilege(auth.read),
            write_privilege: convert::to_wit_privilege(auth.write),
            event_mask: convert::to_wit_privilege(caller.session.event_mask()),
        };
        let same = matches!(&self.context,
            Some(c) if c.username == auth.username && c.session_id == caller.session.id);
        if !same {
            self.context = None;
        }
        let ctx = self.context.get_or_insert_with(fresh);
        ctx.dialect = dialect;
        ctx.read_privilege = convert::to_wit_privilege(auth.read);
        ctx.write_privilege = convert::to_wit_privilege(auth.write);
        ctx.event_mask = convert::to_wit_privilege(caller.session.event_mask());
        ctx
    }
}

impl LoadedPlugin {
    /// Runs `action` for a session, on the session's cached instance of this version when
    /// it has one, else on a fresh one, and appends the rendered reply to `out` (nothing
    /// on failure). `Ok(true)` asks to close the session afterwards. The session's event
    /// receiver is lent to the call and handed back with the result.
    #[allow(clippy::too_many_arguments)]
    pub async fn invoke(
        self: &Arc<Self>,
        runtime: &PluginRuntime,
        shared: &Arc<Shared>,
        caller: CallContext<'_>,
        action: &str,
        request: &crate::message::Message,
        events: Option<Box<EventStream>>,
        cache: &mut InstanceCache,
        out: &mut BytesMut,
    ) -> (Result<bool, CallFailure>, Option<Box<EventStream>>) {
        self.calls.add(1);
        let dialect = caller.auth.dialect;
        let cached = cache.take(self);
        let reused = cached.is_some();
        let (mut store, instance) = match cached {
            Some((mut store, instance)) => {
                let data = store.data_mut();
                data.events = events;
                data.ticks = 0;
                data.limiter.hit = false;
                store.set_epoch_deadline(1);
                (store, Some(instance))
            }
            None => (
                new_store(
                    &runtime.engine,
                    shared,
                    caller.session,
                    &self.name,
                    dialect,
                    self.limits,
                    events,
                ),
                None,
            ),
        };
        let result = async {
            let live = match instance {
                Some(live) => live,
                None => {
                    // Boxed: instantiation's future is the largest part of a session's
                    // task, which every idle session holds at its full size; a fresh
                    // instance (15-20 us) pays one allocation for it instead.
                    let (plugin, packed) = Box::pin(instantiate(
                        &self.pre,
                        &self.indices,
                        self.packed_index.as_ref(),
                        &mut store,
                    ))
                    .await?;
                    Box::new(Live { plugin, packed })
                }
            };
            let reply = match &live.packed {
                Some(invoke) => {
                    Reply::Packed(call_packed(invoke, &mut store, &caller, action, request).await?)
                }
                None => {
                    let ctx = cache.context(&caller);
                    let req = request.header_records();
                    let resp = live
                        .plugin
                        .ami_manager_action()
                        .call_invoke(&mut store, ctx, action, &req)
                        .await?;
                    Reply::Record(resp)
                }
            };
            Ok::<_, wasmtime::Error>((live, reply))
        }
        .await;
        let hit_memory = store.data().limiter.hit;
        let events = store.data_mut().events.take();
        let outcome = match result {
            Ok((live, reply)) => {
                let limit = self.limits.response_bytes;
                let rendered = match &reply {
                    Reply::Record(resp) => render(resp, limit, out),
                    Reply::Packed(bytes) => reply::render_packed(bytes, limit, out),
                };
                if rendered.is_ok() {
                    cache.put(self, store, live, reused);
                } else if reused {
                    cache.give_up();
                }
                rendered
            }
            Err(e) => {
                if reused {
                    cache.give_up();
                }
                Err(classify(&e, hit_memory))
            }
        };
        if let Err(failure) = &outcome {
            self.traps.fetch_add(1, Ordering::Relaxed);
            let detail = match failure {
                CallFailure::Trap(d) | CallFailure::Instantiate(d) | CallFailure::Malformed(d) => {
                    d.as_str()
                }
                _ => "",
            };
            tracing::warn!(plugin = %self.name, action, failure = %failure, detail, "plugin call failed");
        }
        (outcome, events)
    }
}

fn classify(e: &wasmtime::Error, hit_memory: bool) -> CallFailure {
    if e.downcast_ref::<DeadlineExceeded>().is_some() {
        return CallFailure::Deadline;
    }
    if hit_memory {
        return CallFailure::Memory;
    }
    if e.downcast_ref::<wasmtime::Trap>().is_some() {
        return CallFailure::Trap(format!("{e:#}"));
    }
    CallFailure::Trap(format!("{e:#}"))
}

/// Calls `action-packed.invoke`: packs the request, returns the packed reply.
async fn call_packed(
    invoke: &PackedInvoke,
    store: &mut Store<HostState>,
    caller: &CallContext<'_>,
    action: &str,
    request: &crate::message::Message,
) -> wasmtime::Result<Vec<u8>> {
    let auth = caller.auth;
    let who = reply::Caller {
        dialect: auth.dialect,
        read: auth.read,
        write: auth.write,
        mask: caller.session.event_mask(),
        session_id: &caller.session.id,
        username: &auth.username,
        peer: &caller.session.peer_text,
    };
    let mut packed = Vec::new();
    reply::pack_request(&mut packed, &who, action, request.headers());
    let (bytes,) = invoke.call_async(store, (packed,)).await?;
    Ok(bytes)
}

/// A plugin's reply, as the call returned it.
enum Reply {
    /// From `action.invoke`.
    Record(types::Response),
    /// From `action-packed.invoke`.
    Packed(Vec<u8>),
}

#[cfg(test)]
mod tests {
    use super::contract_supported;

    #[test]
    fn earlier_minor_versions_of_the_contract_are_served() {
        for v in ["1.0.0", "1.1.0", "1.0.3", "1.1", "1.0"] {
            assert!(contract_supported(v), "{v}");
        }
        for v in [
            "1.2.0", "2.0.0", "0.9.0", "", "1", "1.x.0", "1.0.0.0", "1.0.x", "one",
        ] {
            assert!(!contract_supported(v), "{v}");
        }
    }
}
