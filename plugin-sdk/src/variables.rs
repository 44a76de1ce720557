//! Channel and global variables. Grant: `variables`.
//!
//! A name ending in `)` is a dialplan function (`CDR(userfield)`, `GLOBAL(X)`); a leading
//! `_` or `__` on a name set on a channel is the inheritance prefix.

use crate::channels::ChannelError;
use crate::wit::ami::manager::variables as host;

/// Reads `name` from channel `channel`, or a global when `channel` is `None`. A name
/// ending in `)` is a dialplan function read. `Ok(None)` when unset;
/// [`ChannelError::NoSuchChannel`] when the channel does not exist.
///
/// # Example
///
/// ```no_run
/// use ami_plugin_sdk::variables;
///
/// let value = match variables::get(Some("SIP/100-08a3c1e8"), "CALLERID(num)") {
///     Ok(value) => value.unwrap_or_default(),
///     Err(_) => String::new(),
/// };
/// ```
pub fn get(channel: Option<&str>, name: &str) -> Result<Option<String>, ChannelError> {
    host::get(channel, name).map_err(ChannelError::from_wit)
}

/// Sets `name` to `value` on channel `channel`, or as a global when `channel` is `None`.
/// A name ending in `)` is a dialplan function write.
///
/// # Example
///
/// ```no_run
/// use ami_plugin_sdk::variables;
///
/// variables::set(None, "DEPLOYED", "yes").ok();
/// let on_channel = variables::set(Some("SIP/100-08a3c1e8"), "__ACCOUNT", "4711");
/// ```
pub fn set(channel: Option<&str>, name: &str, value: &str) -> Result<(), ChannelError> {
    host::set(channel, name, value).map_err(ChannelError::from_wit)
}
