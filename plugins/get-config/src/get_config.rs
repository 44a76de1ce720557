//! `GetConfig`: list a configuration file.
//!
//! ```text
//! Response: Success
//! [ActionID: <id>]
//! Category-000000: <name>
//! Line-000000-000000: <name>=<value>
//! ...
//! ```
//!
//! Categories are numbered from 0 in file order, lines from 0 within each category
//! (`%06d`); every variable is printed `name=value`, whatever its spacing or `=>`.
//! Errors: `Filename not specified`, `Config file not found` (missing, unparsable, or
//! outside the config directory). The modern dialect also honours a `Category` header:
//! only the categories of that name (case-insensitive) are listed, numbered from 0.

use ami_plugin_sdk::config_files::{self, Category, ConfigError};
use ami_plugin_sdk::{Context, Dialect, Request, Response};

/// What `manager show command GetConfig` prints.
pub const DESCRIPTION: &str = "A 'GetConfig' action will dump the contents of a \
configuration file by category and contents. Variables: Filename: Configuration filename \
(e.g. foo.conf); Category: only this category (modern dialect).";

/// The handler.
pub fn get_config(req: &Request, _ctx: &Context) -> Response {
    respond(req, config_files::load)
}

/// The reply, with `load` standing for the `config-files` capability.
fn respond(
    req: &Request,
    load: impl FnOnce(&str) -> Result<Vec<Category>, ConfigError>,
) -> Response {
    let filename = req.header_or_empty("Filename");
    if filename.is_empty() {
        return Response::error(req, "Filename not specified");
    }
    match load(filename) {
        Ok(categories) => listing(req, &categories),
        Err(_) => Response::error(req, "Config file not found"),
    }
}

/// The success listing of `categories`.
fn listing(req: &Request, categories: &[Category]) -> Response {
    let only = match req.dialect() {
        Dialect::V1 => "",
        Dialect::Modern => req.header_or_empty("Category"),
    };
    let mut reply = Response::success(req);
    let shown = categories
        .iter()
        .filter(|c| only.is_empty() || c.name.eq_ignore_ascii_case(only));
    for (number, category) in shown.enumerate() {
        reply.push_header(format!("Category-{number:06}"), &category.name);
        for (line, var) in category.variables.iter().enumerate() {
            reply.push_header(
                format!("Line-{number:06}-{line:06}"),
                format!("{}={}", var.name, var.value),
            );
        }
    }
    reply
}

#[cfg(test)]
mod tests {
    use super::*;
    use ami_plugin_sdk::config_files::Variable;

    fn var(name: &str, value: &str, object: bool) -> Variable {
        Variable {
            name: name.into(),
            value: value.into(),
            object,
        }
    }

    fn cat(name: &str, vars: &[(&str, &str)]) -> Category {
        Category {
            name: name.into(),
            variables: vars.iter().map(|(n, v)| var(n, v, false)).collect(),
        }
    }

    /// manager.conf of transcript 14.
    fn manager_conf() -> Vec<Category> {
        vec![
            cat(
                "general",
                &[
                    ("enabled", "yes"),
                    ("webenabled", "yes"),
                    ("port", "15038"),
                    ("bindaddr", "127.0.0.1"),
                    ("displayconnects", "yes"),
                    ("timestampevents", "no"),
                ],
            ),
            cat(
                "admin",
                &[
                    ("secret", "amp111"),
                    ("deny", "0.0.0.0/0.0.0.0"),
                    ("permit", "127.0.0.1/255.255.255.255"),
                    ("read", "all"),
                    ("write", "all"),
                ],
            ),
            cat(
                "reader",
                &[
                    ("secret", "reader"),
                    ("deny", "0.0.0.0/0.0.0.0"),
                    ("permit", "127.0.0.1/255.255.255.255"),
                    ("read", "call"),
                    ("write", ""),
                ],
            ),
        ]
    }

    fn loaded(
        expect: &'static str,
        result: Result<Vec<Category>, ConfigError>,
    ) -> impl FnOnce(&str) -> Result<Vec<Category>, ConfigError> {
        move |name| {
            assert_eq!(name, expect);
            result
        }
    }

    const READER: &str = "Category-000000: reader\r\n\
        Line-000000-000000: secret=reader\r\n\
        Line-000000-000001: deny=0.0.0.0/0.0.0.0\r\n\
        Line-000000-000002: permit=127.0.0.1/255.255.255.255\r\n\
        Line-000000-000003: read=call\r\n\
        Line-000000-000004: write=\r\n";

