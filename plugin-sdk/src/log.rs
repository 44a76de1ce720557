//! Logging into the host's log, tagged with the plugin's name. Grant: `log`.

use crate::wit::ami::manager::log::{self as host, Level};

/// Writes `message` at trace level.
///
/// # Example
///
/// ```no_run
/// ami_plugin_sdk::log::trace("entering handler");
/// ```
pub fn trace(message: impl AsRef<str>) {
    host::log(Level::Trace, message.as_ref());
}

/// Writes `message` at debug level.
///
/// # Example
///
/// ```no_run
/// ami_plugin_sdk::log::debug(format!("{} variables", 3));
/// ```
pub fn debug(message: impl AsRef<str>) {
    host::log(Level::Debug, message.as_ref());
}

/// Writes `message` at info level.
///
/// # Example
///
/// ```no_run
/// ami_plugin_sdk::log::info("event mask changed");
/// ```
pub fn info(message: impl AsRef<str>) {
    host::log(Level::Info, message.as_ref());
}

/// Writes `message` at warn level.
///
/// # Example
///
/// ```no_run
/// ami_plugin_sdk::log::warn("unknown class name ignored");
/// ```
pub fn warn(message: impl AsRef<str>) {
    host::log(Level::Warn, message.as_ref());
}

/// Writes `message` at error level.
///
/// # Example
///
/// ```no_run
/// ami_plugin_sdk::log::error("originate failed");
/// ```
pub fn error(message: impl AsRef<str>) {
    host::log(Level::Error, message.as_ref());
}
