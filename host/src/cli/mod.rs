//! The operator command line: Asterisk's CLI commands that concern the manager, shared by
//! the `Command` action (through the WIT `cli` interface) and the control socket
//! ([`control`], `amihost cli --config FILE 'words...'`).
//!
//! A command line is split into words on blanks (spaces, tabs; no quoting). The
//! registered command whose words begin the line, compared case-insensitively, runs with
//! the remaining words as its arguments; when several match, the longest wins. Output
//! lines end with `\n`, as the CLI prints them.
//!
//! | command | prints |
//! |---|---|
//! | `core show version` | `ami-host <version> (AMI 1.0, 11.0.0) on a <arch> running <os>` |
//! | `core show uptime [seconds]` | `System uptime: ...` and `Last reload: ...` (`1 hour, 2 minutes, 3 seconds`) |
//! | `core show channels [concise\|verbose\|count]` | the channel table and counts ([`channels`]) |
//! | `core show tasks` | live tokio tasks, runtime workers, sessions and event readers (read-only; for soak runs) |
//! | `manager show commands` | the action table |
//! | `manager show command <Action>` | one action's synopsis, privilege and description |
//! | `manager show connected` | user name and address of every session, then a count |
//! | `manager show users`, `manager show user <name>` | the configured users (never a secret) |
//! | `manager show eventq` | the event ring's size and readers: the host has no master queue |
//! | `reload [module...]`, `module reload [module...]` | reloads the configuration (module `manager`, or all); nothing on success, else the error |
//! | `dialplan show [context]` | the PBX's dialplan |
//! | `help [command]` | the command list, or one command's usage |
//!
//! Asterisk 1.4's deprecated spellings are accepted too (`show manager commands`,
//! `show manager command`, `show manager connected`, `show manager eventq`,
//! `show version`, `show uptime`, `show channels`, `show dialplan`); they print the same
//! as the new ones and log the deprecation instead of printing it.
//!
//! A wrong number of arguments prints the command's usage. An unknown command prints
//! `No such command '<line>' (type 'help' for help)` and is reported as not found.

mod channels;
pub mod control;
mod format;
mod manager;

use std::sync::Arc;
use std::time::SystemTime;

use crate::dialect::Dialect;
use crate::state::Shared;
use format::ess;

/// The result of one command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandOutput {
    /// Whether a registered command matched (and ran).
    pub found: bool,
    /// What it printed, each line ended by `\n`.
    pub text: String,
}

/// What a handler did.
enum Outcome {
    /// Ran; printed this.
    Done(String),
    /// Wrong arguments: print the usage.
    Usage,
}

type Handler = fn(&Arc<Shared>, &[&str]) -> Outcome;

/// One registered command.
struct Command {
    /// Its words.
    words: &'static [&'static str],
    /// One line for `help`.
    summary: &'static str,
    /// What `help <command>` and a wrong call print.
    usage: &'static str,
    /// For a deprecated spelling: the command that replaces it (hidden from `help`).
    replaced_by: Option<&'static str>,
    handler: Handler,
}

const VERSION_USAGE: &str = "Usage: core show version\n\
       Shows the version of ami-host and of the AMI dialects it speaks.\n";
const UPTIME_USAGE: &str = "Usage: core show uptime [seconds]\n\
       Shows how long the host has been running and how long ago its\n\
       configuration was last loaded; 'seconds' prints both in seconds.\n";
const CHANNELS_USAGE: &str = "Usage: core show channels [concise|verbose|count]\n\
       Lists the channels. 'concise' prints one '!'-separated line per channel,\n\
       'verbose' a wider table, 'count' only the totals.\n";
const TASKS_USAGE: &str = "Usage: core show tasks\n\
       Shows the host's live async tasks and runtime workers, the manager\n\
       sessions and the event bus readers (to watch for leaks).\n";
const COMMANDS_USAGE: &str = "Usage: manager show commands\n\
       Lists the manager actions with their privileges and synopses.\n";
const COMMAND_USAGE: &str = "Usage: manager show command <actionname>\n\
       Shows the synopsis, privilege and description of one manager action.\n";
const CONNECTED_USAGE: &str = "Usage: manager show connected\n\
       Lists the sessions connected to the manager interface.\n";
const EVENTQ_USAGE: &str = "Usage: manager show eventq\n\
       Shows the state of the manager event queue.\n";
