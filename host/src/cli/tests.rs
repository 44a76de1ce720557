//! Command matching and the commands that read the shared state.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::*;
use crate::config::Config;
use crate::pbx::{
    BoxFuture, ChannelError, ChannelSnapshot, DialplanTarget, ExtensionState, MailboxCounts,
    OriginateOutcome, OriginateRequest, Pbx,
};
use crate::privilege::Privilege;
use crate::state::{AuthState, SessionInfo, Transport};

/// A PBX with the given channels and a two-context dialplan; nothing else.
#[derive(Default)]
pub(super) struct TestPbx {
    pub channels: Vec<ChannelSnapshot>,
}

impl Pbx for TestPbx {
    fn channels(&self) -> Vec<ChannelSnapshot> {
        self.channels.clone()
    }
    fn channel(&self, _name: &str) -> Option<ChannelSnapshot> {
        None
    }
    fn hangup(&self, _name: &str, _cause: u32) -> Result<(), ChannelError> {
        Err(ChannelError::NoSuchChannel)
    }
    fn redirect(&self, _name: &str, _target: &DialplanTarget) -> Result<(), ChannelError> {
        Err(ChannelError::NoSuchChannel)
    }
    fn set_absolute_timeout(&self, _name: &str, _seconds: i64) -> Result<(), ChannelError> {
        Err(ChannelError::NoSuchChannel)
    }
    fn atxfer(
        &self,
        _name: &str,
        _exten: &str,
        _context: Option<&str>,
    ) -> Result<(), ChannelError> {
        Err(ChannelError::NoSuchChannel)
    }
    fn originate(&self, request: OriginateRequest) -> BoxFuture<'static, OriginateOutcome> {
        Box::pin(async move {
            OriginateOutcome {
                success: false,
                reason: 0,
                channel: request.channel,
                uniqueid: None,
            }
        })
    }
    fn get_var(&self, _channel: Option<&str>, _name: &str) -> Result<Option<String>, ChannelError> {
        Ok(None)
    }
    fn set_var(
        &self,
        _channel: Option<&str>,
        _name: &str,
        _value: &str,
    ) -> Result<(), ChannelError> {
        Ok(())
    }
    fn hint_state(&self, _exten: &str, _context: &str) -> ExtensionState {
        ExtensionState {
            hint: String::new(),
            status: -1,
        }
    }
    fn find_label(&self, _context: &str, _exten: &str, _label: &str) -> Option<u32> {
        None
    }
    fn mailbox_counts(&self, _mailbox: &str) -> MailboxCounts {
        MailboxCounts::default()
    }
    fn dialplan_show(&self, context: Option<&str>) -> String {
        match context {
            None => "[ Context 'default' ]\n[ Context 'other' ]".into(),
            Some(c) => format!("[ Context '{c}' ]\n"),
        }
    }
    fn current_calls(&self) -> u32 {
        self.channels.len() as u32
    }
    fn processed_calls(&self) -> u32 {
        5
    }
}

fn one_channel() -> TestPbx {
    TestPbx {
        channels: vec![ChannelSnapshot {
            name: "SIP/100-00000001".into(),
            state: 6,
            context: "default".into(),
            exten: "200".into(),
            priority: 2,
            application: "Wait".into(),
            application_data: "10".into(),
            ..ChannelSnapshot::default()
        }],
    }
}

/// A [`Shared`] without plugins, built as `server::start` builds it.
pub(super) fn test_shared(config: Config, pbx: Arc<dyn Pbx>) -> Arc<Shared> {
    use std::sync::atomic::AtomicU64;
    use std::sync::{Mutex, RwLock};

    let runtime = match crate::plugins::PluginRuntime::new(None) {
        Ok(r) => r,
        Err(e) => panic!("plugin runtime: {e:#}"),
    };
    let now = SystemTime::now();
    Arc::new(Shared {
        bus: crate::events::EventBus::new(config.general.event_queue),
        config: RwLock::new(Arc::new(config)),
        registry: RwLock::new(Arc::new(crate::registry::Registry::default())),
        runtime,
        pbx,
        sessions: crate::state::SessionTable::default(),
        started: now,
        reloaded: Mutex::new(now),
        registry_generation: AtomicU64::new(0),
        admission: Default::default(),
        spinners: Default::default(),
        plugins: Mutex::new(crate::plugins::manager::PluginSet::default()),
        // Read only (a rescan finds nothing), so one directory serves every test run.
        plugin_dir: {
            let d = std::env::temp_dir().join("amihost-cli-tests-no-plugins");
            let _ = std::fs::create_dir_all(&d);
            d
        },
        reload_lock: tokio::sync::Mutex::new(()),
    })
}

