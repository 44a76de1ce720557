//! The host configuration: `[general]` listener settings, plugin limits and grants, the
//! HTTP server and the manager users.
//!
//! Two formats are read ([`Config::load`] picks by extension):
//!
//! * **TOML** (any name not ending in `.conf`), the host's own format. Every section is
//!   optional; unknown sections and keys, wrong types and bad values are errors that name
//!   the qualified key (`users.admin.read`) and its line.
//! * **Asterisk** `manager.conf` (a path ending in `.conf`), read with Asterisk 1.4's
//!   semantics (reference §6.1–6.4), plus `users.conf` (users with `hasmanager`) and
//!   `http.conf` (`[general]`) when they sit in the same directory.
//!
//! Deliberate differences from Asterisk 1.4 (see the compatibility policy): permission
//! lists match whole class names only and reject unknown names; invalid values (port,
//! address, boolean word, ACL rule) are load errors rather than warnings with a fallback;
//! the default bind address is `127.0.0.1`.

pub mod conf_file;

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use toml::Spanned;

use crate::dialect::Dialect;
use crate::privilege::{is_false, is_true, Privilege};

use self::conf_file::{Category, ConfError, ConfFile, Var};

/// The capability names a plugin may be granted (`[plugins.NAME] grants`).
pub const GRANT_NAMES: &[&str] = &[
    "events",
    "session",
    "log",
    "core",
    "channels",
    "variables",
    "dialplan",
    "mailboxes",
    "config-files",
    "cli",
    "modules",
];

/// The whole configuration.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// The path given to [`Config::load`].
    pub source: PathBuf,
    /// The directory of that file; relative paths in the config resolve against it.
    pub dir: PathBuf,
    /// `[general]`.
    pub general: General,
    /// `[plugins]` and `[plugins.NAME]` (TOML only).
    pub plugins: PluginsConfig,
    /// `[http]` (TOML) or `http.conf`'s `[general]`.
    pub http: HttpConfig,
    /// `[pbx]` and `[pbx.devices]`: the embedded PBX.
    pub pbx: PbxConfig,
    /// The users in file order: `manager.conf` (or TOML) users first, then `users.conf`
    /// users whose name is not already taken.
    pub users: Vec<User>,
}

/// `[general]`.
#[derive(Debug, Clone)]
pub struct General {
    /// Start the TCP listener. Defaults to true in TOML (the host exists to serve AMI)
    /// and to false in `manager.conf`, as in Asterisk.
    pub enabled: bool,
    /// TCP port (5038).
    pub port: u16,
    /// Listen address. Defaults to `127.0.0.1`, which is safer than Asterisk's
    /// `0.0.0.0`: exposing AMI to the network has to be asked for.
    pub bindaddr: IpAddr,
    /// Log connects, logins and logoffs (true).
    pub displayconnects: bool,
    /// Add `Timestamp:` to events (false).
    pub timestampevents: bool,
    /// Serve the manager over HTTP (false); needs the HTTP server enabled too.
    pub webenabled: bool,
    /// HTTP session lifetime in seconds (60); always > 0.
    pub httptimeout: u32,
    /// `block-sockets` (false).
    pub block_sockets: bool,
    /// `dialect`: the listener's wire dialect, `"1.0"` (default) or `"modern"`.
    pub dialect: Dialect,
    /// `eventqueue`: how many events may wait for one session (4096, at least 16).
    pub event_queue: usize,
    /// `authtimeout`: seconds an unauthenticated TCP session may take to log in (30,
    /// 1..=3600), counted from the connect, so a client trickling bytes gains nothing.
    pub authtimeout: u32,
    /// `messagetimeout`: seconds a request may take to arrive once its first byte has
    /// (30, 1..=3600). A logged-in client trickling a request slower than that is
    /// closed, so it cannot pin a session's buffers indefinitely.
    pub messagetimeout: u32,
    /// `authlimit`: unauthenticated TCP sessions allowed at once; a connection beyond
    /// that is closed at accept (50, 1..=100000).
    pub authlimit: u32,
    /// `loginfailures`: failed logins per peer address within `loginfailurewindow`
    /// before further logins from it are refused unchecked (10; 0 turns this off).
    pub loginfailures: u32,
    /// `loginfailurewindow`: the window of `loginfailures`, in seconds (60, 1..=86400).
    pub loginfailurewindow: u32,
    /// `writetimeout`: milliseconds an event write may stay blocked before the session
    /// is closed, unless the user sets its own (5000, at least 100). Asterisk's default
    /// is 100 ms; ours is larger so that a busy machine (the test suite runs many hosts
    /// on a loaded 2-core box, over loopback) does not drop healthy listeners.
    pub writetimeout: u64,
    /// `busypoll`: microseconds a session polls for its client's next request after
    /// replying to a lone request, while that client answers quickly (50, 0..=1000; 0
    /// turns polling off). See [`crate::busypoll`]. Read when a session connects.
    pub busypoll: u32,
}

impl Default for General {
    fn default() -> Self {
        General {
            enabled: true,
            port: 5038,
            bindaddr: IpAddr::V4(Ipv4Addr::LOCALHOST),
            displayconnects: true,
            timestampevents: false,
            webenabled: false,
            httptimeout: 60,
            block_sockets: false,
            dialect: Dialect::V1,
            event_queue: 4096,
            authtimeout: 30,
            messagetimeout: 30,
            authlimit: 50,
            loginfailures: 10,
            loginfailurewindow: 60,
            writetimeout: 5000,
            busypoll: 50,
        }
    }
}

/// `[plugins]`.
#[derive(Debug, Clone)]
pub struct PluginsConfig {
    /// `dir`: where the `.wasm` plugins are, resolved against [`Config::dir`].
    pub dir: Option<PathBuf>,
    /// `cache-dir`: compiled-code cache, resolved against [`Config::dir`].
    pub cache_dir: Option<PathBuf>,
    /// `cpu-deadline-ms`: default CPU budget of one call (1000, 1..=600000).
    pub cpu_deadline_ms: u64,
    /// `memory-limit-mb`: default memory limit of an instance (64, 1..=4096).
    pub memory_limit_mb: u64,
    /// `response-limit-kb`: default limit on one reply (1024, at least 1).
    pub response_limit_kb: u64,
    /// `[plugins.NAME]` tables, keyed by NAME (the `.wasm` file stem).
    pub per_plugin: BTreeMap<String, PluginSettings>,
}

impl Default for PluginsConfig {
    fn default() -> Self {
        PluginsConfig {
            dir: None,
            cache_dir: None,
            cpu_deadline_ms: 1000,
            memory_limit_mb: 64,
            response_limit_kb: 1024,
            per_plugin: BTreeMap::new(),
        }
    }
}

/// `[plugins.NAME]`: settings of one plugin; `None` means the `[plugins]` default.
#[derive(Debug, Clone)]
pub struct PluginSettings {
    /// `grants`: capability names, each one of [`GRANT_NAMES`].
    pub grants: Option<Vec<String>>,
    /// `cpu-deadline-ms`.
    pub cpu_deadline_ms: Option<u64>,
    /// `memory-limit-mb`.
    pub memory_limit_mb: Option<u64>,
    /// `response-limit-kb`.
    pub response_limit_kb: Option<u64>,
    /// `enabled` (true): false skips the plugin.
    pub enabled: bool,
}

impl Default for PluginSettings {
    fn default() -> Self {
        PluginSettings {
            grants: None,
            cpu_deadline_ms: None,
            memory_limit_mb: None,
            response_limit_kb: None,
            enabled: true,
        }
    }
}

/// The HTTP server (`[http]` in TOML, `http.conf` `[general]` for the `.conf` form).
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// `enabled` (false).
    pub enabled: bool,
    /// `bindaddr` (127.0.0.1).
    pub bindaddr: IpAddr,
    /// `bindport` (8088).
    pub bindport: u16,
    /// `prefix` ("asterisk"); empty means no prefix.
    pub prefix: String,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            enabled: false,
            bindaddr: IpAddr::V4(Ipv4Addr::LOCALHOST),
            bindport: 8088,
            prefix: "asterisk".to_string(),
        }
    }
}

/// How a simulated device answers a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceBehaviour {
    /// Rings, then answers after this many milliseconds.
    Answer(u64),
    /// Busy.
    Busy,
    /// Rings until the caller gives up.
    NoAnswer,
    /// Unreachable.
    Unavailable,
    /// Network congestion.
    Congestion,
}

impl DeviceBehaviour {
    /// Parses `answer`, `answer <ms>`, `busy`, `noanswer`, `unavailable`, `congestion`.
    pub fn parse(text: &str) -> Result<DeviceBehaviour, String> {
        let words: Vec<&str> = text.split_whitespace().collect();
        match words.as_slice() {
            [w] if w.eq_ignore_ascii_case("answer") => Ok(DeviceBehaviour::Answer(500)),
            [w, ms] if w.eq_ignore_ascii_case("answer") => ms
                .parse()
                .map(DeviceBehaviour::Answer)
                .map_err(|_| format!("\"{ms}\" is not a number of milliseconds")),
            [w] if w.eq_ignore_ascii_case("busy") => Ok(DeviceBehaviour::Busy),
            [w] if w.eq_ignore_ascii_case("noanswer") => Ok(DeviceBehaviour::NoAnswer),
            [w] if w.eq_ignore_ascii_case("unavailable") => Ok(DeviceBehaviour::Unavailable),
            [w] if w.eq_ignore_ascii_case("congestion") => Ok(DeviceBehaviour::Congestion),
            _ => Err(format!(
                "\"{text}\" is not a device behaviour (answer [ms], busy, noanswer, unavailable, congestion)"
            )),
        }
    }
}

/// The embedded PBX (`[pbx]`).
#[derive(Debug, Clone, Default)]
pub struct PbxConfig {
    /// `config-dir`: Asterisk-format `.conf` files (`extensions.conf`, ...); default the
    /// directory of the configuration file.
    pub config_dir: Option<PathBuf>,
    /// `spool-dir`: Asterisk's spool (`<spool>/voicemail/<context>/<box>/INBOX|Old`);
    /// default `<config-dir>/spool`.
    pub spool_dir: Option<PathBuf>,
    /// `[pbx.devices]`: `"SIP/100" = "answer 500"`, in file order.
    pub devices: Vec<(String, DeviceBehaviour)>,
}

impl PbxConfig {
    /// The config directory in force for `config`.
    pub fn config_dir_of(config: &Config) -> PathBuf {
        config
            .pbx
            .config_dir
            .clone()
            .unwrap_or_else(|| config.dir.clone())
    }

    /// The spool directory in force for `config`.
    pub fn spool_dir_of(config: &Config) -> PathBuf {
        config
            .pbx
            .spool_dir
            .clone()
            .unwrap_or_else(|| PbxConfig::config_dir_of(config).join("spool"))
    }
}

/// Where a user was defined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserSource {
    /// `manager.conf`, or the TOML file.
    ManagerConf,
    /// `users.conf` (`hasmanager = yes`): no ACL, no MD5 login.
    UsersConf,
}

