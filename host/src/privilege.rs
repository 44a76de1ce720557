//! Permission classes (`EVENT_FLAG_*`): the one name table used by the config, the
//! permission checks, event filtering, `Privilege:` rendering and ListCommands.
//!
//! A set of classes is a [`Privilege`] bit mask with Asterisk's bit values. AMI 1.0 knows
//! the first eight classes; the modern dialect adds the rest.

use std::fmt;

/// A set of permission classes, with Asterisk's bit values.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Privilege(pub u32);

/// The class table, in the order Asterisk prints it. The first eight are AMI 1.0's.
pub const CLASSES: &[(&str, u32)] = &[
    ("system", 1 << 0),
    ("call", 1 << 1),
    ("log", 1 << 2),
    ("verbose", 1 << 3),
    ("command", 1 << 4),
    ("agent", 1 << 5),
    ("user", 1 << 6),
    ("config", 1 << 7),
    ("dtmf", 1 << 8),
    ("reporting", 1 << 9),
    ("cdr", 1 << 10),
    ("dialplan", 1 << 11),
    ("originate", 1 << 12),
    ("agi", 1 << 13),
    ("cc", 1 << 15),
    ("aoc", 1 << 16),
    ("test", 1 << 17),
    ("security", 1 << 18),
    ("message", 1 << 30),
];

/// Number of classes AMI 1.0 knows (the first entries of [`CLASSES`]).
pub const V1_CLASSES: usize = 8;

impl Privilege {
    /// No class.
    pub const NONE: Privilege = Privilege(0);
    /// Every class (`all`, -1 in Asterisk).
    pub const ALL: Privilege = Privilege(u32::MAX);
    /// `system`.
    pub const SYSTEM: Privilege = Privilege(1);
    /// `call`.
    pub const CALL: Privilege = Privilege(1 << 1);
    /// `command`.
    pub const COMMAND: Privilege = Privilege(1 << 4);
    /// `user`.
    pub const USER: Privilege = Privilege(1 << 6);
    /// `config`.
    pub const CONFIG: Privilege = Privilege(1 << 7);
    /// `reporting` (modern).
    pub const REPORTING: Privilege = Privilege(1 << 9);
    /// `security` (modern).
    pub const SECURITY: Privilege = Privilege(1 << 18);

    /// The raw bits.
    pub fn bits(self) -> u32 {
        self.0
    }

    /// True when no class is set.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// True when every class of `other` is in `self` (AMI 1.0's check).
    pub fn contains(self, other: Privilege) -> bool {
        self.0 & other.0 == other.0
    }

    /// True when `self` and `other` share a class.
    pub fn intersects(self, other: Privilege) -> bool {
        self.0 & other.0 != 0
    }

    /// The class whose name is `name` (case-insensitive, whole name), `all` or `none`.
    pub fn from_name(name: &str) -> Option<Privilege> {
        let name = name.trim();
        if name.eq_ignore_ascii_case("all") {
            return Some(Privilege::ALL);
        }
        if name.eq_ignore_ascii_case("none") {
            return Some(Privilege::NONE);
        }
        CLASSES
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|&(_, bit)| Privilege(bit))
    }

    /// Parses a `read =` / `write =` list: comma-separated whole class names,
    /// case-insensitive, blanks trimmed, empty items skipped. Unknown names are an error
    /// naming the first one.
    pub fn parse_list(list: &str) -> Result<Privilege, String> {
        let mut set = Privilege::NONE;
        for item in list.split(',') {
            let item = item.trim();
            if item.is_empty() {
                continue;
            }
            match Privilege::from_name(item) {
                Some(p) => set.0 |= p.0,
                None => return Err(format!("unknown permission class \"{item}\"")),
            }
        }
        Ok(set)
    }

    /// Renders the set as Asterisk's `authority_to_str` does: every class sharing a bit,
    /// in table order, then `all`; `<none>` for the empty set. `classes` limits the table
    /// (AMI 1.0 uses its first [`V1_CLASSES`] entries).
    pub fn render(self, classes: usize) -> String {
        let mut out = String::new();
        self.write_to(classes, &mut out);
        out
    }

    /// Writes what [`Privilege::render`] returns to `out` (an event's wire form, say).
    pub fn write_to(self, classes: usize, out: &mut impl fmt::Write) {
        // Writing to a String or a BytesMut does not fail.
        if self.0 == 0 {
            let _ = out.write_str("<none>");
            return;
        }
        for (name, bit) in CLASSES.iter().take(classes) {
            if self.0 & bit != 0 {
                let _ = out.write_str(name);
                let _ = out.write_char(',');
            }
        }
        let _ = out.write_str("all");
    }
}

