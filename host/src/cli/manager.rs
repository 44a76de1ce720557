//! The manager's own commands (`manager show ...`), laid out as Asterisk 1.4 prints them
//! (reference §5.5). Each renders plain values, so the layouts are unit-tested without a
//! running host.

use std::net::IpAddr;

use super::format::{left, min_left};
use crate::config::User;
use crate::dialect::Dialect;
use crate::registry::ActionInfo;

/// `manager show commands`: a header row, a dashed row, then one row per action,
/// `"  %-15.15s  %-15.15s  %-55.55s"` (name, 1.0 privilege, 1.0 synopsis).
pub fn commands<'a>(actions: impl IntoIterator<Item = &'a ActionInfo>) -> String {
    let mut out = String::new();
    let mut row = |a: &str, b: &str, c: &str| {
        out.push_str(&format!(
            "  {}  {}  {}\n",
            left(a, 15),
            left(b, 15),
            left(c, 55)
        ));
    };
    row("Action", "Privilege", "Synopsis");
    row("------", "---------", "--------");
    for info in actions {
        row(
            &info.name,
            &info.privilege.render(Dialect::V1.classes()),
            &info.synopsis,
        );
    }
    out
}

/// `manager show command <Action>`: `Action:`, `Synopsis:`, `Privilege:`, then the long
/// description and a line end, for the action named `name` (case-insensitive); nothing
/// when there is no such action, as in Asterisk.
pub fn command<'a>(actions: impl IntoIterator<Item = &'a ActionInfo>, name: &str) -> String {
    let mut out = String::new();
    for info in actions {
        if info.name.eq_ignore_ascii_case(name) {
            out.push_str(&format!(
                "Action: {}\nSynopsis: {}\nPrivilege: {}\n{}\n",
                info.name,
                info.synopsis,
                info.privilege.render(Dialect::V1.classes()),
                info.description
            ));
        }
    }
    out
}

/// One row of `manager show connected`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Connected {
    /// The user name; empty before login.
    pub username: String,
    /// The peer's address.
    pub ip: IpAddr,
}

/// `manager show connected`: `Username` and `IP Address` columns (`"  %-15s  %-15s"`;
/// longer values widen the column rather than being cut), a row per session, then
/// `<n> users connected.`.
pub fn connected(rows: &[Connected]) -> String {
    let mut out = String::new();
    let mut row = |a: &str, b: &str| {
        let line = format!("  {}  {}", min_left(a, 15), min_left(b, 15));
        out.push_str(&line);
        out.push('\n');
    };
    row("Username", "IP Address");
    for r in rows {
        row(&r.username, &r.ip.to_canonical().to_string());
    }
    out.push_str(&format!("{} users connected.\n", rows.len()));
    out
}

/// `manager show users`: a blank line, `username`, `--------`, one name per line,
/// `-------------------`, `<n> manager users configured.`; or
/// `There are no manager users.`.
pub fn users(users: &[User]) -> String {
    if users.is_empty() {
        return "There are no manager users.\n".to_string();
    }
    let mut out = String::from("\nusername\n--------\n");
    for u in users {
        out.push_str(&u.name);
        out.push('\n');
    }
    out.push_str("-------------------\n");
    out.push_str(&format!("{} manager users configured.\n", users.len()));
    out
}

fn or_na(text: &str) -> &str {
    if text.is_empty() {
        "(N/A)"
    } else {
        text
    }
}

/// `manager show user <name>` (case-insensitive): a blank line, then `username`,
/// `secret` (`<Set>` or `(N/A)`: the secret itself is never shown), `deny`, `permit`
/// (the rules as written, joined by `, `), `read`, `write` (as configured) and
/// `displayconnects` (`yes`/`no`), right-aligned labels, `(N/A)` for what is not set.
/// Unknown name: `There is no manager called <name>`.
pub fn user(users: &[User], name: &str) -> String {
    let Some(u) = users.iter().find(|u| u.name.eq_ignore_ascii_case(name)) else {
        return format!("There is no manager called {name}\n");
    };
    let deny = u.deny_text.join(", ");
    let permit = u.permit_text.join(", ");
    let fields = [
        ("username", or_na(&u.name)),
        ("secret", if u.secret.is_some() { "<Set>" } else { "(N/A)" }),
        ("deny", or_na(&deny)),
        ("permit", or_na(&permit)),
        ("read", or_na(&u.read_text)),
        ("write", or_na(&u.write_text)),
        (
            "displayconnects",
            if u.displayconnects { "yes" } else { "no" },
        ),
    ];
    let mut out = String::from("\n");
    for (label, value) in fields {
        out.push_str(&format!("{label:>15}: {value}\n"));
    }
    out
}

