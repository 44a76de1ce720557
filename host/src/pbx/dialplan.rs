//! The dialplan of the embedded PBX, read from an Asterisk-format `extensions.conf`:
//! contexts, `exten => EXTEN,PRIORITY[(label)],App(args)`, `n` priorities, `same =>`,
//! `hint`s, `include =>`, `[globals]`, and extension patterns (`_X.`, `_NXX`, `[1-5]`).

use std::collections::BTreeMap;
use std::path::Path;

use crate::config::conf_file::{load_conf, ConfError};

/// One dialplan step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// Application name.
    pub app: String,
    /// Its argument text.
    pub data: String,
    /// Priority label, if any.
    pub label: Option<String>,
}

/// One extension (or pattern) of a context.
#[derive(Debug, Clone, Default)]
pub struct Extension {
    /// As written (`100`, `_X.`).
    pub name: String,
    /// Steps by priority.
    pub steps: BTreeMap<u32, Step>,
    /// The hint's device string.
    pub hint: Option<String>,
}

/// One context.
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// Name as written.
    pub name: String,
    /// Extensions, in file order.
    pub extensions: Vec<Extension>,
    /// Included contexts, in order.
    pub includes: Vec<String>,
}

/// A whole dialplan.
#[derive(Debug, Clone, Default)]
pub struct Dialplan {
    /// Contexts, in file order.
    pub contexts: Vec<Context>,
    /// `[globals]`.
    pub globals: Vec<(String, String)>,
}

/// Does `exten` match the extension name `pattern`?
pub fn matches(pattern: &str, exten: &str) -> bool {
    let Some(pat) = pattern.strip_prefix('_') else {
        return pattern.eq_ignore_ascii_case(exten);
    };
    let pat: Vec<char> = pat.chars().collect();
    let ext: Vec<char> = exten.chars().collect();
    let (mut i, mut j) = (0, 0);
    while i < pat.len() {
        let c = pat[i];
        match c {
            '.' => return j < ext.len(),
            '!' => return true,
            _ => {}
        }
        let Some(&e) = ext.get(j) else {
            return false;
        };
        let ok = match c.to_ascii_uppercase() {
            'X' => e.is_ascii_digit(),
            'Z' => ('1'..='9').contains(&e),
            'N' => ('2'..='9').contains(&e),
            '[' => {
                let end = pat[i..].iter().position(|&x| x == ']').map(|p| p + i);
                let Some(end) = end else { return false };
                let set = &pat[i + 1..end];
                i = end;
                let mut k = 0;
                let mut hit = false;
                while k < set.len() {
                    if k + 2 < set.len() && set[k + 1] == '-' {
                        hit |= (set[k]..=set[k + 2]).contains(&e);
                        k += 3;
                    } else {
                        hit |= set[k] == e;
                        k += 1;
                    }
                }
                hit
            }
            _ => c == e,
        };
        if !ok {
            return false;
        }
        i += 1;
        j += 1;
    }
    j == ext.len()
}