const USERS: &str = "[users.admin]\nsecret = \"amp111\"\nread = \"all\"\nwrite = \"all\"\n\n\
                     [users.reader]\nsecret = \"r\"\nread = \"call\"\n";

fn shared_with(toml: &str, pbx: Arc<dyn Pbx>) -> Arc<Shared> {
    let config = match Config::from_toml_str(toml, Path::new("/nonexistent/amihost.toml")) {
        Ok(c) => c,
        Err(e) => panic!("{e}"),
    };
    test_shared(config, pbx)
}

fn session(shared: &Shared, peer: &str, user: Option<&str>) {
    let peer: SocketAddr = peer.parse().unwrap();
    let info = Arc::new(SessionInfo::new(
        peer,
        Transport::Tcp,
        Dialect::V1,
        Privilege::ALL,
    ));
    if let Some(name) = user {
        info.set_auth(AuthState {
            authenticated: true,
            username: name.into(),
            read: Privilege::ALL,
            write: Privilege::ALL,
            dialect: Dialect::V1,
        });
    }
    shared.sessions.insert(info);
}

#[test]
fn matching_is_by_words_case_insensitive_longest_first() {
    let words = split("  MANAGER\tShow  command   Ping ");
    assert_eq!(words, ["MANAGER", "Show", "command", "Ping"]);
    let c = find(&words).unwrap();
    assert_eq!(c.words, ["manager", "show", "command"]);
    // "manager show commands" is not "manager show command" with an argument.
    assert_eq!(
        find(&split("manager show commands")).unwrap().words,
        ["manager", "show", "commands"]
    );
    // "module reload manager": the longest prefix is "module reload", not "reload".
    assert_eq!(
        find(&split("module reload manager")).unwrap().words,
        ["module", "reload"]
    );
    assert_eq!(find(&split("reload manager")).unwrap().words, ["reload"]);
    assert_eq!(
        find(&split("show manager connected")).unwrap().replaced_by,
        Some("manager show connected")
    );
    assert!(find(&split("manager show")).is_none());
    assert!(find(&split("core show channel SIP/1")).is_none());
    assert!(find(&split("managers show users")).is_none());
}

#[test]
fn unknown_and_blank_lines() {
    let shared = shared_with(USERS, Arc::new(TestPbx::default()));
    let out = run(&shared, "no such cli command\n");
    assert_eq!(
        out,
        CommandOutput {
            found: false,
            text: "No such command 'no such cli command' (type 'help' for help)\n".into()
        }
    );
    assert_eq!(
        run(&shared, "   "),
        CommandOutput {
            found: true,
            text: String::new()
        }
    );

    // Commands and their deprecated spellings print the same.
    let version = run(&shared, "core show version");
    assert!(version.found);
    assert_eq!(version.text, version_line());
    assert!(version.text.starts_with(&format!(
        "ami-host {} (AMI 1.0, 11.0.0) on a ",
        env!("CARGO_PKG_VERSION")
    )));
    assert_eq!(run(&shared, "SHOW VERSION"), version);
    assert_eq!(
        run(&shared, "show manager connected"),
        run(&shared, "manager show connected")
    );

    // Wrong arguments print the usage.
    let usage = run(&shared, "core show version now");
    assert!(usage.found);
    assert!(usage.text.starts_with("Usage: core show version\n"));
    assert!(run(&shared, "manager show command")
        .text
        .starts_with("Usage: manager show command <actionname>\n"));
    assert!(run(&shared, "manager show command Ping Status")
        .text
        .starts_with("Usage: manager show command"));
    assert!(run(&shared, "manager show user")
        .text
        .starts_with("Usage: manager show user <user>\n"));
    assert!(run(&shared, "core show channels wide")
        .text
        .starts_with("Usage: core show channels [concise|verbose|count]\n"));
}

