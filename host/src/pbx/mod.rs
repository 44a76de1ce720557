//! The PBX the manager manages, behind the [`Pbx`] trait so that a real PBX (or a bridge
//! to one) can replace the embedded, in-memory one. Actions reach it only through the
//! `channels`, `variables`, `dialplan` and `mailboxes` WIT interfaces; the CLI reads it
//! for `core show channels` and `dialplan show`.

pub mod dialplan;
pub mod embedded;

use std::future::Future;
use std::pin::Pin;

/// A boxed future (the trait is object-safe).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A snapshot of one channel (mirrors WIT `channels.channel-info`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ChannelSnapshot {
    /// Full name, `Tech/resource-xxxxxxxx`.
    pub name: String,
    /// Unique id, `epoch.sequence`.
    pub uniqueid: String,
    /// Id shared by every channel of one call.
    pub linkedid: String,
    /// State number (`AST_STATE_*`).
    pub state: u8,
    /// Caller id number.
    pub caller_id_num: Option<String>,
    /// Caller id name.
    pub caller_id_name: Option<String>,
    /// Connected line number.
    pub connected_line_num: Option<String>,
    /// Connected line name.
    pub connected_line_name: Option<String>,
    /// Account code.
    pub account_code: String,
    /// Language.
    pub language: String,
    /// Dialplan context.
    pub context: String,
    /// Dialplan extension.
    pub exten: String,
    /// Dialplan priority.
    pub priority: u32,
    /// Whether the channel runs dialplan.
    pub in_dialplan: bool,
    /// Application running now.
    pub application: String,
    /// Its argument.
    pub application_data: String,
    /// Seconds since the channel's CDR started.
    pub seconds: u64,
    /// The bridged peer's name.
    pub bridged_to: Option<String>,
}

/// `ast_state2str`.
pub fn state_text(state: u8) -> String {
    match state {
        0 => "Down".into(),
        1 => "Rsrvd".into(),
        2 => "OffHook".into(),
        3 => "Dialing".into(),
        4 => "Ring".into(),
        5 => "Ringing".into(),
        6 => "Up".into(),
        7 => "Busy".into(),
        8 => "Dialing Offhook".into(),
        9 => "Pre-ring".into(),
        n => format!("Unknown ({n})"),
    }
}

/// Why a channel operation failed (mirrors WIT `channels.channel-error`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelError {
    /// No channel of that name.
    NoSuchChannel,
    /// The channel is already hanging up.
    NotUp,
    /// The priority is neither a number nor a known label.
    InvalidPriority,
    /// Not possible here.
    Unsupported,
    /// Failed.
    Failed,
}

/// A dialplan location.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DialplanTarget {
    /// Context.
    pub context: String,
    /// Extension.
    pub exten: String,
    /// Priority number or label.
    pub priority: String,
}

/// What an answered originated channel runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OriginateTarget {
    /// Start the dialplan here.
    Dialplan(DialplanTarget),
    /// Run application `.0` with argument `.1`.
    Application(String, String),
}

/// An Originate request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginateRequest {
    /// Dial string `Tech/data`.
    pub channel: String,
    /// What runs once answered.
    pub target: OriginateTarget,
    /// Ring timeout, milliseconds.
    pub timeout_ms: u32,
    /// Caller id number.
    pub caller_id_num: Option<String>,
    /// Caller id name.
    pub caller_id_name: Option<String>,
    /// Account code.
    pub account: Option<String>,
    /// Channel variables.
    pub variables: Vec<(String, String)>,
}

/// How an origination ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginateOutcome {
    /// Answered and started.
    pub success: bool,
    /// Last call-progress code (0, 1 hung up, 3 ringing, 4 answered, 5 busy, 8 congestion).
    pub reason: u32,
    /// The created channel's name, or the dial string.
    pub channel: String,
    /// The created channel's unique id.
    pub uniqueid: Option<String>,
}

/// State of an extension through its hint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtensionState {
    /// The hint's device string, empty without a hint.
    pub hint: String,
    /// `AST_EXTENSION_*` code (-1 no hint).
    pub status: i32,
}

/// Message counts of a mailbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MailboxCounts {
    /// In `INBOX`.
    pub new_messages: u32,
    /// In `Old`.
    pub old_messages: u32,
}

/// The PBX as the manager sees it.
pub trait Pbx: Send + Sync + 'static {
    /// Every channel, in creation order.
    fn channels(&self) -> Vec<ChannelSnapshot>;
    /// The channel named `name` (case-insensitive).
    fn channel(&self, name: &str) -> Option<ChannelSnapshot>;
    /// Requests a hangup.
    fn hangup(&self, name: &str, cause: u32) -> Result<(), ChannelError>;
    /// Sends a channel elsewhere in the dialplan.
    fn redirect(&self, name: &str, target: &DialplanTarget) -> Result<(), ChannelError>;
    /// Hangs a channel up `seconds` from now.
    fn set_absolute_timeout(&self, name: &str, seconds: i64) -> Result<(), ChannelError>;
    /// Starts an attended transfer.
    fn atxfer(&self, name: &str, exten: &str, context: Option<&str>) -> Result<(), ChannelError>;
    /// Originates a call; resolves when it is answered or has failed.
    fn originate(&self, request: OriginateRequest) -> BoxFuture<'static, OriginateOutcome>;
    /// Reads a channel variable, or a global when `channel` is `None`.
    fn get_var(&self, channel: Option<&str>, name: &str) -> Result<Option<String>, ChannelError>;
    /// Sets a channel variable, or a global when `channel` is `None`.
    fn set_var(&self, channel: Option<&str>, name: &str, value: &str) -> Result<(), ChannelError>;
    /// The state of `exten@context` through its hint.
    fn hint_state(&self, exten: &str, context: &str) -> ExtensionState;
    /// Resolves a priority label.
    fn find_label(&self, context: &str, exten: &str, label: &str) -> Option<u32>;
    /// Counts the messages of `mailbox` (`box@context`, comma lists summed).
    fn mailbox_counts(&self, mailbox: &str) -> MailboxCounts;
    /// `dialplan show [context]` output.
    fn dialplan_show(&self, context: Option<&str>) -> String;
    /// Channels up now.
    fn current_calls(&self) -> u32;
    /// Calls processed since start.
    fn processed_calls(&self) -> u32;
    /// Re-reads what the PBX takes from the configuration (reload). A broken dialplan
    /// keeps the old one and is reported.
    fn reconfigure(&self, _config: &crate::config::Config) -> Result<(), String> {
        Ok(())
    }
}

pub mod conffiles;
