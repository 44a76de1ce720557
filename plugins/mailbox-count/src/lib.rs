//! Built-in plugin serving `MailboxCount`.

mod mailbox_count;

ami_plugin_sdk::plugin! {
    MailboxCount {
        privilege: CALL,
        modern_privilege: CALL | REPORTING,
        synopsis: "Check Mailbox Message Count",
        modern_synopsis: "Check Mailbox Message Count.",
        description: mailbox_count::DESCRIPTION,
        handler: mailbox_count::mailbox_count,
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
        assert_eq!(action.name, "MailboxCount");
        assert_eq!(action.privilege, Privilege::CALL);
        assert_eq!(
            action.modern_privilege,
            Privilege::CALL | Privilege::REPORTING
        );
        assert_eq!(action.synopsis, "Check Mailbox Message Count");
        assert_eq!(action.modern_synopsis, "Check Mailbox Message Count.");
        assert!(!action.description.is_empty());
    }

    #[test]
    fn missing_mailbox_is_an_error() {
        let req = Request::new(Dialect::V1, [("Action", "MailboxCount"), ("Mailbox", "")]);
        let reply = super::ami_invoke("MailboxCount", &req, &Context::new(Dialect::V1));
        assert_eq!(
            reply.to_wire(),
            "Response: Error\r\nMessage: Mailbox not specified\r\n\r\n"
        );
    }
}
