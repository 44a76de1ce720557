//! Built-in plugin serving `CoreStatus`.

mod core_status;

ami_plugin_sdk::plugin! {
    CoreStatus {
        privilege: SYSTEM,
        modern_privilege: SYSTEM | REPORTING,
        synopsis: "Show PBX core status variables",
        description: core_status::DESCRIPTION,
        handler: core_status::core_status,
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
        assert_eq!(action.name, "CoreStatus");
        assert_eq!(action.privilege, Privilege::SYSTEM);
        assert_eq!(
            action.modern_privilege,
            Privilege::SYSTEM | Privilege::REPORTING
        );
        assert_eq!(action.synopsis, "Show PBX core status variables");
        assert_eq!(action.modern_synopsis, "Show PBX core status variables.");
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
