//! Built-in plugin serving `UserEvent`.

mod user_event;

ami_plugin_sdk::plugin! {
    UserEvent {
        privilege: USER,
        synopsis: "Send an arbitrary event",
        description: user_event::DESCRIPTION,
        handler: user_event::user_event,
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
        assert_eq!(action.name, "UserEvent");
        assert_eq!(action.privilege, Privilege::USER);
        assert_eq!(action.modern_privilege, Privilege::USER);
        assert_eq!(action.synopsis, "Send an arbitrary event");
        assert_eq!(action.modern_synopsis, "Send an arbitrary event.");
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
}
