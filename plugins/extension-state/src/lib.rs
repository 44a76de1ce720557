//! Built-in plugin serving `ExtensionState`.

mod extension_state;

ami_plugin_sdk::plugin! {
    ExtensionState {
        privilege: CALL,
        modern_privilege: CALL | REPORTING,
        synopsis: "Check Extension Status",
        modern_synopsis: "Check Extension Status.",
        description: extension_state::DESCRIPTION,
        handler: extension_state::extension_state,
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
        assert_eq!(action.name, "ExtensionState");
        assert_eq!(action.privilege, Privilege::CALL);
        assert_eq!(
            action.modern_privilege,
            Privilege::CALL | Privilege::REPORTING
        );
        assert_eq!(action.synopsis, "Check Extension Status");
        assert_eq!(action.modern_synopsis, "Check Extension Status.");
        assert!(!action.description.is_empty());
    }

    #[test]
    fn missing_exten_is_an_error() {
        let req = Request::new(Dialect::Modern, [("ActionID", "e"), ("Context", "default")]);
        let reply = super::ami_invoke("ExtensionState", &req, &Context::new(Dialect::Modern));
        assert_eq!(
            reply.to_wire(),
            "Response: Error\r\nActionID: e\r\nMessage: Extension not specified\r\n\r\n"
        );
    }
}