/// A manager user.
#[derive(Debug, Clone)]
pub struct User {
    /// The name as spelled in the file (logins match it case-insensitively).
    pub name: String,
    /// The plaintext secret; a user without one cannot log in. An empty `secret =` is
    /// kept as `Some("")`, which (as in Asterisk) matches an empty `Secret:`.
    pub secret: Option<String>,
    /// Event classes the user may receive.
    pub read: Privilege,
    /// Action classes the user may run.
    pub write: Privilege,
    /// `read` as configured ("" if absent), for `manager show user`.
    pub read_text: String,
    /// `write` as configured ("" if absent).
    pub write_text: String,
    /// The ACL in evaluation order (see [`User::acl_allows`]).
    pub acl: Vec<AclRule>,
    /// The `permit` rules as written.
    pub permit_text: Vec<String>,
    /// The `deny` rules as written.
    pub deny_text: Vec<String>,
    /// `displayconnects` (true).
    pub displayconnects: bool,
    /// Per-user dialect override.
    pub dialect: Option<Dialect>,
    /// `writetimeout` in milliseconds (at least 100); `None` means `[general]`'s.
    pub writetimeout: Option<u64>,
    /// Where the user was defined.
    pub source: UserSource,
}

impl User {
    fn new(name: &str, source: UserSource) -> User {
        User {
            name: name.to_string(),
            secret: None,
            read: Privilege::NONE,
            write: Privilege::NONE,
            read_text: String::new(),
            write_text: String::new(),
            acl: Vec::new(),
            permit_text: Vec::new(),
            deny_text: Vec::new(),
            displayconnects: true,
            dialect: None,
            writetimeout: None,
            source,
        }
    }

    /// Whether the ACL lets `ip` log in as this user (reference §6.3): start with allow,
    /// every rule that [matches](AclRule::matches) `ip` sets the verdict, the last match
    /// wins; no rules means no restriction.
    pub fn acl_allows(&self, ip: IpAddr) -> bool {
        let mut allow = true;
        for rule in &self.acl {
            if rule.matches(ip) {
                allow = rule.permit;
            }
        }
        allow
    }

    /// Whether MD5 challenge/response login is possible (not for `users.conf` users).
    pub fn md5_allowed(&self) -> bool {
        self.source == UserSource::ManagerConf
    }
}

/// One `permit`/`deny` rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AclRule {
    /// True for `permit`, false for `deny`.
    pub permit: bool,
    /// The address ANDed with the mask: IPv4 or IPv6.
    pub network: IpAddr,
    /// The netmask, of the same family as `network`.
    pub mask: IpAddr,
}

impl AclRule {
    /// Parses `address[/mask]`. An IPv4 address is read as `inet_aton` reads it (dotted
    /// quad, or Asterisk's short forms such as `10.1`), its mask as a dotted quad or a
    /// prefix length 0–32. An IPv6 address (it has a `:`; brackets allowed) takes a prefix
    /// length 0–128. No mask means a single host. The error names the bad text.
    pub fn parse(permit: bool, text: &str) -> Result<AclRule, String> {
        let text = text.trim();
        let (addr_text, mask_text) = match text.split_once('/') {
            Some((a, m)) => (a.trim(), Some(m.trim())),
            None => (text, None),
        };
        if addr_text.contains(':') {
            return AclRule::parse_v6(permit, text, addr_text, mask_text);
        }
        let addr = inet_aton(addr_text)
            .ok_or_else(|| format!("\"{text}\": \"{addr_text}\" is not a valid IPv4 address"))?;
        let mask = match mask_text {
            None => u32::MAX,
            Some(m) if m.contains('.') => {
                inet_aton(m).ok_or_else(|| format!("\"{text}\": \"{m}\" is not a valid netmask"))?
            }
            Some(m) => {
                let bits = m
                    .parse::<u32>()
                    .ok()
                    .filter(|b| *b <= 32 && !m.starts_with('+'))
                    .ok_or_else(|| {
                        format!("\"{text}\": netmask \"{m}\" must be a prefix length 0-32 or a dotted quad")
                    })?;
                u32::MAX.checked_shl(32 - bits).unwrap_or(0)
            }
        };
        Ok(AclRule {
            permit,
            network: IpAddr::V4(Ipv4Addr::from(addr & mask)),
            mask: IpAddr::V4(Ipv4Addr::from(mask)),
        })
    }

    /// The IPv6 part of [`parse`](Self::parse).
    fn parse_v6(
        permit: bool,
        text: &str,
        addr_text: &str,
        mask_text: Option<&str>,
    ) -> Result<AclRule, String> {
        let bare = addr_text
            .strip_prefix('[')
            .and_then(|a| a.strip_suffix(']'))
            .unwrap_or(addr_text);
        let addr: Ipv6Addr = bare
            .parse()
            .map_err(|_| format!("\"{text}\": \"{addr_text}\" is not a valid IPv6 address"))?;
        let bits = match mask_text {
            None => 128,
            Some(m) => m
                .parse::<u32>()
                .ok()
                .filter(|b| *b <= 128 && !m.starts_with('+'))
                .ok_or_else(|| {
                    format!("\"{text}\": netmask \"{m}\" must be a prefix length 0-128")
                })?,
        };
        let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
        Ok(AclRule {
            permit,
            network: IpAddr::V6(Ipv6Addr::from(u128::from(addr) & mask)),
            mask: IpAddr::V6(Ipv6Addr::from(mask)),
        })
    }

    /// Whether the rule applies to a peer at `ip`. An IPv4 rule compares an IPv4 peer, or
    /// an IPv4-mapped IPv6 one, as `(ip & mask) == network`; any other IPv6 peer it
    /// matches only with a zero mask (`0.0.0.0/0` stands for everyone, as in Asterisk).
    /// An IPv6 rule compares an IPv6 peer, or an IPv4 peer in its mapped form
    /// (`::ffff:a.b.c.d`), the same way.
    pub fn matches(&self, ip: IpAddr) -> bool {
        match (self.network, self.mask) {
            (IpAddr::V4(network), IpAddr::V4(mask)) => {
                let mask = u32::from(mask);
                let v4 = match ip {
                    IpAddr::V4(v4) => Some(v4),
                    IpAddr::V6(v6) => v6.to_ipv4_mapped(),
                };
                match v4 {
                    Some(v4) => u32::from(v4) & mask == u32::from(network),
                    None => mask == 0,
                }
            }
            (IpAddr::V6(network), IpAddr::V6(mask)) => {
                let v6 = match ip {
                    IpAddr::V4(v4) => v4.to_ipv6_mapped(),
                    IpAddr::V6(v6) => v6,
                };
                u128::from(v6) & u128::from(mask) == u128::from(network)
            }
            // Not made by `parse`: a rule of mixed families matches nothing.
            _ => false,
        }
    }
}

/// `inet_aton`: one to four parts separated by dots, each decimal, octal (leading 0) or
/// hex (leading 0x); the last part fills the remaining bytes.
fn inet_aton(text: &str) -> Option<u32> {
    let parts: Vec<&str> = text.split('.').collect();
    if parts.is_empty() || parts.len() > 4 {
        return None;
    }
    let mut values = Vec::with_capacity(parts.len());
    for part in &parts {
        let (digits, radix) =
            if let Some(hex) = part.strip_prefix("0x").or_else(|| part.strip_prefix("0X")) {
                (hex, 16)
            } else if part.len() > 1 && part.starts_with('0') {
                (&part[1..], 8)
            } else {
                (*part, 10)
            };
        if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
            return None;
        }
        values.push(u32::from_str_radix(digits, radix).ok()?);
    }
    let (last, head) = values.split_last()?;
    let mut addr = 0u32;
    for (i, v) in head.iter().enumerate() {
        if *v > 255 {
            return None;
        }
        addr |= v << (24 - 8 * i);
    }
    let room = 32 - 8 * head.len() as u32;
    if room < 32 && *last >> room != 0 {
        return None;
    }
    Some(addr | last)
}

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A syntax error or a bad key or value.
    #[error("{path}:{line}: {message}")]
    Invalid {
        /// The file holding the bad line (for `.conf`, possibly an included file).
        path: PathBuf,
        /// Its 1-based line.
        line: usize,
        /// The key concerned, qualified in TOML (`users.admin.read`); empty for syntax
        /// errors.
        key: String,
        /// What is wrong, naming the key.
        message: String,
    },
}

impl Config {
    /// Loads the configuration from `path`: the Asterisk format when it ends in `.conf`,
    /// TOML otherwise. A file over [`conf_file::MAX_CONFIG_BYTES`] is an `Io` error naming
    /// it.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let is_conf = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("conf"));
        if is_conf {
            return load_asterisk(path);
        }
        let io_error = |source| ConfigError::Io {
            path: path.to_path_buf(),
            source,
        };
        let bytes = conf_file::read_capped(path).map_err(io_error)?;
        let text = String::from_utf8(bytes).map_err(|_| {
            io_error(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "stream did not contain valid UTF-8",
            ))
        })?;
        Config::from_toml_str(&text, path)
    }

    /// Parses TOML text; `path` is used in messages and to set [`Config::dir`].
    pub fn from_toml_str(text: &str, path: &Path) -> Result<Config, ConfigError> {
        TomlReader { text, path }.read()
    }

    /// The first user named `name`, compared case-insensitively as Asterisk does.
    pub fn user(&self, name: &str) -> Option<&User> {
        self.users
            .iter()
            .find(|u| u.name.eq_ignore_ascii_case(name))
    }

    fn empty(path: &Path) -> Config {
        Config {
            source: path.to_path_buf(),
            dir: path.parent().map(Path::to_path_buf).unwrap_or_default(),
            ..Config::default()
        }
    }
}

fn warn_if_no_secret(user: &User) {
    if user.secret.is_none() {
        tracing::warn!(user = %user.name, "manager user has no secret and cannot log in");
    }
}

fn parse_dialect(value: &str) -> Result<Dialect, String> {
    Dialect::from_config(value)
        .ok_or_else(|| format!("unknown dialect \"{value}\" (expected \"1.0\" or \"modern\")"))
}

// ---------------------------------------------------------------------------------------
// TOML
// ---------------------------------------------------------------------------------------

/// A TOML value that keeps the spans error messages need: every key, and every array
/// element. (Tables declared implicitly, like `users` in `[users.admin]`, have no span of
/// their own, so values are located by their key.)
#[derive(Debug)]
enum TVal {
    Str(String),
    Int(i64),
    Float,
    Bool(bool),
    Array(Vec<Spanned<TVal>>),
    Table(Vec<(Spanned<String>, TVal)>),
}

impl TVal {
    fn kind(&self) -> &'static str {
        match self {
            TVal::Str(_) => "a string",
            TVal::Int(_) => "an integer",
            TVal::Float => "a float",
            TVal::Bool(_) => "a boolean",
            TVal::Array(_) => "an array",
            TVal::Table(_) => "a table",
        }
    }
}

struct TValVisitor;