const PLUGINS_USAGE: &str = "Usage: manager show plugins\n\
       Lists the action plugins: file, content hash, SDK and contract versions,\n\
       actions, grants, load time, calls, traps and the last load error.\n";
const USERS_USAGE: &str = "Usage: manager show users\n\
       Lists the configured manager users.\n";
const USER_USAGE: &str = "Usage: manager show user <user>\n\
       Shows the settings of one manager user (never its secret).\n";
const RELOAD_USAGE: &str = "Usage: reload [module ...]\n\
       Reloads the configuration of the named modules, or of all of them.\n\
       The host has one module: 'manager' (its configuration file).\n";
const MODULE_RELOAD_USAGE: &str = "Usage: module reload [module ...]\n\
       Reloads the configuration of the named modules, or of all of them.\n\
       The host has one module: 'manager' (its configuration file).\n";
const DIALPLAN_USAGE: &str = "Usage: dialplan show [context]\n\
       Shows the dialplan, or the context named.\n";
const HELP_USAGE: &str = "Usage: help [command]\n\
       Lists the commands, or shows how to use the command named.\n";

/// The command table.
static COMMANDS: &[Command] = &[
    Command {
        words: &["core", "show", "version"],
        summary: "Display version info",
        usage: VERSION_USAGE,
        replaced_by: None,
        handler: version,
    },
    Command {
        words: &["core", "show", "uptime"],
        summary: "Show uptime information",
        usage: UPTIME_USAGE,
        replaced_by: None,
        handler: uptime,
    },
    Command {
        words: &["core", "show", "channels"],
        summary: "Display information on channels",
        usage: CHANNELS_USAGE,
        replaced_by: None,
        handler: show_channels,
    },
    Command {
        words: &["core", "show", "tasks"],
        summary: "Show async task and session counts",
        usage: TASKS_USAGE,
        replaced_by: None,
        handler: show_tasks,
    },
    Command {
        words: &["manager", "show", "commands"],
        summary: "List manager interface commands",
        usage: COMMANDS_USAGE,
        replaced_by: None,
        handler: show_commands,
    },
    Command {
        words: &["manager", "show", "command"],
        summary: "Show a manager interface command",
        usage: COMMAND_USAGE,
        replaced_by: None,
        handler: show_command,
    },
    Command {
        words: &["manager", "show", "connected"],
        summary: "List connected manager interface users",
        usage: CONNECTED_USAGE,
        replaced_by: None,
        handler: show_connected,
    },
    Command {
        words: &["manager", "show", "eventq"],
        summary: "List manager interface queued events",
        usage: EVENTQ_USAGE,
        replaced_by: None,
        handler: show_eventq,
    },
    Command {
        words: &["manager", "show", "plugins"],
        summary: "List action plugins",
        usage: PLUGINS_USAGE,
        replaced_by: None,
        handler: show_plugins,
    },
    Command {
        words: &["manager", "show", "users"],
        summary: "List configured manager users",
        usage: USERS_USAGE,
        replaced_by: None,
        handler: show_users,
    },
    Command {
        words: &["manager", "show", "user"],
        summary: "Display information on a specific manager user",
        usage: USER_USAGE,
        replaced_by: None,
        handler: show_user,
    },
    Command {
        words: &["module", "reload"],
        summary: "Reload configuration",
        usage: MODULE_RELOAD_USAGE,
        replaced_by: None,
        handler: reload,
    },
    Command {
        words: &["reload"],
        summary: "Reload configuration",
        usage: RELOAD_USAGE,
        replaced_by: None,
        handler: reload,
    },
    Command {
        words: &["dialplan", "show"],
        summary: "Show dialplan",
        usage: DIALPLAN_USAGE,
        replaced_by: None,
        handler: dialplan_show,
    },
    Command {
        words: &["help"],
        summary: "Display help list, or specific help on a command",
        usage: HELP_USAGE,
        replaced_by: None,
        handler: help,
    },
    // Asterisk 1.4's deprecated spellings.
    Command {
        words: &["show", "manager", "commands"],
        summary: "List manager interface commands",
        usage: COMMANDS_USAGE,
        replaced_by: Some("manager show commands"),
        handler: show_commands,
    },
    Command {
        words: &["show", "manager", "command"],
        summary: "Show a manager interface command",
        usage: COMMAND_USAGE,
        replaced_by: Some("manager show command"),
        handler: show_command,
    },
    Command {
        words: &["show", "manager", "connected"],
        summary: "List connected manager interface users",
        usage: CONNECTED_USAGE,
        replaced_by: Some("manager show connected"),
        handler: show_connected,
    },
    Command {
        words: &["show", "manager", "eventq"],
        summary: "List manager interface queued events",
        usage: EVENTQ_USAGE,
        replaced_by: Some("manager show eventq"),
        handler: show_eventq,
    },
    Command {
        words: &["show", "version"],
        summary: "Display version info",
        usage: VERSION_USAGE,
        replaced_by: Some("core show version"),
        handler: version,
    },
    Command {
        words: &["show", "uptime"],
        summary: "Show uptime information",
        usage: UPTIME_USAGE,
        replaced_by: Some("core show uptime"),
        handler: uptime,
    },
    Command {
        words: &["show", "channels"],
        summary: "Display information on channels",
        usage: CHANNELS_USAGE,
        replaced_by: Some("core show channels"),
        handler: show_channels,
    },
    Command {
        words: &["show", "dialplan"],
        summary: "Show dialplan",
        usage: DIALPLAN_USAGE,
        replaced_by: Some("dialplan show"),
        handler: dialplan_show,
    },
];

