//! The request message an action receives ([`Request`]).
//!
//! Lookups follow Asterisk's `astman_get_header`: names compare case-insensitively, the
//! first header wins, and an absent header reads as empty where the caller wants that.

use crate::privilege::Dialect;
use crate::wit::ami::manager::types as wit;

/// Pieces one `Variable` header splits into at most (`AST_STANDARD_APP_ARGS` with 32
/// slots); the last piece keeps the unsplit rest.
const MAX_VARIABLE_PIECES: usize = 32;

/// The request message of one action call: its headers in wire order (duplicates kept)
/// and the dialect of the calling session.
///
/// # Example
///
/// ```no_run
/// use ami_plugin_sdk::{Dialect, Request};
///
/// let req = Request::new(
///     Dialect::Modern,
///     [("Action", "Setvar"), ("actionid", "42"), ("Variable", "A=1,B=2")],
/// );
/// assert_eq!(req.header("ActionID"), Some("42"));
/// assert_eq!(req.header_or_empty("Channel"), "");
/// assert_eq!(req.variables().len(), 2);
/// ```
#[derive(Clone)]
pub struct Request {
    /// Every header's name and value: one allocation for them all. A request from the
    /// host is the packed call it came in, the rest of it (lengths, the action's name,
    /// the caller's identity) around the strings.
    text: String,
    /// Each header as byte offsets into `text`: where its name starts and ends, where
    /// its value starts and ends. Every offset is a character boundary of `text`.
    spans: Vec<[usize; 4]>,
    dialect: Dialect,
}

impl Request {
    /// A request with these headers (name, value) in this order, from a session speaking
    /// `dialect`. Plugins get their requests from the host; this is for unit tests.
    ///
    /// # Example
    ///
    /// ```no_run
    /// use ami_plugin_sdk::{Dialect, Request};
    ///
    /// let req = Request::new(Dialect::V1, [("Action", "Ping"), ("ActionID", "k1")]);
    /// assert_eq!(req.action_id(), Some("k1"));
    /// ```
    pub fn new<N, V>(dialect: Dialect, headers: impl IntoIterator<Item = (N, V)>) -> Request
    where
        N: Into<String>,
        V: Into<String>,
    {
        let mut req = Request::empty(dialect, 0, 0);
        for (name, value) in headers {
            req.push(&name.into(), &value.into());
        }
        req
    }

    #[doc(hidden)]
    pub fn from_wit(message: wit::Message, dialect: Dialect) -> Request {
        let size = message.iter().map(|h| h.name.len() + h.value.len()).sum();
        let mut req = Request::empty(dialect, message.len(), size);
        for h in &message {
            req.push(&h.name, &h.value);
        }
        req
    }

    /// A request without headers, with room for `count` of them and `size` bytes of
    /// names and values.
    pub(crate) fn empty(dialect: Dialect, count: usize, size: usize) -> Request {
        Request {
            text: String::with_capacity(size),
            spans: Vec::with_capacity(count),
            dialect,
        }
    }

    /// Appends a header.
    pub(crate) fn push(&mut self, name: &str, value: &str) {
        let start = self.text.len();
        self.text.push_str(name);
        let split = self.text.len();
        self.text.push_str(value);
        self.spans.push([start, split, split, self.text.len()]);
    }

    /// A request whose headers' names and values lie in `text` at the offsets of
    /// `spans`, each a character boundary (the caller's promise: a broken one reads as
    /// an empty string). `None` when `text` is not UTF-8.
    pub(crate) fn from_spans(
        dialect: Dialect,
        text: Vec<u8>,
        spans: Vec<[usize; 4]>,
    ) -> Option<Request> {
        let text = String::from_utf8(text).ok()?;
        Some(Request {
            text,
            spans,
            dialect,
        })
    }

    /// The text between two offsets of a [`Request::from_spans`] buffer.
    pub(crate) fn text_at(&self, [start, end]: [usize; 2]) -> &str {
        self.text.get(start..end).unwrap_or_default()
    }

