//! `Redirect`: sends a channel (and optionally `ExtraChannel`, e.g. the other leg of a
//! bridge) to `Exten`@`Context`, priority `Priority` (a number or a label; absent = 0).
//! Empty `Exten`/`Context` keep the channel's current ones. Both dialects, in order:
//!
//! ```text
//! Channel empty:                           error Channel not specified
//! Priority neither a number nor a label:   error Invalid priority
//! channel not found:                       error Channel does not exist: <Channel>
//! channel hanging up:                      error Redirect failed, channel not up.
//! first redirect failed:                   error Redirect failed
//! no ExtraChannel, redirected:             ack   Redirect successful
//! ExtraChannel hanging up:                 error Redirect failed, extra channel not up.
//! ExtraChannel not found / its redirect
//!   failed (the first one has moved):      error Secondary redirect failed
//! both redirected:                         ack   Dual Redirect successful
//! ```
//!
//! (`error X` = `Response: Error` / `[ActionID]` / `Message: X`; `ack X` the same with
//! `Response: Success`.)

use ami_plugin_sdk::channels::{self, ChannelError, DialplanTarget};
use ami_plugin_sdk::{dialplan, Context, Request, Response};

/// What `manager show command Redirect` prints.
pub const DESCRIPTION: &str = "Sends the channel named in Channel, and the one in \
ExtraChannel when given, to Exten in Context at Priority (a number or a priority label). \
Empty Exten or Context keep the channel's current one. Use ExtraChannel to move both legs \
of a bridged call together.";

/// What Redirect needs of the PBX; [`Host`] is the real one, tests use a fake.
pub trait Pbx {
    /// Does the channel `name` exist?
    fn exists(&self, name: &str) -> bool;
    /// The number of priority label `label` of `exten@context`.
    fn find_label(&self, context: &str, exten: &str, label: &str) -> Option<u32>;
    /// Sends channel `name` to `target`.
    fn redirect(&self, name: &str, target: &DialplanTarget) -> Result<(), ChannelError>;
}

/// The PBX behind the host's `channels` and `dialplan` interfaces.
pub struct Host;

impl Pbx for Host {
    fn exists(&self, name: &str) -> bool {
        channels::get(name).is_some()
    }

    fn find_label(&self, context: &str, exten: &str, label: &str) -> Option<u32> {
        dialplan::find_label(context, exten, label)
    }

    fn redirect(&self, name: &str, target: &DialplanTarget) -> Result<(), ChannelError> {
        channels::redirect(name, target)
    }
}

/// The handler.
pub fn redirect(req: &Request, _ctx: &Context) -> Response {
    run(req, &Host)
}

/// Redirect against `pbx`.
pub fn run(req: &Request, pbx: &impl Pbx) -> Response {
    let name = req.header_or_empty("Channel");
    if name.is_empty() {
        return Response::error(req, "Channel not specified");
    }
    let context = req.header_or_empty("Context");
    let exten = req.header_or_empty("Exten");
    let Some(priority) = resolve_priority(req.header_or_empty("Priority"), |label| {
        pbx.find_label(context, exten, label)
    }) else {
        return Response::error(req, "Invalid priority");
    };
    if !pbx.exists(name) {
        return Response::error(req, format!("Channel does not exist: {name}"));
    }
    let target = DialplanTarget::new(context, exten, priority.to_string());
    match pbx.redirect(name, &target) {
        Ok(()) => {}
        Err(ChannelError::NoSuchChannel) => {
            return Response::error(req, format!("Channel does not exist: {name}"))
        }
        Err(ChannelError::NotUp) => {
            return Response::error(req, "Redirect failed, channel not up.")
        }
        Err(ChannelError::InvalidPriority) => return Response::error(req, "Invalid priority"),
        Err(_) => return Response::error(req, "Redirect failed"),
    }
    let extra = req.header_or_empty("ExtraChannel");
    if extra.is_empty() {
        return Response::ack(req, "Redirect successful");
    }
    if !pbx.exists(extra) {
        return Response::error(req, "Secondary redirect failed");
    }
    match pbx.redirect(extra, &target) {
        Ok(()) => Response::ack(req, "Dual Redirect successful"),
        Err(ChannelError::NotUp) => Response::error(req, "Redirect failed, extra channel not up."),
        Err(_) => Response::error(req, "Secondary redirect failed"),
    }
}

