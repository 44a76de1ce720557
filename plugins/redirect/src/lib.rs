//! Built-in plugin serving `Redirect`.

mod redirect;

ami_plugin_sdk::plugin! {
    Redirect {
        privilege: CALL,
        synopsis: "Redirect (transfer) a call",
        modern_synopsis: "Redirect (transfer) a call.",
        description: redirect::DESCRIPTION,
        handler: redirect::redirect,
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
        assert_eq!(action.name, "Redirect");
        assert_eq!(action.privilege, Privilege::CALL);
        assert_eq!(action.modern_privilege, Privilege::CALL);
        assert_eq!(action.synopsis, "Redirect (transfer) a call");
        assert_eq!(action.modern_synopsis, "Redirect (transfer) a call.");
        assert!(!action.description.is_empty());
    }

    #[test]
    fn missing_channel_is_an_error() {
        let req = Request::new(Dialect::V1, [("Action", "Redirect"), ("Exten", "1")]);
        let reply = super::ami_invoke("Redirect", &req, &Context::new(Dialect::V1));
        assert_eq!(
            reply.to_wire(),
            "Response: Error\r\nMessage: Channel not specified\r\n\r\n"
        );
    }
}
