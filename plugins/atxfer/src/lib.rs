//! Built-in plugin serving `Atxfer`.

mod atxfer;

ami_plugin_sdk::plugin! {
    Atxfer {
        privilege: CALL,
        synopsis: "Attended transfer",
        modern_synopsis: "Attended transfer.",
        description: atxfer::DESCRIPTION,
        handler: atxfer::atxfer,
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
        assert_eq!(action.name, "Atxfer");
        assert_eq!(action.privilege, Privilege::CALL);
        assert_eq!(action.modern_privilege, Privilege::CALL);
        assert_eq!(action.synopsis, "Attended transfer");
        assert_eq!(action.modern_synopsis, "Attended transfer.");
        assert!(!action.description.is_empty());
    }

    #[test]
    fn required_headers() {
        let ctx = Context::new(Dialect::V1);
        let req = Request::new(Dialect::V1, [("ActionID", "a"), ("Exten", "200")]);
        assert_eq!(
            super::ami_invoke("Atxfer", &req, &ctx).get("Message"),
            Some("No channel specified")
        );
        let req = Request::new(Dialect::V1, [("ActionID", "a"), ("Channel", "SIP/1")]);
        assert_eq!(
            super::ami_invoke("Atxfer", &req, &ctx).to_wire(),
            "Response: Error\r\nActionID: a\r\nMessage: No extension specified\r\n\r\n"
        );
    }
}
