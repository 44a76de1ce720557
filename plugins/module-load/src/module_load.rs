//! `ModuleLoad`: loads, unloads or reloads one plugin, or runs the whole reload.
//!
//! Headers: `LoadType` (`load`, `unload` or `reload`, any case; required) and `Module`
//! (a plugin's file stem, `.wasm` optional; required except for `reload`). Checked in
//! Asterisk 22's order (`manager_moduleload`), answering once where Asterisk may answer
//! twice:
//!
//! | request | reply |
//! |---|---|
//! | `LoadType` absent or empty | error `Incomplete ModuleLoad action.` |
//! | `Module` empty, `LoadType` not `reload` | error `Need module name` |
//! | `load`: loaded / not | ack `Module loaded.` / error `Could not load module.` |
//! | `unload`: unloaded / not | ack `Module unloaded.` / error `Could not unload module.` |
//! | `reload` with a `Module`: rebuilt | ack `Module reloaded.` |
//! | ... no plugin of that name | error `No such module.` |
//! | ... the rebuild failed | error with the host's reason |
//! | `reload` without `Module`: the whole reload ran / not | ack `All modules reloaded` / error with the host's reason |
//! | any other `LoadType` | error `Incomplete ModuleLoad action.` |
//!
//! An ack is `Response: Success` / `[ActionID]` / `Message: <text>`; an error
//! `Response: Error` / `[ActionID]` / `Message: <text>`, in both dialects.

use ami_plugin_sdk::modules::{self, ModuleOp, PluginStatus};
use ami_plugin_sdk::{Context, Request, Response};

/// What `manager show command ModuleLoad` prints.
pub const DESCRIPTION: &str = "Loads, unloads or reloads a plugin in the running host. \
LoadType: load, unload or reload (required). Module: the plugin's file stem, '.wasm' \
optional; required for load and unload; reload without Module reloads the manager and \
every plugin.";

/// What the request asks for, or why it is refused.
#[derive(Debug, PartialEq, Eq)]
enum Plan<'a> {
    /// Refused with this error message.
    Refuse(&'static str),
    /// Apply `op` to the plugin `name`.
    Apply(ModuleOp, &'a str),
    /// Run the whole reload.
    ReloadAll,
}

/// The plan for `LoadType` and `Module`.
fn plan<'a>(load_type: &str, module: &'a str) -> Plan<'a> {
    let load_type = load_type.trim();
    let module = module.trim();
    if load_type.is_empty() {
        return Plan::Refuse("Incomplete ModuleLoad action.");
    }
    let op = if load_type.eq_ignore_ascii_case("load") {
        ModuleOp::Load
    } else if load_type.eq_ignore_ascii_case("unload") {
        ModuleOp::Unload
    } else if load_type.eq_ignore_ascii_case("reload") {
        ModuleOp::Reload
    } else if module.is_empty() {
        return Plan::Refuse("Need module name");
    } else {
        return Plan::Refuse("Incomplete ModuleLoad action.");
    };
    match (op, module.is_empty()) {
        (ModuleOp::Reload, true) => Plan::ReloadAll,
        (_, true) => Plan::Refuse("Need module name"),
        (op, false) => Plan::Apply(op, module),
    }
}

/// The handler.
pub fn module_load(req: &Request, _ctx: &Context) -> Response {
    match plan(
        req.header_or_empty("LoadType"),
        req.header_or_empty("Module"),
    ) {
        Plan::Refuse(message) => Response::error(req, message),
        Plan::ReloadAll => match modules::reload("") {
            Ok(()) => Response::ack(req, "All modules reloaded"),
            Err(reason) => Response::error(req, reason),
        },
        Plan::Apply(op, name) => {
            let outcome = modules::module_op(op, name);
            let known = match (&outcome, op) {
                (Err(_), ModuleOp::Reload) => is_known(name, &modules::plugins()),
                _ => true,
            };
            reply(req, op, outcome, known)
        }
    }
}

/// The reply to `op` on one plugin; `known`: whether a plugin of that name exists.
fn reply(req: &Request, op: ModuleOp, outcome: Result<(), String>, known: bool) -> Response {
    match (op, outcome) {
        (ModuleOp::Load, Ok(())) => Response::ack(req, "Module loaded."),
        (ModuleOp::Load, Err(_)) => Response::error(req, "Could not load module."),
        (ModuleOp::Unload, Ok(())) => Response::ack(req, "Module unloaded."),
        (ModuleOp::Unload, Err(_)) => Response::error(req, "Could not unload module."),
        (ModuleOp::Reload, Ok(())) => Response::ack(req, "Module reloaded."),
        (ModuleOp::Reload, Err(_)) if !known => Response::error(req, "No such module."),
        (ModuleOp::Reload, Err(reason)) => Response::error(req, reason),
    }
}

