//! `UpdateConfig`: edit a configuration file with numbered steps.
//!
//! Request: `SrcFilename`, `DstFilename`, optional `Reload`, and steps
//! `Action-NNNNNN`, `Cat-NNNNNN`, `Var-NNNNNN`, `Value-NNNNNN`, `Match-NNNNNN` numbered
//! from `000000`; reading stops at the first number whose `Action-` header is missing or
//! empty. The step semantics are the host's (see `config_files::UpdateStep`).
//!
//! ```text
//! Response: Success            | Response: Error
//! [ActionID: <id>]             | [ActionID: <id>]
//!                              | Message: Filename not specified
//!                              |        | Config file not found
//!                              |        | Save of config failed
//! ```
//!
//! After a successful save, a non-empty `Reload` runs a reload: a true word (`yes`,
//! `true`, `y`, `t`, `1`, `on`) reloads everything, any other value names what to reload
//! (`manager`, a module; `no` names nothing).

use ami_plugin_sdk::config_files::{self, Category, ConfigError, UpdateStep};
use ami_plugin_sdk::{Context, Request, Response};

/// What `manager show command UpdateConfig` prints.
pub const DESCRIPTION: &str = "A 'UpdateConfig' action will modify, create, or delete \
configuration elements in Asterisk configuration files. Variables (X's represent 6 digit \
number beginning with 000000): SrcFilename: Configuration filename to read (e.g. foo.conf); \
DstFilename: Configuration filename to write (e.g. foo.conf); Reload: Whether or not a \
reload should take place (or name of specific module); Action-XXXXXX: Action to take \
(NewCat, RenameCat, DelCat, Update, Delete, Append); Cat-XXXXXX: Category to operate on; \
Var-XXXXXX: Variable to work on; Value-XXXXXX: Value to work on; Match-XXXXXX: Extra match \
required to match line.";

/// Steps read at most (`Action-000000` … `Action-099999`).
const MAX_STEPS: usize = 100_000;

/// A validated request.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Plan {
    source: String,
    destination: String,
    steps: Vec<UpdateStep>,
    /// What to reload after saving: `Some("")` everything, `Some(name)` one target.
    reload: Option<String>,
}

/// The handler.
pub fn update_config(req: &Request, _ctx: &Context) -> Response {
    let plan = match parse(req) {
        Ok(plan) => plan,
        Err(message) => return Response::error(req, message),
    };
    let outcome = execute(&plan, config_files::load, config_files::update);
    let reply = respond(req, outcome);
    if outcome.is_ok() {
        if let Some(target) = &plan.reload {
            config_files::reload(target);
        }
    }
    reply
}

/// Reads the file names, the steps and `Reload`; `Filename not specified` when either
/// file name is empty.
fn parse(req: &Request) -> Result<Plan, &'static str> {
    let source = req.header_or_empty("SrcFilename");
    let destination = req.header_or_empty("DstFilename");
    if source.is_empty() || destination.is_empty() {
        return Err("Filename not specified");
    }
    Ok(Plan {
        source: source.to_string(),
        destination: destination.to_string(),
        steps: steps(req),
        reload: reload_target(req.header_or_empty("Reload")),
    })
}

/// The numbered steps, up to the first missing or empty `Action-NNNNNN`.
fn steps(req: &Request) -> Vec<UpdateStep> {
    let mut steps = Vec::new();
    for n in 0..MAX_STEPS {
        let action = req.header_or_empty(&format!("Action-{n:06}"));
        if action.is_empty() {
            break;
        }
        let field = |name: &str| req.header_or_empty(&format!("{name}-{n:06}")).to_string();
        steps.push(UpdateStep {
            action: action.to_string(),
            category: field("Cat"),
            variable: field("Var"),
            value: field("Value"),
            match_value: field("Match"),
        });
    }
    steps
}

/// `Reload`: empty → nothing; a true word (Asterisk's `ast_true`) → everything (`""`);
/// anything else → that name.
fn reload_target(value: &str) -> Option<String> {
    if value.is_empty() {
        None
    } else if ["yes", "true", "y", "t", "1", "on"]
        .iter()
        .any(|word| value.eq_ignore_ascii_case(word))
    {
        Some(String::new())
    } else {
        Some(value.to_string())
    }
}

/// Loads the source (so that a source that cannot be read is told apart from a
/// destination that cannot be written), then updates; the error is the reply's message.
fn execute(
    plan: &Plan,
    load: impl FnOnce(&str) -> Result<Vec<Category>, ConfigError>,
    update: impl FnOnce(&str, &str, &[UpdateStep]) -> Result<(), ConfigError>,
) -> Result<(), &'static str> {
    if load(&plan.source).is_err() {
        return Err("Config file not found");
    }
    match update(&plan.source, &plan.destination, &plan.steps) {
        Ok(()) => Ok(()),
        Err(ConfigError::NotFound) => Err("Config file not found"),
        Err(ConfigError::Forbidden | ConfigError::SaveFailed) => Err("Save of config failed"),
    }
}

