//! Built-in plugin serving `ListCommands`.

mod list_commands;

ami_plugin_sdk::plugin! {
    ListCommands {
        privilege: NONE,
        synopsis: "List available manager commands",
        description: list_commands::DESCRIPTION,
        handler: list_commands::list_commands,
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
        assert_eq!(action.name, "ListCommands");
        assert_eq!(action.privilege, Privilege::NONE);
        assert_eq!(action.modern_privilege, Privilege::NONE);
        assert_eq!(action.synopsis, "List available manager commands");
        assert_eq!(action.modern_synopsis, "List available manager commands.");
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
