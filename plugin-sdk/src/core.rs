//! The manager core: clock, settings, status and the action registry. Grant: `core`.

use crate::privilege::Privilege;
use crate::wit::ami::manager::core as host;
use crate::wit::ami::manager::types as wit;

/// What one action declares (`ast_manager_register2`): a plugin's own actions (written
/// by [`plugin!`](crate::plugin)) and every registered action ([`list_actions`]).
///
/// # Example
///
/// ```no_run
/// use ami_plugin_sdk::{core, Privilege};
///
/// let open: Vec<String> = core::list_actions()
///     .into_iter()
///     .filter(|action| action.privilege == Privilege::NONE)
///     .map(|action| action.name)
///     .collect();
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActionInfo {
    /// The action name as listed (`Ping`); matched case-insensitively.
    pub name: String,
    /// Write classes a V1 session needs to run it (all of them).
    pub privilege: Privilege,
    /// Write classes for a modern session (any one of them; none needed when empty).
    pub modern_privilege: Privilege,
    /// One-line synopsis as V1 ListCommands prints it (`Keepalive command`).
    pub synopsis: String,
    /// One-line synopsis as the modern dialect prints it (`Keepalive command.`).
    pub modern_synopsis: String,
    /// Long description shown by `manager show command <Action>`.
    pub description: String,
}

impl ActionInfo {
    #[doc(hidden)]
    pub fn from_wit(info: wit::ActionInfo) -> ActionInfo {
        ActionInfo {
            name: info.name,
            privilege: Privilege::from_wit(info.privilege),
            modern_privilege: Privilege::from_wit(info.modern_privilege),
            synopsis: info.synopsis,
            modern_synopsis: info.modern_synopsis,
            description: info.description,
        }
    }

    #[doc(hidden)]
    pub fn into_wit(self) -> wit::ActionInfo {
        wit::ActionInfo {
            name: self.name,
            privilege: self.privilege.to_wit(),
            modern_privilege: self.modern_privilege.to_wit(),
            synopsis: self.synopsis,
            modern_synopsis: self.modern_synopsis,
            description: self.description,
        }
    }
}

/// The values `CoreSettings` reports.
///
/// # Example
///
/// ```no_run
/// use ami_plugin_sdk::core;
///
/// let settings = core::settings();
/// let load = format!("{:.6}", settings.max_load_avg);
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CoreSettings {
    /// The AMI version of the caller's dialect (`1.0`, `11.0.0`).
    pub ami_version: String,
    /// The PBX version string.
    pub pbx_version: String,
    /// `systemname`, possibly empty.
    pub system_name: String,
    /// `maxcalls`, 0 = unlimited.
    pub max_calls: u32,
    /// `maxload`.
    pub max_load_avg: f64,
    /// `runuser`, possibly empty.
    pub run_user: String,
    /// `rungroup`, possibly empty.
    pub run_group: String,
    /// `maxfiles`.
    pub max_file_handles: u32,
    /// Realtime configuration in use.
    pub realtime_enabled: bool,
    /// CDR engine enabled.
    pub cdr_enabled: bool,
    /// Manager enabled with `webenabled` on (`check_webmanager_enabled`).
    pub http_enabled: bool,
}

/// The values `CoreStatus` reports; dates `YYYY-MM-DD`, times `HH:MM:SS`, host local time.
///
/// # Example
///
/// ```no_run
/// use ami_plugin_sdk::core;
///
/// let status = core::status();
/// let busy = status.current_calls > 0;
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CoreStatus {
    /// Date the host started.
    pub startup_date: String,
    /// Time the host started.
    pub startup_time: String,
    /// Date of the last reload (the start if none).
    pub reload_date: String,
    /// Time of the last reload (the start if none).
    pub reload_time: String,
    /// Channels up now.
    pub current_calls: u32,
    /// Calls processed since start.
    pub processed_calls: u32,
}

/// The current wall-clock time: (seconds since the Unix epoch, microseconds 0..=999999).
///
/// # Example
///
/// ```no_run
/// use ami_plugin_sdk::core;
///
/// let (secs, micros) = core::now();
/// let stamp = format!("{secs}.{micros:06}");
/// ```
pub fn now() -> (u64, u32) {
    let now = host::now();
    (now.seconds, now.microseconds)
}

/// Seconds since the host started and since the last reload.
///
/// # Example
///
/// ```no_run
/// use ami_plugin_sdk::core;
///
/// let (uptime, since_reload) = core::uptime();
/// ```
pub fn uptime() -> (u64, u64) {
    host::uptime()
}

/// The core settings.
///
/// # Example
///
/// ```no_run
/// use ami_plugin_sdk::core;
///
/// let version = core::settings().pbx_version;
/// ```
pub fn settings() -> CoreSettings {
    let s = host::settings();
    CoreSettings {
        ami_version: s.ami_version,
        pbx_version: s.pbx_version,
        system_name: s.system_name,
        max_calls: s.max_calls,
        max_load_avg: s.max_load_avg,
        run_user: s.run_user,
        run_group: s.run_group,
        max_file_handles: s.max_file_handles,
        realtime_enabled: s.realtime_enabled,
        cdr_enabled: s.cdr_enabled,
        http_enabled: s.http_enabled,
    }
}

/// The core status.
///
/// # Example
///
/// ```no_run
/// use ami_plugin_sdk::core;
///
/// let calls = core::status().current_calls;
/// ```
pub fn status() -> CoreStatus {
    let s = host::status();
    CoreStatus {
        startup_date: s.startup_date,
        startup_time: s.startup_time,
        reload_date: s.reload_date,
        reload_time: s.reload_time,
        current_calls: s.current_calls,
        processed_calls: s.processed_calls,
    }
}

/// Every registered action, sorted case-insensitively by name, including those the host
/// serves itself; the host lists what fits the caller's dialect.
///
/// # Example
///
/// ```no_run
/// use ami_plugin_sdk::core;
///
/// let names: Vec<String> = core::list_actions().into_iter().map(|a| a.name).collect();
/// ```
pub fn list_actions() -> Vec<ActionInfo> {
    host::list_actions()
        .into_iter()
        .map(ActionInfo::from_wit)
        .collect()
}
