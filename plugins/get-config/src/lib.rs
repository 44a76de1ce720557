//! Built-in plugin serving `GetConfig`.

mod get_config;

ami_plugin_sdk::plugin! {
    GetConfig {
        privilege: CONFIG,
        modern_privilege: SYSTEM | CONFIG,
        synopsis: "Retrieve configuration",
        description: get_config::DESCRIPTION,
        handler: get_config::get_config,
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
        assert_eq!(action.name, "GetConfig");
        assert_eq!(action.privilege, Privilege::CONFIG);
        assert_eq!(
            action.modern_privilege,
            Privilege::SYSTEM | Privilege::CONFIG
        );
        assert_eq!(action.synopsis, "Retrieve configuration");
        assert_eq!(action.modern_synopsis, "Retrieve configuration.");
        assert!(!action.description.is_empty());
    }

    #[test]
    fn missing_filename_through_the_dispatcher() {
        let req = Request::new(Dialect::V1, [("Action", "getconfig"), ("ActionID", "1")]);
        let reply = super::ami_invoke("getconfig", &req, &Context::new(Dialect::V1));
        assert_eq!(
            reply.to_wire(),
            "Response: Error\r\nActionID: 1\r\nMessage: Filename not specified\r\n\r\n"
        );
    }
}
