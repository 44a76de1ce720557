//! The plugin set: which file in the plugin directory serves now, which failed and why,
//! and the registry built from them. Re-scanning the directory loads new files,
//! unregisters removed ones and rebuilds changed ones (by content hash, grants or
//! limits). A new version is compiled, linked and described before anything changes;
//! then the registry is swapped in one step. Calls already running finish on the version
//! they started on (they hold an `Arc` to it); the next call uses the new one. A version
//! that fails to load leaves the previous good one serving, and the failure is logged,
//! emitted as `Event: PluginLoadFailed` (class system) and kept for
//! `manager show plugins`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::UNIX_EPOCH;

use super::{grants, plugin_name, Limits, LoadedPlugin};
use crate::privilege::Privilege;
use crate::registry::Registry;
use crate::state::Shared;

/// One plugin file and what became of it.
#[derive(Debug, Default)]
pub struct Slot {
    /// The file.
    pub path: PathBuf,
    /// The version serving now.
    pub current: Option<Arc<LoadedPlugin>>,
    /// SHA-256 of the last version tried (so a broken file is not retried until it
    /// changes).
    pub tried_hash: Option<String>,
    /// Hash, grants and limits of the last attempt.
    pub tried_key: Option<String>,
    /// Why the newest version did not load.
    pub last_error: Option<String>,
    /// Unloaded by `ModuleLoad` (stays out until loaded again).
    pub unloaded: bool,
}

/// Every plugin file known, by name.
#[derive(Debug, Default)]
pub struct PluginSet {
    /// Slots by plugin name.
    pub slots: BTreeMap<String, Slot>,
}

/// A plugin as `manager show plugins` and `PluginList` report it.
#[derive(Debug, Clone)]
pub struct PluginStatus {
    /// Name.
    pub name: String,
    /// File.
    pub file: String,
    /// Content hash of the serving version (or of the file tried).
    pub hash: String,
    /// SDK version.
    pub sdk_version: String,
    /// Contract version.
    pub contract_version: String,
    /// Actions served.
    pub actions: Vec<String>,
    /// Interfaces granted.
    pub grants: Vec<String>,
    /// Load time of the serving version, Unix seconds (0 when none serves).
    pub loaded_at: u64,
    /// Calls.
    pub calls: u64,
    /// Failed calls.
    pub traps: u64,
    /// Last load error.
    pub last_error: Option<String>,
}

fn lock(shared: &Shared) -> std::sync::MutexGuard<'_, PluginSet> {
    match shared.plugins.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

async fn list_dir(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut rd = tokio::fs::read_dir(dir).await?;
    while let Some(e) = rd.next_entry().await? {
        let p = e.path();
        if p.extension().is_some_and(|x| x == "wasm") && p.is_file() {
            out.push(p);
        }
    }
    out.sort();
    Ok(out)
}

fn emit(shared: &Shared, name: &str, body: Vec<(&str, String)>) {
    shared.emit(
        Privilege::SYSTEM,
        name,
        body.into_iter().map(|(n, v)| (n.to_string(), v)).collect(),
    );
}