impl<'de> Visitor<'de> for TValVisitor {
    type Value = TVal;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a TOML value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<TVal, E> {
        Ok(TVal::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<TVal, E> {
        Ok(TVal::Int(v))
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<TVal, E> {
        i64::try_from(v)
            .map(TVal::Int)
            .map_err(|_| E::custom("integer out of range"))
    }

    fn visit_f64<E>(self, _v: f64) -> Result<TVal, E> {
        Ok(TVal::Float)
    }

    fn visit_str<E>(self, v: &str) -> Result<TVal, E> {
        Ok(TVal::Str(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> Result<TVal, E> {
        Ok(TVal::Str(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<TVal, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Spanned<TVal>>()? {
            items.push(item);
        }
        Ok(TVal::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<TVal, A::Error> {
        let mut items = Vec::new();
        // A date-time arrives as a one-key map whose key cannot be spanned; the
        // deserializer then fails with a message that `TomlReader::syntax` rewrites.
        while let Some(key) = map.next_key::<Spanned<String>>()? {
            let value = map.next_value::<TVal>()?;
            items.push((key, value));
        }
        Ok(TVal::Table(items))
    }
}

impl<'de> Deserialize<'de> for TVal {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<TVal, D::Error> {
        deserializer.deserialize_any(TValVisitor)
    }
}

/// A key with its value: `key` is qualified (`users.admin.read`), `span` locates it.
struct Entry<'v> {
    key: String,
    span: Range<usize>,
    value: &'v TVal,
}

type Table = [(Spanned<String>, TVal)];

struct TomlReader<'a> {
    text: &'a str,
    path: &'a Path,
}

const SECTIONS: &[&str] = &["general", "plugins", "http", "users", "pbx"];
const GENERAL_KEYS: &[&str] = &[
    "enabled",
    "port",
    "bindaddr",
    "displayconnects",
    "timestampevents",
    "webenabled",
    "httptimeout",
    "block-sockets",
    "dialect",
    "eventqueue",
    "authtimeout",
    "messagetimeout",
    "authlimit",
    "loginfailures",
    "loginfailurewindow",
    "writetimeout",
    "busypoll",
];
const PLUGINS_KEYS: &[&str] = &[
    "dir",
    "cache-dir",
    "cpu-deadline-ms",
    "memory-limit-mb",
    "response-limit-kb",
];
const PLUGIN_KEYS: &[&str] = &[
    "grants",
    "cpu-deadline-ms",
    "memory-limit-mb",
    "response-limit-kb",
    "enabled",
];
const HTTP_KEYS: &[&str] = &["enabled", "bindaddr", "bindport", "prefix"];
const PBX_KEYS: &[&str] = &["config-dir", "spool-dir", "devices"];
const USER_KEYS: &[&str] = &[
    "secret",
    "read",
    "write",
    "permit",
    "deny",
    "displayconnects",
    "dialect",
    "writetimeout",
];

const CPU_DEADLINE_RANGE: (i64, i64) = (1, 600_000);
const MEMORY_LIMIT_RANGE: (i64, i64) = (1, 4096);
const RESPONSE_LIMIT_RANGE: (i64, i64) = (1, i64::MAX);
const AUTHTIMEOUT_RANGE: (i64, i64) = (1, 3600);
const AUTHLIMIT_RANGE: (i64, i64) = (1, 100_000);
const LOGINFAILURES_RANGE: (i64, i64) = (0, 1_000_000);
const LOGINFAILUREWINDOW_RANGE: (i64, i64) = (1, 86_400);
const WRITETIMEOUT_RANGE: (i64, i64) = (100, i64::MAX);
const BUSYPOLL_RANGE: (i64, i64) = (0, 1000);

impl<'a> TomlReader<'a> {
    fn line(&self, span: &Range<usize>) -> usize {
        let end = span.start.min(self.text.len());
        self.text.as_bytes()[..end]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1
    }

    fn err(&self, span: &Range<usize>, key: &str, message: String) -> ConfigError {
        ConfigError::Invalid {
            path: self.path.to_path_buf(),
            line: self.line(span),
            key: key.to_string(),
            message,
        }
    }

    fn syntax(&self, e: toml::de::Error) -> ConfigError {
        let message = if e.message().contains("$__toml_private_datetime") {
            "dates and times are not valid in this file".to_string()
        } else {
            e.message().trim().replace('\n', ": ")
        };
        // The toml crate gives some errors (an inline table cut off by the end of the
        // text) no message at all.
        let message = match e.span() {
            _ if !message.is_empty() => message,
            Some(span) if span.start >= self.text.trim_end().len() => {
                "invalid TOML: unexpected end of file".to_string()
            }
            _ => "invalid TOML syntax".to_string(),
        };
        ConfigError::Invalid {
            path: self.path.to_path_buf(),
            line: e.span().map_or(1, |s| self.line(&s)),
            key: String::new(),
            message,
        }
    }

    fn read(&self) -> Result<Config, ConfigError> {
        let root: TVal = toml::from_str(self.text).map_err(|e| self.syntax(e))?;
        let mut config = Config::empty(self.path);
        let TVal::Table(sections) = &root else {
            return Err(self.err(&(0..0), "", "expected a TOML table".to_string()));
        };
        for (name, value) in sections {
            let entry = Entry {
                key: name.get_ref().clone(),
                span: name.span(),
                value,
            };
            match name.get_ref().as_str() {
                "general" => self.general(&entry, &mut config.general)?,
                "plugins" => config.plugins = self.plugins(&entry, &config.dir)?,
                "http" => config.http = self.http(&entry)?,
                "pbx" => config.pbx = self.pbx(&entry, &config.dir)?,
                "users" => config.users = self.users(&entry)?,
                other => {
                    return Err(self.err(
                        &entry.span,
                        other,
                        format!(
                            "unknown section \"{other}\" (expected one of: {})",
                            SECTIONS.join(", ")
                        ),
                    ))
                }
            }
        }
        Ok(config)
    }

    // --- typed accessors -----------------------------------------------------------

    fn type_err(&self, e: &Entry, wanted: &str) -> ConfigError {
        self.err(
            &e.span,
            &e.key,
            format!("{} must be {wanted}, not {}", e.key, e.value.kind()),
        )
    }

    fn unknown(&self, e: &Entry, known: &[&str]) -> ConfigError {
        self.err(
            &e.span,
            &e.key,
            format!(
                "unknown key {} (expected one of: {})",
                e.key,
                known.join(", ")
            ),
        )
    }

    fn table<'v>(&self, e: &Entry<'v>) -> Result<&'v Table, ConfigError> {
        match e.value {
            TVal::Table(items) => Ok(items),
            _ => Err(self.type_err(e, "a table")),
        }
    }

    /// The entries of a table, with keys qualified by `e.key`.
    fn entries<'v>(&self, e: &Entry<'v>) -> Result<Vec<(&'v str, Entry<'v>)>, ConfigError> {
        Ok(self
            .table(e)?
            .iter()
            .map(|(k, v)| {
                (
                    k.get_ref().as_str(),
                    Entry {
                        key: format!("{}.{}", e.key, k.get_ref()),
                        span: k.span(),
                        value: v,
                    },
                )
            })
            .collect())
    }

    fn boolean(&self, e: &Entry) -> Result<bool, ConfigError> {
        match e.value {
            TVal::Bool(b) => Ok(*b),
            _ => Err(self.type_err(e, "a boolean (true or false)")),
        }
    }

    fn string<'v>(&self, e: &Entry<'v>) -> Result<&'v str, ConfigError> {
        match e.value {
            TVal::Str(s) => Ok(s),
            _ => Err(self.type_err(e, "a string")),
        }
    }

    fn int<T: TryFrom<i64>>(&self, e: &Entry, (min, max): (i64, i64)) -> Result<T, ConfigError> {
        let TVal::Int(n) = e.value else {
            return Err(self.type_err(e, "an integer"));
        };
        let range_err = || {
            let bounds = if max == i64::MAX {
                format!("at least {min}")
            } else {
                format!("between {min} and {max}")
            };
            self.err(
                &e.span,
                &e.key,
                format!("{} must be {bounds}, not {n}", e.key),
            )
        };
        if *n < min || *n > max {
            return Err(range_err());
        }
        T::try_from(*n).map_err(|_| range_err())
    }

    /// A string, or an array of strings; each item with the span to blame.
    fn strings<'v>(&self, e: &Entry<'v>) -> Result<Vec<(&'v str, Range<usize>)>, ConfigError> {
        match e.value {
            TVal::Str(s) => Ok(vec![(s.as_str(), e.span.clone())]),
            TVal::Array(items) => items
                .iter()
                .map(|item| match item.get_ref() {
                    TVal::Str(s) => Ok((s.as_str(), item.span())),
                    other => Err(self.err(
                        &item.span(),
                        &e.key,
                        format!("{} must hold only strings, not {}", e.key, other.kind()),
                    )),
                })
                .collect(),
            _ => Err(self.type_err(e, "a string or an array of strings")),
        }
    }

    fn ip(&self, e: &Entry) -> Result<IpAddr, ConfigError> {
        let s = self.string(e)?;
        s.trim().parse().map_err(|_| {
            self.err(
                &e.span,
                &e.key,
                format!("invalid IP address \"{s}\" in {}", e.key),
            )
        })
    }

    fn dialect(&self, e: &Entry) -> Result<Dialect, ConfigError> {
        let s = self.string(e)?;
        parse_dialect(s).map_err(|m| self.err(&e.span, &e.key, format!("{m} in {}", e.key)))
    }

    fn path(&self, e: &Entry, dir: &Path) -> Result<PathBuf, ConfigError> {
        let s = self.string(e)?;
        if s.is_empty() {
            return Err(self.err(&e.span, &e.key, format!("{} must not be empty", e.key)));
        }
        Ok(dir.join(s))
    }

    // --- sections ------------------------------------------------------------------

    fn general(&self, e: &Entry, g: &mut General) -> Result<(), ConfigError> {
        for (key, e) in self.entries(e)? {
            match key {
                "enabled" => g.enabled = self.boolean(&e)?,
                "port" => g.port = self.int(&e, (0, 65535))?,
                "bindaddr" => g.bindaddr = self.ip(&e)?,
                "displayconnects" => g.displayconnects = self.boolean(&e)?,
                "timestampevents" => g.timestampevents = self.boolean(&e)?,
                "webenabled" => g.webenabled = self.boolean(&e)?,
                "httptimeout" => g.httptimeout = self.int(&e, (1, i64::from(u32::MAX)))?,
                "block-sockets" => g.block_sockets = self.boolean(&e)?,
                "dialect" => g.dialect = self.dialect(&e)?,
                "eventqueue" => g.event_queue = self.int(&e, (16, i64::MAX))?,
                "authtimeout" => g.authtimeout = self.int(&e, AUTHTIMEOUT_RANGE)?,
                "messagetimeout" => g.messagetimeout = self.int(&e, AUTHTIMEOUT_RANGE)?,
                "authlimit" => g.authlimit = self.int(&e, AUTHLIMIT_RANGE)?,
                "loginfailures" => g.loginfailures = self.int(&e, LOGINFAILURES_RANGE)?,
                "loginfailurewindow" => {
                    g.loginfailurewindow = self.int(&e, LOGINFAILUREWINDOW_RANGE)?
                }
                "writetimeout" => g.writetimeout = self.int(&e, WRITETIMEOUT_RANGE)?,
                "busypoll" => g.busypoll = self.int(&e, BUSYPOLL_RANGE)?,
                _ => return Err(self.unknown(&e, GENERAL_KEYS)),
            }
        }
        Ok(())
    }

    fn plugins(&self, e: &Entry, dir: &Path) -> Result<PluginsConfig, ConfigError> {
        let mut p = PluginsConfig::default();
        for (key, e) in self.entries(e)? {
            match key {
                "dir" => p.dir = Some(self.path(&e, dir)?),
                "cache-dir" => p.cache_dir = Some(self.path(&e, dir)?),
                "cpu-deadline-ms" => p.cpu_deadline_ms = self.int(&e, CPU_DEADLINE_RANGE)?,
                "memory-limit-mb" => p.memory_limit_mb = self.int(&e, MEMORY_LIMIT_RANGE)?,
                "response-limit-kb" => p.response_limit_kb = self.int(&e, RESPONSE_LIMIT_RANGE)?,
                name => {
                    if !matches!(e.value, TVal::Table(_)) {
                        return Err(self.err(
                            &e.span,
                            &e.key,
                            format!(
                                "unknown key {} (expected one of: {}, or a [{}] table)",
                                e.key,
                                PLUGINS_KEYS.join(", "),
                                e.key
                            ),
                        ));
                    }
                    let settings = self.plugin(&e)?;
                    p.per_plugin.insert(name.to_string(), settings);
                }
            }
        }
        Ok(p)
    }

    fn plugin(&self, e: &Entry) -> Result<PluginSettings, ConfigError> {
        let mut s = PluginSettings::default();
        for (key, e) in self.entries(e)? {
            match key {
                "grants" => {
                    let TVal::Array(_) = e.value else {
                        return Err(self.type_err(&e, "an array of strings"));
                    };
                    let mut grants = Vec::new();
                    for (grant, span) in self.strings(&e)? {
                        if !GRANT_NAMES.contains(&grant) {
                            return Err(self.err(
                                &span,
                                &e.key,
                                format!(
                                    "unknown grant \"{grant}\" in {} (expected one of: {})",
                                    e.key,
                                    GRANT_NAMES.join(", ")
                                ),
                            ));
                        }
                        grants.push(grant.to_string());
                    }
                    s.grants = Some(grants);
                }
                "cpu-deadline-ms" => s.cpu_deadline_ms = Some(self.int(&e, CPU_DEADLINE_RANGE)?),
                "memory-limit-mb" => s.memory_limit_mb = Some(self.int(&e, MEMORY_LIMIT_RANGE)?),
                "response-limit-kb" => {
                    s.response_limit_kb = Some(self.int(&e, RESPONSE_LIMIT_RANGE)?)
                }
                "enabled" => s.enabled = self.boolean(&e)?,
                _ => return Err(self.unknown(&e, PLUGIN_KEYS)),
            }
        }
        Ok(s)
    }

    fn http(&self, e: &Entry) -> Result<HttpConfig, ConfigError> {
        let mut h = HttpConfig::default();
        for (key, e) in self.entries(e)? {
            match key {
                "enabled" => h.enabled = self.boolean(&e)?,
                "bindaddr" => h.bindaddr = self.ip(&e)?,
                "bindport" => h.bindport = self.int(&e, (0, 65535))?,
                "prefix" => h.prefix = self.string(&e)?.to_string(),
                _ => return Err(self.unknown(&e, HTTP_KEYS)),
            }
        }
        Ok(h)
    }

    fn pbx(&self, e: &Entry, dir: &Path) -> Result<PbxConfig, ConfigError> {
        let mut p = PbxConfig::default();
        for (key, e) in self.entries(e)? {
            match key {
                "config-dir" => p.config_dir = Some(self.path(&e, dir)?),
                "spool-dir" => p.spool_dir = Some(self.path(&e, dir)?),
                "devices" => {
                    for (name, d) in self.entries(&e)? {
                        let text = self.string(&d)?;
                        let behaviour = DeviceBehaviour::parse(text)
                            .map_err(|m| self.err(&d.span, &d.key, format!("{m} in {}", d.key)))?;
                        if !name.contains('/') {
                            return Err(self.err(
                                &d.span,
                                &d.key,
                                format!("device \"{name}\" is not Tech/resource in {}", d.key),
                            ));
                        }
                        p.devices.push((name.to_string(), behaviour));
                    }
                }
                _ => return Err(self.unknown(&e, PBX_KEYS)),
            }
        }
        Ok(p)
    }

    fn users(&self, e: &Entry) -> Result<Vec<User>, ConfigError> {
        let mut users: Vec<User> = Vec::new();
        for (name, e) in self.entries(e)? {
            if name.trim().is_empty() {
                return Err(self.err(&e.span, &e.key, "user name must not be empty".to_string()));
            }
            if let Some(other) = users.iter().find(|u| u.name.eq_ignore_ascii_case(name)) {
                return Err(self.err(
                    &e.span,
                    &e.key,
                    format!(
                        "duplicate user \"{name}\": user names are case-insensitive and \"{}\" is already defined",
                        other.name
                    ),
                ));
            }
            let user = self.user(name, &e)?;
            warn_if_no_secret(&user);
            users.push(user);
        }
        Ok(users)
    }

    /// One `[users.NAME]` table. The ACL holds every `deny` rule first, then every
    /// `permit` rule, so that `deny = ["0.0.0.0/0"]` plus `permit = [subnet]` admits the
    /// subnet whatever the order of the keys (TOML has no order between two keys).
    fn user(&self, name: &str, e: &Entry) -> Result<User, ConfigError> {
        let mut user = User::new(name, UserSource::ManagerConf);
        let mut permits = Vec::new();
        let mut denies = Vec::new();
        for (key, e) in self.entries(e)? {
            match key {
                "secret" => user.secret = Some(self.string(&e)?.to_string()),
                "read" | "write" => {
                    let (set, text) = self.privilege(&e)?;
                    if key == "read" {
                        (user.read, user.read_text) = (set, text);
                    } else {
                        (user.write, user.write_text) = (set, text);
                    }
                }
                "permit" | "deny" => {
                    let permit = key == "permit";
                    for (rule, span) in self.strings(&e)? {
                        let parsed = AclRule::parse(permit, rule).map_err(|m| {
                            self.err(&span, &e.key, format!("bad ACL rule {m} in {}", e.key))
                        })?;
                        if permit {
                            permits.push(parsed);
                            user.permit_text.push(rule.to_string());
                        } else {
                            denies.push(parsed);
                            user.deny_text.push(rule.to_string());
                        }
                    }
                }
                "displayconnects" => user.displayconnects = self.boolean(&e)?,
                "dialect" => user.dialect = Some(self.dialect(&e)?),
                "writetimeout" => user.writetimeout = Some(self.int(&e, WRITETIMEOUT_RANGE)?),
                _ => return Err(self.unknown(&e, USER_KEYS)),
            }
        }
        user.acl = denies;
        user.acl.extend(permits);
        Ok(user)
    }

    /// `read`/`write`: a comma list in a string, or an array of class names.
    fn privilege(&self, e: &Entry) -> Result<(Privilege, String), ConfigError> {
        let items = self.strings(e)?;
        let mut set = Privilege::NONE;
        for (item, span) in &items {
            let p = Privilege::parse_list(item)
                .map_err(|m| self.err(span, &e.key, format!("{m} in {}", e.key)))?;
            set = Privilege(set.0 | p.0);
        }
        let text = items.iter().map(|(s, _)| *s).collect::<Vec<_>>().join(",");
        Ok((set, text))
    }
}

// ---------------------------------------------------------------------------------------
// Asterisk .conf files
// ---------------------------------------------------------------------------------------

/// `[general]` keys of Asterisk's manager.conf (later releases) that the host accepts and
/// ignores.
const IGNORED_GENERAL_KEYS: &[&str] = &[
    "debug",
    "allowmultiplelogin",
    "channelvars",
    "displaysystemname",
    "tlsenable",
    "tlsbindaddr",
    "tlscertfile",
    "tlsprivatekey",
    "sslenable",
    "sslbindport",
    "sslbindaddr",
    "sslcert",
];

/// User keys of Asterisk's manager.conf that the host accepts and ignores.
const IGNORED_USER_KEYS: &[&str] = &[
    "displaysystemname",
    "eventfilter",
    "allowmultiplelogin",
    "channelvars",
];

fn conf_error(e: ConfError) -> ConfigError {
    match e {
        ConfError::Io { path, source } => ConfigError::Io { path, source },
        ConfError::Syntax {
            path,
            line,
            message,
        } => ConfigError::Invalid {
            path,
            line,
            key: String::new(),
            message,
        },
    }
}

/// Error reporting for one parsed `.conf` file.
struct ConfReader<'a> {
    conf: &'a ConfFile,
    main: &'a Path,
}

impl ConfReader<'_> {
    fn err(&self, var: &Var, message: String) -> ConfigError {
        ConfigError::Invalid {
            path: self
                .conf
                .file_path(var.file)
                .unwrap_or(self.main)
                .to_path_buf(),
            line: var.line,
            key: var.name.clone(),
            message,
        }
    }

