//! `Setvar`: sets a channel variable, or a global one when `Channel` is absent or empty.
//!
//! ```text
//! Variable empty:             Response: Error / [ActionID] / Message: No variable specified
//! Channel given, not found:   Response: Error / [ActionID] / Message: No such channel
//! set:                        Response: Success / [ActionID] / Message: Variable Set
//! write failed (modern only): Response: Error / [ActionID] / Message: Variable not set
//! ```
//!
//! AMI 1.0 reports no failed write (a failed function write is still `Variable Set`).

use ami_plugin_sdk::channels::ChannelError;
use ami_plugin_sdk::variables;
use ami_plugin_sdk::{Context, Dialect, Request, Response};

/// What `manager show command Setvar` prints.
pub const DESCRIPTION: &str = "Sets the variable named in Variable to Value (empty when \
absent) on the channel named in Channel, or as a global variable when Channel is absent or \
empty. A name ending in ')' is a dialplan function write, e.g. CDR(userfield); a leading _ \
or __ makes a channel variable inherited.";

/// The handler.
pub fn setvar(req: &Request, _ctx: &Context) -> Response {
    let name = req.header_or_empty("Variable");
    if name.is_empty() {
        return Response::error(req, "No variable specified");
    }
    let channel = Some(req.header_or_empty("Channel")).filter(|c| !c.is_empty());
    let result = variables::set(channel, name, req.header_or_empty("Value"));
    reply(req, result)
}

/// The reply to a write that ended with `result`.
fn reply(req: &Request, result: Result<(), ChannelError>) -> Response {
    match (result, req.dialect()) {
        (Err(ChannelError::NoSuchChannel), _) => Response::error(req, "No such channel"),
        (Ok(()), _) | (Err(_), Dialect::V1) => Response::ack(req, "Variable Set"),
        (Err(_), Dialect::Modern) => Response::error(req, "Variable not set"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(dialect: Dialect) -> Request {
        Request::new(
            dialect,
            [("Action", "Setvar"), ("ActionID", "12b"), ("Variable", "A")],
        )
    }

    #[test]
    fn set_matches_transcript_12() {
        for dialect in [Dialect::V1, Dialect::Modern] {
            assert_eq!(
                reply(&req(dialect), Ok(())).to_wire(),
                "Response: Success\r\nActionID: 12b\r\nMessage: Variable Set\r\n\r\n"
            );
        }
    }

    #[test]
    fn no_such_channel_in_both_dialects() {
        for dialect in [Dialect::V1, Dialect::Modern] {
            assert_eq!(
                reply(&req(dialect), Err(ChannelError::NoSuchChannel)).to_wire(),
                "Response: Error\r\nActionID: 12b\r\nMessage: No such channel\r\n\r\n"
            );
        }
    }

    #[test]
    fn failed_write_only_reported_in_modern() {
        assert_eq!(
            reply(&req(Dialect::V1), Err(ChannelError::Failed)).get("Message"),
            Some("Variable Set")
        );
        assert_eq!(
            reply(&req(Dialect::Modern), Err(ChannelError::Failed)).to_wire(),
            "Response: Error\r\nActionID: 12b\r\nMessage: Variable not set\r\n\r\n"
        );
    }
}
