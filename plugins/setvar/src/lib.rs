//! Built-in plugin serving `Setvar`.

mod setvar;

ami_plugin_sdk::plugin! {
    Setvar {
        privilege: CALL,
        synopsis: "Set Channel Variable",
        modern_synopsis: "Sets a channel variable or function value.",
        description: setvar::DESCRIPTION,
        handler: setvar::setvar,
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
        assert_eq!(action.name, "Setvar");
        assert_eq!(action.privilege, Privilege::CALL);
        assert_eq!(action.modern_privilege, Privilege::CALL);
        assert_eq!(action.synopsis, "Set Channel Variable");
        assert_eq!(
            action.modern_synopsis,
            "Sets a channel variable or function value."
        );
        assert!(!action.description.is_empty());
    }

    #[test]
    fn missing_variable_is_an_error() {
        for dialect in [Dialect::V1, Dialect::Modern] {
            let req = Request::new(dialect, [("ActionID", "12f"), ("Value", "x")]);
            let reply = super::ami_invoke("Setvar", &req, &Context::new(dialect));
            assert_eq!(
                reply.to_wire(),
                "Response: Error\r\nActionID: 12f\r\nMessage: No variable specified\r\n\r\n"
            );
        }
    }
}
