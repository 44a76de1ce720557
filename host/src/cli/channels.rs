//! `core show channels [concise|verbose|count]`, laid out as Asterisk prints it.
//!
//! ```text
//! Channel              Location             State   Application(Data)
//! SIP/100-00000001     200@default:1        Up      Dial(SIP/200)
//! 1 active channel
//! 1 active call
//! 7 calls processed
//! ```
//!
//! * concise: one line per channel, no header or footer:
//!   `name!context!exten!priority!state!application!data!callerid!accountcode!amaflags!seconds!bridged`
//!   (`application` is `(None)` when none runs, `bridged` `(None)` when not bridged,
//!   `amaflags` always 0: the PBX does not model AMA flags);
//! * verbose: `Channel`, `Context`, `Extension`, `Prio`, `State`, `Application`, `Data`,
//!   `CallerID`, `Duration` (`HH:MM:SS`), `Accountcode`, `BridgedTo` columns, then the
//!   footer;
//! * count: the footer alone.

use super::format::{ess, left, right};
use crate::pbx::{state_text, ChannelSnapshot};

/// Which layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The default table.
    Normal,
    /// `!`-separated fields.
    Concise,
    /// The wide table.
    Verbose,
    /// Only the counts.
    Count,
}

impl Mode {
    /// The mode named by the command's argument (case-insensitive); `None` if unknown.
    pub fn from_args(args: &[&str]) -> Option<Mode> {
        match args {
            [] => Some(Mode::Normal),
            [word] if word.eq_ignore_ascii_case("concise") => Some(Mode::Concise),
            [word] if word.eq_ignore_ascii_case("verbose") => Some(Mode::Verbose),
            [word] if word.eq_ignore_ascii_case("count") => Some(Mode::Count),
            _ => None,
        }
    }
}

fn normal_row(out: &mut String, cols: [&str; 4]) {
    out.push_str(&format!(
        "{} {} {} {}\n",
        left(cols[0], 20),
        left(cols[1], 20),
        left(cols[2], 7),
        left(cols[3], 30)
    ));
}

fn verbose_row(out: &mut String, cols: [&str; 11]) {
    out.push_str(&format!(
        "{} {} {} {} {} {} {} {} {} {} {}\n",
        left(cols[0], 20),
        left(cols[1], 20),
        left(cols[2], 16),
        cols[3],
        left(cols[4], 7),
        left(cols[5], 12),
        left(cols[6], 25),
        left(cols[7], 15),
        right(cols[8], 8),
        left(cols[9], 11),
        left(cols[10], 20)
    ));
}

fn or<'a>(value: &'a str, fallback: &'a str) -> &'a str {
    if value.is_empty() {
        fallback
    } else {
        value
    }
}

