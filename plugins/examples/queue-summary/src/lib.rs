//! `QueueSummary`: a snapshot of the PBX's channels for a wallboard or a monitoring probe,
//! aggregated inside the plugin so the client reads a few lines instead of one `Status`
//! block per channel. (A plugin of its own, not `app_queue`'s action of the same name.)
//!
//! Classes: `call` (AMI 1.0), `call` or `reporting` (modern). Grant: `channels`.
//! Request: `Action: QueueSummary`, no other header.
//!
//! What it computes from `channels::all()`:
//!
//! * the number of channels;
//! * how many are in each state (`Up`, `Ringing`, `Ring`, ...), ordered by state number;
//! * how many are in each dialplan context, ordered by name;
//! * the longest call: of the channels that are `Up`, the one with the most seconds since
//!   its CDR started (the first created on a tie); none when no channel is up.
//!
//! Modern dialect, a list as Asterisk 22 sends them:
//!
//! ```text
//! Response: Success
//! [ActionID: <id>]
//! EventList: start
//! Message: Queue summary will follow
//!
//! Event: QueueSummaryState          one per state present
//! [ActionID: <id>]
//! State: <state text>
//! ChannelState: <state number>
//! Channels: <n>
//!
//! Event: QueueSummaryContext        one per context present
//! [ActionID: <id>]
//! Context: <context>
//! Channels: <n>
//!
//! Event: QueueSummaryComplete
//! [ActionID: <id>]
//! EventList: Complete
//! ListItems: <state items + context items>
//! Channels: <n>
//! LongestChannel: <name; empty when no channel is up>
//! LongestSeconds: <n; 0 when no channel is up>
//! ```
//!
//! AMI 1.0, one reply (its lists as `name=count` pairs joined by commas):
//!
//! ```text
//! Response: Success
//! [ActionID: <id>]
//! Message: Queue summary
//! Channels: <n>
//! ByState: <state>=<n>,<state>=<n>,...     (empty when there is no channel)
//! ByContext: <context>=<n>,...             (empty when there is no channel)
//! LongestChannel: <name or empty>
//! LongestSeconds: <n>
//! ```

mod queue_summary;

ami_plugin_sdk::plugin! {
    QueueSummary {
        privilege: CALL,
        modern_privilege: CALL | REPORTING,
        synopsis: "Summarize channels by state and context",
        description: "Counts the channels, by state and by dialplan context, and names the \
                      longest call that is up with its duration in seconds.",
        handler: queue_summary::queue_summary,
    }
}

#[cfg(test)]
mod tests {
    use ami_plugin_sdk::Privilege;

    #[test]
    fn declares_the_action() {
        let actions = super::ami_actions();
        assert_eq!(actions.len(), 1);
        assert_eq!(actions[0].name, "QueueSummary");
        assert_eq!(actions[0].privilege, Privilege::CALL);
        assert_eq!(
            actions[0].modern_privilege,
            Privilege::CALL | Privilege::REPORTING
        );
        assert_eq!(
            actions[0].modern_synopsis,
            "Summarize channels by state and context."
        );
    }
}
