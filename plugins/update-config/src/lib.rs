//! Built-in plugin serving `UpdateConfig`.

mod update_config;

ami_plugin_sdk::plugin! {
    UpdateConfig {
        privilege: CONFIG,
        synopsis: "Update basic configuration",
        description: update_config::DESCRIPTION,
        handler: update_config::update_config,
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
        assert_eq!(action.name, "UpdateConfig");
        assert_eq!(action.privilege, Privilege::CONFIG);
        assert_eq!(action.modern_privilege, Privilege::CONFIG);
        assert_eq!(action.synopsis, "Update basic configuration");
        assert_eq!(action.modern_synopsis, "Update basic configuration.");
        assert!(!action.description.is_empty());
    }

    #[test]
    fn missing_filename_through_the_dispatcher() {
        let req = Request::new(
            Dialect::Modern,
            [
                ("Action", "UpdateConfig"),
                ("ActionID", "u"),
                ("SrcFilename", "a.conf"),
            ],
        );
        let reply = super::ami_invoke("UPDATECONFIG", &req, &Context::new(Dialect::Modern));
        assert_eq!(
            reply.to_wire(),
            "Response: Error\r\nActionID: u\r\nMessage: Filename not specified\r\n\r\n"
        );
    }
}
