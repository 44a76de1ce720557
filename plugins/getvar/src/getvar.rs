//! `Getvar`: reads a channel variable, or a global one when `Channel` is absent or empty.
//! A name ending in `)` is a dialplan function read.
//!
//! ```text
//! Variable empty:            Response: Error / [ActionID] / Message: No variable specified
//! Channel given, not found:  Response: Error / [ActionID] / Message: No such channel
//! ```
//!
//! Success, AMI 1.0 (`ActionID` last, no `Message`):
//!
//! ```text
//! Response: Success
//! Variable: <name>
//! Value: <value, empty when unset>
//! [ActionID: <id>]
//! ```
//!
//! Success, modern: `Response: Success` / `[ActionID]` / `Variable: <name>` /
//! `Value: <value>`. An unset variable has an empty `Value:` in both dialects (Asterisk
//! 1.4.23 printed `(null)`; fixed as in 1.4.35).

use ami_plugin_sdk::channels::ChannelError;
use ami_plugin_sdk::variables;
use ami_plugin_sdk::{Context, Dialect, Message, Request, Response};

/// What `manager show command Getvar` prints.
pub const DESCRIPTION: &str = "Reads the variable named in Variable from the channel named \
in Channel, or a global variable when Channel is absent or empty. A name ending in ')' is \
a dialplan function read, e.g. CALLERID(num). An unset variable has an empty Value.";

/// The handler.
pub fn getvar(req: &Request, _ctx: &Context) -> Response {
    let name = req.header_or_empty("Variable");
    if name.is_empty() {
        return Response::error(req, "No variable specified");
    }
    let channel = Some(req.header_or_empty("Channel")).filter(|c| !c.is_empty());
    reply(req, name, variables::get(channel, name))
}

/// The reply to a read of `name` that ended with `result`. A failed read other than an
/// unknown channel reads as unset.
fn reply(req: &Request, name: &str, result: Result<Option<String>, ChannelError>) -> Response {
    let value = match result {
        Err(ChannelError::NoSuchChannel) => return Response::error(req, "No such channel"),
        Ok(value) => value.unwrap_or_default(),
        Err(_) => String::new(),
    };
    match req.dialect() {
        Dialect::V1 => Response::from_message(
            Message::new()
                .header("Response", "Success")
                .header("Variable", name)
                .header("Value", value)
                .with_action_id(req),
        ),
        Dialect::Modern => Response::success(req)
            .header("Variable", name)
            .header("Value", value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(dialect: Dialect, id: &str) -> Request {
        Request::new(dialect, [("Action", "Getvar"), ("ActionID", id)])
    }

    #[test]
    fn modern_matches_transcript_12() {
        let r = req(Dialect::Modern, "12c");
        assert_eq!(
            reply(&r, "AMIREF_GLOBAL", Ok(Some("hello world".into()))).to_wire(),
            "Response: Success\r\nActionID: 12c\r\nVariable: AMIREF_GLOBAL\r\n\
             Value: hello world\r\n\r\n"
        );
        let r = req(Dialect::Modern, "12d");
        assert_eq!(
            reply(&r, "NO_SUCH_VAR_XYZ", Ok(None)).to_wire(),
            "Response: Success\r\nActionID: 12d\r\nVariable: NO_SUCH_VAR_XYZ\r\nValue: \r\n\r\n"
        );
    }

    #[test]
    fn v1_puts_action_id_last() {
        let r = req(Dialect::V1, "g1");
        assert_eq!(
            reply(&r, "CALLERID(num)", Ok(Some("100".into()))).to_wire(),
            "Response: Success\r\nVariable: CALLERID(num)\r\nValue: 100\r\nActionID: g1\r\n\r\n"
        );
        assert_eq!(
            reply(&r, "X", Ok(None)).to_wire(),
            "Response: Success\r\nVariable: X\r\nValue: \r\nActionID: g1\r\n\r\n"
        );
        let no_id = Request::new(Dialect::V1, [("Action", "Getvar")]);
        assert_eq!(
            reply(&no_id, "X", Ok(Some("1".into()))).to_wire(),
            "Response: Success\r\nVariable: X\r\nValue: 1\r\n\r\n"
        );
    }

    #[test]
    fn no_such_channel_and_failed_reads() {
        for dialect in [Dialect::V1, Dialect::Modern] {
            let r = req(dialect, "e");
            assert_eq!(
                reply(&r, "X", Err(ChannelError::NoSuchChannel)).to_wire(),
                "Response: Error\r\nActionID: e\r\nMessage: No such channel\r\n\r\n"
            );
            assert_eq!(
                reply(&r, "X", Err(ChannelError::Failed)).get("Value"),
                Some("")
            );
        }
    }
}