    /// The header at `span`.
    fn pair(&self, span: &[usize; 4]) -> (&str, &str) {
        // Offsets are character boundaries of `text` by construction; `get` keeps even a
        // broken one from panicking.
        let [start, end, _, _] = *span;
        (
            self.text.get(start..end).unwrap_or_default(),
            self.value(span),
        )
    }

    /// The value of the header at `span`.
    fn value(&self, &[_, _, start, end]: &[usize; 4]) -> &str {
        self.text.get(start..end).unwrap_or_default()
    }

    /// Whether the header at `span` is named `name` (case-insensitive), compared as
    /// bytes: a lookup only slices the value it finds.
    fn named(&self, &[start, end, _, _]: &[usize; 4], name: &str) -> bool {
        self.text
            .as_bytes()
            .get(start..end)
            .is_some_and(|n| n.eq_ignore_ascii_case(name.as_bytes()))
    }

    /// The dialect of the calling session (the same as [`Context::dialect`](crate::Context::dialect)).
    ///
    /// # Example
    ///
    /// ```no_run
    /// use ami_plugin_sdk::{Dialect, Request, Response};
    ///
    /// fn pong(req: &Request) -> Response {
    ///     if req.dialect() == Dialect::V1 {
    ///         Response::response(req, "Pong", None)
    ///     } else {
    ///         Response::success(req).header("Ping", "Pong")
    ///     }
    /// }
    /// ```
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// The value of the first header named `name` (case-insensitive), `None` when there is
    /// none. The value is as the client sent it: not trimmed, possibly empty.
    ///
    /// # Example
    ///
    /// ```no_run
    /// use ami_plugin_sdk::{Dialect, Request};
    ///
    /// let req = Request::new(Dialect::V1, [("channel", "SIP/1"), ("Channel", "SIP/2")]);
    /// assert_eq!(req.header("CHANNEL"), Some("SIP/1"));
    /// assert_eq!(req.header("Exten"), None);
    /// ```
    pub fn header(&self, name: &str) -> Option<&str> {
        self.spans
            .iter()
            .find(|span| self.named(span, name))
            .map(|span| self.value(span))
    }

    /// The value of the first header named `name`, or `""` when there is none: absent and
    /// empty read the same, as with Asterisk's `astman_get_header`.
    ///
    /// # Example
    ///
    /// ```no_run
    /// use ami_plugin_sdk::{Dialect, Request, Response};
    ///
    /// fn hangup(req: &Request) -> Response {
    ///     let channel = req.header_or_empty("Channel");
    ///     if channel.is_empty() {
    ///         return Response::error(req, "No channel specified");
    ///     }
    ///     Response::ack(req, "Channel Hungup")
    /// }
    /// ```
    pub fn header_or_empty(&self, name: &str) -> &str {
        self.header(name).unwrap_or("")
    }

    /// The request's `ActionID`; `None` when absent or empty. Every reply builder of
    /// [`Response`](crate::Response) echoes it.
    ///
    /// # Example
    ///
    /// ```no_run
    /// use ami_plugin_sdk::{Dialect, Request};
    ///
    /// let req = Request::new(Dialect::V1, [("ActionID", "")]);
    /// assert_eq!(req.action_id(), None);
    /// ```
    pub fn action_id(&self) -> Option<&str> {
        self.header("ActionID").filter(|id| !id.is_empty())
    }

