//! Built-in plugin serving `WaitEvent`.

mod wait_event;

ami_plugin_sdk::plugin! {
    WaitEvent {
        privilege: NONE,
        synopsis: "Wait for an event to occur",
        modern_synopsis: "Wait for an event to occur.",
        description: wait_event::DESCRIPTION,
        handler: wait_event::wait_event,
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
        assert_eq!(action.name, "WaitEvent");
        assert_eq!(action.privilege, Privilege::NONE);
        assert_eq!(action.modern_privilege, Privilege::NONE);
        assert_eq!(action.synopsis, "Wait for an event to occur");
        assert_eq!(action.modern_synopsis, "Wait for an event to occur.");
        assert!(!action.description.is_empty());
    }
}
