//! Permission classes ([`Privilege`]) and wire dialects ([`Dialect`]).
//!
//! A [`Privilege`] holds Asterisk's `EVENT_FLAG_*` bit values, so numbers from the wire
//! (an `EventMask: 255`) and the host's tables mean the same thing. The conversion to the
//! contract's `privilege` flags (whose bit positions differ past `agi`) happens here only.

use std::fmt;
use std::ops::{BitOr, BitOrAssign};

use crate::wit::ami::manager::types as wit;

/// The wire dialect a session speaks; replies must be rendered in it.
///
/// # Example
///
/// ```no_run
/// use ami_plugin_sdk::{Context, Dialect, Request, Response};
///
/// fn ping(req: &Request, ctx: &Context) -> Response {
///     match ctx.dialect() {
///         Dialect::V1 => Response::response(req, "Pong", None),
///         Dialect::Modern => Response::success(req).header("Ping", "Pong"),
///     }
/// }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Dialect {
    /// AMI 1.0 as released in Asterisk 1.4 (banner `Asterisk Call Manager/1.0`).
    V1,
    /// What Asterisk 22 sends (banner `Asterisk Call Manager/11.0.0`).
    Modern,
}

impl Dialect {
    #[doc(hidden)]
    pub fn from_wit(dialect: wit::Dialect) -> Dialect {
        match dialect {
            wit::Dialect::V1 => Dialect::V1,
            wit::Dialect::Modern => Dialect::Modern,
        }
    }

    #[doc(hidden)]
    pub fn to_wit(self) -> wit::Dialect {
        match self {
            Dialect::V1 => wit::Dialect::V1,
            Dialect::Modern => wit::Dialect::Modern,
        }
    }
}

/// One permission class: its name, Asterisk bit value and contract flag.
struct Class {
    name: &'static str,
    bit: u32,
    flag: wit::Privilege,
}

/// Every class in Asterisk's table order (the order `authority_to_str` prints). The first
/// [`V1_CLASSES`] are AMI 1.0's.
const CLASSES: [Class; 19] = [
    Class {
        name: "system",
        bit: 1,
        flag: wit::Privilege::SYSTEM,
    },
    Class {
        name: "call",
        bit: 1 << 1,
        flag: wit::Privilege::CALL,
    },
    Class {
        name: "log",
        bit: 1 << 2,
        flag: wit::Privilege::LOG,
    },
    Class {
        name: "verbose",
        bit: 1 << 3,
        flag: wit::Privilege::VERBOSE,
    },
    Class {
        name: "command",
        bit: 1 << 4,
        flag: wit::Privilege::COMMAND,
    },
    Class {
        name: "agent",
        bit: 1 << 5,
        flag: wit::Privilege::AGENT,
    },
    Class {
        name: "user",
        bit: 1 << 6,
        flag: wit::Privilege::USER,
    },
    Class {
        name: "config",
        bit: 1 << 7,
        flag: wit::Privilege::CONFIG,
    },
    Class {
        name: "dtmf",
        bit: 1 << 8,
        flag: wit::Privilege::DTMF,
    },
    Class {
        name: "reporting",
        bit: 1 << 9,
        flag: wit::Privilege::REPORTING,
    },
    Class {
        name: "cdr",
        bit: 1 << 10,
        flag: wit::Privilege::CDR,
    },
    Class {
        name: "dialplan",
        bit: 1 << 11,
        flag: wit::Privilege::DIALPLAN,
    },
    Class {
        name: "originate",
        bit: 1 << 12,
        flag: wit::Privilege::ORIGINATE,
    },
    Class {
        name: "agi",
        bit: 1 << 13,
        flag: wit::Privilege::AGI,
    },
    Class {
        name: "cc",
        bit: 1 << 15,
        flag: wit::Privilege::CC,
    },
    Class {
        name: "aoc",
        bit: 1 << 16,
        flag: wit::Privilege::AOC,
    },
    Class {
        name: "test",
        bit: 1 << 17,
        flag: wit::Privilege::TEST,
    },
    Class {
        name: "security",
        bit: 1 << 18,
        flag: wit::Privilege::SECURITY,
    },
    Class {
        name: "message",
        bit: 1 << 30,
        flag: wit::Privilege::MESSAGE,
    },
];