/// The priority of a `Priority` header value: absent/empty = 0; else the number it starts
/// with (C `%d`); else the label looked up with `find_label`, which must give 1 or more.
/// `None`: invalid priority.
pub fn resolve_priority(text: &str, find_label: impl FnOnce(&str) -> Option<u32>) -> Option<i64> {
    if text.is_empty() {
        return Some(0);
    }
    match scan_decimal(text) {
        Some(number) => Some(number),
        None => find_label(text).filter(|&p| p >= 1).map(i64::from),
    }
}

/// C `sscanf("%d")`: optional leading white space, optional sign, at least one decimal
/// digit; the rest of the text is ignored. Saturates at the `int` range.
pub fn scan_decimal(text: &str) -> Option<i64> {
    let rest = text.trim_start_matches([' ', '\t', '\n', '\x0b', '\x0c', '\r']);
    let (negative, rest) = match rest.as_bytes().first() {
        Some(b'-') => (true, &rest[1..]),
        Some(b'+') => (false, &rest[1..]),
        _ => (false, rest),
    };
    let digits = rest.bytes().take_while(u8::is_ascii_digit);
    let mut value: i64 = 0;
    let mut any = false;
    for d in digits {
        any = true;
        value = (value * 10 + i64::from(d - b'0')).min(i64::from(i32::MAX) + 1);
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
    use ami_plugin_sdk::Dialect;
    use std::cell::RefCell;

    /// A fake PBX: channels by name with the result their redirect gives, a label table,
    /// and a record of the redirects made.
    #[derive(Default)]
    struct Fake {
        channels: Vec<(&'static str, Result<(), ChannelError>)>,
        labels: Vec<(&'static str, u32)>,
        done: RefCell<Vec<(String, DialplanTarget)>>,
    }

    impl Pbx for Fake {
        fn exists(&self, name: &str) -> bool {
            self.channels
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case(name))
        }

        fn find_label(&self, _context: &str, _exten: &str, label: &str) -> Option<u32> {
            self.labels
                .iter()
                .find(|(l, _)| *l == label)
                .map(|(_, p)| *p)
        }

        fn redirect(&self, name: &str, target: &DialplanTarget) -> Result<(), ChannelError> {
            let result = self
                .channels
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map_or(Err(ChannelError::NoSuchChannel), |(_, r)| *r);
            if result.is_ok() {
                self.done
                    .borrow_mut()
                    .push((name.to_string(), target.clone()));
            }
            result
        }
    }

    fn fake() -> Fake {
        Fake {
            channels: vec![
                ("SIP/100-1", Ok(())),
                ("SIP/200-2", Ok(())),
                ("SIP/300-3", Err(ChannelError::NotUp)),
                ("SIP/400-4", Err(ChannelError::Failed)),
            ],
            labels: vec![("vm", 5), ("zero", 0)],
            ..Fake::default()
        }
    }

    fn message(pbx: &Fake, headers: &[(&str, &str)]) -> String {
        let mut all = vec![("Action", "Redirect"), ("ActionID", "r")];
        all.extend_from_slice(headers);
        let reply = run(&Request::new(Dialect::V1, all), pbx);
        format!(
            "{} {}",
            reply.get("Response").unwrap_or_default(),
            reply.get("Message").unwrap_or_default()
        )
    }

    #[test]
    fn single_redirect() {
        let pbx = fake();
        let req = Request::new(
            Dialect::Modern,
            [
                ("ActionID", "r1"),
                ("Channel", "sip/100-1"),
                ("Context", "default"),
                ("Exten", "300"),
                ("Priority", "1"),
            ],
        );
        assert_eq!(
            run(&req, &pbx).to_wire(),
            "Response: Success\r\nActionID: r1\r\nMessage: Redirect successful\r\n\r\n"
        );
        assert_eq!(
            pbx.done.borrow().as_slice(),
            [(
                "sip/100-1".to_string(),
                DialplanTarget::new("default", "300", "1")
            )]
        );
    }

    #[test]
    fn errors_in_order() {
        let pbx = fake();
        assert_eq!(message(&pbx, &[]), "Error Channel not specified");
        assert_eq!(
            message(&pbx, &[("Channel", "SIP/9"), ("Priority", "nolabel")]),
            "Error Invalid priority"
        );
        assert_eq!(
            message(&pbx, &[("Channel", "SIP/100-1"), ("Priority", "zero")]),
            "Error Invalid priority"
        );
        assert_eq!(
            message(&pbx, &[("Channel", "SIP/9"), ("Priority", "1")]),
            "Error Channel does not exist: SIP/9"
        );
        assert_eq!(
            message(&pbx, &[("Channel", "SIP/300-3")]),
            "Error Redirect failed, channel not up."
        );
        assert_eq!(
            message(&pbx, &[("Channel", "SIP/400-4")]),
            "Error Redirect failed"
        );
        assert!(pbx.done.borrow().is_empty());
    }

    #[test]
    fn label_and_absent_priority() {
        let pbx = fake();
        assert_eq!(
            message(&pbx, &[("Channel", "SIP/100-1"), ("Priority", "vm")]),
            "Success Redirect successful"
        );
        assert_eq!(
            message(&pbx, &[("Channel", "SIP/100-1")]),
            "Success Redirect successful"
        );
        let done = pbx.done.borrow();
        assert_eq!(done[0].1.priority, "5");
        assert_eq!(done[1].1, DialplanTarget::new("", "", "0"));
    }

    #[test]
    fn dual_redirect() {
        let pbx = fake();
        let both = [
            ("Channel", "SIP/100-1"),
            ("ExtraChannel", "SIP/200-2"),
            ("Exten", "7"),
        ];
        assert_eq!(message(&pbx, &both), "Success Dual Redirect successful");
        assert_eq!(pbx.done.borrow().len(), 2);
        assert_eq!(
            message(&pbx, &[("Channel", "SIP/100-1"), ("ExtraChannel", "SIP/9")]),
            "Error Secondary redirect failed"
        );
        assert_eq!(
            message(
                &pbx,
                &[("Channel", "SIP/100-1"), ("ExtraChannel", "SIP/300-3")]
            ),
            "Error Redirect failed, extra channel not up."
        );
        assert_eq!(
            message(
                &pbx,
                &[("Channel", "SIP/100-1"), ("ExtraChannel", "SIP/400-4")]
            ),
            "Error Secondary redirect failed"
        );
    }

    #[test]
    fn priority_resolution() {
        let none = |_: &str| None;
        assert_eq!(resolve_priority("", none), Some(0));
        assert_eq!(resolve_priority("3", none), Some(3));
        assert_eq!(resolve_priority(" 4x", none), Some(4));
        assert_eq!(resolve_priority("-2", none), Some(-2));
        assert_eq!(resolve_priority("start", none), None);
        assert_eq!(
            resolve_priority("start", |l| (l == "start").then_some(7)),
            Some(7)
        );
        assert_eq!(resolve_priority("start", |_| Some(0)), None);
    }

    #[test]
    fn scan_decimal_is_c_percent_d() {
        assert_eq!(scan_decimal("12"), Some(12));
        assert_eq!(scan_decimal("\t +12abc"), Some(12));
        assert_eq!(scan_decimal("-0"), Some(0));
        assert_eq!(scan_decimal("0x10"), Some(0));
        assert_eq!(scan_decimal("010"), Some(10));
        assert_eq!(scan_decimal("x1"), None);
        assert_eq!(scan_decimal("-"), None);
        assert_eq!(scan_decimal(""), None);
        assert_eq!(
            scan_decimal("99999999999999999999"),
            Some(i64::from(i32::MAX))
        );
        assert_eq!(
            scan_decimal("-99999999999999999999"),
            Some(i64::from(i32::MIN))
        );
    }
}