/// `Response: Success` and `[ActionID]`, or the error.
fn respond(req: &Request, outcome: Result<(), &'static str>) -> Response {
    match outcome {
        Ok(()) => Response::success(req),
        Err(message) => Response::error(req, message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ami_plugin_sdk::Dialect;

    fn step(action: &str, category: &str, variable: &str, value: &str, m: &str) -> UpdateStep {
        UpdateStep {
            action: action.into(),
            category: category.into(),
            variable: variable.into(),
            value: value.into(),
            match_value: m.into(),
        }
    }

    /// The example of reference §4.9.
    fn example() -> Request {
        Request::new(
            Dialect::V1,
            [
                ("Action", "UpdateConfig"),
                ("SrcFilename", "manager.conf"),
                ("DstFilename", "manager.conf"),
                ("Action-000000", "Update"),
                ("Cat-000000", "general"),
                ("Var-000000", "timestampevents"),
                ("Value-000000", "yes"),
                ("Action-000001", "NewCat"),
                ("Cat-000001", "bob"),
                ("Action-000002", "Append"),
                ("Cat-000002", "bob"),
                ("Var-000002", "secret"),
                ("Value-000002", "pw"),
                ("Reload", "manager"),
            ],
        )
    }

    #[test]
    fn parses_the_reference_example() {
        assert_eq!(
            parse(&example()),
            Ok(Plan {
                source: "manager.conf".into(),
                destination: "manager.conf".into(),
                steps: vec![
                    step("Update", "general", "timestampevents", "yes", ""),
                    step("NewCat", "bob", "", "", ""),
                    step("Append", "bob", "secret", "pw", ""),
                ],
                reload: Some("manager".into()),
            })
        );
    }

    #[test]
    fn steps_stop_at_the_first_missing_or_empty_action() {
        let req = Request::new(
            Dialect::Modern,
            [
                ("action-000000", "Delete"),
                ("CAT-000000", "a"),
                ("var-000000", "x"),
                ("match-000000", "1"),
                ("Value-000000", ">v"),
                ("Action-000001", ""),
                ("Cat-000001", "skipped"),
                ("Action-000002", "NewCat"),
                ("Cat-000002", "never"),
            ],
        );
        assert_eq!(steps(&req), vec![step("Delete", "a", "x", ">v", "1")]);
        let req = Request::new(Dialect::V1, [("Action-000001", "NewCat")]);
        assert!(steps(&req).is_empty(), "numbering starts at 000000");
        let req = Request::new(Dialect::V1, [("Action-0", "NewCat")]);
        assert!(steps(&req).is_empty(), "six digits");
    }

    #[test]
    fn file_names_are_required() {
        for headers in [
            vec![("SrcFilename", "a.conf")],
            vec![("DstFilename", "a.conf")],
            vec![("SrcFilename", ""), ("DstFilename", "a.conf")],
            vec![],
        ] {
            let req = Request::new(Dialect::V1, headers);
            assert_eq!(parse(&req), Err("Filename not specified"));
        }
    }

    #[test]
    fn reload_values() {
        assert_eq!(reload_target(""), None);
        for word in ["yes", "YES", "true", "y", "T", "1", "on"] {
            assert_eq!(reload_target(word), Some(String::new()), "{word}");
        }
        assert_eq!(reload_target("manager"), Some("manager".into()));
        assert_eq!(reload_target("no"), Some("no".into()));
        assert_eq!(reload_target("chan_sip.so"), Some("chan_sip.so".into()));
    }

    fn plan() -> Plan {
        match parse(&example()) {
            Ok(plan) => plan,
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn execute_passes_the_plan_through() {
        let plan = plan();
        let mut seen = None;
        let outcome = execute(
            &plan,
            |name| {
                assert_eq!(name, "manager.conf");
                Ok(Vec::new())
            },
            |src, dst, steps| {
                seen = Some((src.to_string(), dst.to_string(), steps.to_vec()));
                Ok(())
            },
        );
        assert_eq!(outcome, Ok(()));
        assert_eq!(
            seen,
            Some((
                "manager.conf".into(),
                "manager.conf".into(),
                plan.steps.clone()
            ))
        );
    }

    #[test]
    fn execute_errors() {
        let plan = plan();
        for error in [ConfigError::NotFound, ConfigError::Forbidden] {
            let outcome = execute(&plan, |_| Err(error), |_, _, _| panic!("no update"));
            assert_eq!(outcome, Err("Config file not found"));
        }
        let cases = [
            (ConfigError::NotFound, "Config file not found"),
            (ConfigError::Forbidden, "Save of config failed"),
            (ConfigError::SaveFailed, "Save of config failed"),
        ];
        for (error, message) in cases {
            let outcome = execute(&plan, |_| Ok(Vec::new()), |_, _, _| Err(error));
            assert_eq!(outcome, Err(message));
        }
    }

    #[test]
    fn replies() {
        for dialect in [Dialect::V1, Dialect::Modern] {
            let req = Request::new(dialect, [("ActionID", "u1")]);
            assert_eq!(
                respond(&req, Ok(())).to_wire(),
                "Response: Success\r\nActionID: u1\r\n\r\n"
            );
            assert_eq!(
                respond(&req, Err("Save of config failed")).to_wire(),
                "Response: Error\r\nActionID: u1\r\nMessage: Save of config failed\r\n\r\n"
            );
            let req = Request::new(dialect, [("Action", "UpdateConfig")]);
            assert_eq!(respond(&req, Ok(())).to_wire(), "Response: Success\r\n\r\n");
        }
    }
}
