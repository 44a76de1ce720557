//! A request message: ordered headers with case-insensitive lookup, parsed from the
//! codec's lines by the rules of the session's dialect. No I/O here.
//!
//! AMI 1.0 (`astman_get_header`) finds a header only when its line is `Name: value` with
//! exactly one blank after the colon and keeps the value untrimmed; a line such as
//! `Action:Ping` is invisible to every lookup. The modern dialect skips all blanks after
//! the colon. In both, lookups are case-insensitive and the first header wins.

use crate::dialect::Dialect;

/// The contract's own `header` record, in which a contract-1.0 plugin takes a request.
pub use crate::plugins::bindings::ami::manager::types::Header;

use crate::codec::Lines;

/// A parsed request: the text of its lines in one buffer, and where each header's name
/// and value are in it. A line that no lookup can find (no colon, or in 1.0 no blank
/// after the colon) keeps its whole text as its name, colon included, and has an empty
/// value.
#[derive(Debug, Clone, Default)]
pub struct Message {
    text: String,
    /// Per header: the start and end of its name, then of its value, in `text`.
    spans: Vec<[u32; 4]>,
}

impl Message {
    /// Parses codec lines by the rules of `dialect`.
    pub fn parse(lines: Lines, dialect: Dialect) -> Message {
        let (text, ends) = lines.into_parts();
        let mut spans = Vec::with_capacity(ends.len());
        let mut start = 0;
        for end in ends {
            let line = text.get(start as usize..end as usize).unwrap_or_default();
            spans.push(split_line(line, start, dialect));
            start = end;
        }
        Message { text, spans }
    }

    /// Builds a message from name/value pairs (HTTP query parameters, tests).
    pub fn from_pairs<I, N, V>(pairs: I) -> Message
    where
        I: IntoIterator<Item = (N, V)>,
        N: AsRef<str>,
        V: AsRef<str>,
    {
        let at = |text: &String| u32::try_from(text.len()).unwrap_or(u32::MAX);
        let mut message = Message::default();
        for (name, value) in pairs {
            let name_start = at(&message.text);
            message.text.push_str(name.as_ref());
            let name_end = at(&message.text);
            message.text.push_str(value.as_ref());
            let value_end = at(&message.text);
            message
                .spans
                .push([name_start, name_end, name_end, value_end]);
        }
        message
    }

    /// The first header named `name` (case-insensitive).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.headers()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// The first header named `name`, or `""` when absent (`astman_get_header`).
    pub fn header(&self, name: &str) -> &str {
        self.get(name).unwrap_or("")
    }

    /// The request's `ActionID`, when present and non-empty.
    pub fn action_id(&self) -> Option<&str> {
        self.get("ActionID").filter(|v| !v.is_empty())
    }

    /// All headers as name and value, in order.
    pub fn headers(&self) -> impl ExactSizeIterator<Item = (&str, &str)> + Clone + '_ {
        self.spans.iter().map(|&[ns, ne, vs, ve]| {
            (
                self.text.get(ns as usize..ne as usize).unwrap_or(""),
                self.text.get(vs as usize..ve as usize).unwrap_or(""),
            )
        })
    }

    /// All headers as the contract's records, for a contract-1.0 plugin.
    pub(crate) fn header_records(&self) -> Vec<Header> {
        self.headers()
            .map(|(name, value)| Header {
                name: name.to_owned(),
                value: value.to_owned(),
            })
            .collect()
    }
}

/// Messages are equal when their headers, in order, are.
impl PartialEq for Message {
    fn eq(&self, other: &Message) -> bool {
        self.headers().eq(other.headers())
    }
}

/// Where the name and the value of `line` are, `line` starting at `start` in its
/// message's text.
fn split_line(line: &str, start: u32, dialect: Dialect) -> [u32; 4] {
    let end = start + line.len() as u32;
    let whole = [start, end, end, end];
    let Some(colon) = line.find(':') else {
        return whole;
    };
    let rest = &line[colon + 1..];
    let value = match dialect {
        Dialect::V1 => match rest.strip_prefix(' ') {
            Some(v) => v,
            None => return whole,
        },
        Dialect::Modern => rest.trim_start_matches([' ', '\t']),
    };
    let name_end = start + colon as u32;
    [start, name_end, end - value.len() as u32, end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(lines: &[&str], d: Dialect) -> Message {
        Message::parse(lines.iter().collect(), d)
    }

    #[test]
    fn lookup_is_case_insensitive_and_first_wins() {
        let msg = m(&["action: ping", "ACTIONID: 1", "ActionID: 2"], Dialect::V1);
        assert_eq!(msg.get("Action"), Some("ping"));
        assert_eq!(msg.action_id(), Some("1"));
    }

    #[test]
    fn v1_needs_one_blank_after_colon() {
        let msg = m(&["Action:Ping", "Foo:  bar", "Baz: q "], Dialect::V1);
        assert_eq!(msg.get("Action"), None);
        assert_eq!(msg.header("Foo"), " bar");
        assert_eq!(msg.header("Baz"), "q ");
    }

    #[test]
    fn modern_skips_blanks() {
        let msg = m(&["Action:Ping", "Foo:  bar"], Dialect::Modern);
        assert_eq!(msg.get("Action"), Some("Ping"));
        assert_eq!(msg.header("Foo"), "bar");
    }

    #[test]
    fn headers_list_every_line_as_name_and_value() {
        let msg = m(&["Action: Ping", "bare", "X:y", "é: ü: 1"], Dialect::V1);
        let all: Vec<_> = msg.headers().collect();
        assert_eq!(
            all,
            [("Action", "Ping"), ("bare", ""), ("X:y", ""), ("é", "ü: 1")]
        );
        let msg = m(&["X:\t y", "Empty:"], Dialect::Modern);
        assert_eq!(
            msg.headers().collect::<Vec<_>>(),
            [("X", "y"), ("Empty", "")]
        );
    }

    #[test]
    fn pairs_and_parsed_lines_make_the_same_message() {
        let pairs = [("Action", "UserEvent"), ("", "v"), ("Name", ""), ("ü", "é")];
        let lines: Vec<String> = pairs.iter().map(|(n, v)| format!("{n}: {v}")).collect();
        let parsed = m(
            &lines.iter().map(String::as_str).collect::<Vec<_>>(),
            Dialect::V1,
        );
        let built = Message::from_pairs(pairs);
        assert_eq!(parsed, built);
        assert_eq!(built.headers().len(), 4);
        assert_eq!(built.header("name"), "");
        assert_eq!(built.header("Ü"), "");
        assert_eq!(built.header("ü"), "é");
        assert_eq!(
            built.header_records()[0],
            Header {
                name: "Action".into(),
                value: "UserEvent".into()
            }
        );
    }

    #[test]
    fn lines_without_colon_are_kept_but_not_found() {
        let msg = m(&["garbage", "Action: Ping"], Dialect::V1);
        assert_eq!(msg.headers().len(), 2);
        assert_eq!(msg.get("Action"), Some("Ping"));
        assert_eq!(msg.action_id(), None);
    }
}
