//! Conversions between the WIT types and the host's own.

use super::bindings::ami::manager::types;
use crate::privilege::{Privilege, CLASSES};
use crate::registry::ActionInfo;

/// The WIT flags in the order of [`CLASSES`].
const WIT_CLASSES: [types::Privilege; 19] = [
    types::Privilege::SYSTEM,
    types::Privilege::CALL,
    types::Privilege::LOG,
    types::Privilege::VERBOSE,
    types::Privilege::COMMAND,
    types::Privilege::AGENT,
    types::Privilege::USER,
    types::Privilege::CONFIG,
    types::Privilege::DTMF,
    types::Privilege::REPORTING,
    types::Privilege::CDR,
    types::Privilege::DIALPLAN,
    types::Privilege::ORIGINATE,
    types::Privilege::AGI,
    types::Privilege::CC,
    types::Privilege::AOC,
    types::Privilege::TEST,
    types::Privilege::SECURITY,
    types::Privilege::MESSAGE,
];

/// WIT flags to Asterisk bits.
pub fn from_wit_privilege(p: types::Privilege) -> Privilege {
    let mut bits = 0;
    for (flag, (_, bit)) in WIT_CLASSES.iter().zip(CLASSES) {
        if p & *flag == *flag {
            bits |= bit;
        }
    }
    Privilege(bits)
}

/// Asterisk bits to WIT flags (bits without a class are dropped).
pub fn to_wit_privilege(p: Privilege) -> types::Privilege {
    let mut out = types::Privilege::empty();
    for (flag, (_, bit)) in WIT_CLASSES.iter().zip(CLASSES) {
        if p.0 & bit != 0 {
            out |= *flag;
        }
    }
    out
}

/// A plugin's declared action to the registry's form.
pub fn from_wit_info(info: types::ActionInfo) -> ActionInfo {
    ActionInfo {
        name: info.name,
        privilege: from_wit_privilege(info.privilege),
        modern_privilege: from_wit_privilege(info.modern_privilege),
        synopsis: info.synopsis,
        modern_synopsis: info.modern_synopsis,
        description: info.description,
    }
}

/// The registry's form to WIT.
pub fn to_wit_info(info: &ActionInfo) -> types::ActionInfo {
    types::ActionInfo {
        name: info.name.clone(),
        privilege: to_wit_privilege(info.privilege),
        modern_privilege: to_wit_privilege(info.modern_privilege),
        synopsis: info.synopsis.clone(),
        modern_synopsis: info.modern_synopsis.clone(),
        description: info.description.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn privilege_round_trips() {
        for (_, bit) in CLASSES {
            let p = Privilege(*bit);
            assert_eq!(from_wit_privilege(to_wit_privilege(p)), p);
        }
        assert_eq!(
            from_wit_privilege(to_wit_privilege(Privilege::ALL)).0,
            CLASSES.iter().map(|c| c.1).fold(0, |a, b| a | b)
        );
    }
}
