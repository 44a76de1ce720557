//! `MailboxStatus`: whether `Mailbox` (`box@context`, or a comma list) has new messages.
//! Both dialects:
//!
//! ```text
//! Mailbox empty:   Response: Error / [ActionID] / Message: Mailbox not specified
//!
//! Response: Success
//! [ActionID: <id>]
//! Message: Mailbox Status
//! Mailbox: <mailbox as given>
//! Waiting: <1 with new messages, else 0>
//! ```

use ami_plugin_sdk::mailboxes::{self, Counts};
use ami_plugin_sdk::{Context, Request, Response};

/// What `manager show command MailboxStatus` prints.
pub const DESCRIPTION: &str = "Reports whether Mailbox (box@context, context default if \
absent; a comma list is accepted) has new messages: Waiting is 1 if so, else 0. It is a \
flag, not a count.";

/// The handler.
pub fn mailbox_status(req: &Request, _ctx: &Context) -> Response {
    let mailbox = req.header_or_empty("Mailbox");
    if mailbox.is_empty() {
        return Response::error(req, "Mailbox not specified");
    }
    reply(req, mailbox, mailboxes::count(mailbox))
}

/// The reply for `mailbox` holding `counts`.
fn reply(req: &Request, mailbox: &str, counts: Counts) -> Response {
    Response::ack(req, "Mailbox Status")
        .header("Mailbox", mailbox)
        .header("Waiting", u8::from(counts.new_messages > 0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ami_plugin_sdk::Dialect;

    #[test]
    fn matches_transcript_15_in_both_dialects() {
        for dialect in [Dialect::V1, Dialect::Modern] {
            let req = Request::new(dialect, [("ActionID", "15b")]);
            let counts = Counts {
                new_messages: 3,
                old_messages: 1,
            };
            assert_eq!(
                reply(&req, "1234@default", counts).to_wire(),
                "Response: Success\r\nActionID: 15b\r\nMessage: Mailbox Status\r\n\
                 Mailbox: 1234@default\r\nWaiting: 1\r\n\r\n"
            );
            let none = Counts {
                new_messages: 0,
                old_messages: 5,
            };
            assert_eq!(reply(&req, "9@x", none).get("Waiting"), Some("0"));
        }
    }
}