#[test]
fn uptime_in_asterisk_words() {
    assert_eq!(uptime_words(0), "0 seconds");
    assert_eq!(uptime_words(1), "1 second");
    assert_eq!(uptime_words(3723), "1 hour, 2 minutes, 3 seconds");
    assert_eq!(uptime_words(7200), "2 hours");
    assert_eq!(uptime_words(86_400 + 60), "1 day, 1 minute");
    assert_eq!(
        uptime_words(365 * 86_400 + 14 * 86_400 + 1),
        "1 year, 2 weeks, 1 second"
    );
    assert_eq!(
        uptime_text(3723, 5, false),
        "System uptime: 1 hour, 2 minutes, 3 seconds\nLast reload: 5 seconds\n"
    );
    assert_eq!(
        uptime_text(3723, 5, true),
        "System uptime: 3723\nLast reload: 5\n"
    );
}

#[test]
fn shared_state_commands() {
    let shared = shared_with(USERS, Arc::new(one_channel()));

    // Uptime reads the start and reload times.
    let started = SystemTime::now() - Duration::from_secs(3723);
    let shared = Arc::new(Shared {
        started,
        ..match Arc::try_unwrap(shared) {
            Ok(s) => s,
            Err(_) => panic!("shared is not unique"),
        }
    });
    let up = run(&shared, "core show uptime").text;
    assert!(
        up.starts_with("System uptime: 1 hour, 2 minutes, 3"),
        "{up}"
    );
    assert!(up.contains("\nLast reload: "), "{up}");
    let up = run(&shared, "core show uptime seconds").text;
    assert!(up.starts_with("System uptime: 372"), "{up}");

    // Channels come from the PBX.
    let text = run(&shared, "core show channels").text;
    assert!(text.contains("SIP/100-00000001     200@default:2        Up      Wait(10)"));
    assert!(text.ends_with("1 active channel\n1 active call\n5 calls processed\n"));
    assert_eq!(
        run(&shared, "core show channels concise").text,
        "SIP/100-00000001!default!200!2!Up!Wait!10!!!0!0!(None)\n"
    );
    assert_eq!(run(&shared, "show channels").text, text);

    // Dialplan: passed through, ended with a line end.
    assert_eq!(
        run(&shared, "dialplan show").text,
        "[ Context 'default' ]\n[ Context 'other' ]\n"
    );
    assert_eq!(
        run(&shared, "dialplan show other").text,
        "[ Context 'other' ]\n"
    );
    assert!(run(&shared, "dialplan show a b").text.starts_with("Usage:"));

    // Sessions, logged in or not.
    session(&shared, "127.0.0.1:40000", Some("admin"));
    session(&shared, "10.1.2.3:40001", None);
    session(&shared, "127.0.0.1:40002", Some("reader"));
    assert_eq!(
        run(&shared, "manager show connected").text,
        format!(
            "  {:<15}  {:<15}\n  {:<15}  {:<15}\n  {:<15}  {:<15}\n  {:<15}  {:<15}\n\
             3 users connected.\n",
            "Username", "IP Address", "", "10.1.2.3", "admin", "127.0.0.1", "reader", "127.0.0.1"
        )
    );

    // Users from the configuration in force; never a secret.
    assert_eq!(
        run(&shared, "manager show users").text,
        "\nusername\n--------\nadmin\nreader\n-------------------\n2 manager users configured.\n"
    );
    let admin = run(&shared, "manager show user Admin").text;
    assert!(admin.contains("         secret: <Set>\n"), "{admin}");
    assert!(!admin.contains("amp111"));
    assert_eq!(
        run(&shared, "manager show user nobody").text,
        "There is no manager called nobody\n"
    );

    // No plugins: only the table's header; Login and Challenge are not listed in 1.0.
    let commands = run(&shared, "manager show commands").text;
    assert_eq!(commands.lines().count(), 2);
    assert_eq!(run(&shared, "manager show command Login").text, "");

    assert_eq!(
        run(&shared, "manager show eventq").text,
        "No master event queue: events are broadcast to the sessions as they happen.\n\
         Ring size: 4096\nReceiving sessions: 0\n"
    );
}

