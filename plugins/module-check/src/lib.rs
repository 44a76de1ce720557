//! Built-in plugin serving `ModuleCheck`.

mod module_check;

ami_plugin_sdk::plugin! {
    ModuleCheck {
        privilege: SYSTEM,
        synopsis: "Check if module is loaded",
        description: module_check::DESCRIPTION,
        handler: module_check::module_check,
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
        assert_eq!(action.name, "ModuleCheck");
        assert_eq!(action.privilege, Privilege::SYSTEM);
        assert_eq!(action.modern_privilege, Privilege::SYSTEM);
        assert_eq!(action.synopsis, "Check if module is loaded");
        assert_eq!(action.modern_synopsis, "Check if module is loaded.");
        assert!(!action.description.is_empty());
    }
}
