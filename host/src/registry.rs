//! The action registry (`ast_manager_register2`): action name -> who serves it, its
//! required write classes, synopsis and description. Lookup is case-insensitive. A
//! registry is immutable once built; a reload builds a new one and swaps it in.

use std::collections::HashMap;
use std::sync::Arc;

use crate::dialect::Dialect;
use crate::plugins::LoadedPlugin;
use crate::privilege::Privilege;

/// What is known about an action.
#[derive(Debug, Clone, PartialEq)]
pub struct ActionInfo {
    /// Name as registered (`ListCommands`).
    pub name: String,
    /// Write classes needed in the 1.0 dialect (all of them).
    pub privilege: Privilege,
    /// Write classes in the modern dialect (any one of them; none needed when empty).
    pub modern_privilege: Privilege,
    /// 1.0 synopsis.
    pub synopsis: String,
    /// Modern synopsis.
    pub modern_synopsis: String,
    /// Long description.
    pub description: String,
}

impl ActionInfo {
    /// Whether a session with write classes `write` may run the action: in 1.0 it must
    /// hold every required class (`(writeperm & authority) == authority`); in the modern
    /// dialect any one of them, or the action needs none.
    pub fn allowed(&self, dialect: Dialect, write: Privilege) -> bool {
        match dialect {
            Dialect::V1 => write.contains(self.privilege),
            Dialect::Modern => {
                self.modern_privilege.is_empty() || write.intersects(self.modern_privilege)
            }
        }
    }

    /// Required classes in `dialect`.
    pub fn privilege_in(&self, dialect: Dialect) -> Privilege {
        match dialect {
            Dialect::V1 => self.privilege,
            Dialect::Modern => self.modern_privilege,
        }
    }

    /// Synopsis in `dialect`.
    pub fn synopsis_in(&self, dialect: Dialect) -> &str {
        match dialect {
            Dialect::V1 => &self.synopsis,
            Dialect::Modern => &self.modern_synopsis,
        }
    }
}

/// Who serves an action.
#[derive(Debug, Clone)]
pub enum Provider {
    /// The session loop itself (Login, Challenge); listed only in the modern dialect,
    /// where Asterisk registers them.
    Session,
    /// A plugin.
    Plugin(Arc<LoadedPlugin>),
}

/// One registered action.
#[derive(Debug)]
pub struct ActionEntry {
    /// Its description.
    pub info: ActionInfo,
    /// Who serves it.
    pub provider: Provider,
}

/// An immutable action table.
#[derive(Debug, Default)]
pub struct Registry {
    by_name: HashMap<String, Arc<ActionEntry>>,
    /// Sorted case-insensitively by name.
    sorted: Vec<Arc<ActionEntry>>,
}

fn session_actions() -> Vec<ActionInfo> {
    vec![
        ActionInfo {
            name: "Challenge".into(),
            privilege: Privilege::NONE,
            modern_privilege: Privilege::NONE,
            synopsis: "Generate Challenge for MD5 Auth".into(),
            modern_synopsis: "Generate Challenge for MD5 Auth.".into(),
            description: "Generate a challenge for MD5 authentication.\n\
                          Variables: AuthType: MD5\n"
                .into(),
        },
        ActionInfo {
            name: "Login".into(),
            privilege: Privilege::NONE,
            modern_privilege: Privilege::NONE,
            synopsis: "Login Manager".into(),
            modern_synopsis: "Login Manager.".into(),
            description: "Login Manager.\n\
                          Variables: Username, Secret (or AuthType: MD5 and Key), Events\n"
                .into(),
        },
    ]
}

impl Registry {
    /// Builds the table from the plugins' declared actions. Two providers of one name
    /// (case-insensitive) are an error naming both.
    pub fn build(plugins: &[Arc<LoadedPlugin>]) -> Result<Registry, String> {
        let mut reg = Registry::default();
        for info in session_actions() {
            reg.insert(info, Provider::Session, "the host")?;
        }
        for plugin in plugins {
            for info in &plugin.actions {
                reg.insert(
                    info.clone(),
                    Provider::Plugin(plugin.clone()),
                    &format!("plugin {}", plugin.name),
                )?;
            }
        }
        reg.sorted.sort_by_key(|e| e.info.name.to_ascii_lowercase());
        Ok(reg)
    }

    fn insert(&mut self, info: ActionInfo, provider: Provider, who: &str) -> Result<(), String> {
        let key = info.name.to_ascii_lowercase();
        if let Some(existing) = self.by_name.get(&key) {
            let other = match &existing.provider {
                Provider::Session => "the host".to_string(),
                Provider::Plugin(p) => format!("plugin {}", p.name),
            };
            return Err(format!(
                "action \"{}\" is served by both {other} and {who}",
                info.name
            ));
        }
        let entry = Arc::new(ActionEntry { info, provider });
        self.by_name.insert(key, entry.clone());
        self.sorted.push(entry);
        Ok(())
    }

    /// The action named `name` (case-insensitive).
    pub fn get(&self, name: &str) -> Option<&Arc<ActionEntry>> {
        if !name.bytes().any(|b| b.is_ascii_uppercase()) {
            return self.by_name.get(name);
        }
        // Lower-case short names on the stack: this runs for every request.
        let mut buf = [0u8; 64];
        match buf.get_mut(..name.len()) {
            Some(lower) => {
                lower.copy_from_slice(name.as_bytes());
                lower.make_ascii_lowercase();
                let lower = std::str::from_utf8(lower).ok()?;
                self.by_name.get(lower)
            }
            None => self.by_name.get(&name.to_ascii_lowercase()),
        }
    }

    /// The actions listed in `dialect`, sorted case-insensitively (1.0 does not list
    /// Login and Challenge, which it handles inline).
    pub fn list(&self, dialect: Dialect) -> impl Iterator<Item = &Arc<ActionEntry>> {
        self.sorted
            .iter()
            .filter(move |e| dialect == Dialect::Modern || !matches!(e.provider, Provider::Session))
    }

    /// Number of actions served by plugins.
    pub fn plugin_actions(&self) -> usize {
        self.sorted
            .iter()
            .filter(|e| matches!(e.provider, Provider::Plugin(_)))
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(name: &str, p: Privilege, mp: Privilege) -> ActionInfo {
        ActionInfo {
            name: name.into(),
            privilege: p,
            modern_privilege: mp,
            synopsis: String::new(),
            modern_synopsis: String::new(),
            description: String::new(),
        }
    }

    #[test]
    fn v1_needs_all_bits_modern_any() {
        let a = info(
            "Status",
            Privilege::CALL,
            Privilege(Privilege::SYSTEM.0 | Privilege::CALL.0 | Privilege::REPORTING.0),
        );
        assert!(a.allowed(Dialect::V1, Privilege(3)));
        assert!(!a.allowed(Dialect::V1, Privilege::SYSTEM));
        assert!(a.allowed(Dialect::Modern, Privilege::SYSTEM));
        assert!(!a.allowed(Dialect::Modern, Privilege::USER));
        let ping = info("Ping", Privilege::NONE, Privilege::NONE);
        assert!(ping.allowed(Dialect::V1, Privilege::NONE));
        assert!(ping.allowed(Dialect::Modern, Privilege::NONE));
    }

    #[test]
    fn lookup_is_case_insensitive_and_session_actions_are_modern_only() {
        let reg = Registry::build(&[]).unwrap();
        assert!(reg.get("LOGIN").is_some());
        assert_eq!(reg.list(Dialect::V1).count(), 0);
        assert_eq!(reg.list(Dialect::Modern).count(), 2);
    }
}
