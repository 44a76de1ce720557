//! `Events`: set the calling session's event mask.
//!
//! ```text
//! Action: Events
//! EventMask: <on|off|number|class list>
//!
//! V1                          Modern
//! Response: Events On|Off     Response: Success
//! [ActionID: <id>]            [ActionID: <id>]
//!                             Events: On|Off
//! ```
//!
//! `On` when the new mask holds any class, `Off` when it holds none (`off`, `0`, or a list
//! naming no known class). The mask grammar is [`Privilege::from_event_mask`].
//!
//! # Errors
//!
//! An empty or absent `EventMask`: error `Invalid event mask`, mask unchanged.

use ami_plugin_sdk::{session, Context, Dialect, Privilege, Request, Response};

/// What `manager show command Events` prints.
pub const DESCRIPTION: &str = "Chooses which events this session receives. EventMask is \
'on' (every class the user may read), 'off' (none), a comma-separated list of classes \
(system, call, log, verbose, command, agent, user, config, ...) or a numeric bit mask.";

/// The handler.
pub fn events(req: &Request, _ctx: &Context) -> Response {
    match Privilege::from_event_mask(req.header_or_empty("EventMask")) {
        Some(mask) => {
            session::set_event_mask(mask);
            reply(req, mask)
        }
        None => Response::error(req, "Invalid event mask"),
    }
}

/// The reply once the mask is set.
fn reply(req: &Request, mask: Privilege) -> Response {
    let on = !mask.is_empty();
    match req.dialect() {
        Dialect::V1 => Response::response(req, if on { "Events On" } else { "Events Off" }, None),
        Dialect::Modern => Response::success(req).header("Events", if on { "On" } else { "Off" }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(dialect: Dialect, mask: Option<&str>) -> Request {
        let mut headers = vec![("Action", "Events"), ("ActionID", "ev1")];
        if let Some(mask) = mask {
            headers.push(("EventMask", mask));
        }
        Request::new(dialect, headers)
    }

    #[test]
    fn empty_or_missing_mask_is_an_error_without_touching_the_session() {
        for dialect in [Dialect::V1, Dialect::Modern] {
            for mask in [None, Some("")] {
                let reply = events(&req(dialect, mask), &Context::new(dialect));
                assert_eq!(
                    reply.to_wire(),
                    "Response: Error\r\nActionID: ev1\r\nMessage: Invalid event mask\r\n\r\n"
                );
            }
        }
    }

    #[test]
    fn v1_replies() {
        let r = req(Dialect::V1, None);
        assert_eq!(
            reply(&r, Privilege::ALL).to_wire(),
            "Response: Events On\r\nActionID: ev1\r\n\r\n"
        );
        assert_eq!(
            reply(&r, Privilege::NONE).to_wire(),
            "Response: Events Off\r\nActionID: ev1\r\n\r\n"
        );
        let no_id = Request::new(Dialect::V1, [("Action", "Events")]);
        assert_eq!(
            reply(&no_id, Privilege::CALL).to_wire(),
            "Response: Events On\r\n\r\n"
        );
    }

    #[test]
    fn modern_replies() {
        let r = req(Dialect::Modern, None);
        assert_eq!(
            reply(&r, Privilege::USER).to_wire(),
            "Response: Success\r\nActionID: ev1\r\nEvents: On\r\n\r\n"
        );
        assert_eq!(
            reply(&r, Privilege::NONE).to_wire(),
            "Response: Success\r\nActionID: ev1\r\nEvents: Off\r\n\r\n"
        );
    }

    #[test]
    fn masks_from_transcript_08() {
        let on_off = |mask: &str| {
            Privilege::from_event_mask(mask).map(|m| if m.is_empty() { "Off" } else { "On" })
        };
        assert_eq!(on_off("on"), Some("On"));
        assert_eq!(on_off("off"), Some("Off"));
        assert_eq!(on_off("user"), Some("On"));
        assert_eq!(on_off("system,call"), Some("On"));
        assert_eq!(on_off("nonsense"), Some("Off"));
        assert_eq!(on_off(""), None);
    }
}