    #[test]
    fn modern_whole_file_matches_transcript_14() {
        let req = Request::new(
            Dialect::Modern,
            [
                ("Action", "GetConfig"),
                ("ActionID", "14"),
                ("Filename", "manager.conf"),
            ],
        );
        let reply = respond(&req, loaded("manager.conf", Ok(manager_conf())));
        assert_eq!(
            reply.to_wire(),
            "Response: Success\r\nActionID: 14\r\n\
             Category-000000: general\r\n\
             Line-000000-000000: enabled=yes\r\n\
             Line-000000-000001: webenabled=yes\r\n\
             Line-000000-000002: port=15038\r\n\
             Line-000000-000003: bindaddr=127.0.0.1\r\n\
             Line-000000-000004: displayconnects=yes\r\n\
             Line-000000-000005: timestampevents=no\r\n\
             Category-000001: admin\r\n\
             Line-000001-000000: secret=amp111\r\n\
             Line-000001-000001: deny=0.0.0.0/0.0.0.0\r\n\
             Line-000001-000002: permit=127.0.0.1/255.255.255.255\r\n\
             Line-000001-000003: read=all\r\n\
             Line-000001-000004: write=all\r\n\
             Category-000002: reader\r\n\
             Line-000002-000000: secret=reader\r\n\
             Line-000002-000001: deny=0.0.0.0/0.0.0.0\r\n\
             Line-000002-000002: permit=127.0.0.1/255.255.255.255\r\n\
             Line-000002-000003: read=call\r\n\
             Line-000002-000004: write=\r\n\r\n"
        );
    }

    #[test]
    fn modern_category_filter_matches_transcript_14() {
        let req = Request::new(
            Dialect::Modern,
            [
                ("Action", "GetConfig"),
                ("ActionID", "14b"),
                ("Filename", "manager.conf"),
                ("Category", "reader"),
            ],
        );
        let reply = respond(&req, loaded("manager.conf", Ok(manager_conf())));
        assert_eq!(
            reply.to_wire(),
            format!("Response: Success\r\nActionID: 14b\r\n{READER}\r\n")
        );
        let req = Request::new(
            Dialect::Modern,
            [("Filename", "manager.conf"), ("Category", "nothing")],
        );
        let reply = respond(&req, loaded("manager.conf", Ok(manager_conf())));
        assert_eq!(reply.to_wire(), "Response: Success\r\n\r\n");
    }

    #[test]
    fn v1_ignores_category_and_prints_objects_with_equals() {
        let mut conf = manager_conf();
        conf[2].variables.push(var("exten", "100,1,Answer", true));
        let req = Request::new(
            Dialect::V1,
            [("Filename", "manager.conf"), ("Category", "reader")],
        );
        let wire = respond(&req, loaded("manager.conf", Ok(conf))).to_wire();
        assert!(wire.starts_with("Response: Success\r\nCategory-000000: general\r\n"));
        assert_eq!(wire.matches("Category-").count(), 3);
        assert!(wire.ends_with(
            "Category-000002: reader\r\nLine-000002-000000: secret=reader\r\n\
             Line-000002-000001: deny=0.0.0.0/0.0.0.0\r\n\
             Line-000002-000002: permit=127.0.0.1/255.255.255.255\r\n\
             Line-000002-000003: read=call\r\nLine-000002-000004: write=\r\n\
             Line-000002-000005: exten=100,1,Answer\r\n\r\n"
        ));
    }

    #[test]
    fn empty_file_lists_nothing() {
        let req = Request::new(Dialect::V1, [("ActionID", "e"), ("Filename", "empty.conf")]);
        let reply = respond(&req, loaded("empty.conf", Ok(Vec::new())));
        assert_eq!(reply.to_wire(), "Response: Success\r\nActionID: e\r\n\r\n");
    }

    #[test]
    fn errors() {
        for dialect in [Dialect::V1, Dialect::Modern] {
            let req = Request::new(dialect, [("ActionID", "14c"), ("Filename", "")]);
            let reply = respond(&req, |_| panic!("no load without a file name"));
            assert_eq!(
                reply.to_wire(),
                "Response: Error\r\nActionID: 14c\r\nMessage: Filename not specified\r\n\r\n"
            );
            for error in [ConfigError::NotFound, ConfigError::Forbidden] {
                let req = Request::new(
                    dialect,
                    [("ActionID", "14c"), ("Filename", "no-such-file.conf")],
                );
                let reply = respond(&req, loaded("no-such-file.conf", Err(error)));
                assert_eq!(
                    reply.to_wire(),
                    "Response: Error\r\nActionID: 14c\r\nMessage: Config file not found\r\n\r\n"
                );
            }
        }
    }
}
