//! `Originate`: places a call to `Channel` (`Tech/data`); once answered, the new channel
//! runs `Application`(`Data`) or starts the dialplan at `Exten`@`Context`, `Priority`.
//!
//! Checks, in order (both dialects; `error X` = `Response: Error` / `[ActionID]` /
//! `Message: X`, `ack X` the same with `Response: Success`):
//!
//! ```text
//! Channel empty:                                  error Channel not specified
//! Priority neither a number nor a label:          error Invalid priority
//! Timeout given but not an integer
//!   (modern: or negative):                        error Invalid timeout
//! Channel without '/':                            error Invalid channel
//! Async true:                                     ack   Originate successfully queued
//!   (at once; the host emits OriginateResponse with this ActionID when the call ends)
//! sync, no Application, priority 0 or absent:     error Originate with 'Exten' requires 'Context' and 'Priority'
//! sync, answered and started:                     ack   Originate successfully queued
//! sync, not answered / failed:                    error Originate failed
//! ```
//!
//! `Timeout` is in milliseconds (default 30000; AMI 1.0 treats a negative one as no
//! limit). `CallerID` is `"Name" <number>` or a bare number (see [`callerid`]);
//! `Variable` headers give the new channel's variables (`|`-separated in AMI 1.0,
//! `,`-separated in the modern dialect); `Account` its account code.
//!
//! [`callerid`]: crate::callerid

use ami_plugin_sdk::channels::{
    self, DialplanTarget, OriginateOutcome, OriginateRequest, OriginateTarget,
};
use ami_plugin_sdk::{dialplan, Context, Dialect, Request, Response};

use crate::callerid;

/// What `manager show command Originate` prints.
pub const DESCRIPTION: &str = "Calls Channel (Tech/data). Once answered, the channel runs \
Application with Data, or starts the dialplan at Exten in Context, Priority (a number or \
a label). Timeout: ring time in milliseconds (default 30000). CallerID: \"Name\" <number>. \
Variable: name=value pairs for the new channel. Account: its account code. Async: true \
answers at once and reports the outcome in an OriginateResponse event.";

/// The ring timeout when none is given, milliseconds.
const DEFAULT_TIMEOUT_MS: u32 = 30_000;

/// The text of a successful (or queued) Originate.
const QUEUED: &str = "Originate successfully queued";

/// What Originate needs of the PBX; [`Host`] is the real one, tests use a fake.
pub trait Pbx {
    /// The number of priority label `label` of `exten@context`.
    fn find_label(&self, context: &str, exten: &str, label: &str) -> Option<u32>;
    /// Originates and waits for the outcome.
    fn originate(&self, request: &OriginateRequest) -> OriginateOutcome;
    /// Starts originating; the host reports the outcome in `OriginateResponse`.
    fn originate_async(&self, request: &OriginateRequest, action_id: Option<&str>);
}

/// The PBX behind the host's `channels` and `dialplan` interfaces.
pub struct Host;

impl Pbx for Host {
    fn find_label(&self, context: &str, exten: &str, label: &str) -> Option<u32> {
        dialplan::find_label(context, exten, label)
    }

    fn originate(&self, request: &OriginateRequest) -> OriginateOutcome {
        channels::originate(request)
    }

    fn originate_async(&self, request: &OriginateRequest, action_id: Option<&str>) {
        channels::originate_async(request, action_id);
    }
}

/// The handler.
pub fn originate(req: &Request, _ctx: &Context) -> Response {
    run(req, &Host)
}

/// Originate against `pbx`.
pub fn run(req: &Request, pbx: &impl Pbx) -> Response {
    let (request, priority) = match parse(req, |context, exten, label| {
        pbx.find_label(context, exten, label)
    }) {
        Ok(parsed) => parsed,
        Err(message) => return Response::error(req, message),
    };
    if is_true(req.header_or_empty("Async")) {
        pbx.originate_async(&request, req.action_id());
        return Response::ack(req, QUEUED);
    }
    if matches!(request.target, OriginateTarget::Dialplan(_)) && priority == 0 {
        return Response::error(
            req,
            "Originate with 'Exten' requires 'Context' and 'Priority'",
        );
    }
    if pbx.originate(&request).success {
        Response::ack(req, QUEUED)
    } else {
        Response::error(req, "Originate failed")
    }
}