    fn boolean(&self, cat: &Category, var: &Var) -> Result<bool, ConfigError> {
        if is_true(&var.value) {
            Ok(true)
        } else if is_false(&var.value) {
            Ok(false)
        } else {
            Err(self.err(
                var,
                format!(
                    "invalid boolean \"{}\" for {} in [{}] (expected yes/true/y/t/1/on or no/false/n/f/0/off)",
                    var.value, var.name, cat.name
                ),
            ))
        }
    }

    fn number<T: std::str::FromStr>(
        &self,
        cat: &Category,
        var: &Var,
        ok: impl Fn(&T) -> bool,
        wanted: &str,
    ) -> Result<T, ConfigError> {
        var.value
            .parse::<T>()
            .ok()
            .filter(|n| ok(n))
            .ok_or_else(|| {
                self.err(
                    var,
                    format!(
                        "invalid value \"{}\" for {} in [{}] (expected {wanted})",
                        var.value, var.name, cat.name
                    ),
                )
            })
    }

    /// An integer in `min..=max` (`max == i64::MAX` means no upper bound).
    fn ranged<T: TryFrom<i64>>(
        &self,
        cat: &Category,
        var: &Var,
        (min, max): (i64, i64),
    ) -> Result<T, ConfigError> {
        let wanted = if max == i64::MAX {
            format!("a number >= {min}")
        } else {
            format!("a number {min}-{max}")
        };
        let n: i64 = self.number(cat, var, |n| (min..=max).contains(n), &wanted)?;
        T::try_from(n).map_err(|_| {
            self.err(
                var,
                format!(
                    "invalid value \"{}\" for {} in [{}] (expected {wanted})",
                    var.value, var.name, cat.name
                ),
            )
        })
    }

    fn ip(&self, cat: &Category, var: &Var) -> Result<IpAddr, ConfigError> {
        var.value.parse().map_err(|_| {
            self.err(
                var,
                format!(
                    "invalid address \"{}\" for {} in [{}]",
                    var.value, var.name, cat.name
                ),
            )
        })
    }

    fn dialect(&self, cat: &Category, var: &Var) -> Result<Dialect, ConfigError> {
        parse_dialect(&var.value)
            .map_err(|m| self.err(var, format!("{m} for {} in [{}]", var.name, cat.name)))
    }

