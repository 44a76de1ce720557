//! Built-in plugin serving `Reload`.

mod reload;

ami_plugin_sdk::plugin! {
    Reload {
        privilege: SYSTEM,
        modern_privilege: SYSTEM | CONFIG,
        synopsis: "Send a reload event",
        description: reload::DESCRIPTION,
        handler: reload::reload,
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
        assert_eq!(action.name, "Reload");
        assert_eq!(action.privilege, Privilege::SYSTEM);
        assert_eq!(
            action.modern_privilege,
            Privilege::SYSTEM | Privilege::CONFIG
        );
        assert_eq!(action.synopsis, "Send a reload event");
        assert_eq!(action.modern_synopsis, "Send a reload event.");
        assert!(!action.description.is_empty());
    }
}