impl Dialplan {
    /// Loads `extensions.conf` from `dir`; an absent file gives an empty dialplan.
    pub fn load(dir: &Path) -> Result<Dialplan, String> {
        let path = dir.join("extensions.conf");
        if !path.exists() {
            return Ok(Dialplan::default());
        }
        let conf = load_conf(&path).map_err(|e| match e {
            ConfError::Io { path, source } => format!("{}: {source}", path.display()),
            ConfError::Syntax {
                path,
                line,
                message,
            } => {
                format!("{}:{line}: {message}", path.display())
            }
        })?;
        let mut plan = Dialplan::default();
        for cat in &conf.categories {
            if cat.name.eq_ignore_ascii_case("general") {
                continue;
            }
            if cat.name.eq_ignore_ascii_case("globals") {
                for v in &cat.vars {
                    plan.globals.push((v.name.clone(), v.value.clone()));
                }
                continue;
            }
            let mut ctx = Context {
                name: cat.name.clone(),
                ..Context::default()
            };
            let mut last: Option<(String, u32)> = None;
            for v in &cat.vars {
                let at = |m: String| format!("{}:{}: {m}", path.display(), v.line);
                match v.name.to_ascii_lowercase().as_str() {
                    "include" => ctx.includes.push(v.value.trim().to_string()),
                    "exten" | "same" => {
                        let same = v.name.eq_ignore_ascii_case("same");
                        let (exten, rest) = if same {
                            let Some((e, _)) = &last else {
                                return Err(at("same => without a preceding exten".into()));
                            };
                            (e.clone(), v.value.as_str())
                        } else {
                            let Some((e, rest)) = v.value.split_once(',') else {
                                return Err(at(format!("bad extension line \"{}\"", v.value)));
                            };
                            (e.trim().to_string(), rest)
                        };
                        let Some((prio, app)) = rest.split_once(',') else {
                            return Err(at(format!("bad extension line \"{}\"", v.value)));
                        };
                        let (prio, label) = match prio.trim().split_once('(') {
                            Some((p, l)) => (p.trim(), Some(l.trim_end_matches(')').to_string())),
                            None => (prio.trim(), None),
                        };
                        let app = app.trim();
                        let ext = match ctx.extensions.iter_mut().position(|x| x.name == exten) {
                            Some(i) => &mut ctx.extensions[i],
                            None => {
                                ctx.extensions.push(Extension {
                                    name: exten.clone(),
                                    ..Extension::default()
                                });
                                let n = ctx.extensions.len() - 1;
                                &mut ctx.extensions[n]
                            }
                        };
                        if prio.eq_ignore_ascii_case("hint") {
                            ext.hint = Some(app.to_string());
                            continue;
                        }
                        let number = if prio.eq_ignore_ascii_case("n") {
                            match &last {
                                Some((e, p)) if *e == exten => p + 1,
                                _ => {
                                    return Err(at("priority n without a previous priority".into()))
                                }
                            }
                        } else if prio == "s" {
                            1
                        } else {
                            prio.parse::<u32>()
                                .map_err(|_| at(format!("bad priority \"{prio}\"")))?
                        };
                        let (name, data) = split_app(app);
                        ext.steps.insert(
                            number,
                            Step {
                                app: name,
                                data,
                                label,
                            },
                        );
                        last = Some((exten, number));
                    }
                    other => {
                        tracing::debug!(context = %cat.name, key = other, "ignored dialplan line");
                    }
                }
            }
            plan.contexts.push(ctx);
        }
        Ok(plan)
    }

