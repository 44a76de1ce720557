//! Built-in plugin serving `Logoff`.

mod logoff;

ami_plugin_sdk::plugin! {
    Logoff {
        privilege: NONE,
        synopsis: "Logoff Manager",
        description: logoff::DESCRIPTION,
        handler: logoff::logoff,
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
        assert_eq!(action.name, "Logoff");
        assert_eq!(action.privilege, Privilege::NONE);
        assert_eq!(action.modern_privilege, Privilege::NONE);
        assert_eq!(action.synopsis, "Logoff Manager");
        assert_eq!(action.modern_synopsis, "Logoff Manager.");
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
        let req = Request::new(Dialect::Modern, [("Action", "LOGOFF")]);
        let reply = super::ami_invoke("LOGOFF", &req, &Context::new(Dialect::Modern));
        assert!(reply.closes());
        assert_eq!(reply.get("Response"), Some("Goodbye"));
    }
}
