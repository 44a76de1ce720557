//! Built-in plugin serving `AbsoluteTimeout`.

mod absolute_timeout;

ami_plugin_sdk::plugin! {
    AbsoluteTimeout {
        privilege: CALL,
        modern_privilege: SYSTEM | CALL,
        synopsis: "Set Absolute Timeout",
        modern_synopsis: "Set absolute timeout.",
        description: absolute_timeout::DESCRIPTION,
        handler: absolute_timeout::absolute_timeout,
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
        assert_eq!(action.name, "AbsoluteTimeout");
        assert_eq!(action.privilege, Privilege::CALL);
        assert_eq!(action.modern_privilege, Privilege::SYSTEM | Privilege::CALL);
        assert_eq!(action.synopsis, "Set Absolute Timeout");
        assert_eq!(action.modern_synopsis, "Set absolute timeout.");
        assert!(!action.description.is_empty());
    }

    #[test]
    fn checks_before_the_host() {
        let ctx = Context::new(Dialect::V1);
        let req = Request::new(Dialect::V1, [("ActionID", "t"), ("Timeout", "5")]);
        assert_eq!(
            super::ami_invoke("AbsoluteTimeout", &req, &ctx).to_wire(),
            "Response: Error\r\nActionID: t\r\nMessage: No channel specified\r\n\r\n"
        );
        let req = Request::new(Dialect::V1, [("ActionID", "t"), ("Channel", "SIP/1")]);
        assert_eq!(
            super::ami_invoke("AbsoluteTimeout", &req, &ctx).to_wire(),
            "Response: Error\r\nActionID: t\r\nMessage: No timeout specified\r\n\r\n"
        );
    }
}
