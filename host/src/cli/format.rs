//! `printf`-style column helpers, so tables come out as Asterisk's format strings lay them.
//! Widths count characters (Asterisk counts bytes; for ASCII text the same).

/// `%-W.Ws`: `text` cut to `width` characters, padded on the right to `width`.
pub fn left(text: &str, width: usize) -> String {
    let cut: String = text.chars().take(width).collect();
    format!("{cut:<width$}")
}

/// `%W.Ws`: `text` cut to `width` characters, padded on the left to `width`.
pub fn right(text: &str, width: usize) -> String {
    let cut: String = text.chars().take(width).collect();
    format!("{cut:>width$}")
}

/// `%-Ws`: `text` padded on the right to at least `width` characters, never cut.
pub fn min_left(text: &str, width: usize) -> String {
    format!("{text:<width$}")
}

/// Asterisk's `ESS(n)`: `"s"` unless `n` is 1.
pub fn ess(n: u64) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_cut_and_pad() {
        assert_eq!(left("abc", 5), "abc  ");
        assert_eq!(left("abcdefgh", 5), "abcde");
        assert_eq!(right("ab", 4), "  ab");
        assert_eq!(right("abcdefgh", 4), "abcd");
        assert_eq!(min_left("abcdefgh", 4), "abcdefgh");
        assert_eq!(min_left("ab", 4), "ab  ");
        assert_eq!((ess(0), ess(1), ess(2)), ("s", "", "s"));
    }
}