/// Whether `name` (`.wasm` optional) is one of `plugins`.
fn is_known(name: &str, plugins: &[PluginStatus]) -> bool {
    let stem = match name.len().checked_sub(5) {
        Some(cut) if name.is_char_boundary(cut) && name[cut..].eq_ignore_ascii_case(".wasm") => {
            &name[..cut]
        }
        _ => name,
    };
    plugins.iter().any(|p| p.name.eq_ignore_ascii_case(stem))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ami_plugin_sdk::Dialect;

    fn req() -> Request {
        Request::new(
            Dialect::Modern,
            [("Action", "ModuleLoad"), ("ActionID", "m")],
        )
    }

    fn wire(reply: Response) -> String {
        reply.to_wire()
    }

    #[test]
    fn plans() {
        assert_eq!(
            plan("", "ping"),
            Plan::Refuse("Incomplete ModuleLoad action.")
        );
        assert_eq!(
            plan("  ", ""),
            Plan::Refuse("Incomplete ModuleLoad action.")
        );
        assert_eq!(plan("load", ""), Plan::Refuse("Need module name"));
        assert_eq!(plan("Unload", " "), Plan::Refuse("Need module name"));
        assert_eq!(plan("bogus", ""), Plan::Refuse("Need module name"));
        assert_eq!(
            plan("bogus", "ping"),
            Plan::Refuse("Incomplete ModuleLoad action.")
        );
        assert_eq!(
            plan("refresh", "ping"),
            Plan::Refuse("Incomplete ModuleLoad action.")
        );
        assert_eq!(plan("LOAD", "ping"), Plan::Apply(ModuleOp::Load, "ping"));
        assert_eq!(
            plan("unload", "ping.wasm"),
            Plan::Apply(ModuleOp::Unload, "ping.wasm")
        );
        assert_eq!(
            plan("reload", " ping "),
            Plan::Apply(ModuleOp::Reload, "ping")
        );
        assert_eq!(plan("Reload", ""), Plan::ReloadAll);
    }

    #[test]
    fn acks() {
        let r = req();
        assert_eq!(
            wire(reply(&r, ModuleOp::Load, Ok(()), true)),
            "Response: Success\r\nActionID: m\r\nMessage: Module loaded.\r\n\r\n"
        );
        assert_eq!(
            wire(reply(&r, ModuleOp::Unload, Ok(()), true)),
            "Response: Success\r\nActionID: m\r\nMessage: Module unloaded.\r\n\r\n"
        );
        assert_eq!(
            wire(reply(&r, ModuleOp::Reload, Ok(()), true)),
            "Response: Success\r\nActionID: m\r\nMessage: Module reloaded.\r\n\r\n"
        );
    }

    #[test]
    fn errors() {
        let r = Request::new(Dialect::V1, [("Action", "ModuleLoad")]);
        let err = || Err("why".to_string());
        assert_eq!(
            wire(reply(&r, ModuleOp::Load, err(), true)),
            "Response: Error\r\nMessage: Could not load module.\r\n\r\n"
        );
        assert_eq!(
            wire(reply(&r, ModuleOp::Unload, err(), false)),
            "Response: Error\r\nMessage: Could not unload module.\r\n\r\n"
        );
        assert_eq!(
            wire(reply(&r, ModuleOp::Reload, err(), false)),
            "Response: Error\r\nMessage: No such module.\r\n\r\n"
        );
        assert_eq!(
            wire(reply(&r, ModuleOp::Reload, err(), true)),
            "Response: Error\r\nMessage: why\r\n\r\n"
        );
    }

    #[test]
    fn refusals_are_errors() {
        let reply = module_load(
            &Request::new(Dialect::V1, [("Action", "ModuleLoad"), ("ActionID", "m")]),
            &Context::new(Dialect::V1),
        );
        assert_eq!(
            reply.to_wire(),
            "Response: Error\r\nActionID: m\r\nMessage: Incomplete ModuleLoad action.\r\n\r\n"
        );
        let reply = module_load(
            &Request::new(Dialect::Modern, [("LoadType", "load"), ("ActionID", "m")]),
            &Context::new(Dialect::Modern),
        );
        assert_eq!(
            reply.to_wire(),
            "Response: Error\r\nActionID: m\r\nMessage: Need module name\r\n\r\n"
        );
    }

    #[test]
    fn known_plugins_match_stem_any_case() {
        let list = [PluginStatus {
            name: "ping".to_string(),
            ..PluginStatus::default()
        }];
        assert!(is_known("ping", &list));
        assert!(is_known("PING.wasm", &list));
        assert!(!is_known("pong", &list));
        assert!(!is_known("é", &list));
    }
}
