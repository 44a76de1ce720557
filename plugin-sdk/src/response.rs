//! Replies ([`Response`]) and whole messages ([`Message`]).
//!
//! The builders mirror Asterisk's `astman_send_ack`, `astman_send_error`,
//! `astman_send_response` and `astman_append`: each echoes the request's `ActionID` right
//! after `Response:` when the request had a non-empty one, so handlers never copy it by
//! hand. The host writes every header as `Name: Value\r\n`.

use std::fmt;

use crate::privilege::Dialect;
use crate::request::Request;
use crate::wit::ami::manager::types as wit;

/// An ordered list of headers: an event, a list item or a completion event written after
/// a reply, or the body of an emitted event.
///
/// # Example
///
/// ```no_run
/// use ami_plugin_sdk::{Dialect, Message, Request};
///
/// let req = Request::new(Dialect::Modern, [("ActionID", "7")]);
/// let item = Message::event("PeerEntry")
///     .with_action_id(&req)
///     .header("ObjectName", "100");
/// assert_eq!(item.to_wire(), "Event: PeerEntry\r\nActionID: 7\r\nObjectName: 100\r\n\r\n");
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Message {
    headers: Vec<(String, String)>,
}

impl Message {
    /// A message with no header.
    ///
    /// # Example
    ///
    /// ```no_run
    /// use ami_plugin_sdk::Message;
    ///
    /// let body = Message::new().header("Target", "eu-1");
    /// assert_eq!(body.len(), 1);
    /// ```
    pub fn new() -> Message {
        Message::default()
    }

    /// A message starting with `Event: <name>`.
    ///
    /// # Example
    ///
    /// ```no_run
    /// use ami_plugin_sdk::Message;
    ///
    /// let done = Message::event("StatusComplete").header("Items", 0);
    /// assert_eq!(done.get("Event"), Some("StatusComplete"));
    /// ```
    pub fn event(name: impl Into<String>) -> Message {
        Message::new().header("Event", name.into())
    }

    /// The Modern dialect's closing event of a list: `Event: <event>`, `[ActionID: <id>]`,
    /// `EventList: Complete`, `ListItems: <items>`.
    ///
    /// # Example
    ///
    /// ```no_run
    /// use ami_plugin_sdk::{Dialect, Message, Request};
    ///
    /// let req = Request::new(Dialect::Modern, [("ActionID", "11")]);
    /// let done = Message::list_complete("StatusComplete", &req, 2);
    /// assert_eq!(
    ///     done.to_wire(),
    ///     "Event: StatusComplete\r\nActionID: 11\r\nEventList: Complete\r\nListItems: 2\r\n\r\n"
    /// );
    /// ```
    pub fn list_complete(event: impl Into<String>, req: &Request, items: usize) -> Message {
        Message::event(event)
            .with_action_id(req)
            .header("EventList", "Complete")
            .header("ListItems", items)
    }

    /// This message with `name: value` appended.
    ///
    /// # Example
    ///
    /// ```no_run
    /// use ami_plugin_sdk::Message;
    ///
    /// let m = Message::event("Hangup").header("Channel", "SIP/1").header("Cause", 16);
    /// assert_eq!(m.get("cause"), Some("16"));
    /// ```
    pub fn header(mut self, name: impl Into<String>, value: impl fmt::Display) -> Message {
        self.push_header(name, value);
        self
    }

    /// Appends `name: value`.
    ///
    /// # Example
    ///
    /// ```no_run
    /// use ami_plugin_sdk::Message;
    ///
    /// let mut m = Message::event("Status");
    /// for (name, value) in [("Channel", "SIP/1"), ("State", "Up")] {
    ///     m.push_header(name, value);
    /// }
    /// assert_eq!(m.len(), 3);
    /// ```
    pub fn push_header(&mut self, name: impl Into<String>, value: impl fmt::Display) {
        self.headers.push((name.into(), value.to_string()));
    }

    /// This message with `ActionID: <id>` appended when `req` had a non-empty `ActionID`.
    ///
    /// # Example
    ///
    /// ```no_run
    /// use ami_plugin_sdk::{Dialect, Message, Request};
    ///
    /// let req = Request::new(Dialect::V1, [("Action", "Status")]);
    /// assert_eq!(Message::event("Status").with_action_id(&req).len(), 1);
    /// ```
    pub fn with_action_id(mut self, req: &Request) -> Message {
        if let Some(id) = req.action_id() {
            self.push_header("ActionID", id);
        }
        self
    }

