//! The `/manager` (HTML) and `/mxml` (XML) bodies, made from the raw AMI output as
//! Asterisk 1.4's `html_translate` and `xml_translate` make them (AMI-1.0 §7.6, §7.7),
//! except that every name and value is escaped: an event value can never inject markup.
//! No I/O here.
//!
//! Both walk the output as "lines": a run of text bytes, then the run of control bytes
//! (below 0x20) after it. A line without such a run after it (text at the very end) is
//! dropped, as in Asterisk. Bytes from 0x80 up are text (Asterisk's signed `char` turned
//! them into line breaks, which cut UTF-8 values apart).

use std::collections::{HashMap, HashSet};

/// Start of the `/manager` body.
pub const HTML_HEAD: &str = "<title>Asterisk&trade; Manager Interface</title>\
<body bgcolor=\"#ffffff\"><table align=center bgcolor=\"#f1f1f1\" width=\"500\">\r\n\
<tr><td colspan=\"2\" bgcolor=\"#f1f1ff\"><h1>&nbsp;&nbsp;Manager Tester</h1></td></tr>\r\n";

/// End of the `/manager` body.
pub const HTML_TAIL: &str = "</table></body>\r\n";

/// The separator row between messages.
const HTML_RULE: &str = "<tr><td colspan=\"2\"><hr></td></tr>\r\n";

/// One line of AMI output: its text and the length of the control run before it (1 for
/// the first line, as Asterisk's counter starts at 1).
struct Line<'a> {
    text: &'a [u8],
    run_before: usize,
}

fn lines(out: &[u8]) -> impl Iterator<Item = Line<'_>> {
    let mut i = 0;
    let mut run = 1;
    std::iter::from_fn(move || {
        let start = i;
        while i < out.len() && out[i] >= 0x20 {
            i += 1;
        }
        if i >= out.len() {
            return None;
        }
        let text = &out[start..i];
        let run_before = run;
        run = 0;
        while i < out.len() && out[i] < 0x20 {
            i += 1;
            run += 1;
        }
        Some(Line { text, run_before })
    })
}

/// `name: value` split at the first colon, one blank after it removed.
fn split(text: &[u8]) -> Option<(String, String)> {
    let colon = text.iter().position(|&b| b == b':')?;
    let value = &text[colon + 1..];
    let value = value.strip_prefix(b" ").unwrap_or(value);
    Some((
        String::from_utf8_lossy(&text[..colon]).into_owned(),
        String::from_utf8_lossy(value).into_owned(),
    ))
}

/// Escapes `<`, `>`, `&`, `"` and `'` for XML text and attribute values.
pub fn escape(text: &str, out: &mut String) {
    escape_with(text, "&apos;", out);
}

/// Escapes for HTML (`'` as `&#39;`: HTML 4 has no `&apos;`).
pub fn escape_html(text: &str, out: &mut String) {
    escape_with(text, "&#39;", out);
}

fn escape_with(text: &str, apostrophe: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str(apostrophe),
            c => out.push(c),
        }
    }
}

/// The `/manager` body for AMI output `out` (empty output: empty body).
///
/// Each `name: value` line becomes `<tr><td>name</td><td>value</td></tr>`; lines without
/// a colon are dropped; a line after a control run whose length is a multiple of 4 (a
/// blank line: a new message) is preceded by a `<hr>` row.
pub fn html(out: &[u8]) -> String {
    if out.is_empty() {
        return String::new();
    }
    let mut body = String::with_capacity(HTML_HEAD.len() + out.len() * 2);
    body.push_str(HTML_HEAD);
    for line in lines(out) {
        if line.run_before % 4 == 0 {
            body.push_str(HTML_RULE);
        }
        if let Some((name, value)) = split(line.text) {
            body.push_str("<tr><td>");
            escape_html(&name, &mut body);
            body.push_str("</td><td>");
            escape_html(&value, &mut body);
            body.push_str("</td></tr>\r\n");
        }
    }
    body.push_str(HTML_TAIL);
    body
}

/// The `/mxml` body for AMI output `out` (empty output: empty body). `dest` and
/// `objtype` are the request's `ajaxdest` and `ajaxobjtype` (defaults `unknown`,
/// `generic`).
///
/// Each message becomes `<response type='object' id='dest'><objtype name='value' ...
/// /></response>`: names lower-cased, a repeated name suffixed `-2`, `-3`, ... (so no
/// attribute repeats); a message ends where a line follows a control run longer than 3
/// (a blank line). The element name `objtype` and the attribute names are made XML
/// names (see `xml_name`).
pub fn xml(out: &[u8], dest: &str, objtype: &str) -> String {
    if out.is_empty() {
        return String::new();
    }
    let objtype = xml_name(objtype);
    let mut body = String::with_capacity(32 + out.len() * 2);
    body.push_str("<ajax-response>\n");
    let mut open = false;
    // Per name, the last suffix tried; and the attribute names of the open element.
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut used: HashSet<String> = HashSet::new();
    for line in lines(out) {
        if line.run_before > 3 && open {
            body.push_str(" /></response>\n");
            open = false;
        }
        let Some((name, value)) = split(line.text) else {
            continue;
        };
        if !open {
            body.push_str("<response type='object' id='");
            escape(dest, &mut body);
            body.push_str("'><");
            body.push_str(&objtype);
            open = true;
            seen.clear();
            used.clear();
        }
        let name = xml_name(&name.to_lowercase());
        let n = seen.entry(name.clone()).or_insert(0);
        let attribute = loop {
            *n += 1;
            let candidate = match *n {
                1 => name.clone(),
                n => format!("{name}-{n}"),
            };
            if used.insert(candidate.clone()) {
                break candidate;
            }
        };
        body.push(' ');
        body.push_str(&attribute);
        body.push_str("='");
        escape(&value, &mut body);
        body.push('\'');
    }
    if open {
        body.push_str(" /></response>\n");
    }
    body.push_str("</ajax-response>\n");
    body
}

