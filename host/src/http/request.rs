//! What an HTTP request carries, turned into what the manager needs: the output format its
//! path names (AMI-1.0 §7.1), its parameters from the query string or a form body (§7.2,
//! §7.3) and the `mansession_id` it presents (§7.4). No I/O here.

use std::fmt;

/// The three manager URIs and their output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `/rawman`: the exact bytes a TCP client would get.
    Raw,
    /// `/manager`: an HTML table (§7.6).
    Html,
    /// `/mxml`: XML (§7.7).
    Xml,
}

impl Format {
    const ALL: [Format; 3] = [Format::Raw, Format::Html, Format::Xml];

    /// The handler name in the URL.
    pub fn name(self) -> &'static str {
        match self {
            Format::Raw => "rawman",
            Format::Html => "manager",
            Format::Xml => "mxml",
        }
    }

    /// The `Content-Type` of the answer.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Raw => "text/plain; charset=utf-8",
            Format::Html => "text/html; charset=utf-8",
            Format::Xml => "text/xml; charset=utf-8",
        }
    }
}

/// The manager URI `path` names under `prefix`, matched as Asterisk's `handle_uri` does:
/// the path is %-decoded; the prefix (`/` + `prefix`, none when empty) and the handler
/// name compare case-insensitively; the prefix is followed by `/`, and the name by the
/// end or one `/`. So `/ASTERISK/RawMan` and `/asterisk/rawman/` match, `/asterisk/rawman2`
/// and `/asterisk/rawman//` do not.
pub fn route(path: &str, prefix: &str) -> Option<Format> {
    let decoded = String::from_utf8(decode(path.as_bytes(), false).ok()?).ok()?;
    let rest = decoded.strip_prefix('/')?;
    let prefix = prefix.trim_matches('/');
    let rest = if prefix.is_empty() {
        rest
    } else {
        let head = rest.get(..prefix.len())?;
        if !head.eq_ignore_ascii_case(prefix) {
            return None;
        }
        rest[prefix.len()..].strip_prefix('/')?
    };
    let name = rest.strip_suffix('/').unwrap_or(rest);
    Format::ALL
        .into_iter()
        .find(|f| f.name().eq_ignore_ascii_case(name))
}

/// Why a query string or form body was refused (`400 Bad Request`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Malformed {
    /// A `%` not followed by two hex digits.
    Escape,
    /// The decoded text is not UTF-8.
    NotUtf8,
    /// A parameter with a value but no name (`=x`).
    EmptyName,
    /// A control character (CR, LF, NUL, ...) in a name, or in a value (a tab is allowed
    /// in a value): it could forge AMI header lines when echoed.
    Control,
}

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Malformed::Escape => "bad %-escape",
            Malformed::NotUtf8 => "parameter is not UTF-8",
            Malformed::EmptyName => "parameter without a name",
            Malformed::Control => "control character in a parameter",
        })
    }
}

/// Parses `application/x-www-form-urlencoded` text (a query string or a POST body) into
/// (name, value) pairs, in order, repeats kept. Parts are split on `&` (empty parts are
/// skipped) and at their first `=` (none: empty value); `%XX` and `+` (a blank) are
/// decoded.
pub fn parse_params(text: &[u8]) -> Result<Vec<(String, String)>, Malformed> {
    let mut params = Vec::new();
    for part in text.split(|&b| b == b'&').filter(|p| !p.is_empty()) {
        let (name, value) = match part.iter().position(|&b| b == b'=') {
            Some(eq) => (&part[..eq], &part[eq + 1..]),
            None => (part, &[][..]),
        };
        let name = String::from_utf8(decode(name, true)?).map_err(|_| Malformed::NotUtf8)?;
        let value = String::from_utf8(decode(value, true)?).map_err(|_| Malformed::NotUtf8)?;
        if name.is_empty() {
            return Err(Malformed::EmptyName);
        }
        if name.chars().any(char::is_control) || value.chars().any(|c| c.is_control() && c != '\t')
        {
            return Err(Malformed::Control);
        }
        params.push((name, value));
    }
    Ok(params)
}

/// Decodes `%XX` escapes (and `+` as a blank when `plus` is set).
fn decode(text: &[u8], plus: bool) -> Result<Vec<u8>, Malformed> {
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        match text[i] {
            b'%' => {
                let hex = text.get(i + 1..i + 3).ok_or(Malformed::Escape)?;
                let hi = hex_digit(hex[0]).ok_or(Malformed::Escape)?;
                let lo = hex_digit(hex[1]).ok_or(Malformed::Escape)?;
                out.push(hi << 4 | lo);
                i += 3;
            }
            b'+' if plus => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    Ok(out)
}

fn hex_digit(b: u8) -> Option<u8> {
    char::from(b)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

/// The session id a request presents: the first parameter named `mansession_id` (any
/// case), else the first `mansession_id` cookie. As in Asterisk, a parameter overrides
/// the cookie, so a client without cookies can carry the id in the URL.
pub fn session_id<'a>(
    params: &'a [(String, String)],
    cookies: impl IntoIterator<Item = &'a [u8]>,
) -> Option<String> {
    if let Some((_, v)) = params
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("mansession_id"))
    {
        return Some(unquote(v).to_string());
    }
    cookies.into_iter().find_map(session_cookie)
}

