//! The event bus (`manager_event`). Grant: `events`.
//!
//! An emitted event reaches every session whose read classes and event mask allow its
//! class; the host adds `Event:`, `Privilege:` (and `Timestamp:` when configured).

use crate::privilege::Privilege;
use crate::response::Message;
use crate::wit::ami::manager::events as host;

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
    let mut packed = Vec::new();
    crate::packed::pack_headers(
        &mut packed,
        body.iter().map(|(n, v)| (n.as_ref(), v.as_ref())),
    );
    host::emit_packed(class.to_wit(), name, &packed);
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
    let mut packed = Vec::new();
    crate::packed::pack_headers(&mut packed, body.headers());
    host::emit_packed(class.to_wit(), name, &packed);
}
