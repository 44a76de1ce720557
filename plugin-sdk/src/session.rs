//! The calling session and the session table. Grant: `session`.

use std::time::Duration;

use crate::privilege::Privilege;
use crate::wit::ami::manager::session as host;

/// The calling session's current event mask.
///
/// # Example
///
/// ```no_run
/// use ami_plugin_sdk::session;
///
/// let events_on = !session::event_mask().is_empty();
/// ```
pub fn event_mask() -> Privilege {
    Privilege::from_wit(host::event_mask())
}

/// Sets the calling session's event mask (what the `Events` action does).
///
/// # Example
///
/// ```no_run
/// use ami_plugin_sdk::{session, Privilege};
///
/// session::set_event_mask(Privilege::CALL | Privilege::USER);
/// ```
pub fn set_event_mask(mask: Privilege) {
    host::set_event_mask(mask.to_wit());
}

/// Does the live session `session_id` hold every class of `perm` for reading?
/// False for unknown or closed sessions (`astman_verify_session_readpermissions`).
///
/// # Example
///
/// ```no_run
/// use ami_plugin_sdk::{session, Privilege};
///
/// let allowed = session::verify_read_permissions("3f2a9c", Privilege::CALL);
/// ```
pub fn verify_read_permissions(session_id: &str, perm: Privilege) -> bool {
    host::verify_read_permissions(session_id, perm.to_wit())
}

/// Does the live session `session_id` hold every class of `perm` for writing?
/// False for unknown or closed sessions (`astman_verify_session_writepermissions`).
///
/// # Example
///
/// ```no_run
/// use ami_plugin_sdk::{session, Privilege};
///
/// let allowed = session::verify_write_permissions("3f2a9c", Privilege::ORIGINATE);
/// ```
pub fn verify_write_permissions(session_id: &str, perm: Privilege) -> bool {
    host::verify_write_permissions(session_id, perm.to_wit())
}

/// Is the TCP manager enabled (`check_manager_enabled`)?
///
/// # Example
///
/// ```no_run
/// use ami_plugin_sdk::session;
///
/// let yes_no = if session::manager_enabled() { "Yes" } else { "No" };
/// ```
pub fn manager_enabled() -> bool {
    host::manager_enabled()
}

/// Is the manager enabled with `webenabled` on (`check_webmanager_enabled`)?
///
/// # Example
///
/// ```no_run
/// use ami_plugin_sdk::session;
///
/// let yes_no = if session::webmanager_enabled() { "Yes" } else { "No" };
/// ```
pub fn webmanager_enabled() -> bool {
    host::webmanager_enabled()
}

/// Waits until events the calling session may see arrive, or `timeout` passes (`None`:
/// no limit), and returns them rendered in the session's dialect (possibly none). The
/// wait holds no host thread and counts against no CPU deadline.
///
/// # Example
///
/// ```no_run
/// use std::time::Duration;
/// use ami_plugin_sdk::session;
///
/// let events = session::wait_events(Some(Duration::from_secs(30)));
/// ```
pub fn wait_events(timeout: Option<Duration>) -> Vec<String> {
    let timeout_ms = timeout.map(|t| u64::try_from(t.as_millis()).unwrap_or(u64::MAX));
    host::wait_events(timeout_ms)
}