/// How many entries of [`CLASSES`] AMI 1.0 knows.
const V1_CLASSES: usize = 8;

/// A set of permission classes (`EVENT_FLAG_*`), with Asterisk's bit values.
///
/// Used for an action's required write classes, a session's read/write classes and event
/// mask, and an event's class. Combine classes with `|`.
///
/// # Example
///
/// ```no_run
/// use ami_plugin_sdk::{Dialect, Privilege};
///
/// let needed = Privilege::SYSTEM | Privilege::REPORTING;
/// let session = Privilege::from_event_mask("system,call").unwrap_or(Privilege::NONE);
/// assert!(session.intersects(needed));
/// assert!(!session.contains(needed));
/// assert_eq!(needed.render(Dialect::Modern), "system,reporting,all");
/// assert_eq!(needed.render(Dialect::V1), "system,all");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Privilege(u32);

impl Privilege {
    /// No class.
    pub const NONE: Privilege = Privilege(0);
    /// `system` (1).
    pub const SYSTEM: Privilege = Privilege(1);
    /// `call` (2).
    pub const CALL: Privilege = Privilege(1 << 1);
    /// `log` (4).
    pub const LOG: Privilege = Privilege(1 << 2);
    /// `verbose` (8).
    pub const VERBOSE: Privilege = Privilege(1 << 3);
    /// `command` (16).
    pub const COMMAND: Privilege = Privilege(1 << 4);
    /// `agent` (32).
    pub const AGENT: Privilege = Privilege(1 << 5);
    /// `user` (64).
    pub const USER: Privilege = Privilege(1 << 6);
    /// `config` (128).
    pub const CONFIG: Privilege = Privilege(1 << 7);
    /// `dtmf` (256), modern dialect only.
    pub const DTMF: Privilege = Privilege(1 << 8);
    /// `reporting` (512), modern dialect only.
    pub const REPORTING: Privilege = Privilege(1 << 9);
    /// `cdr` (1024), modern dialect only.
    pub const CDR: Privilege = Privilege(1 << 10);
    /// `dialplan` (2048), modern dialect only.
    pub const DIALPLAN: Privilege = Privilege(1 << 11);
    /// `originate` (4096), modern dialect only.
    pub const ORIGINATE: Privilege = Privilege(1 << 12);
    /// `agi` (8192), modern dialect only.
    pub const AGI: Privilege = Privilege(1 << 13);
    /// `cc` (1 << 15), modern dialect only.
    pub const CC: Privilege = Privilege(1 << 15);
    /// `aoc` (1 << 16), modern dialect only.
    pub const AOC: Privilege = Privilege(1 << 16);
    /// `test` (1 << 17), modern dialect only.
    pub const TEST: Privilege = Privilege(1 << 17);
    /// `security` (1 << 18), modern dialect only.
    pub const SECURITY: Privilege = Privilege(1 << 18);
    /// `message` (1 << 30), modern dialect only.
    pub const MESSAGE: Privilege = Privilege(1 << 30);
    /// Every class (`all`).
    pub const ALL: Privilege = {
        let mut bits = 0;
        let mut i = 0;
        while i < CLASSES.len() {
            bits |= CLASSES[i].bit;
            i += 1;
        }
        Privilege(bits)
    };

    /// The set with these Asterisk bit values; bits of no known class are dropped.
    ///
    /// # Example
    ///
    /// ```no_run
    /// use ami_plugin_sdk::Privilege;
    ///
    /// assert_eq!(Privilege::from_bits(2 | 64), Privilege::CALL | Privilege::USER);
    /// assert_eq!(Privilege::from_bits(u32::MAX), Privilege::ALL);
    /// ```
    pub const fn from_bits(bits: u32) -> Privilege {
        Privilege(bits & Privilege::ALL.0)
    }

    /// The Asterisk bit values of the set (`system` = 1, ..., `message` = 1 << 30).
    ///
    /// # Example
    ///
    /// ```no_run
    /// use ami_plugin_sdk::Privilege;
    ///
    /// assert_eq!((Privilege::SYSTEM | Privilege::CONFIG).to_bits(), 129);
    /// ```
    pub const fn to_bits(self) -> u32 {
        self.0
    }