/// The command's output for `channels`, with `calls` channels up now and `processed`
/// calls since start.
pub fn render(channels: &[ChannelSnapshot], mode: Mode, calls: u32, processed: u32) -> String {
    let mut out = String::new();
    match mode {
        Mode::Normal => {
            normal_row(
                &mut out,
                ["Channel", "Location", "State", "Application(Data)"],
            );
            for c in channels {
                let location = if c.context.is_empty() || c.exten.is_empty() {
                    "(None)".to_string()
                } else {
                    format!("{}@{}:{}", c.exten, c.context, c.priority)
                };
                let app = if c.application.is_empty() {
                    "(None)".to_string()
                } else {
                    format!("{}({})", c.application, c.application_data)
                };
                normal_row(&mut out, [&c.name, &location, &state_text(c.state), &app]);
            }
        }
        Mode::Concise => {
            for c in channels {
                out.push_str(&format!(
                    "{}!{}!{}!{}!{}!{}!{}!{}!{}!{}!{}!{}\n",
                    c.name,
                    c.context,
                    c.exten,
                    c.priority,
                    state_text(c.state),
                    or(&c.application, "(None)"),
                    c.application_data,
                    c.caller_id_num.as_deref().unwrap_or(""),
                    c.account_code,
                    0,
                    c.seconds,
                    c.bridged_to.as_deref().unwrap_or("(None)"),
                ));
            }
            return out;
        }
        Mode::Verbose => {
            verbose_row(
                &mut out,
                [
                    "Channel",
                    "Context",
                    "Extension",
                    "Prio",
                    "State",
                    "Application",
                    "Data",
                    "CallerID",
                    "Duration",
                    "Accountcode",
                    "BridgedTo",
                ],
            );
            for c in channels {
                let data = if c.application.is_empty() {
                    "(None)"
                } else {
                    or(&c.application_data, "(Empty)")
                };
                let s = c.seconds;
                let duration = format!("{:02}:{:02}:{:02}", s / 3600, s % 3600 / 60, s % 60);
                verbose_row(
                    &mut out,
                    [
                        &c.name,
                        &c.context,
                        &c.exten,
                        &format!("{:>4}", c.priority),
                        &state_text(c.state),
                        or(&c.application, "(None)"),
                        data,
                        c.caller_id_num.as_deref().unwrap_or(""),
                        &duration,
                        &c.account_code,
                        c.bridged_to.as_deref().unwrap_or("(None)"),
                    ],
                );
            }
        }
        Mode::Count => {}
    }
    let n = channels.len() as u64;
    out.push_str(&format!("{n} active channel{}\n", ess(n)));
    out.push_str(&format!("{calls} active call{}\n", ess(calls.into())));
    out.push_str(&format!(
        "{processed} call{} processed\n",
        ess(processed.into())
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chan() -> ChannelSnapshot {
        ChannelSnapshot {
            name: "SIP/100-00000001".into(),
            uniqueid: "1.1".into(),
            linkedid: "1.1".into(),
            state: 6,
            caller_id_num: Some("100".into()),
            context: "default".into(),
            exten: "200".into(),
            priority: 1,
            in_dialplan: true,
            application: "Dial".into(),
            application_data: "SIP/200".into(),
            seconds: 3723,
            bridged_to: Some("SIP/200-00000002".into()),
            account_code: "acc".into(),
            ..ChannelSnapshot::default()
        }
    }

    #[test]
    fn normal_table() {
        let text = render(&[chan()], Mode::Normal, 1, 7);
        let expected = format!(
            "{:<20} {:<20} {:<7} {:<30}\n{:<20} {:<20} {:<7} {:<30}\n\
             1 active channel\n1 active call\n7 calls processed\n",
            "Channel",
            "Location",
            "State",
            "Application(Data)",
            "SIP/100-00000001",
            "200@default:1",
            "Up",
            "Dial(SIP/200)"
        );
        assert_eq!(text, expected);
        assert!(
            text.starts_with("Channel              Location             State   Application(Data)")
        );
    }

    #[test]
    fn empty_table_counts_in_plural() {
        let text = render(&[], Mode::Normal, 0, 0);
        assert!(text.ends_with("\n0 active channels\n0 active calls\n0 calls processed\n"));
        assert_eq!(
            render(&[], Mode::Count, 2, 1),
            "0 active channels\n2 active calls\n1 call processed\n"
        );
    }

    #[test]
    fn no_location_or_application() {
        let c = ChannelSnapshot {
            name: "Local/x".into(),
            ..ChannelSnapshot::default()
        };
        let text = render(&[c], Mode::Normal, 0, 0);
        let row = text.lines().nth(1).unwrap_or_default();
        assert_eq!(
            row,
            format!(
                "{:<20} {:<20} {:<7} {:<30}",
                "Local/x", "(None)", "Down", "(None)"
            )
        );
    }

    #[test]
    fn concise_fields() {
        let mut other = chan();
        other.application.clear();
        other.application_data.clear();
        other.bridged_to = None;
        other.caller_id_num = None;
        assert_eq!(
            render(&[chan(), other], Mode::Concise, 1, 1),
            "SIP/100-00000001!default!200!1!Up!Dial!SIP/200!100!acc!0!3723!SIP/200-00000002\n\
             SIP/100-00000001!default!200!1!Up!(None)!!!acc!0!3723!(None)\n"
        );
    }

    #[test]
    fn verbose_table() {
        let text = render(&[chan()], Mode::Verbose, 1, 1);
        let mut lines = text.lines();
        assert_eq!(
            lines.next(),
            Some(
                format!(
                    "{:<20} {:<20} {:<16} Prio {:<7} {:<12} {:<25} {:<15} Duration {:<11} {:<20}",
                    "Channel",
                    "Context",
                    "Extension",
                    "State",
                    "Application",
                    "Data",
                    "CallerID",
                    "Accountcode",
                    "BridgedTo"
                )
                .as_str()
            )
        );
        assert_eq!(
            lines.next(),
            Some(
                format!(
                    "{:<20} {:<20} {:<16}    1 {:<7} {:<12} {:<25} {:<15} 01:02:03 {:<11} {:<20}",
                    "SIP/100-00000001",
                    "default",
                    "200",
                    "Up",
                    "Dial",
                    "SIP/200",
                    "100",
                    "acc",
                    "SIP/200-00000002"
                )
                .as_str()
            )
        );
        assert_eq!(lines.next(), Some("1 active channel"));
    }

    #[test]
    fn modes_from_args() {
        assert_eq!(Mode::from_args(&[]), Some(Mode::Normal));
        assert_eq!(Mode::from_args(&["CONCISE"]), Some(Mode::Concise));
        assert_eq!(Mode::from_args(&["verbose"]), Some(Mode::Verbose));
        assert_eq!(Mode::from_args(&["count"]), Some(Mode::Count));
        assert_eq!(Mode::from_args(&["bogus"]), None);
        assert_eq!(Mode::from_args(&["concise", "verbose"]), None);
    }
}