/// The words of a command line: split on blanks.
fn split(line: &str) -> Vec<&str> {
    line.split([' ', '\t', '\r', '\n'])
        .filter(|w| !w.is_empty())
        .collect()
}

/// The registered command whose words begin `words` (case-insensitive), the longest if
/// several do.
fn find(words: &[&str]) -> Option<&'static Command> {
    COMMANDS
        .iter()
        .filter(|c| {
            c.words.len() <= words.len()
                && c.words
                    .iter()
                    .zip(words)
                    .all(|(a, b)| a.eq_ignore_ascii_case(b))
        })
        .max_by_key(|c| c.words.len())
}

/// Runs one command line and returns what it printed. A blank line does nothing.
pub fn run(shared: &Arc<Shared>, line: &str) -> CommandOutput {
    let words = split(line);
    if words.is_empty() {
        return CommandOutput {
            found: true,
            text: String::new(),
        };
    }
    let Some(command) = find(&words) else {
        return CommandOutput {
            found: false,
            text: format!("No such command '{}' (type 'help' for help)\n", line.trim()),
        };
    };
    if let Some(new) = command.replaced_by {
        tracing::info!(
            "The '{}' command is deprecated and will be removed in a future release. Please use '{new}' instead.",
            command.words.join(" ")
        );
    }
    let args = &words[command.words.len()..];
    let text = match (command.handler)(shared, args) {
        Outcome::Done(text) => text,
        Outcome::Usage => command.usage.to_string(),
    };
    CommandOutput { found: true, text }
}

fn no_args(args: &[&str], text: impl FnOnce() -> String) -> Outcome {
    if args.is_empty() {
        Outcome::Done(text())
    } else {
        Outcome::Usage
    }
}

/// The one-line version banner.
pub fn version_line() -> String {
    let dialects: Vec<&str> = Dialect::ALL.iter().map(|d| d.ami_version()).collect();
    format!(
        "ami-host {} (AMI {}) on a {} running {}\n",
        env!("CARGO_PKG_VERSION"),
        dialects.join(", "),
        std::env::consts::ARCH,
        std::env::consts::OS
    )
}

fn version(_shared: &Arc<Shared>, args: &[&str]) -> Outcome {
    no_args(args, version_line)
}

/// A duration as Asterisk's CLI words it: `1 year, 2 weeks, 3 days, 4 hours, 5 minutes,
/// 6 seconds`, leaving out the zero parts; `0 seconds` for nothing. A year is 365 days.
pub fn uptime_words(secs: u64) -> String {
    const MINUTE: u64 = 60;
    const HOUR: u64 = 60 * MINUTE;
    const DAY: u64 = 24 * HOUR;
    const WEEK: u64 = 7 * DAY;
    const YEAR: u64 = 365 * DAY;
    let mut left = secs;
    let mut parts = Vec::new();
    for (unit, name) in [
        (YEAR, "year"),
        (WEEK, "week"),
        (DAY, "day"),
        (HOUR, "hour"),
        (MINUTE, "minute"),
    ] {
        if left >= unit {
            let n = left / unit;
            parts.push(format!("{n} {name}{}", ess(n)));
            left %= unit;
        }
    }
    if left > 0 || parts.is_empty() {
        parts.push(format!("{left} second{}", ess(left)));
    }
    parts.join(", ")
}

