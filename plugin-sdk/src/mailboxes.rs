//! The voicemail spool. Grant: `mailboxes`.

use crate::wit::ami::manager::mailboxes as host;

/// Message counts of one mailbox (or of a comma list of them, summed).
///
/// # Example
///
/// ```no_run
/// use ami_plugin_sdk::mailboxes;
///
/// let counts = mailboxes::count("100@default");
/// let waiting = counts.new_messages > 0;
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Messages in `INBOX`.
    pub new_messages: u32,
    /// Messages in `Old`.
    pub old_messages: u32,
}

/// Counts the messages of `mailbox` (`box@context`, context `default` if absent; a comma
/// list sums its mailboxes). Zero for a mailbox that does not exist.
///
/// # Example
///
/// ```no_run
/// use ami_plugin_sdk::mailboxes;
///
/// let total = {
///     let c = mailboxes::count("100@default,101@default");
///     c.new_messages + c.old_messages
/// };
/// ```
pub fn count(mailbox: &str) -> Counts {
    let counts = host::count(mailbox);
    Counts {
        new_messages: counts.new_messages,
        old_messages: counts.old_messages,
    }
}
