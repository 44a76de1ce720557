//! The dialplan: extension states through hints, priority labels. Grant: `dialplan`.

use crate::wit::ami::manager::dialplan as host;

/// The state of an extension through its hint.
///
/// # Example
///
/// ```no_run
/// use ami_plugin_sdk::dialplan;
///
/// let state = dialplan::hint_state("100", "default");
/// let ringing = state.status >= 0 && state.status & 8 != 0;
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExtensionState {
    /// The hint's device string (`SIP/100&SIP/101`), empty without a hint.
    pub hint: String,
    /// `AST_EXTENSION_*` code: -1 no hint, 0 idle, 1 in use, 2 busy, 4 unavailable,
    /// 8 ringing, 9 in use and ringing, 16 on hold.
    pub status: i32,
}

impl Default for ExtensionState {
    /// No hint: empty device string, status -1.
    fn default() -> ExtensionState {
        ExtensionState {
            hint: String::new(),
            status: -1,
        }
    }
}

/// The state of `exten` in `context` (status -1 and an empty hint when it has no hint or
/// does not exist).
///
/// # Example
///
/// ```no_run
/// use ami_plugin_sdk::dialplan;
///
/// let state = dialplan::hint_state("100", "default");
/// let idle = state.status == 0;
/// ```
pub fn hint_state(exten: &str, context: &str) -> ExtensionState {
    let state = host::hint_state(exten, context);
    ExtensionState {
        hint: state.hint,
        status: state.status,
    }
}

/// Resolves the priority label `label` of `exten@context` to its number; `None` when
/// there is no such label.
///
/// # Example
///
/// ```no_run
/// use ami_plugin_sdk::dialplan;
///
/// let priority = dialplan::find_label("default", "200", "voicemail").unwrap_or(0);
/// ```
pub fn find_label(context: &str, exten: &str, label: &str) -> Option<u32> {
    host::find_label(context, exten, label)
}