/// `core show uptime` for `uptime` seconds since start and `since_reload` since the last
/// (re)load; `seconds` prints plain numbers.
fn uptime_text(uptime: u64, since_reload: u64, seconds: bool) -> String {
    let show = |secs: u64| {
        if seconds {
            secs.to_string()
        } else {
            uptime_words(secs)
        }
    };
    format!(
        "System uptime: {}\nLast reload: {}\n",
        show(uptime),
        show(since_reload)
    )
}

fn uptime(shared: &Arc<Shared>, args: &[&str]) -> Outcome {
    let seconds = match args {
        [] => false,
        [word] if word.eq_ignore_ascii_case("seconds") => true,
        _ => return Outcome::Usage,
    };
    let now = SystemTime::now();
    let since = |t: SystemTime| now.duration_since(t).unwrap_or_default().as_secs();
    let reloaded = match shared.reloaded.lock() {
        Ok(t) => *t,
        Err(p) => *p.into_inner(),
    };
    Outcome::Done(uptime_text(since(shared.started), since(reloaded), seconds))
}

fn show_channels(shared: &Arc<Shared>, args: &[&str]) -> Outcome {
    let Some(mode) = channels::Mode::from_args(args) else {
        return Outcome::Usage;
    };
    let pbx = &shared.pbx;
    Outcome::Done(channels::render(
        &pbx.channels(),
        mode,
        pbx.current_calls(),
        pbx.processed_calls(),
    ))
}

/// `core show tasks`: the runtime's live task count (`Handle::metrics`), read from the
/// runtime the command runs under (the control socket and the `Command` action both run
/// commands on its blocking pool).
fn tasks_text(shared: &Shared, runtime: Option<&tokio::runtime::Handle>) -> String {
    let mut out = String::new();
    match runtime {
        Some(h) => {
            let m = h.metrics();
            out.push_str(&format!("Tokio tasks alive: {}\n", m.num_alive_tasks()));
            out.push_str(&format!("Tokio worker threads: {}\n", m.num_workers()));
            out.push_str(&format!(
                "Tokio global queue depth: {}\n",
                m.global_queue_depth()
            ));
        }
        None => out.push_str("Tokio tasks alive: unknown (not run inside the runtime)\n"),
    }
    out.push_str(&format!(
        "Manager sessions: {}\n",
        shared.sessions.all().len()
    ));
    out.push_str(&format!("Event bus readers: {}\n", shared.bus.receivers()));
    out
}

fn show_tasks(shared: &Arc<Shared>, args: &[&str]) -> Outcome {
    no_args(args, || {
        tasks_text(shared, tokio::runtime::Handle::try_current().ok().as_ref())
    })
}

fn show_commands(shared: &Arc<Shared>, args: &[&str]) -> Outcome {
    no_args(args, || {
        let registry = shared.registry();
        manager::commands(registry.list(Dialect::V1).map(|e| &e.info))
    })
}

fn show_command(shared: &Arc<Shared>, args: &[&str]) -> Outcome {
    let [name] = args else {
        return Outcome::Usage;
    };
    let registry = shared.registry();
    Outcome::Done(manager::command(
        registry.list(Dialect::V1).map(|e| &e.info),
        name,
    ))
}

fn show_connected(shared: &Arc<Shared>, args: &[&str]) -> Outcome {
    no_args(args, || {
        let mut rows: Vec<manager::Connected> = shared
            .sessions
            .all()
            .iter()
            .map(|s| {
                let auth = s.auth();
                manager::Connected {
                    username: if auth.authenticated {
                        auth.username.clone()
                    } else {
                        String::new()
                    },
                    ip: s.peer.ip(),
                }
            })
            .collect();
        rows.sort();
        manager::connected(&rows)
    })
}

fn show_eventq(shared: &Arc<Shared>, args: &[&str]) -> Outcome {
    no_args(args, || {
        manager::eventq(shared.config().general.event_queue, shared.bus.receivers())
    })
}