    /// The headers as (name, value), in order.
    ///
    /// # Example
    ///
    /// ```no_run
    /// use ami_plugin_sdk::Message;
    ///
    /// let m = Message::event("Reload");
    /// assert_eq!(m.headers().next(), Some(("Event", "Reload")));
    /// ```
    pub fn headers(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.headers.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// The value of the first header named `name` (case-insensitive).
    ///
    /// # Example
    ///
    /// ```no_run
    /// use ami_plugin_sdk::Message;
    ///
    /// assert_eq!(Message::event("Reload").get("EVENT"), Some("Reload"));
    /// ```
    pub fn get(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The number of headers.
    ///
    /// # Example
    ///
    /// ```no_run
    /// use ami_plugin_sdk::Message;
    ///
    /// assert_eq!(Message::new().len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        self.headers.len()
    }

    /// True when the message has no header.
    ///
    /// # Example
    ///
    /// ```no_run
    /// use ami_plugin_sdk::Message;
    ///
    /// assert!(Message::new().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.headers.is_empty()
    }

    /// The message as the host writes it: `Name: Value\r\n` per header, then `\r\n`.
    ///
    /// # Example
    ///
    /// ```no_run
    /// use ami_plugin_sdk::Message;
    ///
    /// assert_eq!(Message::event("X").to_wire(), "Event: X\r\n\r\n");
    /// ```
    pub fn to_wire(&self) -> String {
        let mut out = String::new();
        write_headers(&mut out, &self.headers);
        out.push_str("\r\n");
        out
    }

    #[doc(hidden)]
    pub fn into_wit(self) -> wit::Message {
        headers_into_wit(self.headers)
    }
}

/// One piece of output written after a reply's headers, in order.
///
/// # Example
///
/// ```no_run
/// use ami_plugin_sdk::{Message, Output, Response};
///
/// let reply = Response::none().then(Message::event("X")).raw("Event: Y\r\n\r\n");
/// assert!(matches!(reply.after()[1], Output::Raw(_)));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    /// A whole message (list item, completion event), written with its blank line.
    Message(Message),
    /// Text written verbatim (events already rendered, e.g. those WaitEvent collected).
    Raw(String),
}

/// The reply to one action call: reply headers, optional V1 `Follows` output, messages
/// written after it, and whether to close the session afterwards.
///
/// Build it with [`ack`](Self::ack), [`error`](Self::error),
/// [`response`](Self::response), [`success`](Self::success) plus
/// [`header`](Self::header), [`follows`](Self::follows), [`list_start`](Self::list_start)
/// or [`none`](Self::none); each echoes the request's `ActionID`.
///
/// # Example
///
/// ```no_run
/// use ami_plugin_sdk::{Dialect, Request, Response};
///
/// let req = Request::new(Dialect::V1, [("Action", "Hangup"), ("ActionID", "h1")]);
/// let reply = Response::error(&req, "No such channel");
/// assert_eq!(
///     reply.to_wire(),
///     "Response: Error\r\nActionID: h1\r\nMessage: No such channel\r\n\r\n"
/// );
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Response {
    headers: Vec<(String, String)>,
    follows: Option<String>,
    after: Vec<Output>,
    close: bool,
}

impl Response {
    /// No reply at all (the host writes nothing for the call).
    ///
    /// # Example
    ///
    /// ```no_run
    /// use ami_plugin_sdk::Response;
    ///
    /// assert!(Response::none().is_none());
    /// assert_eq!(Response::none().to_wire(), "");
    /// ```
    pub fn none() -> Response {
        Response::default()
    }

    /// `Response: <response>`, `[ActionID: <id>]`, and `Message: <message>` when given
    /// (`astman_send_response`).
    ///
    /// # Example
    ///
    /// ```no_run
    /// use ami_plugin_sdk::{Dialect, Request, Response};
    ///
    /// let req = Request::new(Dialect::V1, [("ActionID", "k1")]);
    /// assert_eq!(
    ///     Response::response(&req, "Pong", None).to_wire(),
    ///     "Response: Pong\r\nActionID: k1\r\n\r\n"
    /// );
    /// ```
    #[allow(clippy::self_named_constructors)] // named after `astman_send_response`
    pub fn response(req: &Request, response: &str, message: Option<&str>) -> Response {
        let mut reply = Response::none().header("Response", response);
        if let Some(id) = req.action_id() {
            reply.push_header("ActionID", id);
        }
        if let Some(message) = message {
            reply.push_header("Message", message);
        }
        reply
    }