    /// The context named `name` (case-insensitive).
    pub fn context(&self, name: &str) -> Option<&Context> {
        self.contexts
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(name))
    }

    /// The extension matching `exten` in `context` or its includes (exact names before
    /// patterns, as Asterisk prefers them).
    pub fn extension(&self, context: &str, exten: &str) -> Option<&Extension> {
        self.extension_depth(context, exten, 0)
    }

    fn extension_depth(&self, context: &str, exten: &str, depth: usize) -> Option<&Extension> {
        if depth > 16 {
            return None;
        }
        let ctx = self.context(context)?;
        ctx.extensions
            .iter()
            .find(|e| !e.name.starts_with('_') && e.name.eq_ignore_ascii_case(exten))
            .or_else(|| {
                ctx.extensions
                    .iter()
                    .find(|e| e.name.starts_with('_') && matches(&e.name, exten))
            })
            .or_else(|| {
                ctx.includes
                    .iter()
                    .find_map(|inc| self.extension_depth(inc, exten, depth + 1))
            })
    }

    /// The step at `context`/`exten`/`priority`.
    pub fn step(&self, context: &str, exten: &str, priority: u32) -> Option<&Step> {
        self.extension(context, exten)?.steps.get(&priority)
    }

    /// The priority labelled `label` in `context`/`exten`.
    pub fn find_label(&self, context: &str, exten: &str, label: &str) -> Option<u32> {
        self.extension(context, exten)?
            .steps
            .iter()
            .find(|(_, s)| {
                s.label
                    .as_deref()
                    .is_some_and(|l| l.eq_ignore_ascii_case(label))
            })
            .map(|(p, _)| *p)
    }

    /// Every hint: (extension, context, device string).
    pub fn hints(&self) -> Vec<(String, String, String)> {
        let mut out = Vec::new();
        for c in &self.contexts {
            for e in &c.extensions {
                if let Some(h) = &e.hint {
                    out.push((e.name.clone(), c.name.clone(), h.clone()));
                }
            }
        }
        out
    }

    /// `dialplan show [context]` text.
    pub fn show(&self, context: Option<&str>) -> String {
        let mut out = String::new();
        let mut shown = 0;
        let mut exts = 0;
        let mut prios = 0;
        for c in &self.contexts {
            if context.is_some_and(|n| !c.name.eq_ignore_ascii_case(n)) {
                continue;
            }
            shown += 1;
            out.push_str(&format!(
                "[ Context '{}' created by 'pbx_config' ]\n",
                c.name
            ));
            for e in &c.extensions {
                exts += 1;
                let mut first = true;
                if let Some(h) = &e.hint {
                    out.push_str(&format!(
                        "  {:<20}{:<35}[pbx_config]\n",
                        format!("'{}' =>", e.name),
                        format!("hint: {h}")
                    ));
                    first = false;
                }
                for (p, s) in &e.steps {
                    prios += 1;
                    let lead = if first {
                        format!("'{}' =>", e.name)
                    } else {
                        String::new()
                    };
                    first = false;
                    let label = s
                        .label
                        .as_ref()
                        .map(|l| format!("[{l}]"))
                        .unwrap_or_default();
                    out.push_str(&format!(
                        "  {:<20}{:<35}[pbx_config]\n",
                        lead,
                        format!("{p}. {label}{}({})", s.app, s.data)
                    ));
                }
            }
            for inc in &c.includes {
                out.push_str(&format!(
                    "  Include =>        '{inc}'{:<23}[pbx_config]\n",
                    ""
                ));
            }
            out.push('\n');
        }
        if let (Some(name), 0) = (context, shown) {
            return format!("There is no existence of '{name}' context\n");
        }
        out.push_str(&format!(
            "-= {exts} extensions ({prios} priorities) in {shown} contexts. =-\n"
        ));
        out
    }
}

/// Splits `App(args)` into name and argument text.
pub fn split_app(app: &str) -> (String, String) {
    match app.split_once('(') {
        Some((name, rest)) => {
            let data = rest.strip_suffix(')').unwrap_or(rest);
            (name.trim().to_string(), data.to_string())
        }
        None => (app.trim().to_string(), String::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns() {
        assert!(matches("_X.", "100"));
        assert!(!matches("_X.", "1"));
        assert!(matches("_NXX", "200"));
        assert!(!matches("_NXX", "100"));
        assert!(matches("_1[2-4]X", "135"));
        assert!(!matches("_1[2-4]X", "155"));
        assert!(matches("100", "100"));
        assert!(matches("_9!", "9"));
    }

    #[test]
    fn loads_priorities_same_hints_labels_includes() {
        let dir = crate::testdir::TempDir::new("dialplan");
        dir.write(
            "extensions.conf",
            "[globals]\nG = 1\n\n[default]\nexten => 100,hint,SIP/100\nexten => 100,1,Answer()\n same => n(wait),Wait(2)\n same => n,Hangup()\ninclude => other\n\n[other]\nexten => _2XX,1,NoOp(${EXTEN})\n",
        );
        let plan = Dialplan::load(dir.path()).unwrap();
        assert_eq!(plan.globals, vec![("G".to_string(), "1".to_string())]);
        assert_eq!(plan.step("default", "100", 2).unwrap().app, "Wait");
        assert_eq!(plan.find_label("default", "100", "wait"), Some(2));
        assert_eq!(plan.step("default", "250", 1).unwrap().data, "${EXTEN}");
        assert_eq!(
            plan.hints(),
            vec![("100".into(), "default".into(), "SIP/100".into())]
        );
        assert!(plan
            .show(None)
            .contains("-= 2 extensions (4 priorities) in 2 contexts. =-"));
    }
}
