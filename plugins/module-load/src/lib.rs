//! Built-in plugin serving `ModuleLoad`.

mod module_load;

ami_plugin_sdk::plugin! {
    ModuleLoad {
        privilege: SYSTEM,
        synopsis: "Module management",
        description: module_load::DESCRIPTION,
        handler: module_load::module_load,
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
        assert_eq!(action.name, "ModuleLoad");
        assert_eq!(action.privilege, Privilege::SYSTEM);
        assert_eq!(action.modern_privilege, Privilege::SYSTEM);
        assert_eq!(action.synopsis, "Module management");
        assert_eq!(action.modern_synopsis, "Module management.");
        assert!(!action.description.is_empty());
    }
}