    /// Both sets together; the `const` form of `|`.
    ///
    /// # Example
    ///
    /// ```no_run
    /// use ami_plugin_sdk::Privilege;
    ///
    /// const NEEDED: Privilege = Privilege::CALL.union(Privilege::REPORTING);
    /// assert_eq!(NEEDED, Privilege::CALL | Privilege::REPORTING);
    /// ```
    pub const fn union(self, other: Privilege) -> Privilege {
        Privilege(self.0 | other.0)
    }

    /// True when every class of `other` is in `self` (AMI 1.0's permission check).
    ///
    /// # Example
    ///
    /// ```no_run
    /// use ami_plugin_sdk::Privilege;
    ///
    /// let write = Privilege::CALL | Privilege::USER;
    /// assert!(write.contains(Privilege::CALL));
    /// assert!(write.contains(Privilege::NONE));
    /// assert!(!write.contains(Privilege::CALL | Privilege::SYSTEM));
    /// ```
    pub const fn contains(self, other: Privilege) -> bool {
        self.0 & other.0 == other.0
    }

    /// True when `self` and `other` share a class (the modern permission check).
    ///
    /// # Example
    ///
    /// ```no_run
    /// use ami_plugin_sdk::Privilege;
    ///
    /// let write = Privilege::CALL;
    /// assert!(write.intersects(Privilege::CALL | Privilege::SYSTEM));
    /// assert!(!write.intersects(Privilege::NONE));
    /// ```
    pub const fn intersects(self, other: Privilege) -> bool {
        self.0 & other.0 != 0
    }

    /// True when no class is set.
    ///
    /// # Example
    ///
    /// ```no_run
    /// use ami_plugin_sdk::Privilege;
    ///
    /// assert!(Privilege::NONE.is_empty());
    /// assert!(!Privilege::USER.is_empty());
    /// ```
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Renders the set as Asterisk's `authority_to_str` does: the names of the classes set,
    /// in table order (`system`, `call`, `log`, `verbose`, `command`, `agent`, `user`,
    /// `config`, then in the modern dialect `dtmf`, `reporting`, `cdr`, `dialplan`,
    /// `originate`, `agi`, `cc`, `aoc`, `test`, `security`, `message`), joined by `,`,
    /// then `all`; `<none>` for the empty set. The V1 dialect knows only the first eight.
    ///
    /// # Example
    ///
    /// ```no_run
    /// use ami_plugin_sdk::{Dialect, Privilege};
    ///
    /// assert_eq!(Privilege::CALL.render(Dialect::V1), "call,all");
    /// assert_eq!(Privilege::NONE.render(Dialect::Modern), "<none>");
    /// assert_eq!(
    ///     (Privilege::SYSTEM | Privilege::REPORTING).render(Dialect::Modern),
    ///     "system,reporting,all"
    /// );
    /// ```
    pub fn render(self, dialect: Dialect) -> String {
        if self.is_empty() {
            return "<none>".to_string();
        }
        let known = match dialect {
            Dialect::V1 => V1_CLASSES,
            Dialect::Modern => CLASSES.len(),
        };
        let mut out = String::new();
        for class in CLASSES.iter().take(known) {
            if self.0 & class.bit != 0 {
                out.push_str(class.name);
                out.push(',');
            }
        }
        out.push_str("all");
        out
    }

