//! Built-in plugin serving `PluginList`.

mod plugin_list;

ami_plugin_sdk::plugin! {
    PluginList {
        privilege: SYSTEM,
        synopsis: "List the plugins",
        modern_synopsis: "List the loaded plugins and their state.",
        description: plugin_list::DESCRIPTION,
        handler: plugin_list::plugin_list,
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
        assert_eq!(action.name, "PluginList");
        assert_eq!(action.privilege, Privilege::SYSTEM);
        assert_eq!(action.modern_privilege, Privilege::SYSTEM);
        assert_eq!(action.synopsis, "List the plugins");
        assert_eq!(
            action.modern_synopsis,
            "List the loaded plugins and their state."
        );
        assert!(!action.description.is_empty());
    }
}