    /// Every header as (name, value), in wire order, duplicates included.
    ///
    /// # Example
    ///
    /// ```no_run
    /// use ami_plugin_sdk::{Dialect, Request};
    ///
    /// let req = Request::new(Dialect::V1, [("Action", "UserEvent"), ("A", "1")]);
    /// let names: Vec<&str> = req.headers().map(|(name, _)| name).collect();
    /// assert_eq!(names, ["Action", "A"]);
    /// ```
    pub fn headers(&self) -> impl ExactSizeIterator<Item = (&str, &str)> + '_ {
        self.spans.iter().map(|span| self.pair(span))
    }

    /// The values of every header named `name` (case-insensitive), in wire order.
    ///
    /// # Example
    ///
    /// ```no_run
    /// use ami_plugin_sdk::{Dialect, Request};
    ///
    /// let req = Request::new(Dialect::V1, [("Variable", "A=1"), ("variable", "B=2")]);
    /// assert_eq!(req.headers_named("Variable").count(), 2);
    /// ```
    pub fn headers_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.spans
            .iter()
            .filter(move |span| self.named(span, name))
            .map(|span| self.value(span))
    }

    /// The channel variables of the request, as Asterisk's `astman_get_variables` reads
    /// them: every `Variable` header (case-insensitive), each value split into pieces, each
    /// piece split at its first `=` into (name, value).
    ///
    /// * The separator is `|` in the V1 dialect (Asterisk 1.4) and `,` in the modern one.
    /// * A `"` toggles quoting and is removed; a `\` is removed and makes the next
    ///   character literal; a separator inside quotes or parentheses does not split.
    /// * A header splits into at most 32 pieces; the 32nd is the unsplit rest.
    /// * Pieces without `=`, or with an empty name, are skipped; `a=` gives an empty value
    ///   and `a=b=c` gives `a` = `b=c`.
    /// * The list is in order of appearance. (Asterisk 1.4 built it in reverse order; that
    ///   only showed when a name appeared twice, and this SDK does not copy it.)
    ///
    /// # Example
    ///
    /// ```no_run
    /// use ami_plugin_sdk::{Dialect, Request};
    ///
    /// let req = Request::new(
    ///     Dialect::V1,
    ///     [("Variable", "A=1|B=\"x|y\""), ("Variable", "C=f(a|b)")],
    /// );
    /// assert_eq!(
    ///     req.variables(),
    ///     [
    ///         ("A".to_string(), "1".to_string()),
    ///         ("B".to_string(), "x|y".to_string()),
    ///         ("C".to_string(), "f(a|b)".to_string()),
    ///     ]
    /// );
    /// ```
    pub fn variables(&self) -> Vec<(String, String)> {
        let separator = match self.dialect {
            Dialect::V1 => '|',
            Dialect::Modern => ',',
        };
        self.headers_named("Variable")
            .flat_map(|value| split_arguments(value, separator))
            .filter_map(|piece| {
                let (name, value) = piece.split_once('=')?;
                (!name.is_empty()).then(|| (name.to_string(), value.to_string()))
            })
            .collect()
    }
}

/// Requests are equal when their dialects and their headers, in order, are.
impl PartialEq for Request {
    fn eq(&self, other: &Request) -> bool {
        self.dialect == other.dialect && self.headers().eq(other.headers())
    }
}

impl Eq for Request {}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Request")
            .field("dialect", &self.dialect)
            .field("headers", &self.headers().collect::<Vec<_>>())
            .finish()
    }
}

