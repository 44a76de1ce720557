//! The two wire dialects the host speaks: AMI 1.0 (the seed's) and `modern` (what
//! Asterisk 22 sends, and today's client libraries expect).

use std::fmt;

/// A wire dialect.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Dialect {
    /// AMI 1.0 as released in Asterisk 1.4, with the fixes of the compatibility policy.
    #[default]
    V1,
    /// Asterisk 22's AMI (`11.0.0`).
    Modern,
}

impl Dialect {
    /// Both dialects, in index order.
    pub const ALL: [Dialect; 2] = [Dialect::V1, Dialect::Modern];

    /// The banner line sent on connect, with its CR LF.
    pub fn banner(self) -> &'static str {
        match self {
            Dialect::V1 => "Asterisk Call Manager/1.0\r\n",
            Dialect::Modern => "Asterisk Call Manager/11.0.0\r\n",
        }
    }

    /// The AMI version string (`AMIversion:` of CoreSettings).
    pub fn ami_version(self) -> &'static str {
        match self {
            Dialect::V1 => "1.0",
            Dialect::Modern => "11.0.0",
        }
    }

    /// Number of permission classes of this dialect (see [`crate::privilege::CLASSES`]).
    pub fn classes(self) -> usize {
        match self {
            Dialect::V1 => crate::privilege::V1_CLASSES,
            Dialect::Modern => crate::privilege::CLASSES.len(),
        }
    }

    /// Parses a config value: `"1.0"` or `"modern"`.
    pub fn from_config(value: &str) -> Option<Dialect> {
        match value.trim() {
            "1.0" => Some(Dialect::V1),
            v if v.eq_ignore_ascii_case("modern") => Some(Dialect::Modern),
            _ => None,
        }
    }

    /// Index for per-dialect arrays.
    pub fn index(self) -> usize {
        match self {
            Dialect::V1 => 0,
            Dialect::Modern => 1,
        }
    }
}

impl fmt::Display for Dialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Dialect::V1 => "1.0",
            Dialect::Modern => "modern",
        })
    }
}