fn show_plugins(shared: &Arc<Shared>, args: &[&str]) -> Outcome {
    no_args(args, || {
        let list = crate::plugins::manager::statuses(shared);
        let mut out = String::new();
        for p in &list {
            let (date, time) = crate::clock::utc_date_time(
                std::time::UNIX_EPOCH + std::time::Duration::from_secs(p.loaded_at),
            );
            out.push_str(&format!("Plugin: {}\n", p.name));
            out.push_str(&format!("  File: {}\n", p.file));
            out.push_str(&format!("  Hash: {}\n", p.hash));
            out.push_str(&format!(
                "  Built with: ami-plugin-sdk {} (contract ami:manager@{})\n",
                if p.sdk_version.is_empty() {
                    "-"
                } else {
                    &p.sdk_version
                },
                if p.contract_version.is_empty() {
                    "-"
                } else {
                    &p.contract_version
                }
            ));
            out.push_str(&format!("  Actions: {}\n", p.actions.join(", ")));
            out.push_str(&format!("  Grants: {}\n", p.grants.join(", ")));
            if p.loaded_at > 0 {
                out.push_str(&format!("  Loaded: {date} {time} UTC\n"));
            } else {
                out.push_str("  Loaded: not serving\n");
            }
            out.push_str(&format!("  Calls: {}  Traps: {}\n", p.calls, p.traps));
            if let Some(e) = &p.last_error {
                out.push_str(&format!("  Last error: {e}\n"));
            }
        }
        out.push_str(&format!("{} plugins.\n", list.len()));
        out
    })
}

fn show_users(shared: &Arc<Shared>, args: &[&str]) -> Outcome {
    no_args(args, || manager::users(&shared.config().users))
}

fn show_user(shared: &Arc<Shared>, args: &[&str]) -> Outcome {
    let [name] = args else {
        return Outcome::Usage;
    };
    Outcome::Done(manager::user(&shared.config().users, name))
}

/// Reloads the manager's configuration: nothing on success, else the error.
fn reload_manager(shared: &Arc<Shared>) -> String {
    match crate::reload::reload_blocking(shared) {
        Ok(()) => String::new(),
        Err(e) => format!("Configuration not reloaded: {e}\n"),
    }
}

fn reload(shared: &Arc<Shared>, args: &[&str]) -> Outcome {
    if args.is_empty() {
        return Outcome::Done(reload_manager(shared));
    }
    let mut out = String::new();
    for module in args {
        if module.eq_ignore_ascii_case("manager") {
            out.push_str(&reload_manager(shared));
        } else {
            out.push_str(&format!("No such module '{module}'\n"));
        }
    }
    Outcome::Done(out)
}

fn dialplan_show(shared: &Arc<Shared>, args: &[&str]) -> Outcome {
    if args.len() > 1 {
        return Outcome::Usage;
    }
    let mut text = shared.pbx.dialplan_show(args.first().copied());
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    Outcome::Done(text)
}

/// `help [words]`: with no words, every command (`%25.25s  summary`, sorted); with the
/// words of a command, its usage; otherwise the commands starting with those words, or
/// `No such command '<words>'.`.
fn help_text(args: &[&str]) -> String {
    if !args.is_empty() {
        let exact = COMMANDS.iter().find(|c| {
            c.words.len() == args.len()
                && c.words
                    .iter()
                    .zip(args)
                    .all(|(a, b)| a.eq_ignore_ascii_case(b))
        });
        if let Some(c) = exact {
            return c.usage.to_string();
        }
    }
    let wanted = args.join(" ").to_ascii_lowercase();
    let mut listed: Vec<(String, &str)> = COMMANDS
        .iter()
        .filter(|c| c.replaced_by.is_none())
        .map(|c| (c.words.join(" "), c.summary))
        .filter(|(name, _)| name.starts_with(&wanted))
        .collect();
    listed.sort();
    if listed.is_empty() {
        return format!("No such command '{}'.\n", args.join(" "));
    }
    let mut out = String::new();
    for (name, summary) in listed {
        let name: String = name.chars().take(25).collect();
        out.push_str(&format!("{name:>25}  {summary}\n"));
    }
    out
}

fn help(_shared: &Arc<Shared>, args: &[&str]) -> Outcome {
    Outcome::Done(help_text(args))
}

/// The command names `help` lists, for tests and documentation.
pub fn command_names() -> Vec<String> {
    let mut names: Vec<String> = COMMANDS
        .iter()
        .filter(|c| c.replaced_by.is_none())
        .map(|c| c.words.join(" "))
        .collect();
    names.sort();
    names
}

#[cfg(test)]
mod tests;