/// Loads the file of slot `name` if it changed (or `force`), recording the outcome.
/// Returns whether the serving version changed.
async fn refresh(shared: &Arc<Shared>, name: &str, path: &Path, force: bool) -> bool {
    let config = shared.config();
    let bytes = match tokio::fs::read(path).await {
        Ok(b) => b,
        Err(e) => {
            tracing::warn!(plugin = name, error = %e, "cannot read plugin file");
            return false;
        }
    };
    let hash = super::cache::sha256_hex(&bytes);
    let grants = grants::grants_for(&config, name);
    let limits = Limits::for_plugin(&config, name);
    let key = format!("{hash}|{grants:?}|{limits:?}");
    {
        let set = lock(shared);
        if let Some(slot) = set.slots.get(name) {
            if slot.unloaded && !force {
                return false;
            }
            let serving_same = slot
                .current
                .as_ref()
                .is_some_and(|c| c.hash == hash && c.grants == grants && c.limits == limits);
            // A version that failed with this same configuration is not retried until
            // the file or its configuration changes.
            let failed_same =
                slot.last_error.is_some() && slot.tried_key.as_deref() == Some(key.as_str());
            if !force && (serving_same || failed_same) {
                return false;
            }
        }
    }
    let result = shared.runtime.load(shared, path, &config).await;
    let mut set = lock(shared);
    let slot = set.slots.entry(name.to_string()).or_default();
    slot.path = path.to_path_buf();
    slot.tried_hash = Some(hash.clone());
    slot.tried_key = Some(key);
    match result {
        Ok(plugin) => {
            let actions = plugin
                .actions
                .iter()
                .map(|a| a.name.clone())
                .collect::<Vec<_>>()
                .join(",");
            slot.current = Some(Arc::new(plugin));
            slot.last_error = None;
            slot.unloaded = false;
            drop(set);
            emit(
                shared,
                "PluginReloaded",
                vec![
                    ("Plugin", name.to_string()),
                    ("Hash", hash),
                    ("Actions", actions),
                ],
            );
            true
        }
        Err(e) => {
            let reason = format!("{e:#}");
            tracing::error!(plugin = name, file = %path.display(), error = %reason, "plugin failed to load; the previous version keeps serving");
            slot.last_error = Some(reason.clone());
            let serving = slot.current.is_some();
            drop(set);
            emit(
                shared,
                "PluginLoadFailed",
                vec![
                    ("Plugin", name.to_string()),
                    ("File", path.display().to_string()),
                    ("Reason", reason),
                    (
                        "PreviousServing",
                        if serving { "Yes" } else { "No" }.to_string(),
                    ),
                ],
            );
            false
        }
    }
}

/// Re-scans the plugin directory and swaps in the new registry.
pub async fn rescan(shared: &Arc<Shared>, dir: &Path) -> Result<(), String> {
    let files = list_dir(dir)
        .await
        .map_err(|e| format!("reading plugin directory {}: {e}", dir.display()))?;
    let config = shared.config();
    let mut present = Vec::new();
    for path in &files {
        let Ok(name) = plugin_name(path) else {
            continue;
        };
        present.push(name.clone());
        if config
            .plugins
            .per_plugin
            .get(&name)
            .is_some_and(|p| !p.enabled)
        {
            let mut set = lock(shared);
            let slot = set.slots.entry(name.clone()).or_default();
            slot.path = path.clone();
            slot.current = None;
            slot.last_error = Some("disabled by configuration".into());
            continue;
        }
        refresh(shared, &name, path, false).await;
    }
    let removed: Vec<String> = {
        let mut set = lock(shared);
        let gone: Vec<String> = set
            .slots
            .keys()
            .filter(|k| !present.contains(k))
            .cloned()
            .collect();
        for g in &gone {
            set.slots.remove(g);
        }
        gone
    };
    for name in removed {
        tracing::info!(plugin = %name, "plugin file removed; its actions are unregistered");
        emit(shared, "PluginUnloaded", vec![("Plugin", name)]);
    }
    rebuild_registry(shared);
    Ok(())
}

/// Builds the registry from the serving versions and swaps it in. A plugin whose action
/// another plugin (earlier by name) already serves is left out, and the conflict is
/// recorded as its error.
pub fn rebuild_registry(shared: &Shared) {
    let mut set = lock(shared);
    let mut accepted: Vec<Arc<LoadedPlugin>> = Vec::new();
    for slot in set.slots.values_mut() {
        if slot.unloaded {
            continue;
        }
        let Some(p) = slot.current.clone() else {
            continue;
        };
        accepted.push(p);
        if let Err(e) = Registry::build(&accepted) {
            accepted.pop();
            tracing::error!(plugin = %slot.path.display(), error = %e, "plugin not registered");
            slot.last_error = Some(e);
        }
    }
    let registry = Registry::build(&accepted).unwrap_or_default();
    drop(set);
    shared.set_registry(registry);
}

