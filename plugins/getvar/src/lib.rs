//! Built-in plugin serving `Getvar`.

mod getvar;

ami_plugin_sdk::plugin! {
    Getvar {
        privilege: CALL,
        modern_privilege: CALL | REPORTING,
        synopsis: "Gets a Channel Variable",
        modern_synopsis: "Gets a channel variable or function value.",
        description: getvar::DESCRIPTION,
        handler: getvar::getvar,
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
        assert_eq!(action.name, "Getvar");
        assert_eq!(action.privilege, Privilege::CALL);
        assert_eq!(
            action.modern_privilege,
            Privilege::CALL | Privilege::REPORTING
        );
        assert_eq!(action.synopsis, "Gets a Channel Variable");
        assert_eq!(
            action.modern_synopsis,
            "Gets a channel variable or function value."
        );
        assert!(!action.description.is_empty());
    }

    #[test]
    fn missing_variable_is_an_error() {
        for dialect in [Dialect::V1, Dialect::Modern] {
            let req = Request::new(dialect, [("ActionID", "12g"), ("Channel", "")]);
            let reply = super::ami_invoke("Getvar", &req, &Context::new(dialect));
            assert_eq!(
                reply.to_wire(),
                "Response: Error\r\nActionID: 12g\r\nMessage: No variable specified\r\n\r\n"
            );
        }
    }
}
