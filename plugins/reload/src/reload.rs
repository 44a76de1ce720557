//! `Reload`: runs the host's reload routine, or rebuilds one plugin.
//!
//! | `Module` header | what runs |
//! |---|---|
//! | absent, empty or `manager` (any case) | `reload_manager`: the `Reload` event, the configuration, the plugin directory |
//! | anything else | the plugin of that name (file stem, `.wasm` optional) is rebuilt from its file |
//!
//! Replies, worded as Asterisk 22's `action_reload` words them:
//!
//! ```text
//! Response: Success              Response: Error
//! [ActionID: <id>]               [ActionID: <id>]
//! Message: Module Reloaded       Message: No such module        (no plugin of that name)
//!                                Message: <the host's reason>   (any other failure)
//! ```

use ami_plugin_sdk::modules::{self, ModuleOp, PluginStatus};
use ami_plugin_sdk::{Context, Request, Response};

/// What `manager show command Reload` prints.
pub const DESCRIPTION: &str = "Reloads the manager: emits the Reload event, re-reads the \
configuration (users, permissions, plugin grants and limits) and re-scans the plugin \
directory. Module: optional; empty or 'manager' reloads everything, any other value names \
one plugin (its file stem) to rebuild from its file.";

/// What the request asks for.
#[derive(Debug, PartialEq, Eq)]
enum Target<'a> {
    /// The whole reload routine.
    Manager,
    /// One plugin, by name.
    Plugin(&'a str),
}

/// The target named by the `Module` header.
fn target(req: &Request) -> Target<'_> {
    let module = req.header_or_empty("Module").trim();
    if module.is_empty() || module.eq_ignore_ascii_case("manager") {
        Target::Manager
    } else {
        Target::Plugin(module)
    }
}

/// The handler.
pub fn reload(req: &Request, _ctx: &Context) -> Response {
    match target(req) {
        Target::Manager => reply(req, modules::reload(""), None),
        Target::Plugin(name) => match modules::module_op(ModuleOp::Reload, name) {
            Ok(()) => reply(req, Ok(()), None),
            Err(reason) => {
                let known = is_known(name, &modules::plugins());
                reply(req, Err(reason), Some(known))
            }
        },
    }
}

/// Whether `name` (`.wasm` optional) is one of `plugins`.
fn is_known(name: &str, plugins: &[PluginStatus]) -> bool {
    let stem = strip_wasm(name);
    plugins.iter().any(|p| p.name.eq_ignore_ascii_case(stem))
}

/// `name` without a final `.wasm` (any case).
fn strip_wasm(name: &str) -> &str {
    match name.len().checked_sub(5) {
        Some(cut) if name.is_char_boundary(cut) && name[cut..].eq_ignore_ascii_case(".wasm") => {
            &name[..cut]
        }
        _ => name,
    }
}

/// The reply to an outcome; `known` tells, for a failed plugin reload, whether the
/// plugin exists (`None` for the whole reload).
fn reply(req: &Request, outcome: Result<(), String>, known: Option<bool>) -> Response {
    match (outcome, known) {
        (Ok(()), _) => Response::ack(req, "Module Reloaded"),
        (Err(_), Some(false)) => Response::error(req, "No such module"),
        (Err(reason), _) => Response::error(req, reason),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ami_plugin_sdk::Dialect;

    fn req(headers: &[(&str, &str)]) -> Request {
        Request::new(Dialect::V1, headers.iter().copied())
    }

    fn plugin(name: &str) -> PluginStatus {
        PluginStatus {
            name: name.to_string(),
            ..PluginStatus::default()
        }
    }

    #[test]
    fn empty_or_manager_reloads_everything() {
        assert_eq!(target(&req(&[])), Target::Manager);
        assert_eq!(target(&req(&[("Module", "")])), Target::Manager);
        assert_eq!(target(&req(&[("module", " Manager ")])), Target::Manager);
        assert_eq!(target(&req(&[("Module", "ping")])), Target::Plugin("ping"));
        assert_eq!(
            target(&req(&[("Module", "ping.wasm")])),
            Target::Plugin("ping.wasm")
        );
    }

    #[test]
    fn success_is_module_reloaded() {
        let r = req(&[("Action", "Reload"), ("ActionID", "r1")]);
        assert_eq!(
            reply(&r, Ok(()), None).to_wire(),
            "Response: Success\r\nActionID: r1\r\nMessage: Module Reloaded\r\n\r\n"
        );
        let modern = Request::new(Dialect::Modern, [("Action", "Reload")]);
        assert_eq!(
            reply(&modern, Ok(()), Some(true)).to_wire(),
            "Response: Success\r\nMessage: Module Reloaded\r\n\r\n"
        );
    }

    #[test]
    fn failures() {
        let r = req(&[("ActionID", "r2")]);
        assert_eq!(
            reply(&r, Err("no plugin named 'nope'".into()), Some(false)).to_wire(),
            "Response: Error\r\nActionID: r2\r\nMessage: No such module\r\n\r\n"
        );
        assert_eq!(
            reply(
                &r,
                Err("ping.wasm: invalid magic number".into()),
                Some(true)
            )
            .to_wire(),
            "Response: Error\r\nActionID: r2\r\nMessage: ping.wasm: invalid magic number\r\n\r\n"
        );
        assert_eq!(
            reply(&r, Err("a reload is in progress".into()), None).to_wire(),
            "Response: Error\r\nActionID: r2\r\nMessage: a reload is in progress\r\n\r\n"
        );
    }

    #[test]
    fn known_plugins_match_stem_any_case() {
        let list = [plugin("ping"), plugin("status")];
        assert!(is_known("ping", &list));
        assert!(is_known("Ping.WASM", &list));
        assert!(is_known("status.wasm", &list));
        assert!(!is_known("pin", &list));
        assert!(!is_known(".wasm", &list));
        assert!(!is_known("x", &[]));
        assert_eq!(strip_wasm("é.wasm"), "é");
        assert_eq!(strip_wasm("éé"), "éé");
        assert_eq!(strip_wasm("wasm"), "wasm");
    }
}
