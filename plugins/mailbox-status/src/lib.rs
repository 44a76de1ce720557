//! Built-in plugin serving `MailboxStatus`.

mod mailbox_status;

ami_plugin_sdk::plugin! {
    MailboxStatus {
        privilege: CALL,
        modern_privilege: CALL | REPORTING,
        synopsis: "Check Mailbox",
        modern_synopsis: "Check mailbox.",
        description: mailbox_status::DESCRIPTION,
        handler: mailbox_status::mailbox_status,
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
        assert_eq!(action.name, "MailboxStatus");
        assert_eq!(action.privilege, Privilege::CALL);
        assert_eq!(
            action.modern_privilege,
            Privilege::CALL | Privilege::REPORTING
        );
        assert_eq!(action.synopsis, "Check Mailbox");
        assert_eq!(action.modern_synopsis, "Check mailbox.");
        assert!(!action.description.is_empty());
    }

    #[test]
    fn missing_mailbox_matches_transcript_15() {
        let req = Request::new(
            Dialect::Modern,
            [("Action", "MailboxStatus"), ("ActionID", "15d")],
        );
        let reply = super::ami_invoke("MailboxStatus", &req, &Context::new(Dialect::Modern));
        assert_eq!(
            reply.to_wire(),
            "Response: Error\r\nActionID: 15d\r\nMessage: Mailbox not specified\r\n\r\n"
        );
    }
}
