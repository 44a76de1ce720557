//! `ListCommands`: the actions the calling session may run, one header each.
//!
//! ```text
//! Response: Success
//! [ActionID: <id>]
//! V1:      <Action>: <synopsis> (Priv: <classes, V1 names>)
//! Modern:  <Action>: <modern synopsis>  (Priv: <modern classes>)
//! ```
//!
//! An action is listed when the session may run it: in V1 its write classes hold every
//! class of the action's `privilege`; in the modern dialect the action's
//! `modern_privilege` is empty or shares a class with them. Order and selection per
//! dialect come from the host's registry (sorted case-insensitively by name).

use ami_plugin_sdk::{core, ActionInfo, Context, Dialect, Privilege, Request, Response};

/// What `manager show command ListCommands` prints.
pub const DESCRIPTION: &str = "Lists every manager action this session is allowed to run, \
with its synopsis and the permission classes it needs.";

/// The handler.
pub fn list_commands(req: &Request, ctx: &Context) -> Response {
    listing(req, ctx.write_privilege(), &core::list_actions())
}

/// The reply for a session holding write classes `write`.
fn listing(req: &Request, write: Privilege, actions: &[ActionInfo]) -> Response {
    let dialect = req.dialect();
    let mut reply = Response::success(req);
    for action in actions.iter().filter(|a| may_run(dialect, write, a)) {
        let line = match dialect {
            Dialect::V1 => format!(
                "{} (Priv: {})",
                action.synopsis,
                action.privilege.render(Dialect::V1)
            ),
            Dialect::Modern => format!(
                "{}  (Priv: {})",
                action.modern_synopsis,
                action.modern_privilege.render(Dialect::Modern)
            ),
        };
        reply.push_header(action.name.as_str(), line);
    }
    reply
}

fn may_run(dialect: Dialect, write: Privilege, action: &ActionInfo) -> bool {
    match dialect {
        Dialect::V1 => write.contains(action.privilege),
        Dialect::Modern => {
            action.modern_privilege.is_empty() || write.intersects(action.modern_privilege)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn action(name: &str, v1: Privilege, modern: Privilege, synopsis: &str) -> ActionInfo {
        ActionInfo {
            name: name.to_string(),
            privilege: v1,
            modern_privilege: modern,
            synopsis: synopsis.to_string(),
            modern_synopsis: format!("{synopsis}."),
            description: String::new(),
        }
    }

    fn registry() -> Vec<ActionInfo> {
        vec![
            action(
                "AbsoluteTimeout",
                Privilege::CALL,
                Privilege::SYSTEM | Privilege::CALL,
                "Set absolute timeout",
            ),
            action(
                "CoreSettings",
                Privilege::SYSTEM,
                Privilege::SYSTEM | Privilege::REPORTING,
                "Show PBX core settings (version etc)",
            ),
            action(
                "Events",
                Privilege::NONE,
                Privilege::NONE,
                "Control Event Flow",
            ),
            action(
                "Status",
                Privilege::CALL | Privilege::SYSTEM,
                Privilege::SYSTEM | Privilege::CALL | Privilege::REPORTING,
                "Lists channel status",
            ),
        ]
    }

    #[test]
    fn v1_lists_actions_whose_classes_are_all_held() {
        let req = Request::new(Dialect::V1, [("Action", "ListCommands"), ("ActionID", "7")]);
        let reply = listing(&req, Privilege::CALL, &registry());
        assert_eq!(
            reply.to_wire(),
            "Response: Success\r\nActionID: 7\r\n\
             AbsoluteTimeout: Set absolute timeout (Priv: call,all)\r\n\
             Events: Control Event Flow (Priv: <none>)\r\n\r\n"
        );
    }

    #[test]
    fn modern_lists_actions_sharing_a_class() {
        let req = Request::new(
            Dialect::Modern,
            [("Action", "ListCommands"), ("ActionID", "7")],
        );
        let reply = listing(&req, Privilege::CALL, &registry());
        assert_eq!(
            reply.to_wire(),
            "Response: Success\r\nActionID: 7\r\n\
             AbsoluteTimeout: Set absolute timeout.  (Priv: system,call,all)\r\n\
             Events: Control Event Flow.  (Priv: <none>)\r\n\
             Status: Lists channel status.  (Priv: system,call,reporting,all)\r\n\r\n"
        );
    }

    #[test]
    fn full_write_lists_everything() {
        for dialect in [Dialect::V1, Dialect::Modern] {
            let req = Request::new(dialect, [("Action", "ListCommands")]);
            let reply = listing(&req, Privilege::ALL, &registry());
            assert_eq!(reply.headers().count(), 1 + registry().len());
        }
        let req = Request::new(Dialect::Modern, [("Action", "ListCommands")]);
        let reply = listing(&req, Privilege::ALL, &registry());
        assert_eq!(
            reply.get("CoreSettings"),
            Some("Show PBX core settings (version etc).  (Priv: system,reporting,all)")
        );
    }

    #[test]
    fn no_write_lists_only_open_actions() {
        for dialect in [Dialect::V1, Dialect::Modern] {
            let req = Request::new(dialect, [("Action", "ListCommands")]);
            let reply = listing(&req, Privilege::NONE, &registry());
            let names: Vec<&str> = reply.headers().map(|(n, _)| n).collect();
            assert_eq!(names, ["Response", "Events"]);
        }
    }
}
