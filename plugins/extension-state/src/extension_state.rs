//! `ExtensionState`: the state of `Exten`@`Context` (context `default` when absent)
//! through its hint.
//!
//! `Exten` empty: `Response: Error` / `[ActionID]` / `Message: Extension not specified`.
//! Otherwise, even for an extension that does not exist:
//!
//! ```text
//! Response: Success
//! [ActionID: <id>]
//! Message: Extension Status
//! Exten: <exten>
//! Context: <context>
//! Hint: <device string, empty without a hint>
//! Status: <-1 no hint | 0 idle | 1 in use | 2 busy | 4 unavailable | 8 ringing | ...>
//! StatusText: <Idle | InUse | Busy | ... | Unknown>      (modern only)
//! ```

use ami_plugin_sdk::dialplan::{self, ExtensionState};
use ami_plugin_sdk::{Context, Dialect, Request, Response};

/// What `manager show command ExtensionState` prints.
pub const DESCRIPTION: &str = "Reports the state of Exten in Context (default: default) \
through its hint: the hint's devices and the state code (-1 no hint, 0 idle, 1 in use, \
2 busy, 4 unavailable, 8 ringing, 9 in use and ringing, 16 on hold).";

/// The handler.
pub fn extension_state(req: &Request, _ctx: &Context) -> Response {
    let exten = req.header_or_empty("Exten");
    if exten.is_empty() {
        return Response::error(req, "Extension not specified");
    }
    let context = match req.header_or_empty("Context") {
        "" => "default",
        context => context,
    };
    reply(req, exten, context, &dialplan::hint_state(exten, context))
}

/// The reply for `exten@context` in state `state`.
fn reply(req: &Request, exten: &str, context: &str, state: &ExtensionState) -> Response {
    let reply = Response::ack(req, "Extension Status")
        .header("Exten", exten)
        .header("Context", context)
        .header("Hint", &state.hint)
        .header("Status", state.status);
    match req.dialect() {
        Dialect::V1 => reply,
        Dialect::Modern => reply.header("StatusText", status_text(state.status)),
    }
}

/// `ast_extension_state2str`: the text of an extension state code.
fn status_text(status: i32) -> &'static str {
    match status {
        0 => "Idle",
        1 => "InUse",
        2 => "Busy",
        4 => "Unavailable",
        8 => "Ringing",
        9 => "InUse&Ringing",
        16 => "Hold",
        17 => "InUse&Hold",
        _ => "Unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(hint: &str, status: i32) -> ExtensionState {
        ExtensionState {
            hint: hint.to_string(),
            status,
        }
    }

    #[test]
    fn modern_matches_transcript_16() {
        let req = Request::new(Dialect::Modern, [("ActionID", "16a")]);
        assert_eq!(
            reply(&req, "100", "default", &state("Custom:ext100", 0)).to_wire(),
            "Response: Success\r\nActionID: 16a\r\nMessage: Extension Status\r\nExten: 100\r\n\
             Context: default\r\nHint: Custom:ext100\r\nStatus: 0\r\nStatusText: Idle\r\n\r\n"
        );
        let req = Request::new(Dialect::Modern, [("ActionID", "16e")]);
        assert_eq!(
            reply(&req, "999", "default", &state("", -1)).to_wire(),
            "Response: Success\r\nActionID: 16e\r\nMessage: Extension Status\r\nExten: 999\r\n\
             Context: default\r\nHint: \r\nStatus: -1\r\nStatusText: Unknown\r\n\r\n"
        );
    }

    #[test]
    fn v1_has_no_status_text() {
        let req = Request::new(Dialect::V1, [("ActionID", "e1")]);
        assert_eq!(
            reply(&req, "100", "default", &state("SIP/100", 1)).to_wire(),
            "Response: Success\r\nActionID: e1\r\nMessage: Extension Status\r\nExten: 100\r\n\
             Context: default\r\nHint: SIP/100\r\nStatus: 1\r\n\r\n"
        );
    }

    #[test]
    fn status_texts() {
        let texts: Vec<&str> = [-2, -1, 0, 1, 2, 4, 8, 9, 16, 17, 3]
            .into_iter()
            .map(status_text)
            .collect();
        assert_eq!(
            texts,
            [
                "Unknown",
                "Unknown",
                "Idle",
                "InUse",
                "Busy",
                "Unavailable",
                "Ringing",
                "InUse&Ringing",
                "Hold",
                "InUse&Hold",
                "Unknown"
            ]
        );
    }
}