    /// `Response: Success`, `[ActionID: <id>]`, `Message: <message>` (`astman_send_ack`).
    ///
    /// # Example
    ///
    /// ```no_run
    /// use ami_plugin_sdk::{Dialect, Request, Response};
    ///
    /// let req = Request::new(Dialect::Modern, [("Action", "UserEvent")]);
    /// assert_eq!(
    ///     Response::ack(&req, "Event Sent").to_wire(),
    ///     "Response: Success\r\nMessage: Event Sent\r\n\r\n"
    /// );
    /// ```
    pub fn ack(req: &Request, message: impl AsRef<str>) -> Response {
        Response::response(req, "Success", Some(message.as_ref()))
    }

    /// `Response: Error`, `[ActionID: <id>]`, `Message: <message>` (`astman_send_error`).
    ///
    /// # Example
    ///
    /// ```no_run
    /// use ami_plugin_sdk::{Request, Response};
    ///
    /// fn need_channel(req: &Request) -> Response {
    ///     Response::error(req, "No channel specified")
    /// }
    /// ```
    pub fn error(req: &Request, message: impl AsRef<str>) -> Response {
        Response::response(req, "Error", Some(message.as_ref()))
    }

    /// `Response: Success` and `[ActionID: <id>]`, ready for [`header`](Self::header) calls.
    ///
    /// # Example
    ///
    /// ```no_run
    /// use ami_plugin_sdk::{Dialect, Request, Response};
    ///
    /// let req = Request::new(Dialect::Modern, [("ActionID", "6")]);
    /// let reply = Response::success(&req).header("Ping", "Pong");
    /// assert_eq!(reply.to_wire(), "Response: Success\r\nActionID: 6\r\nPing: Pong\r\n\r\n");
    /// ```
    pub fn success(req: &Request) -> Response {
        Response::response(req, "Success", None)
    }

    /// Exactly these headers as the reply, for layouts the other builders do not cover
    /// (e.g. Getvar's `ActionID` after `Value:`). The handler places `ActionID` itself.
    ///
    /// # Example
    ///
    /// ```no_run
    /// use ami_plugin_sdk::{Dialect, Message, Request, Response};
    ///
    /// let req = Request::new(Dialect::V1, [("ActionID", "g1")]);
    /// let reply = Response::from_message(
    ///     Message::new()
    ///         .header("Response", "Success")
    ///         .header("Variable", "X")
    ///         .header("Value", "1")
    ///         .with_action_id(&req),
    /// );
    /// assert_eq!(reply.get("ActionID"), Some("g1"));
    /// ```
    pub fn from_message(message: Message) -> Response {
        Response {
            headers: message.headers,
            ..Response::default()
        }
    }

    /// Command output in the request's dialect.
    ///
    /// * V1: `Response: Follows`, `Privilege: Command`, `[ActionID: <id>]`; the host writes
    ///   `output` right after these headers, then `--END COMMAND--` and a blank line.
    /// * Modern: `Response: Success`, `[ActionID: <id>]`, `Message: Command output follows`, then
    ///   one `Output: <line>` header per line of `output`.
    ///
    /// # Example
    ///
    /// ```no_run
    /// use ami_plugin_sdk::{Dialect, Request, Response};
    ///
    /// let req = Request::new(Dialect::Modern, [("ActionID", "13")]);
    /// let reply = Response::follows(&req, "line 1\nline 2\n");
    /// assert_eq!(
    ///     reply.to_wire(),
    ///     "Response: Success\r\nActionID: 13\r\nMessage: Command output follows\r\n\
    ///      Output: line 1\r\nOutput: line 2\r\n\r\n"
    /// );
    /// ```
    pub fn follows(req: &Request, output: impl Into<String>) -> Response {
        let output = output.into();
        match req.dialect() {
            Dialect::V1 => {
                let mut reply = Response::none()
                    .header("Response", "Follows")
                    .header("Privilege", "Command");
                if let Some(id) = req.action_id() {
                    reply.push_header("ActionID", id);
                }
                reply.follows = Some(output);
                reply
            }
            Dialect::Modern => {
                let mut reply = Response::ack(req, "Command output follows");
                for line in output.lines() {
                    reply.push_header("Output", line);
                }
                reply
            }
        }
    }