/// The `mansession_id` value in one `Cookie` header: pairs split on `;`, blanks trimmed,
/// one pair of double quotes removed from the value; pairs with an empty name or value
/// are ignored.
pub fn session_cookie(header: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(header).ok()?;
    text.split(';').find_map(|pair| {
        let (name, value) = pair.split_once('=')?;
        let value = unquote(value.trim());
        (name.trim().eq_ignore_ascii_case("mansession_id") && !value.is_empty())
            .then(|| value.to_string())
    })
}

fn unquote(v: &str) -> &str {
    v.strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(text: &str) -> Vec<(String, String)> {
        parse_params(text.as_bytes()).unwrap_or_else(|e| panic!("{text:?}: {e}"))
    }

    #[test]
    fn routes_as_handle_uri_does() {
        let p = "asterisk";
        assert_eq!(route("/asterisk/rawman", p), Some(Format::Raw));
        assert_eq!(route("/ASTERISK/RawMan", p), Some(Format::Raw));
        assert_eq!(route("/asterisk/rawman/", p), Some(Format::Raw));
        assert_eq!(route("/asterisk/manager", p), Some(Format::Html));
        assert_eq!(route("/asterisk/mxml", p), Some(Format::Xml));
        assert_eq!(route("/%61sterisk/mxm%6C", p), Some(Format::Xml));
        assert_eq!(route("/asterisk/rawman2", p), None);
        assert_eq!(route("/asterisk/rawman//", p), None);
        assert_eq!(route("/asterisk/rawman/x", p), None);
        assert_eq!(route("/asteriskx/rawman", p), None);
        assert_eq!(route("/asterisk", p), None);
        assert_eq!(route("/rawman", p), None);
        assert_eq!(route("/asterisk/%zz", p), None);
        assert_eq!(route("/rawman", ""), Some(Format::Raw));
        assert_eq!(route("/Manager/", ""), Some(Format::Html));
        assert_eq!(route("/asterisk/rawman", ""), None);
        assert_eq!(route("/a/b/mxml", "/a/b/"), Some(Format::Xml));
        assert_eq!(route("/é/rawman", "asterisk"), None);
    }

    #[test]
    fn parameters_keep_order_and_repeats() {
        assert_eq!(
            pairs("action=login&username=admin&&secret=a%20b+c&flag&Variable=x&variable=y"),
            [
                ("action", "login"),
                ("username", "admin"),
                ("secret", "a b c"),
                ("flag", ""),
                ("Variable", "x"),
                ("variable", "y"),
            ]
            .map(|(n, v)| (n.to_string(), v.to_string()))
        );
        assert_eq!(pairs("a=b=c"), [("a".to_string(), "b=c".to_string())]);
        assert_eq!(pairs("a=%2B%26%3D"), [("a".to_string(), "+&=".to_string())]);
        assert_eq!(
            pairs("t=%E2%82%AC%09"),
            [("t".to_string(), "€\t".to_string())]
        );
        assert!(pairs("").is_empty());
    }

    #[test]
    fn malformed_parameters_are_refused() {
        let bad = |t: &str| parse_params(t.as_bytes()).err();
        assert_eq!(bad("a=%zz"), Some(Malformed::Escape));
        assert_eq!(bad("a=%4"), Some(Malformed::Escape));
        assert_eq!(bad("a=%"), Some(Malformed::Escape));
        assert_eq!(bad("a=%ff"), Some(Malformed::NotUtf8));
        assert_eq!(bad("=x"), Some(Malformed::EmptyName));
        assert_eq!(
            bad("action=ping&actionid=1%0d%0aEvil:%20x"),
            Some(Malformed::Control)
        );
        assert_eq!(bad("a%0a=1"), Some(Malformed::Control));
        assert_eq!(bad("a=%00"), Some(Malformed::Control));
    }

    #[test]
    fn session_id_from_parameter_or_cookie() {
        let none: [&[u8]; 0] = [];
        assert_eq!(session_id(&[], none), None);
        let cookies: [&[u8]; 2] = [b"a=1; b=2", b"x=y; MANSESSION_ID=\"abc\"; z=1"];
        assert_eq!(session_id(&[], cookies), Some("abc".into()));
        let params = pairs("action=ping&mansession_id=def");
        assert_eq!(session_id(&params, cookies), Some("def".into()));
        assert_eq!(session_cookie(b"mansession_id=\"\""), None);
        assert_eq!(session_cookie(b"mansession_id=plain"), Some("plain".into()));
        assert_eq!(session_cookie(b"\xff"), None);
    }
}
