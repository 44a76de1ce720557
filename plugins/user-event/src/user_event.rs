//! `UserEvent`: broadcast an event of the client's making.
//!
//! ```text
//! Action: UserEvent
//! UserEvent: <name>
//! [any other headers]
//!
//! Response: Success           emitted, class user:
//! [ActionID: <id>]            Event: UserEvent
//! Message: Event Sent         Privilege: user,all
//!                             UserEvent: <name>
//!                             <every other request header, in order>
//! ```
//!
//! Every request header except those named `UserEvent` is copied into the event, the
//! sender's `ActionID` included; V1 copies `Action: UserEvent` too, the modern dialect
//! leaves it out. Nothing is truncated. A missing `UserEvent` gives an empty one.

use ami_plugin_sdk::{events, Context, Dialect, Privilege, Request, Response};

/// What `manager show command UserEvent` prints.
pub const DESCRIPTION: &str = "Sends an event named UserEvent, of class 'user', to every \
session that may read it. The UserEvent header names the event; every other header of \
the request is copied into it.";

/// The handler.
pub fn user_event(req: &Request, _ctx: &Context) -> Response {
    events::emit(Privilege::USER, "UserEvent", &body(req));
    Response::ack(req, "Event Sent")
}

/// The emitted event's headers (the host adds `Event:` and `Privilege:`), borrowed from
/// the request.
fn body(req: &Request) -> Vec<(&str, &str)> {
    let skip_action = req.dialect() == Dialect::Modern;
    let mut body = Vec::with_capacity(req.headers().len() + 1);
    body.push(("UserEvent", req.header_or_empty("UserEvent")));
    body.extend(req.headers().filter(|(name, _)| {
        !(name.eq_ignore_ascii_case("UserEvent")
            || (skip_action && name.eq_ignore_ascii_case("Action")))
    }));
    body
}

#[cfg(test)]
mod tests {
    use super::*;
    use ami_plugin_sdk::Message;

    /// The body as the event's headers on the wire.
    fn wire(req: &Request) -> String {
        body(req)
            .into_iter()
            .fold(Message::new(), |m, (name, value)| m.header(name, value))
            .to_wire()
    }

    #[test]
    fn modern_body_skips_action_and_user_event() {
        let req = Request::new(
            Dialect::Modern,
            [
                ("Action", "UserEvent"),
                ("ActionID", "9"),
                ("UserEvent", "MyEvent"),
                ("Header1", "value one"),
                ("Header2", "value: two"),
            ],
        );
        assert_eq!(
            wire(&req),
            "UserEvent: MyEvent\r\nActionID: 9\r\nHeader1: value one\r\nHeader2: value: two\r\n\r\n"
        );
    }

    #[test]
    fn v1_body_keeps_action_line() {
        let req = Request::new(
            Dialect::V1,
            [
                ("Action", "UserEvent"),
                ("UserEvent", "Deploy"),
                ("ActionID", "u1"),
                ("Target", "eu-1"),
            ],
        );
        assert_eq!(
            wire(&req),
            "UserEvent: Deploy\r\nAction: UserEvent\r\nActionID: u1\r\nTarget: eu-1\r\n\r\n"
        );
    }

    #[test]
    fn missing_name_is_empty_and_duplicates_are_dropped() {
        let req = Request::new(Dialect::Modern, [("action", "userevent"), ("X", "1")]);
        assert_eq!(wire(&req), "UserEvent: \r\nX: 1\r\n\r\n");
        let req = Request::new(
            Dialect::V1,
            [("userevent", "A"), ("USEREVENT", "B"), ("Y", "")],
        );
        assert_eq!(wire(&req), "UserEvent: A\r\nY: \r\n\r\n");
    }

    #[test]
    fn long_values_are_not_truncated() {
        let long = "x".repeat(5000);
        let req = Request::new(
            Dialect::Modern,
            [("UserEvent", "Big"), ("Data", long.as_str())],
        );
        let data = body(&req).into_iter().find(|(name, _)| *name == "Data");
        assert_eq!(data.map(|(_, value)| value.len()), Some(5000));
    }
}
