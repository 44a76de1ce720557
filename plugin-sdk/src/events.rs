//! The event bus (`manager_event`). Grant: `events`.
//!
//! An emitted event reaches every session whose read classes and event mask allow its
//! class; the host adds `Event:`, `Privilege:` (and `Timestamp:` when configured).

use crate::privilege::Privilege;
use crate::response::Message;
use crate::wit::ami::manager::events as host;
use crate::wit::ami::manager::types as wit;

/// Emits event `name` of class `class` with `body` as its headers, in order.
///
/// # Example
///
/// ```no_run
/// use ami_plugin_sdk::{events, Privilege};
///
/// events::emit(Privilege::USER, "UserEvent", &[("UserEvent", "Deploy"), ("Target", "eu-1")]);
/// ```
pub fn emit<N: AsRef<str>, V: AsRef<str>>(class: Privilege, name: &str, body: &[(N, V)]) {
    let body: wit::Message = body
        .iter()
        .map(|(n, v)| wit::Header {
            name: n.as_ref().to_string(),
            value: v.as_ref().to_string(),
        })
        .collect();
    host::emit(class.to_wit(), name, &body);
}

/// Emits event `name` of class `class` with the headers of `body`, in order.
///
/// # Example
///
/// ```no_run
/// use ami_plugin_sdk::{events, Message, Privilege};
///
/// let body = Message::new().header("Channel", "SIP/100-0001").header("Cause", 16);
/// events::emit_message(Privilege::CALL, "Hangup", body);
/// ```
pub fn emit_message(class: Privilege, name: &str, body: Message) {
    host::emit(class.to_wit(), name, &body.into_wit());
}
