//! Built-in plugin serving `Ping`.

mod ping;

ami_plugin_sdk::plugin! {
    Ping {
        privilege: NONE,
        synopsis: "Keepalive command",
        description: ping::DESCRIPTION,
        handler: ping::ping,
    }
}

#[cfg(test)]
mod tests {
    use ami_plugin_sdk::{Context, Dialect, Privilege, Request};

    #[test]
    fn declares_the_action() {
        let actions = super::ami_actions();
        assert_eq!(actions.len(), 1);
        let action = &actions[0];
        assert_eq!(action.name, "Ping");
        assert_eq!(action.privilege, Privilege::NONE);
        assert_eq!(action.modern_privilege, Privilege::NONE);
        assert_eq!(action.synopsis, "Keepalive command");
        assert_eq!(action.modern_synopsis, "Keepalive command.");
        assert!(!action.description.is_empty());
    }

    #[test]
    fn unknown_action_is_an_error() {
        let req = Request::new(Dialect::V1, [("Action", "Nope"), ("ActionID", "1")]);
        let reply = super::ami_invoke("Nope", &req, &Context::new(Dialect::V1));
        assert_eq!(
            reply.to_wire(),
            "Response: Error\r\nActionID: 1\r\nMessage: Invalid/unknown command\r\n\r\n"
        );
    }

    #[test]
    fn dispatch_ignores_case() {
        let req = Request::new(Dialect::V1, [("Action", "pInG")]);
        let reply = super::ami_invoke("pInG", &req, &Context::new(Dialect::V1));
        assert_eq!(reply.to_wire(), "Response: Pong\r\n\r\n");
    }
}
