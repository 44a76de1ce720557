//! Caller id parsing as Asterisk's `ast_callerid_parse` and `ast_shrink_phone_number` do
//! it for Originate's `CallerID` header.

/// Splits a `CallerID` value into (name, number), either `None` when absent or empty.
///
/// * `"Name" <number>` or `Name <number>`: the number is what is inside the first `<`
///   and the next `>`; the name is the text between the first two `"` before the `<`,
///   else the text before the `<` with blanks trimmed.
/// * Without `<...>`: the whole value, shrunk, when that is a phone number (only
///   `0-9 * # +`); else a name (quoted text, else the trimmed value).
///
/// The number is then shrunk ([`shrink_phone_number`]).
pub fn parse(text: &str) -> (Option<String>, Option<String>) {
    let bracketed = text
        .find('<')
        .and_then(|lt| text[lt..].find('>').map(|gt| (lt, lt + gt)));
    let (name, number) = match bracketed {
        Some((lt, gt)) => {
            let before = &text[..lt];
            let name = quoted(before).unwrap_or_else(|| trim_blanks(before));
            (Some(name), Some(&text[lt + 1..gt]))
        }
        None => {
            let shrunk = shrink_phone_number(text);
            if is_phone_number(&shrunk) {
                return (None, Some(shrunk));
            }
            (
                Some(quoted(text).unwrap_or_else(|| trim_blanks(text))),
                None,
            )
        }
    };
    let name = name.filter(|n| !n.is_empty()).map(str::to_string);
    let number = number.map(shrink_phone_number).filter(|n| !n.is_empty());
    (name, number)
}

/// The text between the first `"` and the next one, if both exist.
fn quoted(text: &str) -> Option<&str> {
    let open = text.find('"')?;
    let rest = &text[open + 1..];
    rest.find('"').map(|close| &rest[..close])
}

/// `text` without leading and trailing blanks (control characters and space).
fn trim_blanks(text: &str) -> &str {
    text.trim_matches(|c: char| u32::from(c) < 33)
}

/// `ast_shrink_phone_number`: drops `(`, `)` and spaces, drops `-` outside `[...]`, and
/// drops `.` except as the last character.
pub fn shrink_phone_number(number: &str) -> String {
    let mut out = String::with_capacity(number.len());
    let mut depth: i32 = 0;
    let mut chars = number.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '[' => {
                depth += 1;
                out.push(c);
            }
            ']' => {
                depth -= 1;
                out.push(c);
            }
            '-' if depth != 0 => out.push(c),
            '-' => {}
            '.' if chars.peek().is_none() => out.push(c),
            '.' | '(' | ')' | ' ' => {}
            c => out.push(c),
        }
    }
    out
}

/// `ast_isphonenumber`: non-empty and only `0-9`, `*`, `#`, `+`.
fn is_phone_number(text: &str) -> bool {
    !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '*' | '#' | '+'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> (Option<String>, Option<String>) {
        parse(text)
    }

    fn cid(name: Option<&str>, number: Option<&str>) -> (Option<String>, Option<String>) {
        (name.map(str::to_string), number.map(str::to_string))
    }

    #[test]
    fn name_and_number() {
        assert_eq!(
            p("AMI Ref <5550100>"),
            cid(Some("AMI Ref"), Some("5550100"))
        );
        assert_eq!(p("\"Alice\" <100>"), cid(Some("Alice"), Some("100")));
        assert_eq!(p("  \" A B \"  <1 00>"), cid(Some(" A B "), Some("100")));
        assert_eq!(
            p("Bob<(555) 123-4567>"),
            cid(Some("Bob"), Some("5551234567"))
        );
        assert_eq!(p("<100>"), cid(None, Some("100")));
        assert_eq!(p("Carol <>"), cid(Some("Carol"), None));
        assert_eq!(p("\"\" <>"), cid(None, None));
        assert_eq!(p("x <sip:100@host>"), cid(Some("x"), Some("sip:100@host")));
    }

    #[test]
    fn quote_after_the_bracket_does_not_count() {
        assert_eq!(p("Dave <100> \"x\""), cid(Some("Dave"), Some("100")));
    }

    #[test]
    fn bare_number_or_name() {
        assert_eq!(p("5550100"), cid(None, Some("5550100")));
        assert_eq!(p("+1 (555) 010-0"), cid(None, Some("+15550100")));
        assert_eq!(p("*98#"), cid(None, Some("*98#")));
        assert_eq!(p("Alice"), cid(Some("Alice"), None));
        assert_eq!(p("  Alice Smith  "), cid(Some("Alice Smith"), None));
        assert_eq!(p("\"Eve\" 100"), cid(Some("Eve"), None));
        assert_eq!(p("Frank <100"), cid(Some("Frank <100"), None));
        assert_eq!(p("100>"), cid(Some("100>"), None));
        assert_eq!(p("   "), cid(None, None));
    }

    #[test]
    fn shrink() {
        assert_eq!(shrink_phone_number("(555) 123-4567"), "5551234567");
        assert_eq!(shrink_phone_number("1-[2-5]"), "1[2-5]");
        assert_eq!(shrink_phone_number("1.2.3."), "123.");
        assert_eq!(shrink_phone_number("1.2.3"), "123");
        assert_eq!(shrink_phone_number(""), "");
    }
}