/// `manager show eventq`. Asterisk lists its master event queue; this host has none:
/// every event goes out on a broadcast ring of `ring` entries that each of `receivers`
/// logged-in sessions reads at its own pace, and an event nobody listens to is not kept.
/// So the command reports the ring size and the number of sessions reading it.
pub fn eventq(ring: usize, receivers: usize) -> String {
    format!(
        "No master event queue: events are broadcast to the sessions as they happen.\n\
         Ring size: {ring}\n\
         Receiving sessions: {receivers}\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::privilege::Privilege;

    fn info(name: &str, privilege: Privilege, synopsis: &str, description: &str) -> ActionInfo {
        ActionInfo {
            name: name.into(),
            privilege,
            modern_privilege: privilege,
            synopsis: synopsis.into(),
            modern_synopsis: format!("{synopsis}."),
            description: description.into(),
        }
    }

    fn actions() -> Vec<ActionInfo> {
        vec![
            info(
                "Command",
                Privilege::COMMAND,
                "Execute Asterisk CLI Command",
                "Run a CLI command.",
            ),
            info("Ping", Privilege::NONE, "Keepalive command", ""),
            info(
                "Status",
                Privilege(Privilege::CALL.0 | Privilege::REPORTING.0),
                "Lists channel status along with all the details of every channel, long",
                "",
            ),
        ]
    }

    #[test]
    fn commands_table() {
        let text = commands(&actions());
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 5);
        assert_eq!(
            lines[0],
            format!(
                "  {:<15}  {:<15}  {:<55}",
                "Action", "Privilege", "Synopsis"
            )
        );
        assert_eq!(
            lines[1],
            format!(
                "  {:<15}  {:<15}  {:<55}",
                "------", "---------", "--------"
            )
        );
        assert_eq!(
            lines[2],
            format!(
                "  {:<15}  {:<15}  {:<55}",
                "Command", "command,all", "Execute Asterisk CLI Command"
            )
        );
        assert_eq!(
            lines[3],
            format!(
                "  {:<15}  {:<15}  {:<55}",
                "Ping", "<none>", "Keepalive command"
            )
        );
        // V1 classes only (reporting is modern), synopsis cut at 55.
        assert_eq!(
            lines[4],
            format!(
                "  {:<15}  {:<15}  {}",
                "Status",
                "call,all",
                &"Lists channel status along with all the details of every channel, long"[..55]
            )
        );
    }

    #[test]
    fn one_command() {
        let all = actions();
        assert_eq!(
            command(&all, "COMMAND"),
            "Action: Command\nSynopsis: Execute Asterisk CLI Command\n\
             Privilege: command,all\nRun a CLI command.\n"
        );
        assert_eq!(
            command(&all, "ping"),
            "Action: Ping\nSynopsis: Keepalive command\nPrivilege: <none>\n\n"
        );
        assert_eq!(command(&all, "Nope"), "");
    }

    #[test]
    fn connected_rows() {
        let rows = [
            Connected {
                username: "admin".into(),
                ip: "127.0.0.1".parse().unwrap(),
            },
            Connected {
                username: String::new(),
                ip: "::ffff:10.0.0.7".parse().unwrap(),
            },
        ];
        assert_eq!(
            connected(&rows),
            "  Username         IP Address     \n\
             \x20 admin            127.0.0.1      \n\
             \x20                  10.0.0.7       \n\
             2 users connected.\n"
        );
        assert_eq!(
            connected(&[]),
            "  Username         IP Address     \n0 users connected.\n"
        );
    }

    fn config_users(toml: &str) -> Vec<User> {
        let path = std::path::Path::new("/etc/ami/amihost.toml");
        crate::config::Config::from_toml_str(toml, path)
            .unwrap()
            .users
    }

    #[test]
    fn users_list_and_detail() {
        let all = config_users(
            "[users.admin]\nsecret = \"s3cret\"\nread = \"system,call\"\nwrite = \"all\"\n\
             permit = [\"127.0.0.1/32\", \"10.0.0.0/8\"]\ndeny = [\"0.0.0.0/0\"]\n\n\
             [users.nosecret]\ndisplayconnects = false\n",
        );
        assert_eq!(
            users(&all),
            "\nusername\n--------\nadmin\nnosecret\n-------------------\n\
             2 manager users configured.\n"
        );
        assert_eq!(users(&[]), "There are no manager users.\n");
        let admin = user(&all, "ADMIN");
        assert_eq!(
            admin,
            "\n       username: admin\n         secret: <Set>\n\
             \x20          deny: 0.0.0.0/0\n         permit: 127.0.0.1/32, 10.0.0.0/8\n\
             \x20          read: system,call\n          write: all\n\
             displayconnects: yes\n"
        );
        assert!(!admin.contains("s3cret"));
        assert_eq!(
            user(&all, "nosecret"),
            "\n       username: nosecret\n         secret: (N/A)\n           deny: (N/A)\n\
             \x20        permit: (N/A)\n           read: (N/A)\n          write: (N/A)\n\
             displayconnects: no\n"
        );
        assert_eq!(user(&all, "bob"), "There is no manager called bob\n");
    }

    #[test]
    fn eventq_reports_the_ring() {
        assert_eq!(
            eventq(4096, 2),
            "No master event queue: events are broadcast to the sessions as they happen.\n\
             Ring size: 4096\nReceiving sessions: 2\n"
        );
    }
}
