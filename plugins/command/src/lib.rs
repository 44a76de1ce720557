//! Built-in plugin serving `Command`.

mod command;

ami_plugin_sdk::plugin! {
    Command {
        privilege: COMMAND,
        synopsis: "Execute Asterisk CLI Command",
        description: command::DESCRIPTION,
        handler: command::command,
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
        assert_eq!(action.name, "Command");
        assert_eq!(action.privilege, Privilege::COMMAND);
        assert_eq!(action.modern_privilege, Privilege::COMMAND);
        assert_eq!(action.synopsis, "Execute Asterisk CLI Command");
        assert_eq!(action.modern_synopsis, "Execute Asterisk CLI Command.");
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
