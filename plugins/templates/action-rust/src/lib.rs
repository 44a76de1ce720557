//! `Hello`: a complete AMI action plugin to copy and adapt.
//!
//! Request: `Action: Hello`, optional `Name` (default `world`).
//!
//! Reply (both dialects):
//!
//! ```text
//! Response: Success
//! [ActionID: <id>]
//! Message: Hello, <name>!
//! ```
//!
//! It also emits an event, of class `user`, to every session allowed to read it:
//!
//! ```text
//! Event: Hello
//! Privilege: user,all
//! Name: <name>
//! ```
//!
//! Emitting events needs the `events` grant (see `amihost.toml.snippet`). The reply and
//! the event body are built by plain functions, so `cargo test` checks them natively;
//! the capability functions (`events::emit_message`) only work inside the host.

use ami_plugin_sdk::events;
use ami_plugin_sdk::prelude::*;

// The actions this component serves: wire name, required write classes, the synopsis
// ListCommands shows, the description `manager show command Hello` shows, the handler.
// Add more blocks to serve more actions from one component.
ami_plugin_sdk::plugin! {
    Hello {
        // Anyone logged in may call it. `USER`, `CALL`, `SYSTEM | CONFIG`, ... require
        // those classes in the user's `write` setting.
        privilege: NONE,
        synopsis: "Say hello",
        description: "Answers 'Hello, <Name>!' (Name defaults to 'world') and emits a Hello \
                      event of class user.",
        handler: hello,
    }
}

/// The handler: read the request, talk to the host, build the reply.
fn hello(req: &Request, _ctx: &Context) -> Response {
    let name = name(req);
    events::emit_message(Privilege::USER, "Hello", event_body(name));
    reply(req, name)
}

/// The `Name` header, `world` when absent or blank.
fn name(req: &Request) -> &str {
    match req.header_or_empty("Name").trim() {
        "" => "world",
        name => name,
    }
}

/// The reply; `Response::ack` echoes the request's `ActionID`.
fn reply(req: &Request, name: &str) -> Response {
    Response::ack(req, format!("Hello, {name}!"))
}

/// The headers of the `Hello` event (the host adds `Event:` and `Privilege:`).
fn event_body(name: &str) -> Message {
    Message::new().header("Name", name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greets_by_name_and_echoes_the_action_id() {
        let req = Request::new(
            Dialect::Modern,
            [("Action", "Hello"), ("ActionID", "7"), ("Name", "Alice")],
        );
        assert_eq!(
            reply(&req, name(&req)).to_wire(),
            "Response: Success\r\nActionID: 7\r\nMessage: Hello, Alice!\r\n\r\n"
        );
        assert_eq!(event_body("Alice").to_wire(), "Name: Alice\r\n\r\n");
    }

    #[test]
    fn name_defaults_to_world() {
        let req = Request::new(Dialect::V1, [("Action", "Hello"), ("Name", "  ")]);
        assert_eq!(name(&req), "world");
        assert_eq!(
            reply(&req, name(&req)).to_wire(),
            "Response: Success\r\nMessage: Hello, world!\r\n\r\n"
        );
    }

    #[test]
    fn declares_hello() {
        let actions = ami_actions();
        assert_eq!(actions.len(), 1);
        assert_eq!(actions[0].name, "Hello");
        assert_eq!(actions[0].privilege, Privilege::NONE);
        assert_eq!(actions[0].modern_synopsis, "Say hello.");
    }
}