    fn privilege(&self, cat: &Category, var: &Var) -> Result<Privilege, ConfigError> {
        Privilege::parse_list(&var.value)
            .map_err(|m| self.err(var, format!("{m} for {} in [{}]", var.name, cat.name)))
    }

    /// manager.conf `[general]` (reference §6.1, plus `dialect` and `eventqueue`).
    fn general(&self, cat: &Category, g: &mut General) -> Result<(), ConfigError> {
        for var in &cat.vars {
            match var.name.to_ascii_lowercase().as_str() {
                "enabled" => g.enabled = self.boolean(cat, var)?,
                "port" => g.port = self.number(cat, var, |_| true, "a port number 0-65535")?,
                "bindaddr" => g.bindaddr = self.ip(cat, var)?,
                "displayconnects" => g.displayconnects = self.boolean(cat, var)?,
                "timestampevents" => g.timestampevents = self.boolean(cat, var)?,
                "webenabled" => g.webenabled = self.boolean(cat, var)?,
                "httptimeout" => {
                    g.httptimeout = self.number(cat, var, |n| *n > 0, "a number of seconds > 0")?
                }
                "block-sockets" => g.block_sockets = self.boolean(cat, var)?,
                "dialect" => g.dialect = self.dialect(cat, var)?,
                "eventqueue" => {
                    g.event_queue = self.number(cat, var, |n| *n >= 16, "a number >= 16")?
                }
                "authtimeout" => g.authtimeout = self.ranged(cat, var, AUTHTIMEOUT_RANGE)?,
                "messagetimeout" => g.messagetimeout = self.ranged(cat, var, AUTHTIMEOUT_RANGE)?,
                "authlimit" => g.authlimit = self.ranged(cat, var, AUTHLIMIT_RANGE)?,
                "loginfailures" => g.loginfailures = self.ranged(cat, var, LOGINFAILURES_RANGE)?,
                "loginfailurewindow" => {
                    g.loginfailurewindow = self.ranged(cat, var, LOGINFAILUREWINDOW_RANGE)?
                }
                "writetimeout" => g.writetimeout = self.ranged(cat, var, WRITETIMEOUT_RANGE)?,
                "busypoll" => g.busypoll = self.ranged(cat, var, BUSYPOLL_RANGE)?,
                key if IGNORED_GENERAL_KEYS.contains(&key) => {
                    tracing::debug!(key = %var.name, line = var.line, "manager.conf [general] key ignored");
                }
                _ => {
                    return Err(self.err(
                        var,
                        format!("unknown key \"{}\" in [{}]", var.name, cat.name),
                    ))
                }
            }
        }
        Ok(())
    }

    /// A manager.conf user section (reference §6.2). `secret`: the last one wins;
    /// `read`/`write`: the first one counts; `permit`/`deny`: every line, in file order,
    /// which is the ACL order.
    fn user(&self, cat: &Category) -> Result<User, ConfigError> {
        let mut user = User::new(&cat.name, UserSource::ManagerConf);
        let (mut have_read, mut have_write) = (false, false);
        for var in &cat.vars {
            match var.name.to_ascii_lowercase().as_str() {
                "secret" => user.secret = Some(var.value.clone()),
                "read" if have_read => {
                    tracing::debug!(user = %cat.name, line = var.line, "second read line ignored");
                }
                "read" => {
                    user.read = self.privilege(cat, var)?;
                    user.read_text = var.value.clone();
                    have_read = true;
                }
                "write" if have_write => {
                    tracing::debug!(user = %cat.name, line = var.line, "second write line ignored");
                }
                "write" => {
                    user.write = self.privilege(cat, var)?;
                    user.write_text = var.value.clone();
                    have_write = true;
                }
                key @ ("permit" | "deny") => {
                    let permit = key == "permit";
                    let rule = AclRule::parse(permit, &var.value).map_err(|m| {
                        self.err(
                            var,
                            format!("bad ACL rule {m} for {} in [{}]", var.name, cat.name),
                        )
                    })?;
                    user.acl.push(rule);
                    if permit {
                        user.permit_text.push(var.value.clone());
                    } else {
                        user.deny_text.push(var.value.clone());
                    }
                }
                "displayconnects" => user.displayconnects = self.boolean(cat, var)?,
                "dialect" => user.dialect = Some(self.dialect(cat, var)?),
                "writetimeout" => {
                    user.writetimeout = Some(self.ranged(cat, var, WRITETIMEOUT_RANGE)?)
                }
                key if IGNORED_USER_KEYS.contains(&key) => {
                    tracing::debug!(user = %cat.name, key = %var.name, line = var.line, "manager.conf user key ignored");
                }
                _ => {
                    return Err(self.err(
                        var,
                        format!("unknown key \"{}\" in [{}]", var.name, cat.name),
                    ))
                }
            }
        }
        Ok(user)
    }

    /// A users.conf section, if it has `hasmanager` true (reference §6.4).
    fn users_conf_user(&self, cat: &Category) -> Result<Option<User>, ConfigError> {
        let Some(has) = cat.var("hasmanager") else {
            return Ok(None);
        };
        if !self.boolean(cat, has)? {
            return Ok(None);
        }
        let mut user = User::new(&cat.name, UserSource::UsersConf);
        user.secret = cat.get("secret").map(str::to_string);
        user.read = Privilege::ALL;
        user.write = Privilege::ALL;
        if let Some(var) = cat.var("managerread") {
            user.read = self.privilege(cat, var)?;
            user.read_text = var.value.clone();
        }
        if let Some(var) = cat.var("managerwrite") {
            user.write = self.privilege(cat, var)?;
            user.write_text = var.value.clone();
        }
        Ok(Some(user))
    }

    /// http.conf `[general]`: enabled, bindaddr, bindport, prefix; other keys ignored.
    fn http(&self, h: &mut HttpConfig) -> Result<(), ConfigError> {
        let Some(cat) = self.conf.category("general") else {
            return Ok(());
        };
        for var in &cat.vars {
            match var.name.to_ascii_lowercase().as_str() {
                "enabled" => h.enabled = self.boolean(cat, var)?,
                "bindaddr" => h.bindaddr = self.ip(cat, var)?,
                "bindport" => {
                    h.bindport = self.number(cat, var, |_| true, "a port number 0-65535")?
                }
                "prefix" => h.prefix = var.value.clone(),
                _ => {}
            }
        }
        Ok(())
    }
}