/// `ModuleLoad`: `load`, `unload` or `reload` plugin `name`.
pub async fn module_op(
    shared: &Arc<Shared>,
    dir: &Path,
    op: ModuleOp,
    name: &str,
) -> Result<(), String> {
    let name = name.trim().trim_end_matches(".wasm").to_string();
    if name.is_empty() || name.contains('/') || name.contains("..") {
        return Err(format!("no such module \"{name}\""));
    }
    let path = dir.join(format!("{name}.wasm"));
    match op {
        ModuleOp::Unload => {
            let mut set = lock(shared);
            let Some(slot) = set.slots.get_mut(&name).filter(|s| s.current.is_some()) else {
                return Err(format!("module \"{name}\" is not loaded"));
            };
            slot.current = None;
            slot.unloaded = true;
            drop(set);
            rebuild_registry(shared);
            emit(shared, "PluginUnloaded", vec![("Plugin", name)]);
            Ok(())
        }
        ModuleOp::Load | ModuleOp::Reload => {
            if !path.is_file() {
                return Err(format!("no such module \"{name}\""));
            }
            if op == ModuleOp::Load
                && lock(shared)
                    .slots
                    .get(&name)
                    .is_some_and(|s| s.current.is_some() && !s.unloaded)
            {
                return Err(format!("module \"{name}\" is already loaded"));
            }
            refresh(shared, &name, &path, true).await;
            rebuild_registry(shared);
            let set = lock(shared);
            match set.slots.get(&name) {
                Some(s) if s.last_error.is_none() && s.current.is_some() => Ok(()),
                Some(s) => Err(s.last_error.clone().unwrap_or_else(|| "not loaded".into())),
                None => Err(format!("no such module \"{name}\"")),
            }
        }
    }
}

/// What `ModuleLoad` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModuleOp {
    /// Load.
    Load,
    /// Unload.
    Unload,
    /// Reload.
    Reload,
}

/// `ModuleCheck`: the SDK version of plugin `name` if it serves.
pub fn module_check(shared: &Shared, name: &str) -> Option<String> {
    let name = name.trim().trim_end_matches(".wasm");
    lock(shared)
        .slots
        .get(name)
        .filter(|s| !s.unloaded)
        .and_then(|s| s.current.as_ref().map(|c| c.sdk_version.clone()))
}

/// Every known plugin.
pub fn statuses(shared: &Shared) -> Vec<PluginStatus> {
    let set = lock(shared);
    set.slots
        .iter()
        .map(|(name, slot)| {
            let c = slot.current.as_ref();
            PluginStatus {
                name: name.clone(),
                file: slot.path.display().to_string(),
                hash: c
                    .map(|c| c.hash.clone())
                    .or_else(|| slot.tried_hash.clone())
                    .unwrap_or_default(),
                sdk_version: c.map(|c| c.sdk_version.clone()).unwrap_or_default(),
                contract_version: c.map(|c| c.contract_version.clone()).unwrap_or_default(),
                actions: c
                    .map(|c| c.actions.iter().map(|a| a.name.clone()).collect())
                    .unwrap_or_default(),
                grants: c.map(|c| c.grants.clone()).unwrap_or_default(),
                loaded_at: c
                    .and_then(|c| c.loaded_at.duration_since(UNIX_EPOCH).ok())
                    .map(|d| d.as_secs())
                    .unwrap_or(0),
                calls: c.map(|c| c.calls.get()).unwrap_or(0),
                traps: c
                    .map(|c| c.traps.load(std::sync::atomic::Ordering::Relaxed))
                    .unwrap_or(0),
                last_error: slot.last_error.clone(),
            }
        })
        .collect()
}
