//! `WaitEvent`: waits until events arrive for the session (or `Timeout` seconds pass),
//! then answers with them.
//!
//! ```text
//! Response: Success
//! [ActionID: <id>]
//! Message: Waiting for Event...             (modern: Waiting for Event completed.)
//!
//! <zero or more events, as the session would have received them>
//! Event: WaitEventComplete
//! [ActionID: <id>]
//!
//! ```
//!
//! `Timeout` is parsed like C `%i` (decimal, `0x` hex, leading-`0` octal); absent,
//! unparsable or negative means no limit, 0 means do not wait.

use std::time::Duration;

use ami_plugin_sdk::{session, Context, Dialect, Message, Request, Response};

/// What `manager show command WaitEvent` prints.
pub const DESCRIPTION: &str = "Waits until an event arrives for this session, or Timeout \
seconds pass (no limit when absent), then answers with the events that arrived, followed \
by WaitEventComplete. Meant for HTTP sessions; works on TCP too.";

/// The handler.
pub fn wait_event(req: &Request, _ctx: &Context) -> Response {
    let events = session::wait_events(timeout(req.header_or_empty("Timeout")));
    reply(req, events)
}

/// How long to wait for a `Timeout` value; `None`: no limit.
fn timeout(text: &str) -> Option<Duration> {
    let seconds = scan_c_integer(text)?;
    u64::try_from(seconds).ok().map(Duration::from_secs)
}

/// The reply carrying `events` (each already rendered, with its blank line).
fn reply(req: &Request, events: Vec<String>) -> Response {
    let message = match req.dialect() {
        Dialect::V1 => "Waiting for Event...",
        Dialect::Modern => "Waiting for Event completed.",
    };
    events
        .into_iter()
        .fold(Response::ack(req, message), Response::raw)
        .then(Message::event("WaitEventComplete").with_action_id(req))
}

/// C `sscanf("%i")`: optional leading white space and sign, then `0x`/`0X` and hex
/// digits, or `0` and octal digits, or decimal digits; the rest of the text is ignored.
/// `None` when no digit matches. Saturates at the `int` range.
fn scan_c_integer(text: &str) -> Option<i64> {
    let rest = text.trim_start_matches([' ', '\t', '\n', '\x0b', '\x0c', '\r']);
    let (negative, rest) = match rest.as_bytes().first() {
        Some(b'-') => (true, &rest[1..]),
        Some(b'+') => (false, &rest[1..]),
        _ => (false, rest),
    };
    let bytes = rest.as_bytes();
    let (radix, digits) = match bytes {
        [b'0', b'x' | b'X', next, ..] if next.is_ascii_hexdigit() => (16, &bytes[2..]),
        [b'0', ..] => (8, bytes),
        _ => (10, bytes),
    };
    let mut value: i64 = 0;
    let mut any = false;
    for &b in digits {
        let Some(digit) = char::from(b).to_digit(radix) else {
            break;
        };
        any = true;
        value = (value * i64::from(radix) + i64::from(digit)).min(i64::from(i32::MAX) + 1);
    }
    if !any {
        return None;
    }
    let value = if negative { -value } else { value };
    Some(value.clamp(i64::from(i32::MIN), i64::from(i32::MAX)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_i_parsing() {
        assert_eq!(scan_c_integer("30"), Some(30));
        assert_eq!(scan_c_integer("0x1e"), Some(30));
        assert_eq!(scan_c_integer("0X1E"), Some(30));
        assert_eq!(scan_c_integer("036"), Some(30));
        assert_eq!(scan_c_integer("09"), Some(0));
        assert_eq!(scan_c_integer("0"), Some(0));
        assert_eq!(scan_c_integer("0x"), Some(0));
        assert_eq!(scan_c_integer("0xg"), Some(0));
        assert_eq!(scan_c_integer("  -12abc"), Some(-12));
        assert_eq!(scan_c_integer("+7"), Some(7));
        assert_eq!(scan_c_integer("-0x10"), Some(-16));
        assert_eq!(scan_c_integer(""), None);
        assert_eq!(scan_c_integer("abc"), None);
        assert_eq!(scan_c_integer("-"), None);
        assert_eq!(scan_c_integer("0xffffffffff"), Some(i64::from(i32::MAX)));
    }

    #[test]
    fn timeouts() {
        assert_eq!(timeout(""), None);
        assert_eq!(timeout("x"), None);
        assert_eq!(timeout("-1"), None);
        assert_eq!(timeout("0"), Some(Duration::ZERO));
        assert_eq!(timeout("4"), Some(Duration::from_secs(4)));
        assert_eq!(timeout("0x1e"), Some(Duration::from_secs(30)));
        assert_eq!(timeout("010"), Some(Duration::from_secs(8)));
    }

    #[test]
    fn modern_matches_transcript_20() {
        let req = Request::new(
            Dialect::Modern,
            [("Action", "WaitEvent"), ("ActionID", "20")],
        );
        assert_eq!(
            reply(&req, Vec::new()).to_wire(),
            "Response: Success\r\nActionID: 20\r\nMessage: Waiting for Event completed.\r\n\r\n\
             Event: WaitEventComplete\r\nActionID: 20\r\n\r\n"
        );
        let req = Request::new(Dialect::Modern, [("ActionID", "20c")]);
        let event = "Event: UserEvent\r\nPrivilege: user,all\r\nUserEvent: Wake2\r\n\
                     ActionID: 20v\r\n\r\n";
        assert_eq!(
            reply(&req, vec![event.to_string()]).to_wire(),
            format!(
                "Response: Success\r\nActionID: 20c\r\nMessage: Waiting for Event completed.\r\n\r\n\
                 {event}Event: WaitEventComplete\r\nActionID: 20c\r\n\r\n"
            )
        );
    }

    #[test]
    fn v1_message_and_no_action_id() {
        let req = Request::new(Dialect::V1, [("Action", "WaitEvent")]);
        let events = vec![
            "Event: A\r\n\r\n".to_string(),
            "Event: B\r\n\r\n".to_string(),
        ];
        assert_eq!(
            reply(&req, events).to_wire(),
            "Response: Success\r\nMessage: Waiting for Event...\r\n\r\n\
             Event: A\r\n\r\nEvent: B\r\n\r\nEvent: WaitEventComplete\r\n\r\n"
        );
    }
}