/// Checks the request and builds the origination; also returns the resolved priority.
/// `Err` holds the error message.
pub fn parse(
    req: &Request,
    find_label: impl FnOnce(&str, &str, &str) -> Option<u32>,
) -> Result<(OriginateRequest, i64), &'static str> {
    let channel = req.header_or_empty("Channel");
    if channel.is_empty() {
        return Err("Channel not specified");
    }
    let context = req.header_or_empty("Context");
    let exten = req.header_or_empty("Exten");
    let priority = match req.header_or_empty("Priority") {
        "" => 0,
        text => match scan_decimal(text) {
            Some(number) => number,
            None => find_label(context, exten, text)
                .filter(|&p| p >= 1)
                .map(i64::from)
                .ok_or("Invalid priority")?,
        },
    };
    let timeout_ms = match req.header_or_empty("Timeout") {
        "" => DEFAULT_TIMEOUT_MS,
        text => match (scan_decimal(text), req.dialect()) {
            (None, _) => return Err("Invalid timeout"),
            (Some(ms), Dialect::Modern) if ms < 0 => return Err("Invalid timeout"),
            (Some(ms), _) => u32::try_from(ms).unwrap_or(u32::MAX),
        },
    };
    if !channel.contains('/') {
        return Err("Invalid channel");
    }
    let application = req.header_or_empty("Application");
    let target = if application.is_empty() {
        OriginateTarget::Dialplan(DialplanTarget::new(context, exten, priority.to_string()))
    } else {
        OriginateTarget::Application {
            name: application.to_string(),
            data: req.header_or_empty("Data").to_string(),
        }
    };
    let (caller_id_name, caller_id_num) = callerid::parse(req.header_or_empty("CallerID"));
    let account = Some(req.header_or_empty("Account"))
        .filter(|a| !a.is_empty())
        .map(str::to_string);
    let request = OriginateRequest {
        channel: channel.to_string(),
        target,
        timeout_ms,
        caller_id_num,
        caller_id_name,
        account,
        variables: req.variables(),
    };
    Ok((request, priority))
}

