//! Built-in plugin serving `Hangup`.

mod hangup;

ami_plugin_sdk::plugin! {
    Hangup {
        privilege: CALL,
        modern_privilege: SYSTEM | CALL,
        synopsis: "Hangup Channel",
        modern_synopsis: "Hangup channel.",
        description: hangup::DESCRIPTION,
        handler: hangup::hangup,
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
        assert_eq!(action.name, "Hangup");
        assert_eq!(action.privilege, Privilege::CALL);
        assert_eq!(action.modern_privilege, Privilege::SYSTEM | Privilege::CALL);
        assert_eq!(action.synopsis, "Hangup Channel");
        assert_eq!(action.modern_synopsis, "Hangup channel.");
        assert!(!action.description.is_empty());
    }

    #[test]
    fn missing_channel_is_checked_before_any_host_call() {
        for dialect in [Dialect::V1, Dialect::Modern] {
            let req = Request::new(dialect, [("Action", "Hangup"), ("ActionID", "h")]);
            let reply = super::ami_invoke("hangup", &req, &Context::new(dialect));
            assert_eq!(
                reply.to_wire(),
                "Response: Error\r\nActionID: h\r\nMessage: No channel specified\r\n\r\n"
            );
        }
    }
}