    /// The first reply of a list action: Modern `Response: Success`, `[ActionID: <id>]`,
    /// `EventList: start`, `Message: <message>`; V1 [`ack`](Self::ack) with `message`.
    /// Add the items with [`then`](Self::then) and, in the modern dialect, close with
    /// [`Message::list_complete`].
    ///
    /// # Example
    ///
    /// ```no_run
    /// use ami_plugin_sdk::{Message, Request, Response};
    ///
    /// fn status(req: &Request, channels: &[&str]) -> Response {
    ///     let mut reply = Response::list_start(req, "Channel status will follow");
    ///     for name in channels {
    ///         reply.push_then(Message::event("Status").header("Channel", name).with_action_id(req));
    ///     }
    ///     reply.then(Message::list_complete("StatusComplete", req, channels.len()))
    /// }
    /// ```
    pub fn list_start(req: &Request, message: impl AsRef<str>) -> Response {
        match req.dialect() {
            Dialect::V1 => Response::ack(req, message),
            Dialect::Modern => Response::success(req)
                .header("EventList", "start")
                .header("Message", message.as_ref()),
        }
    }

    /// This reply with `name: value` appended to its headers.
    ///
    /// # Example
    ///
    /// ```no_run
    /// use ami_plugin_sdk::{Request, Response};
    ///
    /// fn counts(req: &Request, new: u32, old: u32) -> Response {
    ///     Response::success(req).header("NewMessages", new).header("OldMessages", old)
    /// }
    /// ```
    pub fn header(mut self, name: impl Into<String>, value: impl fmt::Display) -> Response {
        self.push_header(name, value);
        self
    }

    /// Appends `name: value` to the reply headers.
    ///
    /// # Example
    ///
    /// ```no_run
    /// use ami_plugin_sdk::{Request, Response};
    ///
    /// fn listing(req: &Request, actions: &[(&str, &str)]) -> Response {
    ///     let mut reply = Response::success(req);
    ///     for (name, synopsis) in actions {
    ///         reply.push_header(*name, synopsis);
    ///     }
    ///     reply
    /// }
    /// ```
    pub fn push_header(&mut self, name: impl Into<String>, value: impl fmt::Display) {
        self.headers.push((name.into(), value.to_string()));
    }

    /// This reply, after which the host closes the session (Logoff).
    ///
    /// # Example
    ///
    /// ```no_run
    /// use ami_plugin_sdk::{Request, Response};
    ///
    /// fn logoff(req: &Request) -> Response {
    ///     Response::response(req, "Goodbye", Some("Thanks for all the fish.")).close()
    /// }
    /// ```
    pub fn close(mut self) -> Response {
        self.close = true;
        self
    }

    /// This reply with `message` written after it (a list item, a completion event).
    ///
    /// # Example
    ///
    /// ```no_run
    /// use ami_plugin_sdk::{Message, Request, Response};
    ///
    /// fn done(req: &Request) -> Response {
    ///     Response::ack(req, "Waiting for Event...")
    ///         .then(Message::event("WaitEventComplete").with_action_id(req))
    /// }
    /// ```
    pub fn then(mut self, message: Message) -> Response {
        self.push_then(message);
        self
    }

    /// Appends `message` to what is written after the reply.
    ///
    /// # Example
    ///
    /// ```no_run
    /// use ami_plugin_sdk::{Message, Request, Response};
    ///
    /// fn items(req: &Request) -> Response {
    ///     let mut reply = Response::list_start(req, "Items will follow");
    ///     for i in 0..3 {
    ///         reply.push_then(Message::event("Item").header("Index", i));
    ///     }
    ///     reply
    /// }
    /// ```
    pub fn push_then(&mut self, message: Message) {
        self.after.push(Output::Message(message));
    }

    /// This reply with `text` written verbatim after it.
    ///
    /// # Example
    ///
    /// ```no_run
    /// use ami_plugin_sdk::{Request, Response};
    ///
    /// fn with_events(req: &Request, rendered: Vec<String>) -> Response {
    ///     rendered.into_iter().fold(Response::ack(req, "Waiting for Event..."), Response::raw)
    /// }
    /// ```
    pub fn raw(mut self, text: impl Into<String>) -> Response {
        self.push_raw(text);
        self
    }

    /// Appends `text`, written verbatim after the reply.
    ///
    /// # Example
    ///
    /// ```no_run
    /// use ami_plugin_sdk::{Request, Response};
    ///
    /// fn with_event(req: &Request, rendered: &str) -> Response {
    ///     let mut reply = Response::success(req);
    ///     reply.push_raw(rendered);
    ///     reply
    /// }
    /// ```
    pub fn push_raw(&mut self, text: impl Into<String>) {
        self.after.push(Output::Raw(text.into()));
    }

