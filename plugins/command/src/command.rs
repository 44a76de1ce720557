//! `Command`: runs one CLI command line in the host and returns what it printed.
//!
//! ```text
//! Action: Command
//! Command: <CLI command line>
//! ```
//!
//! AMI 1.0 (reference §4.12): the output goes verbatim right after the headers, with no
//! blank line, and is closed by `--END COMMAND--` (an unknown command's
//! `No such command ...` line is output like any other):
//!
//! ```text
//! Response: Follows
//! Privilege: Command
//! [ActionID: <id>]
//! <output, lines ended by \n>--END COMMAND--
//!
//! ```
//!
//! Modern (Asterisk 22, transcript 13): one `Output:` header per line; an unknown command
//! answers `Response: Error` with the same message and lines:
//!
//! ```text
//! Response: Success | Error
//! [ActionID: <id>]
//! Message: Command output follows
//! Output: <line>
//! ```
//!
//! Refused in both dialects: an empty `Command` (`No command provided`), and a command
//! whose first words are `module load`, `module unload` or `restart gracefully`
//! (`Command blacklisted`).

use ami_plugin_sdk::cli::{self, CommandOutput};
use ami_plugin_sdk::{Context, Dialect, Request, Response};

/// What `manager show command Command` prints.
pub const DESCRIPTION: &str = "Run a CLI command.\n\
Variables: (Names marked with * are required)\n\
\t*Command: Asterisk CLI command to run\n\
\tActionID: Optional Action id for message matching.\n";

/// Command lines the manager refuses to run, by their first words (case-insensitive).
const BLACKLIST: &[&[&str]] = &[
    &["module", "load"],
    &["module", "unload"],
    &["restart", "gracefully"],
];

/// The handler.
pub fn command(req: &Request, _ctx: &Context) -> Response {
    reply(req, cli::run)
}

/// Whether `line` starts with the words of a blacklisted command (extra blanks ignored).
fn blacklisted(line: &str) -> bool {
    let words: Vec<&str> = line.split_whitespace().collect();
    BLACKLIST.iter().any(|banned| {
        banned.len() <= words.len()
            && banned
                .iter()
                .zip(&words)
                .all(|(b, w)| b.eq_ignore_ascii_case(w))
    })
}

