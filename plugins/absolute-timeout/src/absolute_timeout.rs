//! `AbsoluteTimeout`: hangs `Channel` up `Timeout` seconds from now. Both dialects, in
//! order:
//!
//! ```text
//! Channel empty:                                  error No channel specified
//! Timeout absent, 0 or not starting with a
//!   number (C atoi; modern: or negative):         error No timeout specified
//! channel not found:                              error No such channel
//! set:                                            ack   Timeout Set
//! ```
//!
//! (`error X` = `Response: Error` / `[ActionID]` / `Message: X`; `ack X` the same with
//! `Response: Success`.) AMI 1.0 accepts a negative timeout (a deadline in the past).
//! Any other failure the host reports is `error Timeout not set`.

use ami_plugin_sdk::channels::{self, ChannelError};
use ami_plugin_sdk::{Context, Dialect, Request, Response};

/// What `manager show command AbsoluteTimeout` prints.
pub const DESCRIPTION: &str = "Hangs up the channel named in Channel Timeout seconds from \
now. A timeout of 0 is rejected, so a timeout cannot be cleared this way.";

/// The handler.
pub fn absolute_timeout(req: &Request, _ctx: &Context) -> Response {
    let channel = req.header_or_empty("Channel");
    if channel.is_empty() {
        return Response::error(req, "No channel specified");
    }
    let Some(seconds) = timeout(req.header_or_empty("Timeout"), req.dialect()) else {
        return Response::error(req, "No timeout specified");
    };
    reply(req, channels::set_absolute_timeout(channel, seconds))
}

/// The timeout of a `Timeout` value in seconds, `None` when it counts as not specified:
/// C `atoi` gives 0 (also for text not starting with a number), or, in the modern
/// dialect, a negative number.
fn timeout(text: &str, dialect: Dialect) -> Option<i64> {
    let seconds = atoi(text);
    match dialect {
        _ if seconds == 0 => None,
        Dialect::Modern if seconds < 0 => None,
        _ => Some(seconds),
    }
}

/// C `atoi`: optional leading white space, optional sign, decimal digits; 0 when there
/// are none. Saturates at the `int` range.
fn atoi(text: &str) -> i64 {
    let rest = text.trim_start_matches([' ', '\t', '\n', '\x0b', '\x0c', '\r']);
    let (negative, rest) = match rest.as_bytes().first() {
        Some(b'-') => (true, &rest[1..]),
        Some(b'+') => (false, &rest[1..]),
        _ => (false, rest),
    };
    let value = rest
        .bytes()
        .take_while(u8::is_ascii_digit)
        .fold(0i64, |acc, d| {
            (acc * 10 + i64::from(d - b'0')).min(i64::from(i32::MAX) + 1)
        });
    let value = if negative { -value } else { value };
    value.clamp(i64::from(i32::MIN), i64::from(i32::MAX))
}

/// The reply once the host answered `result`. A channel already hanging up still gets
/// its deadline, as in Asterisk.
fn reply(req: &Request, result: Result<(), ChannelError>) -> Response {
    match result {
        Ok(()) | Err(ChannelError::NotUp) => Response::ack(req, "Timeout Set"),
        Err(ChannelError::NoSuchChannel) => Response::error(req, "No such channel"),
        Err(_) => Response::error(req, "Timeout not set"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts() {
        for dialect in [Dialect::V1, Dialect::Modern] {
            assert_eq!(timeout("", dialect), None);
            assert_eq!(timeout("0", dialect), None);
            assert_eq!(timeout("abc", dialect), None);
            assert_eq!(timeout("30", dialect), Some(30));
            assert_eq!(timeout(" 12s", dialect), Some(12));
            assert_eq!(timeout("1.9", dialect), Some(1));
        }
        assert_eq!(timeout("-5", Dialect::V1), Some(-5));
        assert_eq!(timeout("-5", Dialect::Modern), None);
    }

    #[test]
    fn atoi_is_c() {
        assert_eq!(atoi("+7"), 7);
        assert_eq!(atoi("\t-7x"), -7);
        assert_eq!(atoi("0x10"), 0);
        assert_eq!(atoi("-"), 0);
        assert_eq!(atoi("99999999999"), i64::from(i32::MAX));
        assert_eq!(atoi("-99999999999"), i64::from(i32::MIN));
    }

    #[test]
    fn replies_in_both_dialects() {
        for dialect in [Dialect::V1, Dialect::Modern] {
            let req = Request::new(dialect, [("ActionID", "t1")]);
            assert_eq!(
                reply(&req, Ok(())).to_wire(),
                "Response: Success\r\nActionID: t1\r\nMessage: Timeout Set\r\n\r\n"
            );
            assert_eq!(
                reply(&req, Err(ChannelError::NotUp)).get("Message"),
                Some("Timeout Set")
            );
            assert_eq!(
                reply(&req, Err(ChannelError::NoSuchChannel)).to_wire(),
                "Response: Error\r\nActionID: t1\r\nMessage: No such channel\r\n\r\n"
            );
            assert_eq!(
                reply(&req, Err(ChannelError::Failed)).get("Message"),
                Some("Timeout not set")
            );
        }
    }
}
