//! Built-in plugin serving `Originate`.

mod callerid;
mod originate;

ami_plugin_sdk::plugin! {
    Originate {
        privilege: CALL,
        modern_privilege: ORIGINATE,
        synopsis: "Originate Call",
        modern_synopsis: "Originate a call.",
        description: originate::DESCRIPTION,
        handler: originate::originate,
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
        assert_eq!(action.name, "Originate");
        assert_eq!(action.privilege, Privilege::CALL);
        assert_eq!(action.modern_privilege, Privilege::ORIGINATE);
        assert_eq!(action.synopsis, "Originate Call");
        assert_eq!(action.modern_synopsis, "Originate a call.");
        assert!(!action.description.is_empty());
    }

    #[test]
    fn missing_channel_is_an_error() {
        let req = Request::new(Dialect::Modern, [("ActionID", "o"), ("Exten", "1")]);
        let reply = super::ami_invoke("Originate", &req, &Context::new(Dialect::Modern));
        assert_eq!(
            reply.to_wire(),
            "Response: Error\r\nActionID: o\r\nMessage: Channel not specified\r\n\r\n"
        );
    }
}
