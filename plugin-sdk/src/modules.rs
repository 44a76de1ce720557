//! The host's plugins and its reload routine: what `Reload`, `ModuleLoad`, `ModuleCheck`
//! and a plugin list need. Grant: `modules`.
//!
//! A plugin is named by its file stem (`ping` for `ping.wasm`); the host accepts the name
//! with or without `.wasm`. Every function here works only inside the host; keep the
//! logic that renders a [`PluginStatus`] or words a reply in plain functions so native
//! unit tests can reach it.

use std::fmt;

use crate::wit::ami::manager::modules as host;

/// One plugin as `manager show plugins` lists it: loaded, or known from a file that
/// failed to load.
///
/// # Example
///
/// ```no_run
/// use ami_plugin_sdk::modules::{self, PluginStatus};
///
/// fn healthy(plugin: &PluginStatus) -> bool {
///     plugin.last_error.is_none() && plugin.traps == 0
/// }
///
/// let broken: Vec<String> = modules::plugins()
///     .into_iter()
///     .filter(|p| !healthy(p))
///     .map(|p| p.name)
///     .collect();
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PluginStatus {
    /// Name: the file stem.
    pub name: String,
    /// The file it was loaded from.
    pub file: String,
    /// SHA-256 of the file, lower-case hex.
    pub hash: String,
    /// The SDK version it was built with.
    pub sdk_version: String,
    /// The contract (`ami:manager`) version it was built against.
    pub contract_version: String,
    /// The actions it serves, as it declared them.
    pub actions: Vec<String>,
    /// The interfaces it is granted (`events`, `channels`, `config-files`, ...).
    pub grants: Vec<String>,
    /// When the version serving now was loaded, seconds since the Unix epoch.
    pub loaded_at: u64,
    /// Calls served.
    pub calls: u64,
    /// Calls that trapped, missed their deadline or broke a limit.
    pub traps: u64,
    /// Why the newest version of its file did not load, if it did not; the previous good
    /// version (if any) keeps serving meanwhile.
    pub last_error: Option<String>,
}

impl PluginStatus {
    #[doc(hidden)]
    pub fn from_wit(status: host::PluginStatus) -> PluginStatus {
        PluginStatus {
            name: status.name,
            file: status.file,
            hash: status.hash,
            sdk_version: status.sdk_version,
            contract_version: status.contract_version,
            actions: status.actions,
            grants: status.grants,
            loaded_at: status.loaded_at,
            calls: status.calls,
            traps: status.traps,
            last_error: status.last_error,
        }
    }
}

/// What [`module_op`] does to one plugin (`ModuleLoad`'s `LoadType`).
///
/// # Example
///
/// ```no_run
/// use ami_plugin_sdk::modules::ModuleOp;
///
/// assert_eq!(ModuleOp::Unload.to_string(), "unload");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ModuleOp {
    /// Load a plugin file that is not loaded yet.
    Load,
    /// Unregister a plugin's actions.
    Unload,
    /// Rebuild a plugin from its file.
    Reload,
}

impl ModuleOp {
    fn to_wit(self) -> host::ModuleOp {
        match self {
            ModuleOp::Load => host::ModuleOp::Load,
            ModuleOp::Unload => host::ModuleOp::Unload,
            ModuleOp::Reload => host::ModuleOp::Reload,
        }
    }
}

impl fmt::Display for ModuleOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ModuleOp::Load => "load",
            ModuleOp::Unload => "unload",
            ModuleOp::Reload => "reload",
        })
    }
}

/// Every plugin, loaded or failed, sorted by name.
///
/// # Example
///
/// ```no_run
/// use ami_plugin_sdk::modules;
///
/// let served: usize = modules::plugins().iter().map(|p| p.actions.len()).sum();
/// ```
pub fn plugins() -> Vec<PluginStatus> {
    host::plugins()
        .into_iter()
        .map(PluginStatus::from_wit)
        .collect()
}

/// Loads, unloads or reloads the plugin `name` (file stem, `.wasm` optional). The error
/// text says why not (no such plugin file, already loaded, failed to compile, ...).
/// Reloading with an empty name runs the whole reload, as [`reload`] does.
///
/// # Example
///
/// ```no_run
/// use ami_plugin_sdk::modules::{self, ModuleOp};
/// use ami_plugin_sdk::{Request, Response};
///
/// fn unload(req: &Request, name: &str) -> Response {
///     match modules::module_op(ModuleOp::Unload, name) {
///         Ok(()) => Response::ack(req, "Module unloaded."),
///         Err(_) => Response::error(req, "Could not unload module."),
///     }
/// }
/// ```
pub fn module_op(op: ModuleOp, name: &str) -> Result<(), String> {
    host::apply_op(op.to_wit(), name)
}

/// The SDK version plugin `name` (file stem, `.wasm` optional) was built with when it is
/// loaded; `None` when it is not.
///
/// # Example
///
/// ```no_run
/// use ami_plugin_sdk::modules;
///
/// if let Some(version) = modules::module_check("ping") {
///     let line = format!("ping is loaded, SDK {version}");
/// }
/// ```
pub fn module_check(name: &str) -> Option<String> {
    host::module_check(name)
}

/// Runs the host's reload routine (`reload_manager`): emits the `Reload` event, re-reads
/// the configuration and re-scans the plugin directory. `target` empty or `manager`
/// reloads both; the error text says why the reload did not happen.
///
/// # Example
///
/// ```no_run
/// use ami_plugin_sdk::modules;
/// use ami_plugin_sdk::{Request, Response};
///
/// fn reload_all(req: &Request) -> Response {
///     match modules::reload("") {
///         Ok(()) => Response::ack(req, "Module Reloaded"),
///         Err(reason) => Response::error(req, reason),
///     }
/// }
/// ```
pub fn reload(target: &str) -> Result<(), String> {
    host::reload(target)
}