#[test]
fn reload_prints_nothing_or_the_error() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        tokio::task::spawn_blocking(reload_prints_nothing_or_the_error_body)
            .await
            .unwrap()
    });
}

fn reload_prints_nothing_or_the_error_body() {
    let dir = crate::testdir::TempDir::new("cli-reload");
    let file = dir.write("amihost.toml", USERS);
    let config = Config::load(&file).unwrap();
    let shared = test_shared(config, Arc::new(TestPbx::default()));

    std::fs::write(&file, format!("{USERS}\n[users.new]\nsecret = \"n\"\n")).unwrap();
    for line in [
        "reload",
        "module reload manager",
        "reload manager",
        "module reload",
    ] {
        assert_eq!(run(&shared, line).text, "", "{line}");
    }
    assert_eq!(shared.config().users.len(), 3);

    assert_eq!(
        run(&shared, "reload chan_sip.so manager").text,
        "No such module 'chan_sip.so'\n"
    );

    std::fs::write(&file, "[general]\nport = \"x\"\n").unwrap();
    let failed = run(&shared, "reload manager").text;
    assert!(
        failed.starts_with("Configuration not reloaded: ") && failed.contains("port"),
        "{failed}"
    );
    assert_eq!(shared.config().users.len(), 3);
}

#[test]
fn help_lists_and_explains() {
    let list = help_text(&[]);
    let names = command_names();
    assert_eq!(list.lines().count(), names.len());
    assert!(list.contains(&format!(
        "{:>25}  Display version info\n",
        "core show version"
    )));
    assert!(!list.contains("show manager"));
    assert_eq!(help_text(&["core", "show", "uptime"]), UPTIME_USAGE);
    assert_eq!(help_text(&["SHOW", "MANAGER", "EVENTQ"]), EVENTQ_USAGE);
    let managers = help_text(&["manager", "show", "user"]);
    assert_eq!(managers, USER_USAGE);
    let prefix = help_text(&["manager"]);
    assert_eq!(prefix.lines().count(), 7, "{prefix}");
    assert_eq!(
        help_text(&["frobnicate"]),
        "No such command 'frobnicate'.\n"
    );
}

#[test]
fn core_show_tasks_reads_the_runtime() {
    let shared = shared_with(USERS, Arc::new(TestPbx::default()));
    session(&shared, "127.0.0.1:4000", Some("admin"));
    // Outside a runtime: says so, still counts the sessions.
    let out = run(&shared, "core show tasks").text;
    assert!(out.starts_with("Tokio tasks alive: unknown"), "{out}");
    assert!(out.contains("\nManager sessions: 1\n"), "{out}");
    // On a runtime's blocking pool, as the control socket and `Command` run it.
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => panic!("{e}"),
    };
    let out = rt.block_on(async {
        let _parked = tokio::spawn(std::future::pending::<()>());
        let shared = shared.clone();
        match tokio::task::spawn_blocking(move || run(&shared, "core show tasks").text).await {
            Ok(t) => t,
            Err(e) => panic!("{e}"),
        }
    });
    let alive = out
        .lines()
        .find_map(|l| l.strip_prefix("Tokio tasks alive: "))
        .and_then(|n| n.parse::<usize>().ok());
    assert!(alive.is_some_and(|n| n >= 1), "{out}");
    assert!(out.contains("Tokio worker threads: 2\n"), "{out}");
    assert!(run(&shared, "core show tasks now")
        .text
        .starts_with("Usage: core show tasks\n"));
    rt.shutdown_background();
}