/// `ast_true`: `yes`, `true`, `y`, `t`, `1` or `on`, any case.
pub fn is_true(text: &str) -> bool {
    ["yes", "true", "y", "t", "1", "on"]
        .iter()
        .any(|word| text.eq_ignore_ascii_case(word))
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
    let mut value: i64 = 0;
    let mut any = false;
    for d in rest.bytes().take_while(u8::is_ascii_digit) {
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
    use std::cell::RefCell;

    /// A fake PBX: one label (`start` = 2), a fixed sync outcome, and a record of calls.
    struct Fake {
        answer: bool,
        sync: RefCell<Vec<OriginateRequest>>,
        queued: RefCell<Vec<(OriginateRequest, Option<String>)>>,
    }

    impl Fake {
        fn new(answer: bool) -> Fake {
            Fake {
                answer,
                sync: RefCell::new(Vec::new()),
                queued: RefCell::new(Vec::new()),
            }
        }
    }

    impl Pbx for Fake {
        fn find_label(&self, _context: &str, _exten: &str, label: &str) -> Option<u32> {
            (label == "start").then_some(2)
        }

        fn originate(&self, request: &OriginateRequest) -> OriginateOutcome {
            self.sync.borrow_mut().push(request.clone());
            OriginateOutcome {
                success: self.answer,
                reason: if self.answer { 4 } else { 5 },
                channel: request.channel.clone(),
                uniqueid: None,
            }
        }

        fn originate_async(&self, request: &OriginateRequest, action_id: Option<&str>) {
            self.queued
                .borrow_mut()
                .push((request.clone(), action_id.map(str::to_string)));
        }
    }

    fn req(dialect: Dialect, headers: &[(&str, &str)]) -> Request {
        let mut all = vec![("Action", "Originate"), ("ActionID", "o1")];
        all.extend_from_slice(headers);
        Request::new(dialect, all)
    }

    fn error(message: &str) -> String {
        format!("Response: Error\r\nActionID: o1\r\nMessage: {message}\r\n\r\n")
    }

    const QUEUED_WIRE: &str =
        "Response: Success\r\nActionID: o1\r\nMessage: Originate successfully queued\r\n\r\n";

    #[test]
    fn async_matches_transcript_10() {
        let pbx = Fake::new(false);
        let r = req(
            Dialect::Modern,
            &[
                ("Channel", "Local/100@default"),
                ("Application", "Wait"),
                ("Data", "1"),
                ("Async", "true"),
                ("CallerID", "AMI Ref <5550100>"),
                ("Variable", "FOO=bar"),
            ],
        );
        assert_eq!(run(&r, &pbx).to_wire(), QUEUED_WIRE);
        assert!(pbx.sync.borrow().is_empty());
        let queued = pbx.queued.borrow();
        assert_eq!(queued.len(), 1);
        let (request, action_id) = &queued[0];
        assert_eq!(action_id.as_deref(), Some("o1"));
        assert_eq!(
            *request,
            OriginateRequest {
                channel: "Local/100@default".into(),
                target: OriginateTarget::Application {
                    name: "Wait".into(),
                    data: "1".into()
                },
                timeout_ms: 30_000,
                caller_id_num: Some("5550100".into()),
                caller_id_name: Some("AMI Ref".into()),
                account: None,
                variables: vec![("FOO".into(), "bar".into())],
            }
        );
    }

    #[test]
    fn async_skips_the_exten_rule_and_has_no_action_id_when_none() {
        let pbx = Fake::new(true);
        let r = Request::new(
            Dialect::V1,
            [("Channel", "SIP/100"), ("Exten", "200"), ("Async", "YES")],
        );
        assert_eq!(
            run(&r, &pbx).to_wire(),
            "Response: Success\r\nMessage: Originate successfully queued\r\n\r\n"
        );
        assert_eq!(pbx.queued.borrow()[0].1, None);
    }

    #[test]
    fn sync_outcomes() {
        let dialplan = [
            ("Channel", "SIP/100"),
            ("Context", "default"),
            ("Exten", "200"),
            ("Priority", "1"),
            ("Timeout", "5000"),
            ("Account", "4711"),
            ("Variable", "A=1|B=2"),
        ];
        let pbx = Fake::new(true);
        assert_eq!(
            run(&req(Dialect::V1, &dialplan), &pbx).to_wire(),
            QUEUED_WIRE
        );
        let sent = pbx.sync.borrow()[0].clone();
        assert_eq!(
            sent.target,
            OriginateTarget::Dialplan(DialplanTarget::new("default", "200", "1"))
        );
        assert_eq!(sent.timeout_ms, 5000);
        assert_eq!(sent.account.as_deref(), Some("4711"));
        assert_eq!(
            sent.variables,
            vec![("A".into(), "1".into()), ("B".into(), "2".into())]
        );
        let pbx = Fake::new(false);
        assert_eq!(
            run(&req(Dialect::Modern, &dialplan), &pbx).to_wire(),
            error("Originate failed")
        );
    }

    #[test]
    fn sync_dialplan_needs_a_priority() {
        let pbx = Fake::new(true);
        let r = req(Dialect::V1, &[("Channel", "SIP/100"), ("Exten", "200")]);
        assert_eq!(
            run(&r, &pbx).to_wire(),
            error("Originate with 'Exten' requires 'Context' and 'Priority'")
        );
        assert!(pbx.sync.borrow().is_empty());
        let app = req(
            Dialect::V1,
            &[("Channel", "SIP/100"), ("Application", "Playback")],
        );
        assert_eq!(run(&app, &pbx).to_wire(), QUEUED_WIRE);
    }

    #[test]
    fn checks_in_order() {
        let pbx = Fake::new(true);
        let check = |headers: &[(&str, &str)]| run(&req(Dialect::V1, headers), &pbx).to_wire();
        assert_eq!(check(&[("Priority", "x")]), error("Channel not specified"));
        assert_eq!(
            check(&[("Channel", "bad"), ("Priority", "x"), ("Timeout", "y")]),
            error("Invalid priority")
        );
        assert_eq!(
            check(&[("Channel", "bad"), ("Priority", "start"), ("Timeout", "y")]),
            error("Invalid timeout")
        );
        assert_eq!(
            check(&[("Channel", "bad"), ("Priority", "start"), ("Timeout", "10")]),
            error("Invalid channel")
        );
        assert!(pbx.sync.borrow().is_empty() && pbx.queued.borrow().is_empty());
    }

    #[test]
    fn label_priority_and_timeouts() {
        let none = |_: &str, _: &str, _: &str| None;
        let r = req(
            Dialect::V1,
            &[
                ("Channel", "SIP/1"),
                ("Priority", "start"),
                ("Timeout", "-1"),
            ],
        );
        let Ok((request, priority)) = parse(&r, |_, _, l| (l == "start").then_some(2)) else {
            panic!("label priority rejected");
        };
        assert_eq!(priority, 2);
        assert_eq!(request.timeout_ms, u32::MAX);
        let modern = req(Dialect::Modern, &[("Channel", "SIP/1"), ("Timeout", "-1")]);
        assert_eq!(parse(&modern, none).err(), Some("Invalid timeout"));
        let r = req(Dialect::V1, &[("Channel", "SIP/1"), ("Timeout", " 250ms")]);
        assert_eq!(parse(&r, none).map(|(q, _)| q.timeout_ms), Ok(250));
        let r = req(Dialect::V1, &[("Channel", "SIP/1"), ("Priority", "3rd")]);
        assert_eq!(parse(&r, none).map(|(_, p)| p), Ok(3));
    }

    #[test]
    fn modern_variables_split_on_commas() {
        let r = req(
            Dialect::Modern,
            &[("Channel", "SIP/1"), ("Variable", "A=1,B=x|y")],
        );
        let vars = parse(&r, |_, _, _| None).map(|(q, _)| q.variables);
        assert_eq!(
            vars,
            Ok(vec![("A".into(), "1".into()), ("B".into(), "x|y".into())])
        );
    }

    #[test]
    fn empty_caller_id_parts_are_unset() {
        let r = req(
            Dialect::V1,
            &[("Channel", "SIP/1"), ("CallerID", "\"\" <>")],
        );
        let parsed = parse(&r, |_, _, _| None).map(|(q, _)| (q.caller_id_name, q.caller_id_num));
        assert_eq!(parsed, Ok((None, None)));
    }

    #[test]
    fn truth_values() {
        for word in ["yes", "TRUE", "y", "T", "1", "On"] {
            assert!(is_true(word), "{word}");
        }
        for word in ["", "no", "0", "false", " yes", "2"] {
            assert!(!is_true(word), "{word}");
        }
    }

    #[test]
    fn scan_decimal_is_c_percent_d() {
        assert_eq!(scan_decimal("12"), Some(12));
        assert_eq!(scan_decimal("\t -12abc"), Some(-12));
        assert_eq!(scan_decimal("0x10"), Some(0));
        assert_eq!(scan_decimal("abc"), None);
        assert_eq!(scan_decimal("+"), None);
        assert_eq!(scan_decimal("99999999999"), Some(i64::from(i32::MAX)));
    }
}