/// The reply to `req`, running the command with `run`.
fn reply(req: &Request, run: impl FnOnce(&str) -> CommandOutput) -> Response {
    let line = req.header_or_empty("Command").trim();
    if line.is_empty() {
        return Response::error(req, "No command provided");
    }
    if blacklisted(line) {
        return Response::error(req, "Command blacklisted");
    }
    let output = run(line);
    match (req.dialect(), output.found) {
        (Dialect::Modern, false) => {
            let mut reply = Response::response(req, "Error", Some("Command output follows"));
            for text in output.text.lines() {
                reply.push_header("Output", text);
            }
            reply
        }
        _ => Response::follows(req, output.text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(line: &str) -> CommandOutput {
        assert_eq!(line, "core show version");
        CommandOutput {
            found: true,
            text: "ami-host 0.1.0 (AMI 1.0, 11.0.0)\n".into(),
        }
    }

    fn unknown(line: &str) -> CommandOutput {
        CommandOutput {
            found: false,
            text: format!("No such command '{line}' (type 'help' for help)\n"),
        }
    }

    fn never(line: &str) -> CommandOutput {
        panic!("{line} must not run")
    }

    fn req(dialect: Dialect, command: &str) -> Request {
        Request::new(
            dialect,
            [
                ("Action", "Command"),
                ("ActionID", "13"),
                ("Command", command),
            ],
        )
    }

    #[test]
    fn v1_follows_block() {
        assert_eq!(
            reply(&req(Dialect::V1, "core show version"), version).to_wire(),
            "Response: Follows\r\nPrivilege: Command\r\nActionID: 13\r\n\
             ami-host 0.1.0 (AMI 1.0, 11.0.0)\n--END COMMAND--\r\n\r\n"
        );
        let no_id = Request::new(
            Dialect::V1,
            [("Action", "Command"), ("Command", "core show version")],
        );
        assert_eq!(
            reply(&no_id, version).to_wire(),
            "Response: Follows\r\nPrivilege: Command\r\n\
             ami-host 0.1.0 (AMI 1.0, 11.0.0)\n--END COMMAND--\r\n\r\n"
        );
    }

    #[test]
    fn v1_unknown_command_is_output_too() {
        assert_eq!(
            reply(&req(Dialect::V1, "no such cli command"), unknown).to_wire(),
            "Response: Follows\r\nPrivilege: Command\r\nActionID: 13\r\n\
             No such command 'no such cli command' (type 'help' for help)\n\
             --END COMMAND--\r\n\r\n"
        );
    }

    #[test]
    fn modern_output_headers_as_transcript_13() {
        assert_eq!(
            reply(&req(Dialect::Modern, "core show version"), version).to_wire(),
            "Response: Success\r\nActionID: 13\r\nMessage: Command output follows\r\n\
             Output: ami-host 0.1.0 (AMI 1.0, 11.0.0)\r\n\r\n"
        );
        assert_eq!(
            reply(&req(Dialect::Modern, "no such cli command"), unknown).to_wire(),
            "Response: Error\r\nActionID: 13\r\nMessage: Command output follows\r\n\
             Output: No such command 'no such cli command' (type 'help' for help)\r\n\r\n"
        );
        let two = |_: &str| CommandOutput {
            found: true,
            text: "System uptime: 5 seconds\nLast reload: 5 seconds\n".into(),
        };
        assert_eq!(
            reply(&req(Dialect::Modern, "core show uptime"), two).to_wire(),
            "Response: Success\r\nActionID: 13\r\nMessage: Command output follows\r\n\
             Output: System uptime: 5 seconds\r\nOutput: Last reload: 5 seconds\r\n\r\n"
        );
        let silent = |_: &str| CommandOutput {
            found: true,
            text: String::new(),
        };
        assert_eq!(
            reply(&req(Dialect::Modern, "reload"), silent).to_wire(),
            "Response: Success\r\nActionID: 13\r\nMessage: Command output follows\r\n\r\n"
        );
    }

    #[test]
    fn empty_command_is_refused() {
        for dialect in [Dialect::V1, Dialect::Modern] {
            for command in ["", "   "] {
                assert_eq!(
                    reply(&req(dialect, command), never).to_wire(),
                    "Response: Error\r\nActionID: 13\r\nMessage: No command provided\r\n\r\n"
                );
            }
        }
        let missing = Request::new(Dialect::V1, [("Action", "Command")]);
        assert_eq!(
            reply(&missing, never).to_wire(),
            "Response: Error\r\nMessage: No command provided\r\n\r\n"
        );
    }

    #[test]
    fn blacklist_matches_first_words_ignoring_case_and_blanks() {
        for command in [
            "module load chan_sip.so",
            "MODULE   Unload res_agi.so",
            "  restart\tgracefully",
            "module load",
        ] {
            for dialect in [Dialect::V1, Dialect::Modern] {
                assert_eq!(
                    reply(&req(dialect, command), never).to_wire(),
                    "Response: Error\r\nActionID: 13\r\nMessage: Command blacklisted\r\n\r\n",
                    "{command}"
                );
            }
        }
        for allowed in [
            "module",
            "module reload manager",
            "restart now",
            "modules load",
        ] {
            assert!(!blacklisted(allowed), "{allowed}");
        }
    }

    #[test]
    fn the_command_runs_trimmed() {
        let seen = std::cell::RefCell::new(String::new());
        let reply = reply(&req(Dialect::V1, "  core show uptime  "), |line| {
            *seen.borrow_mut() = line.to_string();
            CommandOutput::default()
        });
        assert_eq!(*seen.borrow(), "core show uptime");
        assert_eq!(reply.follows_output(), Some(""));
    }
}
