//! `Hangup`: requests the hangup of one channel. Both dialects:
//!
//! ```text
//! Channel empty:      Response: Error / [ActionID] / Message: No channel specified
//! no such channel:    Response: Error / [ActionID] / Message: No such channel
//! hangup requested:   Response: Success / [ActionID] / Message: Channel Hungup
//! ```
//!
//! `Cause` (optional): the hangup cause code when it is a decimal number, else 16
//! (normal clearing). The `Hangup` event follows from the channel core.

use ami_plugin_sdk::channels::{self, ChannelError};
use ami_plugin_sdk::{Context, Request, Response};

/// What `manager show command Hangup` prints.
pub const DESCRIPTION: &str = "Hangs up the channel named in Channel (full name, compared \
case-insensitively). Cause, when a number, is the hangup cause code (default 16, normal \
clearing). The reply means the hangup was requested; the Hangup event follows.";

/// Hangup cause 16, `AST_CAUSE_NORMAL_CLEARING`.
const NORMAL_CLEARING: u32 = 16;

/// The handler.
pub fn hangup(req: &Request, _ctx: &Context) -> Response {
    let channel = req.header_or_empty("Channel");
    if channel.is_empty() {
        return Response::error(req, "No channel specified");
    }
    let result = channels::hangup(channel, cause(req.header_or_empty("Cause")));
    reply(req, result)
}

/// The cause code of a `Cause` header value: the number when it is one, else 16.
fn cause(value: &str) -> u32 {
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        value.parse().unwrap_or(NORMAL_CLEARING)
    } else {
        NORMAL_CLEARING
    }
}

/// The reply to a hangup request that ended with `result`. A channel already hanging up
/// counts as hung up, as Asterisk requests the soft hangup again.
fn reply(req: &Request, result: Result<(), ChannelError>) -> Response {
    match result {
        Ok(()) | Err(ChannelError::NotUp) => Response::ack(req, "Channel Hungup"),
        Err(ChannelError::NoSuchChannel) => Response::error(req, "No such channel"),
        Err(_) => Response::error(req, "Hangup failed"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ami_plugin_sdk::Dialect;

    fn req(dialect: Dialect) -> Request {
        Request::new(dialect, [("Action", "Hangup"), ("ActionID", "h1")])
    }

    #[test]
    fn cause_is_the_number_or_normal_clearing() {
        assert_eq!(cause(""), 16);
        assert_eq!(cause("17"), 17);
        assert_eq!(cause("0"), 0);
        assert_eq!(cause("021"), 21);
        assert_eq!(cause("busy"), 16);
        assert_eq!(cause("-1"), 16);
        assert_eq!(cause("+3"), 16);
        assert_eq!(cause(" 3"), 16);
        assert_eq!(cause("99999999999"), 16);
    }

    #[test]
    fn replies_in_both_dialects() {
        for dialect in [Dialect::V1, Dialect::Modern] {
            assert_eq!(
                reply(&req(dialect), Ok(())).to_wire(),
                "Response: Success\r\nActionID: h1\r\nMessage: Channel Hungup\r\n\r\n"
            );
            assert_eq!(
                reply(&req(dialect), Err(ChannelError::NotUp)).to_wire(),
                "Response: Success\r\nActionID: h1\r\nMessage: Channel Hungup\r\n\r\n"
            );
            assert_eq!(
                reply(&req(dialect), Err(ChannelError::NoSuchChannel)).to_wire(),
                "Response: Error\r\nActionID: h1\r\nMessage: No such channel\r\n\r\n"
            );
            assert_eq!(
                reply(&req(dialect), Err(ChannelError::Failed)).get("Message"),
                Some("Hangup failed")
            );
        }
    }
}