    /// The reply headers as (name, value), in order.
    ///
    /// # Example
    ///
    /// ```no_run
    /// use ami_plugin_sdk::{Dialect, Request, Response};
    ///
    /// let req = Request::new(Dialect::V1, [("Action", "Ping")]);
    /// let reply = Response::success(&req);
    /// assert_eq!(reply.headers().next(), Some(("Response", "Success")));
    /// ```
    pub fn headers(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.headers.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// The value of the first reply header named `name` (case-insensitive).
    ///
    /// # Example
    ///
    /// ```no_run
    /// use ami_plugin_sdk::{Dialect, Request, Response};
    ///
    /// let req = Request::new(Dialect::V1, [("Action", "Test")]);
    /// assert_eq!(Response::error(&req, "x").get("response"), Some("Error"));
    /// ```
    pub fn get(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The V1 `Follows` output, if this is such a reply.
    ///
    /// # Example
    ///
    /// ```no_run
    /// use ami_plugin_sdk::{Dialect, Request, Response};
    ///
    /// let req = Request::new(Dialect::V1, [("Action", "Test")]);
    /// assert_eq!(Response::follows(&req, "up\n").follows_output(), Some("up\n"));
    /// ```
    pub fn follows_output(&self) -> Option<&str> {
        self.follows.as_deref()
    }

    /// What is written after the reply, in order.
    ///
    /// # Example
    ///
    /// ```no_run
    /// use ami_plugin_sdk::{Message, Response};
    ///
    /// assert_eq!(Response::none().then(Message::event("X")).after().len(), 1);
    /// ```
    pub fn after(&self) -> &[Output] {
        &self.after
    }

    /// True when the host closes the session after writing this reply.
    ///
    /// # Example
    ///
    /// ```no_run
    /// use ami_plugin_sdk::Response;
    ///
    /// assert!(Response::none().close().closes());
    /// ```
    pub fn closes(&self) -> bool {
        self.close
    }

    /// True when there is no reply header (the host writes no reply).
    ///
    /// # Example
    ///
    /// ```no_run
    /// use ami_plugin_sdk::{Dialect, Request, Response};
    ///
    /// let req = Request::new(Dialect::V1, [("Action", "Test")]);
    /// assert!(!Response::success(&req).is_none());
    /// ```
    pub fn is_none(&self) -> bool {
        self.headers.is_empty()
    }

    /// The reply as the host writes it, for tests: each header as `Name: Value\r\n`; then
    /// either the `Follows` output followed by `--END COMMAND--\r\n\r\n`, or a blank line;
    /// then each message (with its blank line) or raw text written after it. No headers:
    /// only what is written after.
    ///
    /// # Example
    ///
    /// ```no_run
    /// use ami_plugin_sdk::{Dialect, Request, Response};
    ///
    /// let req = Request::new(Dialect::V1, [("ActionID", "c1")]);
    /// assert_eq!(
    ///     Response::follows(&req, "Asterisk 1.4\n").to_wire(),
    ///     "Response: Follows\r\nPrivilege: Command\r\nActionID: c1\r\n\
    ///      Asterisk 1.4\n--END COMMAND--\r\n\r\n"
    /// );
    /// ```
    pub fn to_wire(&self) -> String {
        let mut out = String::new();
        if !self.headers.is_empty() {
            write_headers(&mut out, &self.headers);
            match &self.follows {
                Some(output) => {
                    out.push_str(output);
                    out.push_str("--END COMMAND--\r\n\r\n");
                }
                None => out.push_str("\r\n"),
            }
        }
        for piece in &self.after {
            match piece {
                Output::Message(message) => out.push_str(&message.to_wire()),
                Output::Raw(text) => out.push_str(text),
            }
        }
        out
    }

    #[doc(hidden)]
    pub fn into_wit(self) -> wit::Response {
        wit::Response {
            headers: headers_into_wit(self.headers),
            follows: self.follows,
            after: self
                .after
                .into_iter()
                .map(|piece| match piece {
                    Output::Message(message) => wit::Output::Message(message.into_wit()),
                    Output::Raw(text) => wit::Output::Raw(text),
                })
                .collect(),
            close: self.close,
        }
    }
}

fn write_headers(out: &mut String, headers: &[(String, String)]) {
    for (name, value) in headers {
        out.push_str(name);
        out.push_str(": ");
        out.push_str(value);
        out.push_str("\r\n");
    }
}

fn headers_into_wit(headers: Vec<(String, String)>) -> wit::Message {
    headers
        .into_iter()
        .map(|(name, value)| wit::Header { name, value })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(dialect: Dialect, id: Option<&str>) -> Request {
        let mut headers = vec![("Action", "Test")];
        if let Some(id) = id {
            headers.push(("ActionID", id));
        }
        Request::new(dialect, headers)
    }

    #[test]
    fn ack_error_response_echo_action_id_second() {
        for dialect in [Dialect::V1, Dialect::Modern] {
            let with = req(dialect, Some("a1"));
            let without = req(dialect, None);
            let empty = req(dialect, Some(""));
            assert_eq!(
                Response::ack(&with, "Done").to_wire(),
                "Response: Success\r\nActionID: a1\r\nMessage: Done\r\n\r\n"
            );
            assert_eq!(
                Response::error(&without, "Nope").to_wire(),
                "Response: Error\r\nMessage: Nope\r\n\r\n"
            );
            assert_eq!(
                Response::error(&empty, "Nope").to_wire(),
                "Response: Error\r\nMessage: Nope\r\n\r\n"
            );
            assert_eq!(
                Response::response(&with, "Events On", None).to_wire(),
                "Response: Events On\r\nActionID: a1\r\n\r\n"
            );
        }
    }

    #[test]
    fn success_with_headers_and_close() {
        let r = req(Dialect::V1, Some("x"));
        let reply = Response::success(&r)
            .header("A", 1)
            .header("B", "two")
            .close();
        assert!(reply.closes());
        assert_eq!(
            reply.to_wire(),
            "Response: Success\r\nActionID: x\r\nA: 1\r\nB: two\r\n\r\n"
        );
    }

    #[test]
    fn follows_v1_keeps_output_for_the_host() {
        let r = req(Dialect::V1, None);
        let reply = Response::follows(&r, "a\nb\n");
        assert_eq!(reply.follows_output(), Some("a\nb\n"));
        assert_eq!(
            reply.to_wire(),
            "Response: Follows\r\nPrivilege: Command\r\na\nb\n--END COMMAND--\r\n\r\n"
        );
        let wit = reply.into_wit();
        assert_eq!(wit.follows.as_deref(), Some("a\nb\n"));
        assert_eq!(wit.headers.len(), 2);
    }

    #[test]
    fn follows_modern_is_output_headers() {
        let r = req(Dialect::Modern, None);
        let reply = Response::follows(&r, "one\r\ntwo");
        assert_eq!(reply.follows_output(), None);
        assert_eq!(
            reply.to_wire(),
            "Response: Success\r\nMessage: Command output follows\r\n\
             Output: one\r\nOutput: two\r\n\r\n"
        );
        let empty = Response::follows(&r, "");
        assert_eq!(empty.headers().count(), 2);
    }

    #[test]
    fn list_start_per_dialect() {
        let v1 = req(Dialect::V1, Some("l"));
        let modern = req(Dialect::Modern, Some("l"));
        assert_eq!(
            Response::list_start(&v1, "Items follow").to_wire(),
            "Response: Success\r\nActionID: l\r\nMessage: Items follow\r\n\r\n"
        );
        assert_eq!(
            Response::list_start(&modern, "Items follow").to_wire(),
            "Response: Success\r\nActionID: l\r\nEventList: start\r\nMessage: Items follow\r\n\r\n"
        );
        assert_eq!(
            Message::list_complete("Done", &req(Dialect::Modern, None), 0).to_wire(),
            "Event: Done\r\nEventList: Complete\r\nListItems: 0\r\n\r\n"
        );
    }

    #[test]
    fn after_pieces_in_order() {
        let r = req(Dialect::Modern, None);
        let reply = Response::success(&r)
            .then(Message::event("One"))
            .raw("Event: Two\r\n\r\n")
            .then(Message::event("Three"));
        assert_eq!(
            reply.to_wire(),
            "Response: Success\r\n\r\nEvent: One\r\n\r\nEvent: Two\r\n\r\nEvent: Three\r\n\r\n"
        );
        let wit = reply.into_wit();
        assert_eq!(wit.after.len(), 3);
        assert!(matches!(&wit.after[1], wit::Output::Raw(t) if t == "Event: Two\r\n\r\n"));
        assert!(!wit.close);
    }

    #[test]
    fn none_writes_nothing() {
        let reply = Response::none();
        assert!(reply.is_none());
        assert_eq!(reply.to_wire(), "");
        assert!(reply.into_wit().headers.is_empty());
    }
}
