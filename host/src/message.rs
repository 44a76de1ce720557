//! A request message: ordered headers with case-insensitive lookup, parsed from the
//! codec's lines by the rules of the session's dialect. No I/O here.
//!
//! AMI 1.0 (`astman_get_header`) finds a header only when its line is `Name: value` with
//! exactly one blank after the colon and keeps the value untrimmed; a line such as
//! `Action:Ping` is invisible to every lookup. The modern dialect skips all blanks after
//! the colon. In both, lookups are case-insensitive and the first header wins.

use crate::dialect::Dialect;

/// One header line: the contract's own `header` record, so a request reaches a plugin
/// without being copied. `name` is the name as sent; a line that no lookup can find (no
/// colon, or in 1.0 no blank after the colon) keeps its whole text there, colon
/// included, and has an empty value.
pub use crate::plugins::bindings::ami::manager::types::Header;

/// A parsed request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Message {
    headers: Vec<Header>,
}

impl Message {
    /// Parses codec lines by the rules of `dialect`.
    pub fn parse(lines: Vec<String>, dialect: Dialect) -> Message {
        let headers = lines
            .into_iter()
            .map(|line| parse_line(line, dialect))
            .collect();
        Message { headers }
    }

    /// Builds a message from name/value pairs (HTTP query parameters, tests).
    pub fn from_pairs<I, N, V>(pairs: I) -> Message
    where
        I: IntoIterator<Item = (N, V)>,
        N: Into<String>,
        V: Into<String>,
    {
        Message {
            headers: pairs
                .into_iter()
                .map(|(n, v)| Header {
                    name: n.into(),
                    value: v.into(),
                })
                .collect(),
        }
    }

    /// The first header named `name` (case-insensitive).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value.as_str())
    }

    /// The first header named `name`, or `""` when absent (`astman_get_header`).
    pub fn header(&self, name: &str) -> &str {
        self.get(name).unwrap_or("")
    }

    /// The request's `ActionID`, when present and non-empty.
    pub fn action_id(&self) -> Option<&str> {
        self.get("ActionID").filter(|v| !v.is_empty())
    }

    /// All headers, in order.
    pub fn headers(&self) -> &[Header] {
        &self.headers
    }

    /// All headers, in the form a plugin call takes them.
    pub(crate) fn header_list(&self) -> &Vec<Header> {
        &self.headers
    }

    /// Consumes the message into its headers.
    pub fn into_headers(self) -> Vec<Header> {
        self.headers
    }
}

fn parse_line(line: String, dialect: Dialect) -> Header {
    let Some(colon) = line.find(':') else {
        return Header {
            name: line,
            value: String::new(),
        };
    };
    let rest = &line[colon + 1..];
    let value = match dialect {
        Dialect::V1 => match rest.strip_prefix(' ') {
            Some(v) => v,
            None => {
                return Header {
                    name: line,
                    value: String::new(),
                }
            }
        },
        Dialect::Modern => rest.trim_start_matches([' ', '\t']),
    };
    let value = value.to_string();
    let mut name = line;
    name.truncate(colon);
    Header { name, value }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(lines: &[&str], d: Dialect) -> Message {
        Message::parse(lines.iter().map(|s| s.to_string()).collect(), d)
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
    fn lines_without_colon_are_kept_but_not_found() {
        let msg = m(&["garbage", "Action: Ping"], Dialect::V1);
        assert_eq!(msg.headers().len(), 2);
        assert_eq!(msg.get("Action"), Some("Ping"));
        assert_eq!(msg.action_id(), None);
    }
}