/// `text` as an XML name: ASCII letters, digits, `_`, `-` and `.` are kept, anything else
/// becomes `_`, and a `_` is put first unless it starts with a letter or `_`.
fn xml_name(text: &str) -> String {
    let mut name = String::with_capacity(text.len() + 1);
    if !text.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
        name.push('_');
    }
    name.extend(text.chars().map(|c| {
        if c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.') {
            c
        } else {
            '_'
        }
    }));
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOGIN: &[u8] = b"Response: Success\r\nMessage: Authentication accepted\r\n\r\n";

    #[test]
    fn html_login_as_in_the_reference() {
        assert_eq!(
            html(LOGIN),
            format!(
                "{HTML_HEAD}<tr><td>Response</td><td>Success</td></tr>\r\n\
                 <tr><td>Message</td><td>Authentication accepted</td></tr>\r\n{HTML_TAIL}"
            )
        );
    }

    #[test]
    fn html_separates_messages_and_drops_lines_without_colon() {
        let out = b"Response: Follows\r\nPrivilege: Command\r\nno colon here\n\
                    --END COMMAND--\r\n\r\nEvent: X\r\nA:  b\r\n\r\n";
        assert_eq!(
            html(out),
            format!(
                "{HTML_HEAD}<tr><td>Response</td><td>Follows</td></tr>\r\n\
                 <tr><td>Privilege</td><td>Command</td></tr>\r\n\
                 {HTML_RULE}<tr><td>Event</td><td>X</td></tr>\r\n\
                 <tr><td>A</td><td> b</td></tr>\r\n{HTML_TAIL}"
            )
        );
    }

    #[test]
    fn html_escapes_names_and_values() {
        let out = b"Event: UserEvent\r\nX<i>: <script>alert('&\"')</script>\r\n\r\n";
        assert_eq!(
            html(out),
            format!(
                "{HTML_HEAD}<tr><td>Event</td><td>UserEvent</td></tr>\r\n\
                 <tr><td>X&lt;i&gt;</td><td>&lt;script&gt;alert(&#39;&amp;&quot;&#39;)&lt;/script&gt;</td></tr>\r\n{HTML_TAIL}"
            )
        );
    }

    #[test]
    fn empty_output_gives_an_empty_body() {
        assert_eq!(html(b""), "");
        assert_eq!(xml(b"", "unknown", "generic"), "");
    }

    #[test]
    fn text_without_a_line_end_is_dropped() {
        assert_eq!(html(b"A: b"), format!("{HTML_HEAD}{HTML_TAIL}"));
    }

    #[test]
    fn utf8_stays_whole() {
        assert_eq!(
            html("Name: Zoë €\r\n\r\n".as_bytes()),
            format!("{HTML_HEAD}<tr><td>Name</td><td>Zoë €</td></tr>\r\n{HTML_TAIL}")
        );
    }

    #[test]
    fn xml_login_and_event() {
        let out = b"Response: Success\r\nMessage: Authentication accepted\r\n\r\n\
                    Event: Newchannel\r\nPrivilege: call,all\r\nCallerIDName: <unknown>\r\n\r\n";
        assert_eq!(
            xml(out, "unknown", "generic"),
            "<ajax-response>\n\
             <response type='object' id='unknown'><generic response='Success' message='Authentication accepted' /></response>\n\
             <response type='object' id='unknown'><generic event='Newchannel' privilege='call,all' calleridname='&lt;unknown&gt;' /></response>\n\
             </ajax-response>\n"
        );
    }

    #[test]
    fn xml_numbers_repeated_names_per_message() {
        let out = b"Event: A\r\nVariable: 1\r\nvariable: 2\r\nVARIABLE: 3\r\n\r\nEvent: B\r\nVariable: 4\r\n\r\n";
        assert_eq!(
            xml(out, "d", "o"),
            "<ajax-response>\n\
             <response type='object' id='d'><o event='A' variable='1' variable-2='2' variable-3='3' /></response>\n\
             <response type='object' id='d'><o event='B' variable='4' /></response>\n\
             </ajax-response>\n"
        );
    }

    #[test]
    fn xml_escapes_everything_from_the_request_and_the_output() {
        let out = b"Event: UserEvent\r\nBody: <script>x='1'</script>\r\n\r\n";
        assert_eq!(
            xml(out, "'><x>", "a b/><c"),
            "<ajax-response>\n\
             <response type='object' id='&apos;&gt;&lt;x&gt;'><a_b___c event='UserEvent' body='&lt;script&gt;x=&apos;1&apos;&lt;/script&gt;' /></response>\n\
             </ajax-response>\n"
        );
    }
}