    /// The class named `name` (whole name, case-insensitive, blanks trimmed); `all` gives
    /// [`Privilege::ALL`], `none` gives [`Privilege::NONE`]; `None` for an unknown name.
    ///
    /// # Example
    ///
    /// ```no_run
    /// use ami_plugin_sdk::Privilege;
    ///
    /// assert_eq!(Privilege::from_name(" Call "), Some(Privilege::CALL));
    /// assert_eq!(Privilege::from_name("all"), Some(Privilege::ALL));
    /// assert_eq!(Privilege::from_name("c"), None);
    /// ```
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
            .find(|class| class.name.eq_ignore_ascii_case(name))
            .map(|class| Privilege(class.bit))
    }

    /// Parses an event mask as the `Events` action's `EventMask` header and Login's
    /// `Events` header give it (Asterisk's `strings_to_mask`), first rule that applies:
    ///
    /// | input | result |
    /// |---|---|
    /// | empty | `None` |
    /// | only decimal digits, not `0` (`255`) | that number as Asterisk bits ([`from_bits`](Self::from_bits)); past `u32::MAX`: [`ALL`](Self::ALL) |
    /// | `no false n f 0 off` (any case) | [`NONE`](Self::NONE) |
    /// | `yes true y t on` (any case) | [`ALL`](Self::ALL) |
    /// | otherwise | OR of the comma-separated class names (whole names, case-insensitive, trimmed); `all` = [`ALL`](Self::ALL); unknown names add nothing |
    ///
    /// # Example
    ///
    /// ```no_run
    /// use ami_plugin_sdk::Privilege;
    ///
    /// assert_eq!(Privilege::from_event_mask(""), None);
    /// assert_eq!(Privilege::from_event_mask("off"), Some(Privilege::NONE));
    /// assert_eq!(Privilege::from_event_mask("on"), Some(Privilege::ALL));
    /// assert_eq!(Privilege::from_event_mask("66"), Some(Privilege::CALL | Privilege::USER));
    /// assert_eq!(
    ///     Privilege::from_event_mask("system, Call,bogus"),
    ///     Some(Privilege::SYSTEM | Privilege::CALL)
    /// );
    /// ```
    pub fn from_event_mask(mask: &str) -> Option<Privilege> {
        if mask.is_empty() {
            return None;
        }
        if mask != "0" && mask.bytes().all(|b| b.is_ascii_digit()) {
            return Some(match mask.parse::<u32>() {
                Ok(bits) => Privilege::from_bits(bits),
                Err(_) => Privilege::ALL,
            });
        }
        let word = mask.trim();
        const FALSE_WORDS: [&str; 6] = ["no", "false", "n", "f", "0", "off"];
        const TRUE_WORDS: [&str; 5] = ["yes", "true", "y", "t", "on"];
        if FALSE_WORDS.iter().any(|w| w.eq_ignore_ascii_case(word)) {
            return Some(Privilege::NONE);
        }
        if TRUE_WORDS.iter().any(|w| w.eq_ignore_ascii_case(word)) {
            return Some(Privilege::ALL);
        }
        Some(
            mask.split(',')
                .filter_map(Privilege::from_name)
                .fold(Privilege::NONE, Privilege::union),
        )
    }

    #[doc(hidden)]
    pub fn from_wit(flags: wit::Privilege) -> Privilege {
        let bits = CLASSES
            .iter()
            .filter(|class| flags.bits() & class.flag.bits() != 0)
            .fold(0, |bits, class| bits | class.bit);
        Privilege(bits)
    }

    #[doc(hidden)]
    pub fn to_wit(self) -> wit::Privilege {
        let bits = CLASSES
            .iter()
            .filter(|class| self.0 & class.bit != 0)
            .fold(0, |bits, class| bits | class.flag.bits());
        wit::Privilege::from_bits_retain(bits)
    }
}

impl BitOr for Privilege {
    type Output = Privilege;

    fn bitor(self, rhs: Privilege) -> Privilege {
        self.union(rhs)
    }
}

impl BitOrAssign for Privilege {
    fn bitor_assign(&mut self, rhs: Privilege) {
        *self = self.union(rhs);
    }
}

impl fmt::Debug for Privilege {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Privilege({})", self.render(Dialect::Modern))
    }
}

