//! `MailboxCount`: the message counts of `Mailbox` (`box@context`, or a comma list).
//!
//! `Mailbox` empty: `Response: Error` / `[ActionID]` / `Message: Mailbox not specified`.
//!
//! ```text
//! Response: Success
//! [ActionID: <id>]
//! Message: Mailbox Message Count
//! Mailbox: <mailbox as given>
//! UrgMessages: 0               (modern only; urgent messages are not tracked)
//! NewMessages: <n>
//! OldMessages: <n>
//! ```

use ami_plugin_sdk::mailboxes::{self, Counts};
use ami_plugin_sdk::{Context, Dialect, Request, Response};

/// What `manager show command MailboxCount` prints.
pub const DESCRIPTION: &str = "Reports the number of new and old messages in Mailbox \
(box@context, context default if absent; a comma list is summed).";

/// The handler.
pub fn mailbox_count(req: &Request, _ctx: &Context) -> Response {
    let mailbox = req.header_or_empty("Mailbox");
    if mailbox.is_empty() {
        return Response::error(req, "Mailbox not specified");
    }
    reply(req, mailbox, mailboxes::count(mailbox))
}

/// The reply for `mailbox` holding `counts`.
fn reply(req: &Request, mailbox: &str, counts: Counts) -> Response {
    let reply = Response::ack(req, "Mailbox Message Count").header("Mailbox", mailbox);
    let reply = match req.dialect() {
        Dialect::V1 => reply,
        Dialect::Modern => reply.header("UrgMessages", 0),
    };
    reply
        .header("NewMessages", counts.new_messages)
        .header("OldMessages", counts.old_messages)
}

#[cfg(test)]
mod tests {
    use super::*;

    const COUNTS: Counts = Counts {
        new_messages: 1,
        old_messages: 0,
    };

    #[test]
    fn modern_matches_transcript_15() {
        let req = Request::new(Dialect::Modern, [("ActionID", "15a")]);
        assert_eq!(
            reply(&req, "1234@default", COUNTS).to_wire(),
            "Response: Success\r\nActionID: 15a\r\nMessage: Mailbox Message Count\r\n\
             Mailbox: 1234@default\r\nUrgMessages: 0\r\nNewMessages: 1\r\nOldMessages: 0\r\n\r\n"
        );
    }

    #[test]
    fn v1_has_no_urgent_count() {
        let req = Request::new(Dialect::V1, [("ActionID", "m1")]);
        let counts = Counts {
            new_messages: 2,
            old_messages: 5,
        };
        assert_eq!(
            reply(&req, "100@default", counts).to_wire(),
            "Response: Success\r\nActionID: m1\r\nMessage: Mailbox Message Count\r\n\
             Mailbox: 100@default\r\nNewMessages: 2\r\nOldMessages: 5\r\n\r\n"
        );
    }
}