/// Loads `manager.conf` at `path`, then `users.conf` and `http.conf` beside it.
fn load_asterisk(path: &Path) -> Result<Config, ConfigError> {
    let mut config = Config::empty(path);
    config.general.enabled = false;

    let conf = conf_file::load_conf(path).map_err(conf_error)?;
    let reader = ConfReader {
        conf: &conf,
        main: path,
    };
    for cat in &conf.categories {
        if cat.name.eq_ignore_ascii_case("general") {
            reader.general(cat, &mut config.general)?;
            continue;
        }
        let user = reader.user(cat)?;
        if let Some(first) = config.user(&user.name) {
            tracing::warn!(
                user = %user.name,
                line = cat.line,
                "manager.conf section ignored: [{}] is already defined",
                first.name
            );
            continue;
        }
        warn_if_no_secret(&user);
        config.users.push(user);
    }

    let users_path = config.dir.join("users.conf");
    if users_path.exists() {
        let conf = conf_file::load_conf(&users_path).map_err(conf_error)?;
        let reader = ConfReader {
            conf: &conf,
            main: &users_path,
        };
        for cat in &conf.categories {
            if cat.name.eq_ignore_ascii_case("general") {
                continue;
            }
            let Some(user) = reader.users_conf_user(cat)? else {
                continue;
            };
            if config.user(&user.name).is_some() {
                tracing::debug!(user = %user.name, "users.conf user shadowed by manager.conf");
                continue;
            }
            warn_if_no_secret(&user);
            config.users.push(user);
        }
    }

    let http_path = config.dir.join("http.conf");
    if http_path.exists() {
        let conf = conf_file::load_conf(&http_path).map_err(conf_error)?;
        ConfReader {
            conf: &conf,
            main: &http_path,
        }
        .http(&mut config.http)?;
    }
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdir::TempDir;
    use std::fs;
    use std::net::Ipv6Addr;

    fn toml(text: &str) -> Result<Config, ConfigError> {
        Config::from_toml_str(text, Path::new("/etc/ami/amihost.toml"))
    }

    /// The line, key and message of an `Invalid` error.
    fn invalid(result: Result<Config, ConfigError>) -> (usize, String, String) {
        match result {
            Err(ConfigError::Invalid {
                line, key, message, ..
            }) => (line, key, message),
            other => panic!("expected an Invalid error, got {other:?}"),
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn defaults() {
        let c = Config::default();
        assert!(c.general.enabled);
        assert_eq!(c.general.port, 5038);
        assert_eq!(c.general.bindaddr, ip("127.0.0.1"));
        assert!(c.general.displayconnects);
        assert!(!c.general.timestampevents);
        assert!(!c.general.webenabled);
        assert_eq!(c.general.httptimeout, 60);
        assert!(!c.general.block_sockets);
        assert_eq!(c.general.dialect, Dialect::V1);
        assert_eq!(c.general.event_queue, 4096);
        assert_eq!(c.plugins.dir, None);
        assert_eq!(c.plugins.cache_dir, None);
        assert_eq!(c.plugins.cpu_deadline_ms, 1000);
        assert_eq!(c.plugins.memory_limit_mb, 64);
        assert_eq!(c.plugins.response_limit_kb, 1024);
        assert!(c.plugins.per_plugin.is_empty());
        assert!(!c.http.enabled);
        assert_eq!(c.http.bindaddr, ip("127.0.0.1"));
        assert_eq!(c.http.bindport, 8088);
        assert_eq!(c.http.prefix, "asterisk");
        assert!(c.users.is_empty());
        assert_eq!(c.source, PathBuf::new());

        let empty = toml("").unwrap();
        assert!(empty.general.enabled);
        assert_eq!(empty.general.port, 5038);
        assert_eq!(empty.source, Path::new("/etc/ami/amihost.toml"));
        assert_eq!(empty.dir, Path::new("/etc/ami"));
        assert!(empty.users.is_empty());
    }

    const FULL: &str = r#"
[general]
enabled = false
port = 15038
bindaddr = "0.0.0.0"
displayconnects = false
timestampevents = true
webenabled = true
httptimeout = 30
block-sockets = true
dialect = "modern"
eventqueue = 100

[plugins]
dir = "plugins"
cache-dir = "/var/cache/ami"
cpu-deadline-ms = 500
memory-limit-mb = 128
response-limit-kb = 2048

[plugins.ping]
grants = ["core", "session"]
cpu-deadline-ms = 20

[plugins.spin]
enabled = false
memory-limit-mb = 8
response-limit-kb = 4

[http]
enabled = true
bindaddr = "::1"
bindport = 8089
prefix = ""

[users.admin]
secret = "amp111"
read = "all"
write = ["system", "call"]
permit = ["127.0.0.1/32"]
deny = ["0.0.0.0/0"]
displayconnects = false
dialect = "modern"

[users.Monitor]
secret = "x"
read = "system, Call"
"#;

    #[test]
    fn full_toml() {
        let c = toml(FULL).unwrap();
        let g = &c.general;
        assert!(!g.enabled);
        assert_eq!(g.port, 15038);
        assert_eq!(g.bindaddr, ip("0.0.0.0"));
        assert!(!g.displayconnects && g.timestampevents && g.webenabled && g.block_sockets);
        assert_eq!(g.httptimeout, 30);
        assert_eq!(g.dialect, Dialect::Modern);
        assert_eq!(g.event_queue, 100);

        let p = &c.plugins;
        assert_eq!(p.dir.as_deref(), Some(Path::new("/etc/ami/plugins")));
        assert_eq!(p.cache_dir.as_deref(), Some(Path::new("/var/cache/ami")));
        assert_eq!(
            (p.cpu_deadline_ms, p.memory_limit_mb, p.response_limit_kb),
            (500, 128, 2048)
        );
        let ping = &p.per_plugin["ping"];
        assert_eq!(
            ping.grants.as_deref(),
            Some(&["core".to_string(), "session".to_string()][..])
        );
        assert_eq!(ping.cpu_deadline_ms, Some(20));
        assert_eq!(ping.memory_limit_mb, None);
        assert!(ping.enabled);
        let spin = &p.per_plugin["spin"];
        assert!(!spin.enabled);
        assert_eq!(spin.grants, None);
        assert_eq!(
            (spin.memory_limit_mb, spin.response_limit_kb),
            (Some(8), Some(4))
        );

        assert!(c.http.enabled);
        assert_eq!(c.http.bindaddr, ip("::1"));
        assert_eq!(c.http.bindport, 8089);
        assert_eq!(c.http.prefix, "");

        assert_eq!(c.users.len(), 2);
        let admin = c.user("ADMIN").unwrap();
        assert_eq!(admin.name, "admin");
        assert_eq!(admin.secret.as_deref(), Some("amp111"));
        assert_eq!(admin.read, Privilege::ALL);
        assert_eq!(admin.read_text, "all");
        assert_eq!(
            admin.write,
            Privilege(Privilege::SYSTEM.0 | Privilege::CALL.0)
        );
        assert_eq!(admin.write_text, "system,call");
        assert_eq!(admin.permit_text, vec!["127.0.0.1/32"]);
        assert_eq!(admin.deny_text, vec!["0.0.0.0/0"]);
        // deny rules come first, whatever the key order.
        assert!(!admin.acl[0].permit && admin.acl[1].permit);
        assert!(admin.acl_allows(ip("127.0.0.1")));
        assert!(!admin.acl_allows(ip("10.0.0.1")));
        assert!(!admin.displayconnects);
        assert_eq!(admin.dialect, Some(Dialect::Modern));
        assert_eq!(admin.source, UserSource::ManagerConf);
        assert!(admin.md5_allowed());

        let monitor = &c.users[1];
        assert_eq!(monitor.name, "Monitor");
        assert_eq!(monitor.read, Privilege(3));
        assert_eq!(monitor.read_text, "system, Call");
        assert_eq!(monitor.write, Privilege::NONE);
        assert_eq!(monitor.write_text, "");
        assert!(monitor.acl.is_empty());
        assert!(monitor.displayconnects);
        assert_eq!(monitor.dialect, None);
    }

    #[test]
    fn read_write_as_string_or_array() {
        let c = toml(
            "[users.a]\nsecret = \"s\"\nread = \"system,call\"\nwrite = [\"system\", \"CALL\"]\n\
             [users.b]\nsecret = \"s\"\nread = \"none\"\nwrite = []\n",
        )
        .unwrap();
        let a = c.user("a").unwrap();
        assert_eq!(a.read, Privilege(3));
        assert_eq!(a.write, Privilege(3));
        let b = c.user("b").unwrap();
        assert_eq!(b.read, Privilege::NONE);
        assert_eq!(b.write, Privilege::NONE);
        assert_eq!(b.write_text, "");
        assert!(c.user("c").is_none());
    }

    #[test]
    fn toml_unknown_key() {
        let (line, key, msg) = invalid(toml("[general]\nport = 1\nprot = 2\n"));
        assert_eq!((line, key.as_str()), (3, "general.prot"));
        assert!(msg.contains("unknown key general.prot"), "{msg}");

        let (line, key, _) = invalid(toml("\n[users.admin]\nsecret = \"x\"\nreed = \"all\"\n"));
        assert_eq!((line, key.as_str()), (4, "users.admin.reed"));

        let (line, key, _) = invalid(toml("[plugins.ping]\ngrant = []\n"));
        assert_eq!((line, key.as_str()), (2, "plugins.ping.grant"));

        let (line, key, _) = invalid(toml("[plugins]\ndir = \"p\"\nbogus = 1\n"));
        assert_eq!((line, key.as_str()), (3, "plugins.bogus"));

        let (line, key, _) = invalid(toml("[http]\nport = 1\n"));
        assert_eq!((line, key.as_str()), (2, "http.port"));
    }

    #[test]
    fn toml_unknown_section() {
        let (line, key, msg) = invalid(toml("[general]\nport = 1\n\n[genral]\nport = 2\n"));
        assert_eq!((line, key.as_str()), (4, "genral"));
        assert!(msg.contains("unknown section \"genral\""), "{msg}");

        let (line, _, _) = invalid(toml("[general]\n\n[listener.x]\n"));
        assert_eq!(line, 3);
    }

    #[test]
    fn toml_bad_class() {
        let (line, key, msg) = invalid(toml(
            "[users.admin]\nsecret = \"x\"\nread = \"system,cal\"\n",
        ));
        assert_eq!((line, key.as_str()), (3, "users.admin.read"));
        assert_eq!(msg, "unknown permission class \"cal\" in users.admin.read");

        // In a multi-line array the element's own line is reported.
        let (line, key, _) = invalid(toml(
            "[users.admin]\nwrite = [\n  \"system\",\n  \"c\",\n]\n",
        ));
        assert_eq!((line, key.as_str()), (4, "users.admin.write"));

        let (line, _, msg) = invalid(toml("[users.admin]\nread = 255\n"));
        assert_eq!(line, 2);
        assert!(
            msg.contains("must be a string or an array of strings"),
            "{msg}"
        );
    }

    #[test]
    fn toml_bad_types_and_values() {
        let (line, key, msg) = invalid(toml("[general]\nenabled = true\nport = \"5038\"\n"));
        assert_eq!((line, key.as_str()), (3, "general.port"));
        assert_eq!(msg, "general.port must be an integer, not a string");

        let (line, _, msg) = invalid(toml("[general]\nport = 70000\n"));
        assert_eq!(line, 2);
        assert!(msg.contains("between 0 and 65535"), "{msg}");

        let (line, _, _) = invalid(toml("[general]\nenabled = \"yes\"\n"));
        assert_eq!(line, 2);
        let (line, _, _) = invalid(toml("[general]\nhttptimeout = 0\n"));
        assert_eq!(line, 2);
        let (line, _, _) = invalid(toml("[general]\nhttptimeout = -5\n"));
        assert_eq!(line, 2);
        let (line, _, _) = invalid(toml("[general]\neventqueue = 15\n"));
        assert_eq!(line, 2);
        let (line, _, _) = invalid(toml("[general]\nbindaddr = \"localhost\"\n"));
        assert_eq!(line, 2);
        let (line, _, _) = invalid(toml("[plugins]\ncpu-deadline-ms = 0\n"));
        assert_eq!(line, 2);
        let (line, _, _) = invalid(toml("[plugins]\n\nmemory-limit-mb = 4097\n"));
        assert_eq!(line, 3);
        let (line, _, _) = invalid(toml("[plugins.x]\nresponse-limit-kb = 0\n"));
        assert_eq!(line, 2);
        let (line, _, _) = invalid(toml("general = 5\n"));
        assert_eq!(line, 1);
        let (line, key, _) = invalid(toml("[users]\nadmin = \"x\"\n"));
        assert_eq!((line, key.as_str()), (2, "users.admin"));
        let (line, _, msg) = invalid(toml("[general]\nwhen = 1979-05-27\n"));
        assert_eq!(line, 2);
        assert!(msg.contains("dates"), "{msg}");
        // A TOML syntax error: the line of the problem.
        let (line, key, _) = invalid(toml("[general]\nport = 1\nport = 2\n"));
        assert_eq!((line, key.as_str()), (3, ""));
        let (line, _, _) = invalid(toml("[users.a]\n[users.A]\n"));
        assert_eq!(line, 2);
    }

    #[test]
    fn toml_bad_acl() {
        let (line, key, msg) = invalid(toml(
            "[users.admin]\nsecret = \"x\"\ndeny = [\"0.0.0.0/0\"]\npermit = [\"10.0.0.0/33\"]\n",
        ));
        assert_eq!((line, key.as_str()), (4, "users.admin.permit"));
        assert!(
            msg.contains("10.0.0.0/33") && msg.contains("users.admin.permit"),
            "{msg}"
        );

        let (line, _, msg) = invalid(toml("[users.admin]\n\ndeny = \"10.0.0.300\"\n"));
        assert_eq!(line, 3);
        assert!(msg.contains("10.0.0.300"), "{msg}");
    }

    #[test]
    fn toml_bad_dialect() {
        let (line, key, msg) = invalid(toml("[general]\ndialect = \"1.4\"\n"));
        assert_eq!((line, key.as_str()), (2, "general.dialect"));
        assert!(
            msg.contains("\"1.4\"") && msg.contains("general.dialect"),
            "{msg}"
        );

        let (line, key, _) = invalid(toml("[users.a]\nsecret = \"x\"\n\ndialect = \"new\"\n"));
        assert_eq!((line, key.as_str()), (4, "users.a.dialect"));
    }

    #[test]
    fn toml_bad_grant() {
        let (line, key, msg) = invalid(toml(
            "[plugins]\ndir = \"p\"\n\n[plugins.ping]\ngrants = [\n  \"core\",\n  \"network\",\n]\n",
        ));
        assert_eq!((line, key.as_str()), (7, "plugins.ping.grants"));
        assert!(msg.contains("unknown grant \"network\""), "{msg}");

        let (line, _, _) = invalid(toml("[plugins.ping]\ngrants = \"core\"\n"));
        assert_eq!(line, 2);
    }

    #[test]
    fn acl_rules_parse() {
        let r = AclRule::parse(true, "192.168.1.77/24").unwrap();
        assert_eq!(r.network, Ipv4Addr::new(192, 168, 1, 0));
        assert_eq!(r.mask, Ipv4Addr::new(255, 255, 255, 0));
        let r = AclRule::parse(false, "192.168.1.77/255.255.0.0").unwrap();
        assert_eq!(r.network, Ipv4Addr::new(192, 168, 0, 0));
        assert!(!r.permit);
        let r = AclRule::parse(true, "10.1.2.3").unwrap();
        assert_eq!(r.mask, Ipv4Addr::BROADCAST);
        let r = AclRule::parse(true, "10.1.2.3/0").unwrap();
        assert_eq!((r.network, r.mask), (ip("0.0.0.0"), ip("0.0.0.0")));
        let r = AclRule::parse(true, "10.1/32").unwrap();
        assert_eq!(r.network, Ipv4Addr::new(10, 0, 0, 1));
        // IPv6: a prefix length, or a single host.
        let r = AclRule::parse(true, "2001:db8:1:2::77/64").unwrap();
        assert_eq!(
            (r.network, r.mask),
            (ip("2001:db8:1:2::"), ip("ffff:ffff:ffff:ffff::"))
        );
        let r = AclRule::parse(false, "::1").unwrap();
        assert_eq!(
            (r.network, r.mask, r.permit),
            (
                ip("::1"),
                ip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
                false
            )
        );
        let r = AclRule::parse(true, "[fe80::1]/10").unwrap();
        assert_eq!(r.network, ip("fe80::"));
        let r = AclRule::parse(true, "::/0").unwrap();
        assert_eq!((r.network, r.mask), (ip("::"), ip("::")));
        for bad in [
            "",
            "10.0.0.256",
            "host.example",
            "1.2.3.4/33",
            "1.2.3.4/-1",
            "1.2.3.4/x",
            "1.2.3.4/255.255.0.300",
            "::1/129",
            "::1/ffff::",
            "2001:db8::g",
            "1:2:3:4:5:6:7:8:9",
        ] {
            let e = AclRule::parse(true, bad).unwrap_err();
            assert!(e.contains(&format!("\"{bad}\"")), "{e}");
        }
    }

    fn user_with(rules: &[(bool, &str)]) -> User {
        let mut u = User::new("u", UserSource::ManagerConf);
        u.acl = rules
            .iter()
            .map(|(p, t)| AclRule::parse(*p, t).unwrap())
            .collect();
        u
    }

    #[test]
    fn acl_evaluation() {
        // No rules: no restriction.
        assert!(user_with(&[]).acl_allows(ip("8.8.8.8")));
        // Permit lines alone restrict nothing.
        assert!(user_with(&[(true, "10.0.0.0/8")]).acl_allows(ip("8.8.8.8")));
        // Deny all, then permit a subnet (dotted masks).
        let u = user_with(&[
            (false, "0.0.0.0/0.0.0.0"),
            (true, "192.168.1.0/255.255.255.0"),
        ]);
        assert!(u.acl_allows(ip("192.168.1.20")));
        assert!(!u.acl_allows(ip("192.168.2.20")));
        // Last match wins: the same rules in the other order deny everyone.
        let u = user_with(&[(true, "192.168.1.0/24"), (false, "0.0.0.0/0")]);
        assert!(!u.acl_allows(ip("192.168.1.20")));
        // IPv4-mapped IPv6 peers are checked as IPv4.
        let u = user_with(&[(false, "0.0.0.0/0"), (true, "127.0.0.1")]);
        assert!(u.acl_allows(IpAddr::V6(Ipv4Addr::LOCALHOST.to_ipv6_mapped())));
        assert!(!u.acl_allows(IpAddr::V6(Ipv4Addr::new(10, 0, 0, 1).to_ipv6_mapped())));
        // Other IPv6 peers match only 0.0.0.0/0 rules among the IPv4 ones.
        assert!(!u.acl_allows(IpAddr::V6(Ipv6Addr::LOCALHOST)));
        let only_host = user_with(&[(false, "127.0.0.1")]);
        assert!(only_host.acl_allows(IpAddr::V6(Ipv6Addr::LOCALHOST)));
        // IPv6 rules: deny all, permit a /64 and the loopback.
        let u = user_with(&[
            (false, "0.0.0.0/0"),
            (true, "2001:db8:1:2::/64"),
            (true, "::1"),
        ]);
        assert!(u.acl_allows(ip("2001:db8:1:2:aaaa::5")));
        assert!(u.acl_allows(ip("::1")));
        assert!(!u.acl_allows(ip("2001:db8:1:3::5")));
        assert!(!u.acl_allows(ip("127.0.0.1")));
        // Denying ::1 alone leaves everyone else in.
        let u = user_with(&[(false, "::1/128")]);
        assert!(!u.acl_allows(ip("::1")));
        assert!(u.acl_allows(ip("::2")) && u.acl_allows(ip("127.0.0.1")));
        // An IPv4 peer is its mapped form to an IPv6 rule; ::/0 is everyone.
        let u = user_with(&[(false, "::/0"), (true, "::ffff:10.0.0.0/104")]);
        assert!(u.acl_allows(ip("10.9.8.7")));
        assert!(!u.acl_allows(ip("11.0.0.1")) && !u.acl_allows(ip("::1")));
    }

    #[test]
    fn load_dispatches_on_extension() {
        let dir = TempDir::new("config");
        let path = dir.write("amihost.toml", "[general]\nport = 6000\n");
        let c = Config::load(&path).unwrap();
        assert_eq!(c.general.port, 6000);
        assert!(c.general.enabled);
        assert_eq!(c.dir, dir.0);

        let missing = dir.0.join("missing.toml");
        match Config::load(&missing) {
            Err(e @ ConfigError::Io { .. }) => {
                assert!(e.to_string().starts_with(&missing.display().to_string()))
            }
            other => panic!("{other:?}"),
        }
        let err = Config::load(&dir.write("bad.toml", "[general]\nport = \"x\"\n")).unwrap_err();
        assert!(
            err.to_string()
                .ends_with("bad.toml:2: general.port must be an integer, not a string"),
            "{err}"
        );
    }

    const MANAGER_CONF: &str = r#";
; manager.conf
;
[general]
enabled = yes ; turn it on
port = 15038
bindaddr = 0.0.0.0
displayconnects = no
timestampevents = On
webenabled = 1
httptimeout = 90
block-sockets = t
dialect = modern
eventqueue = 64
authtimeout = 30
;--
[disabled]
secret = never
--;

[admin]
secret = first
secret = amp111 ; last one wins
deny => 0.0.0.0/0.0.0.0
permit = 192.168.1.0/255.255.255.0
permit = 10.0.0.0/8
deny = 10.1.0.0/16
read = system,call,log
read = all
write = system , call
displayconnects = no
writetimeout = 500
eventfilter = !Event: RTCP*
dialect = 1.0

[semi]
secret = pa\;ss
#include "more/extra.conf"
"#;

    #[test]
    fn manager_conf() {
        let dir = TempDir::new("config");
        fs::create_dir_all(dir.0.join("more")).unwrap();
        dir.write(
            "more/extra.conf",
            "read = call ; continues [semi]\n[included]\nsecret = inc\n",
        );
        let path = dir.write("manager.conf", MANAGER_CONF);
        let c = Config::load(&path).unwrap();
        let g = &c.general;
        assert!(g.enabled && !g.displayconnects && g.timestampevents && g.webenabled);
        assert!(g.block_sockets);
        assert_eq!(g.port, 15038);
        assert_eq!(g.bindaddr, ip("0.0.0.0"));
        assert_eq!(g.httptimeout, 90);
        assert_eq!(g.dialect, Dialect::Modern);
        assert_eq!(g.event_queue, 64);
        assert!(c.plugins.dir.is_none());
        assert_eq!(c.plugins.cpu_deadline_ms, 1000);
        assert!(!c.http.enabled);

        let names: Vec<&str> = c.users.iter().map(|u| u.name.as_str()).collect();
        assert_eq!(names, vec!["admin", "semi", "included"]);

        let admin = c.user("Admin").unwrap();
        assert_eq!(admin.secret.as_deref(), Some("amp111"));
        assert_eq!(admin.read, Privilege(1 | 2 | 4));
        assert_eq!(admin.read_text, "system,call,log");
        assert_eq!(admin.write, Privilege(3));
        assert_eq!(admin.write_text, "system , call");
        assert!(!admin.displayconnects);
        assert_eq!(admin.dialect, Some(Dialect::V1));
        assert_eq!(admin.deny_text, vec!["0.0.0.0/0.0.0.0", "10.1.0.0/16"]);
        assert_eq!(
            admin.permit_text,
            vec!["192.168.1.0/255.255.255.0", "10.0.0.0/8"]
        );
        // File order is ACL order.
        let order: Vec<bool> = admin.acl.iter().map(|r| r.permit).collect();
        assert_eq!(order, vec![false, true, true, false]);
        assert!(admin.acl_allows(ip("192.168.1.5")));
        assert!(admin.acl_allows(ip("10.2.0.1")));
        assert!(!admin.acl_allows(ip("10.1.0.1")));
        assert!(!admin.acl_allows(ip("172.16.0.1")));
        assert!(admin.md5_allowed());

        let semi = c.user("semi").unwrap();
        assert_eq!(semi.secret.as_deref(), Some("pa;ss"));
        assert_eq!(semi.read, Privilege::CALL);
        assert_eq!(semi.write, Privilege::NONE);
        assert!(semi.acl.is_empty());
        assert_eq!(c.user("included").unwrap().secret.as_deref(), Some("inc"));
        assert!(c.user("disabled").is_none());
    }

    #[test]
    fn manager_conf_defaults() {
        let dir = TempDir::new("config");
        let path = dir.write("manager.conf", "[general]\n[bob]\nsecret=x\n");
        let c = Config::load(&path).unwrap();
        assert!(!c.general.enabled);
        assert_eq!(c.general.port, 5038);
        assert_eq!(c.general.bindaddr, ip("127.0.0.1"));
        let bob = c.user("BOB").unwrap();
        assert_eq!((bob.read, bob.write), (Privilege::NONE, Privilege::NONE));
        assert!(bob.displayconnects);
        assert_eq!(bob.dialect, None);
    }

    #[test]
    fn users_conf_merge() {
        let dir = TempDir::new("config");
        let path = dir.write(
            "manager.conf",
            "[general]\nenabled = yes\n[admin]\nsecret = m\nread = system\n",
        );
        dir.write(
            "users.conf",
            "[general]\nhasmanager = yes\nfullname = x\n\
             [6000]\nfullname = Joe\nhasmanager = yes\nsecret = 1234\nvmsecret = 1\n\
             [6001]\nhasmanager = no\nsecret = 5\n\
             [6002]\nsecret = 6\n\
             [ADMIN]\nhasmanager = yes\nsecret = u\n\
             [6003]\nhasmanager = true\nsecret = 7\nmanagerread = call\nmanagerwrite = system,command\npermit = 1.2.3.4\n",
        );
        let c = Config::load(&path).unwrap();
        let names: Vec<&str> = c.users.iter().map(|u| u.name.as_str()).collect();
        assert_eq!(names, vec!["admin", "6000", "6003"]);

        let admin = c.user("admin").unwrap();
        assert_eq!(admin.secret.as_deref(), Some("m"));
        assert_eq!(admin.source, UserSource::ManagerConf);

        let u = c.user("6000").unwrap();
        assert_eq!(u.source, UserSource::UsersConf);
        assert!(!u.md5_allowed());
        assert_eq!(u.secret.as_deref(), Some("1234"));
        assert_eq!((u.read, u.write), (Privilege::ALL, Privilege::ALL));
        assert_eq!((u.read_text.as_str(), u.write_text.as_str()), ("", ""));
        assert!(u.acl.is_empty());

        let u = c.user("6003").unwrap();
        assert_eq!(u.read, Privilege::CALL);
        assert_eq!(u.write, Privilege(1 | 16));
        assert!(u.acl.is_empty());
        assert!(u.acl_allows(ip("9.9.9.9")));
    }

    #[test]
    fn http_conf() {
        let dir = TempDir::new("config");
        let path = dir.write("manager.conf", "[general]\nwebenabled = yes\n");
        dir.write(
            "http.conf",
            "[general]\nenabled=yes\nbindaddr=0.0.0.0\nbindport=8090\nprefix=\nenablestatic=yes\n[post_mappings]\nx=y\n",
        );
        let c = Config::load(&path).unwrap();
        assert!(c.http.enabled);
        assert_eq!(c.http.bindaddr, ip("0.0.0.0"));
        assert_eq!(c.http.bindport, 8090);
        assert_eq!(c.http.prefix, "");
    }

    #[test]
    fn conf_errors() {
        let dir = TempDir::new("config");
        let check = |text: &str, line: usize, key: &str, needle: &str| {
            let path = dir.write("manager.conf", text);
            match Config::load(&path) {
                Err(ConfigError::Invalid {
                    path: p,
                    line: l,
                    key: k,
                    message,
                }) => {
                    assert_eq!(p, path, "{message}");
                    assert_eq!((l, k.as_str()), (line, key), "{message}");
                    assert!(message.contains(needle), "{message}");
                }
                other => panic!("{text}: {other:?}"),
            }
        };
        check(
            "[general]\nenabled = maybe\n",
            2,
            "enabled",
            "invalid boolean \"maybe\"",
        );
        check(
            "[admin]\nsecret = x\n\nbogus = 1\n",
            4,
            "bogus",
            "unknown key \"bogus\" in [admin]",
        );
        check(
            "[general]\nfrobnicate = 1\n",
            2,
            "frobnicate",
            "unknown key",
        );
        check(
            "[admin]\nread = system,cal\n",
            2,
            "read",
            "unknown permission class \"cal\"",
        );
        check("[admin]\npermit = 1.2.3.4/40\n", 2, "permit", "1.2.3.4/40");
        check("[general]\nport = 99999\n", 2, "port", "99999");
        check("[general]\nhttptimeout = 0\n", 2, "httptimeout", "> 0");
        check("[general]\neventqueue = 8\n", 2, "eventqueue", ">= 16");
        check(
            "[general]\ndialect = 2.0\n",
            2,
            "dialect",
            "unknown dialect",
        );
        check(
            "[general]\nbindaddr = example.com\n",
            2,
            "bindaddr",
            "example.com",
        );
        check(
            "[admin]\ndisplayconnects = sometimes\n",
            2,
            "displayconnects",
            "sometimes",
        );
        check("[admin]\n#exec /bin/echo\n", 2, "", "#exec");
        check("[admin]\nno equals sign\n", 2, "", "key = value");
    }

    #[test]
    fn conf_error_in_included_file_names_it() {
        let dir = TempDir::new("config");
        let inc = dir.write("inc.conf", "[x]\n\nbad = 1\n");
        let path = dir.write("manager.conf", "[general]\n#include inc.conf\n");
        match Config::load(&path) {
            Err(ConfigError::Invalid {
                path, line, key, ..
            }) => {
                assert_eq!((path, line, key.as_str()), (inc, 3, "bad"));
            }
            other => panic!("{other:?}"),
        }
        // A syntax error inside the include, too.
        let inc2 = dir.write("inc2.conf", "[x]\n[broken\n");
        let path = dir.write("manager.conf", "#include <inc2.conf>\n");
        match Config::load(&path) {
            Err(ConfigError::Invalid { path, line, .. }) => assert_eq!((path, line), (inc2, 2)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn include_loops_depth_and_missing_files() {
        let dir = TempDir::new("config");
        dir.write("a.conf", "[a]\n#include b.conf\n");
        dir.write("b.conf", "#include a.conf\n");
        let (line, _, msg) = invalid(Config::load(&dir.0.join("a.conf")));
        assert_eq!(line, 1);
        assert!(msg.contains("loop"), "{msg}");

        // 17 nested includes: the 17th level is refused.
        for i in 0..20 {
            dir.write(
                &format!("d{i}.conf"),
                &format!("[d{i}]\n#include d{}.conf\n", i + 1),
            );
        }
        dir.write("d20.conf", "[end]\n");
        let (_, _, msg) = invalid(Config::load(&dir.0.join("d0.conf")));
        assert!(msg.contains("16 levels"), "{msg}");
        // 16 levels are fine.
        dir.write("d16.conf", "[d16]\n");
        let c = Config::load(&dir.0.join("d0.conf")).unwrap();
        assert_eq!(c.users.len(), 17);

        let (line, _, msg) = invalid({
            let p = dir.write("manager.conf", "[a]\n\n#include nowhere.conf\n");
            Config::load(&p)
        });
        assert_eq!(line, 3);
        assert!(msg.contains("nowhere.conf"), "{msg}");

        match Config::load(&dir.0.join("absent.conf")) {
            Err(ConfigError::Io { .. }) => {}
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn files_over_the_size_limit_are_refused_naming_the_file() {
        let dir = TempDir::new("config");
        let limit = conf_file::MAX_CONFIG_BYTES as usize;
        // TOML: exactly at the limit loads, one byte more does not.
        let head = "[general]\nport = 5039\n#";
        let at_limit = format!("{head}{}\n", "x".repeat(limit - head.len() - 1));
        let path = dir.write("amihost.toml", &at_limit);
        assert_eq!(Config::load(&path).unwrap().general.port, 5039);
        dir.write("amihost.toml", &format!("{at_limit}\n"));
        let e = Config::load(&path).unwrap_err();
        assert!(matches!(e, ConfigError::Io { .. }), "{e:?}");
        let text = e.to_string();
        assert!(
            text.starts_with(&path.display().to_string()) && text.contains("16 MiB limit"),
            "{text}"
        );
        // manager.conf itself, and an included file.
        let big = format!(";{}\n", "x".repeat(limit));
        let path = dir.write("manager.conf", &big);
        let text = Config::load(&path).unwrap_err().to_string();
        assert!(
            text.contains("manager.conf: larger than the 16 MiB"),
            "{text}"
        );
        let inc = dir.write("big.conf", &big);
        let path = dir.write("manager.conf", "[general]\n\n#include big.conf\n");
        match Config::load(&path) {
            Err(ConfigError::Invalid {
                path,
                line,
                message,
                ..
            }) => {
                assert_eq!((path.file_name(), line), (Some("manager.conf".as_ref()), 3));
                assert!(
                    message.contains(&inc.display().to_string()) && message.contains("16 MiB"),
                    "{message}"
                );
            }
            other => panic!("{other:?}"),
        }
        // Small files included again and again add up to the same limit.
        let chunk = format!(";{}\n", "y".repeat(limit / 8));
        dir.write("chunk.conf", &chunk);
        let path = dir.write("manager.conf", &"#include chunk.conf\n".repeat(9));
        let (line, _, message) = invalid(Config::load(&path));
        assert_eq!(line, 8);
        assert!(message.contains("with its includes"), "{message}");
        let path = dir.write("manager.conf", &"#include chunk.conf\n".repeat(7));
        assert!(Config::load(&path).is_ok());
    }
    #[test]
    fn hostile_client_limits() {
        let g = Config::default().general;
        assert_eq!(
            (
                g.authtimeout,
                g.authlimit,
                g.loginfailures,
                g.loginfailurewindow,
                g.writetimeout,
                g.busypoll
            ),
            (30, 50, 10, 60, 5000, 50)
        );
        let c = toml(
            "[general]\nauthtimeout = 2\nauthlimit = 5\nloginfailures = 0\nloginfailurewindow = 10\n\
             writetimeout = 250\nbusypoll = 0\n[users.slow]\nsecret = \"s\"\nwritetimeout = 100\n",
        )
        .unwrap();
        let g = &c.general;
        assert_eq!(
            (
                g.authtimeout,
                g.authlimit,
                g.loginfailures,
                g.loginfailurewindow,
                g.writetimeout,
                g.busypoll
            ),
            (2, 5, 0, 10, 250, 0)
        );
        assert_eq!(c.user("slow").unwrap().writetimeout, Some(100));
        for (text, line, key) in [
            ("[general]\nauthtimeout = 0\n", 2, "general.authtimeout"),
            (
                "[general]\n\nauthtimeout = 3601\n",
                3,
                "general.authtimeout",
            ),
            ("[general]\nauthlimit = 0\n", 2, "general.authlimit"),
            ("[general]\nauthlimit = 100001\n", 2, "general.authlimit"),
            (
                "[general]\nloginfailures = -1\n",
                2,
                "general.loginfailures",
            ),
            (
                "[general]\nloginfailurewindow = 0\n",
                2,
                "general.loginfailurewindow",
            ),
            ("[general]\nwritetimeout = 99\n", 2, "general.writetimeout"),
            ("[general]\nbusypoll = 1001\n", 2, "general.busypoll"),
            ("[users.a]\nwritetimeout = 50\n", 2, "users.a.writetimeout"),
        ] {
            let (l, k, _) = invalid(toml(text));
            assert_eq!((l, k.as_str()), (line, key), "{text}");
        }

        let dir = TempDir::new("config");
        let path = dir.write(
            "manager.conf",
            "[general]\nauthtimeout = 5\nauthlimit = 7\nloginfailures = 3\nloginfailurewindow = 30\n\
             writetimeout = 300\nbusypoll = 200\n[u]\nsecret = x\nwritetimeout = 150\n",
        );
        let c = Config::load(&path).unwrap();
        let g = &c.general;
        assert_eq!(
            (
                g.authtimeout,
                g.authlimit,
                g.loginfailures,
                g.loginfailurewindow,
                g.writetimeout,
                g.busypoll
            ),
            (5, 7, 3, 30, 300, 200)
        );
        assert_eq!(c.user("u").unwrap().writetimeout, Some(150));
        for (text, line, key) in [
            ("[general]\nauthtimeout = 0\n", 2, "authtimeout"),
            ("[general]\nauthlimit = lots\n", 2, "authlimit"),
            (
                "[general]\n\nloginfailurewindow = 0\n",
                3,
                "loginfailurewindow",
            ),
            ("[u]\nsecret = x\nwritetimeout = 99\n", 3, "writetimeout"),
            ("[general]\nbusypoll = -1\n", 2, "busypoll"),
        ] {
            let path = dir.write("manager.conf", text);
            match Config::load(&path) {
                Err(ConfigError::Invalid {
                    line: l, key: k, ..
                }) => {
                    assert_eq!((l, k.as_str()), (line, key), "{text}")
                }
                other => panic!("{text}: {other:?}"),
            }
        }
    }

    #[test]
    fn ipv6_peers_against_an_ipv4_permit_list() {
        let c = toml(
            "[users.lo]\nsecret = \"x\"\ndeny = [\"0.0.0.0/0\"]\npermit = [\"127.0.0.1/32\"]\n",
        )
        .unwrap();
        let u = c.user("lo").unwrap();
        assert!(u.acl_allows(ip("127.0.0.1")));
        assert!(u.acl_allows(ip("::ffff:127.0.0.1")));
        assert!(!u.acl_allows(ip("::1")));
        assert!(!u.acl_allows(ip("2001:db8::1")));
        assert!(!u.acl_allows(ip("10.0.0.1")));
    }
}