/// Renders the set as the modern dialect does (`call,reporting,all`, `<none>`).
impl fmt::Display for Privilege {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(Dialect::Modern))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_is_every_class_bit() {
        assert_eq!(Privilege::ALL.to_bits(), 0x4007_bfff);
    }

    #[test]
    fn render_follows_table_order_and_ends_with_all() {
        let p = Privilege::MESSAGE | Privilege::CALL | Privilege::SYSTEM | Privilege::CC;
        assert_eq!(p.render(Dialect::Modern), "system,call,cc,message,all");
        assert_eq!(p.render(Dialect::V1), "system,call,all");
        assert_eq!(Privilege::NONE.render(Dialect::V1), "<none>");
        assert_eq!(Privilege::REPORTING.render(Dialect::V1), "all");
        assert_eq!(
            Privilege::ALL.render(Dialect::V1),
            "system,call,log,verbose,command,agent,user,config,all"
        );
        assert_eq!(
            Privilege::ALL.render(Dialect::Modern),
            "system,call,log,verbose,command,agent,user,config,dtmf,reporting,cdr,\
             dialplan,originate,agi,cc,aoc,test,security,message,all"
        );
    }

    #[test]
    fn event_mask_numbers() {
        assert_eq!(Privilege::from_event_mask("1"), Some(Privilege::SYSTEM));
        assert_eq!(
            Privilege::from_event_mask("255").map(Privilege::to_bits),
            Some(255)
        );
        assert_eq!(Privilege::from_event_mask("0"), Some(Privilege::NONE));
        assert_eq!(Privilege::from_event_mask("00"), Some(Privilege::NONE));
        assert_eq!(
            Privilege::from_event_mask("16384"),
            Some(Privilege::NONE),
            "bit 14 is no class"
        );
        assert_eq!(
            Privilege::from_event_mask("99999999999999"),
            Some(Privilege::ALL)
        );
        assert_eq!(
            Privilege::from_event_mask("1073741824"),
            Some(Privilege::MESSAGE)
        );
    }

    #[test]
    fn event_mask_words() {
        for word in ["no", "FALSE", "n", "F", "off", " Off "] {
            assert_eq!(
                Privilege::from_event_mask(word),
                Some(Privilege::NONE),
                "{word}"
            );
        }
        for word in ["yes", "True", "y", "T", "on", "ON"] {
            assert_eq!(
                Privilege::from_event_mask(word),
                Some(Privilege::ALL),
                "{word}"
            );
        }
        assert_eq!(Privilege::from_event_mask(""), None);
    }

    #[test]
    fn event_mask_class_lists() {
        assert_eq!(
            Privilege::from_event_mask("system,call"),
            Some(Privilege::SYSTEM | Privilege::CALL)
        );
        assert_eq!(
            Privilege::from_event_mask(" USER , reporting"),
            Some(Privilege::USER | Privilege::REPORTING)
        );
        assert_eq!(Privilege::from_event_mask("all"), Some(Privilege::ALL));
        assert_eq!(Privilege::from_event_mask("call,all"), Some(Privilege::ALL));
        assert_eq!(
            Privilege::from_event_mask("nonsense"),
            Some(Privilege::NONE)
        );
        assert_eq!(Privilege::from_event_mask("c,log"), Some(Privilege::LOG));
        assert_eq!(Privilege::from_event_mask("-1"), Some(Privilege::NONE));
        assert_eq!(Privilege::from_event_mask(","), Some(Privilege::NONE));
    }

    #[test]
    fn bits_round_trip() {
        assert_eq!(Privilege::from_bits(u32::MAX), Privilege::ALL);
        assert_eq!(Privilege::from_bits(1 << 14), Privilege::NONE);
        for class in CLASSES.iter() {
            let p = Privilege::from_bits(class.bit);
            assert_eq!(Privilege::from_name(class.name), Some(p));
            assert_eq!(p.to_bits(), class.bit);
        }
    }

    #[test]
    fn wit_flags_round_trip() {
        for class in CLASSES.iter() {
            let p = Privilege(class.bit);
            assert_eq!(p.to_wit().bits(), class.flag.bits());
            assert_eq!(Privilege::from_wit(p.to_wit()), p);
        }
        assert_eq!(Privilege::from_wit(Privilege::ALL.to_wit()), Privilege::ALL);
        assert_eq!(Privilege::ALL.to_wit().bits(), (1 << 19) - 1);
        assert_eq!(Privilege::NONE.to_wit().bits(), 0);
    }

    #[test]
    fn set_operations() {
        let write = Privilege::CALL | Privilege::USER;
        assert!(write.contains(Privilege::CALL));
        assert!(write.contains(Privilege::NONE));
        assert!(!write.contains(Privilege::SYSTEM | Privilege::CALL));
        assert!(write.intersects(Privilege::SYSTEM | Privilege::CALL));
        assert!(!write.intersects(Privilege::NONE));
        let mut p = Privilege::NONE;
        p |= Privilege::CONFIG;
        assert_eq!(p, Privilege::CONFIG);
        assert_eq!(format!("{p}"), "config,all");
        assert_eq!(format!("{p:?}"), "Privilege(config,all)");
    }
}
