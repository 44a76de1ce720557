//! `ModuleCheck`: whether a plugin is loaded. Header `Module`: the plugin's file stem,
//! `.wasm` optional.
//!
//! ```text
//! Response: Success                       Response: Error
//! [ActionID: <id>]                        [ActionID: <id>]
//! Version: <SDK version it was built>     Message: Module not loaded
//! ```
//!
//! `Module` absent or empty: error `Module not specified`. The same in both dialects.
//! (Asterisk 22 answers `Version:` empty, having lost its source revisions; a plugin's
//! SDK version is the nearest useful value.)

use ami_plugin_sdk::modules;
use ami_plugin_sdk::{Context, Request, Response};

/// What `manager show command ModuleCheck` prints.
pub const DESCRIPTION: &str = "Checks whether a plugin is loaded. Module: the plugin's \
file stem ('.wasm' optional). Answers Success with the SDK version the plugin was built \
with, or Error 'Module not loaded'.";

/// The handler.
pub fn module_check(req: &Request, _ctx: &Context) -> Response {
    let module = req.header_or_empty("Module").trim();
    if module.is_empty() {
        return reply(req, module, None);
    }
    reply(req, module, modules::module_check(module))
}

/// The reply for `module` (trimmed) whose check answered `version`.
fn reply(req: &Request, module: &str, version: Option<String>) -> Response {
    if module.is_empty() {
        return Response::error(req, "Module not specified");
    }
    match version {
        Some(version) => Response::success(req).header("Version", version),
        None => Response::error(req, "Module not loaded"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ami_plugin_sdk::Dialect;

    #[test]
    fn loaded_reports_the_version() {
        for dialect in [Dialect::V1, Dialect::Modern] {
            let req = Request::new(dialect, [("Action", "ModuleCheck"), ("ActionID", "c")]);
            assert_eq!(
                reply(&req, "ping", Some("0.1.0".to_string())).to_wire(),
                "Response: Success\r\nActionID: c\r\nVersion: 0.1.0\r\n\r\n"
            );
        }
    }

    #[test]
    fn not_loaded_and_not_specified() {
        let req = Request::new(Dialect::V1, [("Action", "ModuleCheck")]);
        assert_eq!(
            reply(&req, "nope", None).to_wire(),
            "Response: Error\r\nMessage: Module not loaded\r\n\r\n"
        );
        let req = Request::new(Dialect::Modern, [("ActionID", "c"), ("Module", " ")]);
        assert_eq!(
            module_check(&req, &Context::new(Dialect::Modern)).to_wire(),
            "Response: Error\r\nActionID: c\r\nMessage: Module not specified\r\n\r\n"
        );
    }
}
