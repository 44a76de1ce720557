//! Built-in plugin serving `Status`.

mod status;

ami_plugin_sdk::plugin! {
    Status {
        privilege: CALL,
        modern_privilege: SYSTEM | CALL | REPORTING,
        synopsis: "Lists channel status",
        modern_synopsis: "List channel status.",
        description: status::DESCRIPTION,
        handler: status::status,
    }
}

#[cfg(test)]
mod tests {
    use ami_plugin_sdk::Privilege;

    #[test]
    fn declares_the_action() {
        let actions = super::ami_actions();
        assert_eq!(actions.len(), 1);
        let action = &actions[0];
        assert_eq!(action.name, "Status");
        assert_eq!(action.privilege, Privilege::CALL);
        assert_eq!(
            action.modern_privilege,
            Privilege::SYSTEM | Privilege::CALL | Privilege::REPORTING
        );
        assert_eq!(action.synopsis, "Lists channel status");
        assert_eq!(action.modern_synopsis, "List channel status.");
        assert!(!action.description.is_empty());
    }
}