impl fmt::Debug for Privilege {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Privilege({})", self.render(CLASSES.len()))
    }
}

/// `ast_true`: `yes true y t 1 on`, any case.
pub fn is_true(value: &str) -> bool {
    matches!(
        value.trim().to_ascii_lowercase().as_str(),
        "yes" | "true" | "y" | "t" | "1" | "on"
    )
}

/// `ast_false`: `no false n f 0 off`, any case.
pub fn is_false(value: &str) -> bool {
    matches!(
        value.trim().to_ascii_lowercase().as_str(),
        "no" | "false" | "n" | "f" | "0" | "off"
    )
}

/// Parses an event mask (`Events:` on Login, `EventMask:` of the Events action) as
/// `strings_to_mask` does, with the fixes the compatibility policy lists: `None` for an
/// empty value (the caller answers `Invalid event mask` or leaves the mask unchanged),
/// a number for all-digit values, nothing for a false word, everything for a true word,
/// else the classes named in a comma list (unknown names add nothing).
pub fn parse_event_mask(value: &str) -> Option<Privilege> {
    let v = value.trim();
    if v.is_empty() {
        return None;
    }
    if v.bytes().all(|b| b.is_ascii_digit()) && v != "0" {
        return Some(Privilege(
            v.parse::<u64>().map(|n| n as u32).unwrap_or(u32::MAX),
        ));
    }
    if is_false(v) {
        return Some(Privilege::NONE);
    }
    if is_true(v) {
        return Some(Privilege::ALL);
    }
    let mut set = Privilege::NONE;
    for item in v.split(',') {
        if let Some(p) = Privilege::from_name(item) {
            set.0 |= p.0;
        }
    }
    Some(set)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_as_authority_to_str() {
        assert_eq!(Privilege::CALL.render(V1_CLASSES), "call,all");
        assert_eq!(Privilege::NONE.render(V1_CLASSES), "<none>");
        assert_eq!(
            Privilege(Privilege::SYSTEM.0 | Privilege::REPORTING.0).render(CLASSES.len()),
            "system,reporting,all"
        );
        assert_eq!(
            Privilege::ALL.render(V1_CLASSES),
            "system,call,log,verbose,command,agent,user,config,all"
        );
    }

    #[test]
    fn lists_match_whole_names_only() {
        assert_eq!(Privilege::parse_list("system, Call").unwrap().0, 3);
        assert!(Privilege::parse_list("c,log").is_err());
        assert_eq!(Privilege::parse_list("all").unwrap(), Privilege::ALL);
        assert_eq!(Privilege::parse_list("").unwrap(), Privilege::NONE);
    }

    #[test]
    fn event_masks() {
        assert_eq!(parse_event_mask("on"), Some(Privilege::ALL));
        assert_eq!(parse_event_mask("off"), Some(Privilege::NONE));
        assert_eq!(parse_event_mask("0"), Some(Privilege::NONE));
        assert_eq!(parse_event_mask("1"), Some(Privilege::SYSTEM));
        assert_eq!(parse_event_mask("system,call"), Some(Privilege(3)));
        assert_eq!(parse_event_mask("nonsense"), Some(Privilege::NONE));
        assert_eq!(parse_event_mask(""), None);
    }
}
