//! The host's command line (Asterisk's CLI): run one command and capture what it prints.
//! Grant: `cli`.
//!
//! The host's commands include `core show version`, `core show uptime`,
//! `core show channels`, `manager show commands|command|connected|users|user|eventq`,
//! `reload`, `dialplan show` and `help`; words match case-insensitively.

use crate::wit::ami::manager::cli as host;

/// What one command line printed.
///
/// # Example
///
/// ```no_run
/// use ami_plugin_sdk::cli;
///
/// let out = cli::run("core show uptime");
/// if out.found {
///     let lines = out.text.lines().count();
/// }
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CommandOutput {
    /// Whether the command exists (and so ran). An unknown command has `found` false and
    /// `text` `No such command '<line>' (type 'help' for help)` and a line end.
    pub found: bool,
    /// What it printed, each line ended by `\n`; possibly empty (`reload` on success).
    pub text: String,
}

/// Runs the CLI command line `command` in the host and returns its output.
///
/// # Example
///
/// ```no_run
/// use ami_plugin_sdk::cli;
///
/// let version = cli::run("core show version");
/// assert!(version.found);
/// let banner = version.text.trim_end();
/// ```
pub fn run(command: &str) -> CommandOutput {
    let out = host::run(command);
    CommandOutput {
        found: out.found,
        text: out.text,
    }
}
