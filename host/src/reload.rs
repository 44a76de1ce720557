//! `reload_manager`: one routine, whatever triggered it (the CLI's `module reload
//! manager`, `reload manager` and `reload`; `UpdateConfig` with `Reload`; the `Reload`
//! and `ModuleLoad` actions; SIGHUP; the plugin-directory watcher for the plugin part).
//!
//! It emits `Event: Reload` before anything changes, as the seed does, then re-reads the
//! configuration and swaps it in (users, secrets, permissions, ACLs, `displayconnects`,
//! `timestampevents`, `webenabled`, `httptimeout`, plugin grants and limits, the PBX's
//! devices and dialplan), then re-scans the plugin directory. Sessions already logged in
//! keep running with the permissions they logged in with, also when their user was
//! deleted; new logins use the new users. `port`, `bindaddr` and `enabled` need a
//! restart, and the log says so. A configuration that fails to load changes nothing and
//! the error (file, line) is returned.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::config::Config;
use crate::privilege::Privilege;
use crate::state::Shared;

/// Runs the whole reload.
pub async fn reload(shared: &Arc<Shared>) -> Result<(), String> {
    let _guard = shared.reload_lock.lock().await;
    shared.emit(
        Privilege::SYSTEM,
        "Reload",
        vec![("Message".into(), "Reload Requested".into())],
    );
    let old = shared.config();
    let source = old.source.clone();
    let new = match tokio::task::spawn_blocking(move || Config::load(&source)).await {
        Ok(Ok(c)) => c,
        Ok(Err(e)) => {
            tracing::error!(error = %e, "reload: configuration not reloaded");
            return Err(e.to_string());
        }
        Err(e) => return Err(format!("reload failed: {e}")),
    };
    let (g, n) = (&old.general, &new.general);
    if g.port != n.port || g.bindaddr != n.bindaddr || g.enabled != n.enabled {
        tracing::warn!("Unable to change management port / enabled: restart the host to apply");
    }
    if let Err(e) = shared.pbx.reconfigure(&new) {
        tracing::error!(error = %e, "reload: dialplan not reloaded");
    }
    shared.bus.set_timestamps(new.general.timestampevents);
    match shared.config.write() {
        Ok(mut c) => *c = Arc::new(new),
        Err(p) => *p.into_inner() = Arc::new(new),
    }
    match shared.reloaded.lock() {
        Ok(mut t) => *t = SystemTime::now(),
        Err(p) => *p.into_inner() = SystemTime::now(),
    }
    tracing::info!("manager configuration reloaded");
    crate::plugins::manager::rescan(shared, &shared.plugin_dir).await
}

/// The plugin part of the reload only (the directory watcher).
pub async fn reload_plugins(shared: &Arc<Shared>) -> Result<(), String> {
    let _guard = shared.reload_lock.lock().await;
    crate::plugins::manager::rescan(shared, &shared.plugin_dir).await
}

/// Runs [`reload`] from synchronous code (the CLI, which runs on a blocking thread).
pub fn reload_blocking(shared: &Arc<Shared>) -> Result<(), String> {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => handle.block_on(reload(shared)),
        Err(_) => Err("no runtime to reload in".into()),
    }
}

/// Watches the plugin directory and runs the plugin part of the reload when a `.wasm`
/// file is created, replaced or removed. Events are debounced: a reload runs once the
/// directory has been quiet for [`DEBOUNCE`], so a file written in pieces is read when
/// the writer is done (and a half-written file that fails to load is retried when it
/// changes again, the previous version serving meanwhile).
pub fn watch_plugins(shared: Arc<Shared>) -> Result<notify::RecommendedWatcher, String> {
    use notify::Watcher as _;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<()>();
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        if let Ok(event) = res {
            let relevant = event
                .paths
                .iter()
                .any(|p| p.extension().is_some_and(|e| e == "wasm"));
            let kind_matters = !matches!(event.kind, notify::EventKind::Access(_));
            if relevant && kind_matters {
                let _ = tx.send(());
            }
        }
    })
    .map_err(|e| format!("cannot watch the plugin directory: {e}"))?;
    watcher
        .watch(&shared.plugin_dir, notify::RecursiveMode::NonRecursive)
        .map_err(|e| format!("cannot watch {}: {e}", shared.plugin_dir.display()))?;
    tokio::spawn(async move {
        while rx.recv().await.is_some() {
            // Debounce: wait until no event arrived for DEBOUNCE.
            loop {
                match tokio::time::timeout(DEBOUNCE, rx.recv()).await {
                    Ok(Some(())) => continue,
                    Ok(None) => return,
                    Err(_) => break,
                }
            }
            tracing::info!(dir = %shared.plugin_dir.display(), "plugin directory changed");
            if let Err(e) = reload_plugins(&shared).await {
                tracing::error!(error = %e, "plugin reload failed");
            }
        }
    });
    Ok(watcher)
}

/// Quiet time before the watcher reloads.
pub const DEBOUNCE: Duration = Duration::from_millis(150);
