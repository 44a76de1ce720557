//! Start-up, the accept loop and shutdown. `main.rs` only parses arguments and calls
//! [`start`] and [`run`]; tests can do the same in-process.

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};

use anyhow::Context as _;
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::config::Config;
use crate::events::EventBus;
use crate::plugins::PluginRuntime;
use crate::registry::Registry;
use crate::state::{SessionTable, Shared};

/// Listen backlog: large, so a burst of connects is never refused or stalled.
const BACKLOG: u32 = 4096;

/// How long shutdown waits for sessions to finish.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Where plugins are loaded from: `[plugins] dir`, else `$AMIHOST_PLUGIN_DIR`, else the
/// `plugins/` directory beside the binary's directory (`target/plugins` for
/// `target/debug/amihost`, where `plugins/build.sh` puts the built-ins), else `plugins/`
/// beside the binary.
pub fn plugin_dir(config: &Config) -> anyhow::Result<PathBuf> {
    if let Some(dir) = &config.plugins.dir {
        return Ok(dir.clone());
    }
    if let Some(dir) = std::env::var_os("AMIHOST_PLUGIN_DIR").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    let exe = std::env::current_exe().context("locating the amihost binary")?;
    let bin_dir = exe.parent().unwrap_or(Path::new("."));
    let candidates = [
        bin_dir.parent().map(|p| p.join("plugins")),
        Some(bin_dir.join("plugins")),
    ];
    for c in candidates.into_iter().flatten() {
        if c.is_dir() {
            return Ok(c);
        }
    }
    anyhow::bail!(
        "no plugin directory: set [plugins] dir, or build the built-in plugins with plugins/build.sh"
    )
}

/// Builds the shared state: loads plugins from the plugin directory and builds the
/// registry. A plugin that fails to load, or claims an action another plugin already
/// serves, is logged and left out.
pub async fn start(config: Config) -> anyhow::Result<Arc<Shared>> {
    let dir = plugin_dir(&config)?;
    let runtime = PluginRuntime::new(config.plugins.cache_dir.as_deref())?;
    let now = SystemTime::now();
    let bus = EventBus::new(config.general.event_queue);
    bus.set_timestamps(config.general.timestampevents);
    let pbx = crate::pbx::embedded::EmbeddedPbx::new(
        bus.clone(),
        &crate::pbx::embedded::settings_of(&config),
    )
    .map_err(|e| anyhow::anyhow!("dialplan: {e}"))?;
    let shared = Arc::new(Shared {
        bus,
        config: RwLock::new(Arc::new(config)),
        registry: RwLock::new(Arc::new(Registry::default())),
        runtime,
        pbx: Arc::new(pbx),
        plugins: Mutex::new(crate::plugins::manager::PluginSet::default()),
        plugin_dir: dir.clone(),
        reload_lock: tokio::sync::Mutex::new(()),
        sessions: SessionTable::default(),
        started: now,
        reloaded: Mutex::new(now),
        registry_generation: AtomicU64::new(0),
        admission: Default::default(),
        spinners: Default::default(),
    });
    crate::plugins::manager::rescan(&shared, &dir)
        .await
        .map_err(|e| anyhow::anyhow!(e))?;
    tracing::info!(
        dir = %dir.display(),
        actions = shared.registry().plugin_actions(),
        "plugins ready"
    );
    Ok(shared)
}

/// Binds the TCP listener (`SO_REUSEADDR`, a large backlog).
pub fn bind(addr: SocketAddr) -> anyhow::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()
    } else {
        TcpSocket::new_v6()
    }?;
    socket.set_reuseaddr(true)?;
    socket
        .bind(addr)
        .with_context(|| format!("binding {addr}"))?;
    Ok(socket.listen(BACKLOG)?)
}

/// Accepts connections until `shutdown` resolves, one task per connection; then tells
/// every session to stop and waits for them (at most a few seconds).
pub async fn run(shared: Arc<Shared>, listener: TcpListener, shutdown: impl Future<Output = ()>) {
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut sessions = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let limit = shared.config().general.authlimit;
                    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
                    match shared.admission.admit(limit) {
                        Some(guard) => {
                            sessions.spawn(crate::session::serve(
                                shared.clone(),
                                stream,
                                peer,
                                Some(guard),
                                stop_rx.clone(),
                            ));
                        }
                        None => {
                            tracing::warn!(
                                peer = %peer,
                                limit,
                                "connection from {peer} refused: {limit} unauthenticated sessions already (authlimit)"
                            );
                            drop(stream);
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = sessions.join_next(), if !sessions.is_empty() => {}
        }
    }
    tracing::info!(sessions = sessions.len(), "shutting down");
    shared.emit(
        crate::privilege::Privilege::SYSTEM,
        "Shutdown",
        vec![
            ("Shutdown".into(), "Cleanly".into()),
            ("Restart".into(), "False".into()),
        ],
    );
    // Sessions write what is queued for them (the Shutdown event) before they stop.
    let _ = stop_tx.send(true);
    let drain = async { while sessions.join_next().await.is_some() {} };
    if tokio::time::timeout(SHUTDOWN_GRACE, drain).await.is_err() {
        sessions.abort_all();
    }
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let term = signal(SignalKind::terminate());
        let int = signal(SignalKind::interrupt());
        match (term, int) {
            (Ok(mut term), Ok(mut int)) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = int.recv() => {}
                }
            }
            _ => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Background duties of a running host: the plugin-directory watcher and SIGHUP
/// (a full reload). Dropping it stops the watcher.
pub struct Background {
    _watcher: Option<notify::RecommendedWatcher>,
}

/// Starts the watcher and the SIGHUP handler.
pub fn spawn_background(shared: &Arc<Shared>) -> Background {
    let watcher = match crate::reload::watch_plugins(shared.clone()) {
        Ok(w) => Some(w),
        Err(e) => {
            tracing::warn!(error = %e, "plugin hot reload by file watching is off");
            None
        }
    };
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::hangup()) {
            Ok(mut hup) => {
                let shared = shared.clone();
                tokio::spawn(async move {
                    while hup.recv().await.is_some() {
                        tracing::info!("SIGHUP: reloading");
                        if let Err(e) = crate::reload::reload(&shared).await {
                            tracing::error!(error = %e, "reload failed");
                        }
                    }
                });
            }
            Err(e) => tracing::warn!(error = %e, "cannot handle SIGHUP"),
        }
    }
    Background { _watcher: watcher }
}