/// Splits an application argument string as Asterisk's `ast_app_separate_args` does (see
/// [`Request::variables`]). Quote and parenthesis state carry over from piece to piece.
fn split_arguments(text: &str, separator: char) -> Vec<String> {
    let mut pieces = Vec::new();
    let mut chars = text.chars().peekable();
    let mut depth = 0usize;
    let mut quoted = false;
    while chars.peek().is_some() && pieces.len() < MAX_VARIABLE_PIECES - 1 {
        let mut piece = String::new();
        while let Some(c) = chars.next() {
            match c {
                '(' => {
                    depth += 1;
                    piece.push(c);
                }
                ')' => {
                    depth = depth.saturating_sub(1);
                    piece.push(c);
                }
                '"' => quoted = !quoted,
                '\\' => {
                    if let Some(next) = chars.next() {
                        piece.push(next);
                    }
                }
                c if c == separator && depth == 0 && !quoted => break,
                c => piece.push(c),
            }
        }
        pieces.push(piece);
    }
    let rest: String = chars.collect();
    if !rest.is_empty() {
        pieces.push(rest);
    }
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn header_lookup_is_case_insensitive_and_first_wins() {
        let req = Request::new(
            Dialect::V1,
            [("ACTION", "Ping"), ("action", "Other"), ("Empty", "")],
        );
        assert_eq!(req.header("Action"), Some("Ping"));
        assert_eq!(req.header("Empty"), Some(""));
        assert_eq!(req.header("Missing"), None);
        assert_eq!(req.header_or_empty("Missing"), "");
        assert_eq!(req.header_or_empty("action"), "Ping");
    }

    #[test]
    fn action_id_absent_or_empty_is_none() {
        assert_eq!(Request::new(Dialect::V1, [("A", "b")]).action_id(), None);
        assert_eq!(
            Request::new(Dialect::V1, [("ActionID", "")]).action_id(),
            None
        );
        assert_eq!(
            Request::new(Dialect::V1, [("actionid", " x ")]).action_id(),
            Some(" x ")
        );
    }

    #[test]
    fn v1_variables_split_on_pipe_only() {
        let req = Request::new(
            Dialect::V1,
            [("Variable", "A=1|B=2,3"), ("VARIABLE", "C=x=y")],
        );
        assert_eq!(
            req.variables(),
            pairs(&[("A", "1"), ("B", "2,3"), ("C", "x=y")])
        );
    }

    #[test]
    fn modern_variables_split_on_comma_only() {
        let req = Request::new(Dialect::Modern, [("Variable", "A=1|2,B=3")]);
        assert_eq!(req.variables(), pairs(&[("A", "1|2"), ("B", "3")]));
    }

    #[test]
    fn variables_skip_pieces_without_name_or_equals() {
        let req = Request::new(Dialect::V1, [("Variable", "=1|noequals||a=|b==")]);
        assert_eq!(req.variables(), pairs(&[("a", ""), ("b", "=")]));
    }

    #[test]
    fn variables_quotes_and_escapes() {
        let req = Request::new(
            Dialect::V1,
            [("Variable", r#"A="x|y"|B=a\|b|C=\"q\"|D=p(1|2)|E=)|F=2"#)],
        );
        assert_eq!(
            req.variables(),
            pairs(&[
                ("A", "x|y"),
                ("B", "a|b"),
                ("C", "\"q\""),
                ("D", "p(1|2)"),
                ("E", ")"),
                ("F", "2"),
            ])
        );
    }

    #[test]
    fn unclosed_quote_swallows_the_rest() {
        let req = Request::new(Dialect::V1, [("Variable", "A=\"1|B=2")]);
        assert_eq!(req.variables(), pairs(&[("A", "1|B=2")]));
    }

    #[test]
    fn trailing_backslash_is_dropped() {
        let req = Request::new(Dialect::V1, [("Variable", "A=1\\")]);
        assert_eq!(req.variables(), pairs(&[("A", "1")]));
    }

    #[test]
    fn at_most_32_pieces_the_last_unsplit() {
        let value: Vec<String> = (0..40).map(|i| format!("V{i}=\"{i}\"")).collect();
        let req = Request::new(Dialect::V1, [("Variable", value.join("|"))]);
        let vars = req.variables();
        assert_eq!(vars.len(), 32);
        assert_eq!(vars[30], ("V30".to_string(), "30".to_string()));
        let rest: Vec<String> = (31..40).map(|i| format!("V{i}=\"{i}\"")).collect();
        let rest = rest.join("|");
        let (_, rest_value) = rest.split_once('=').unwrap_or_default();
        assert_eq!(vars[31], ("V31".to_string(), rest_value.to_string()));
    }

    #[test]
    fn variables_keep_order_of_appearance() {
        let req = Request::new(
            Dialect::Modern,
            [("Variable", "A=1"), ("Other", "x"), ("Variable", "A=2,B=3")],
        );
        assert_eq!(
            req.variables(),
            pairs(&[("A", "1"), ("A", "2"), ("B", "3")])
        );
    }

    #[test]
    fn split_arguments_edges() {
        assert!(split_arguments("", '|').is_empty());
        assert_eq!(split_arguments("a|", '|'), ["a"]);
        assert_eq!(split_arguments("|a", '|'), ["", "a"]);
        assert_eq!(split_arguments("a||b", '|'), ["a", "", "b"]);
    }
}
