//! Channels of the PBX core: listing, hangup, transfer, origination. Grant: `channels`.
//!
//! Channel names compare case-insensitively, as Asterisk's `ast_get_channel_by_name_locked`
//! does. Every function here works only inside the host; keep the logic that renders a
//! [`ChannelInfo`] or builds an [`OriginateRequest`] in plain functions so native unit
//! tests can reach it.

use std::fmt;

use crate::wit::ami::manager::channels as host;
use crate::wit::ami::manager::types as wit;

/// A snapshot of one channel, as `Status` reports it.
///
/// # Example
///
/// ```no_run
/// use ami_plugin_sdk::channels::{self, ChannelInfo};
///
/// fn caller(info: &ChannelInfo) -> &str {
///     info.caller_id_num.as_deref().filter(|n| !n.is_empty()).unwrap_or("<unknown>")
/// }
///
/// let callers: Vec<String> = channels::all().iter().map(|c| caller(c).to_string()).collect();
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChannelInfo {
    /// Full name, `Tech/resource-xxxxxxxx`.
    pub name: String,
    /// Unique id, `epoch.sequence`.
    pub uniqueid: String,
    /// Id shared by every channel of one call.
    pub linkedid: String,
    /// State number (`AST_STATE_*`: 0 Down ... 6 Up).
    pub state: u8,
    /// State text (`Down`, `Ringing`, `Up`, ...).
    pub state_desc: String,
    /// Caller id number, `None` when unknown.
    pub caller_id_num: Option<String>,
    /// Caller id name, `None` when unknown.
    pub caller_id_name: Option<String>,
    /// Connected line number, `None` when unknown.
    pub connected_line_num: Option<String>,
    /// Connected line name, `None` when unknown.
    pub connected_line_name: Option<String>,
    /// Account code, possibly empty.
    pub account_code: String,
    /// Language, e.g. `en`.
    pub language: String,
    /// Dialplan context.
    pub context: String,
    /// Dialplan extension.
    pub exten: String,
    /// Dialplan priority.
    pub priority: u32,
    /// Whether the channel runs dialplan (AMI 1.0 `Status` then shows
    /// `Context`/`Extension`/`Priority`/`Seconds`).
    pub in_dialplan: bool,
    /// Application running now, possibly empty.
    pub application: String,
    /// Its argument, possibly empty.
    pub application_data: String,
    /// Seconds since the channel's CDR started.
    pub seconds: u64,
    /// Name of the bridged peer, if any.
    pub bridged_to: Option<String>,
}

impl ChannelInfo {
    #[doc(hidden)]
    pub fn from_wit(info: host::ChannelInfo) -> ChannelInfo {
        ChannelInfo {
            name: info.name,
            uniqueid: info.uniqueid,
            linkedid: info.linkedid,
            state: info.state,
            state_desc: info.state_desc,
            caller_id_num: info.caller_id_num,
            caller_id_name: info.caller_id_name,
            connected_line_num: info.connected_line_num,
            connected_line_name: info.connected_line_name,
            account_code: info.account_code,
            language: info.language,
            context: info.context,
            exten: info.exten,
            priority: info.priority,
            in_dialplan: info.in_dialplan,
            application: info.application,
            application_data: info.application_data,
            seconds: info.seconds,
            bridged_to: info.bridged_to,
        }
    }
}

/// Why a channel operation failed.
///
/// # Example
///
/// ```no_run
/// use ami_plugin_sdk::channels::{self, ChannelError};
/// use ami_plugin_sdk::{Request, Response};
///
/// fn hangup(req: &Request, name: &str) -> Response {
///     match channels::hangup(name, 16) {
///         Ok(()) | Err(ChannelError::NotUp) => Response::ack(req, "Channel Hungup"),
///         Err(_) => Response::error(req, "No such channel"),
///     }
/// }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ChannelError {
    /// No channel of that name.
    NoSuchChannel,
    /// The channel is already hanging up.
    NotUp,
    /// The priority is neither a number nor a known label.
    InvalidPriority,
    /// The operation is not possible here (no feature configured, ...).
    Unsupported,
    /// The operation failed.
    Failed,
}

impl ChannelError {
    #[doc(hidden)]
    pub fn from_wit(error: host::ChannelError) -> ChannelError {
        match error {
            host::ChannelError::NoSuchChannel => ChannelError::NoSuchChannel,
            host::ChannelError::NotUp => ChannelError::NotUp,
            host::ChannelError::InvalidPriority => ChannelError::InvalidPriority,
            host::ChannelError::Unsupported => ChannelError::Unsupported,
            host::ChannelError::Failed => ChannelError::Failed,
        }
    }
}

impl fmt::Display for ChannelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ChannelError::NoSuchChannel => "no such channel",
            ChannelError::NotUp => "channel not up",
            ChannelError::InvalidPriority => "invalid priority",
            ChannelError::Unsupported => "not supported",
            ChannelError::Failed => "failed",
        })
    }
}

impl std::error::Error for ChannelError {}

/// A place in the dialplan: where a redirected or originated channel goes.
///
/// # Example
///
/// ```no_run
/// use ami_plugin_sdk::channels::{self, DialplanTarget};
///
/// let target = DialplanTarget::new("default", "200", "1");
/// let moved = channels::redirect("SIP/100-08a3c1e8", &target).is_ok();
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DialplanTarget {
    /// Context; empty keeps the channel's current one (Redirect).
    pub context: String,
    /// Extension; empty keeps the channel's current one (Redirect).
    pub exten: String,
    /// Priority number or label.
    pub priority: String,
}

impl DialplanTarget {
    /// The target `exten@context`, priority `priority`.
    ///
    /// # Example
    ///
    /// ```no_run
    /// use ami_plugin_sdk::channels::DialplanTarget;
    ///
    /// let target = DialplanTarget::new("default", "s", "start");
    /// assert_eq!(target.priority, "start");
    /// ```
    pub fn new(
        context: impl Into<String>,
        exten: impl Into<String>,
        priority: impl Into<String>,
    ) -> DialplanTarget {
        DialplanTarget {
            context: context.into(),
            exten: exten.into(),
            priority: priority.into(),
        }
    }

    fn to_wit(&self) -> host::DialplanTarget {
        host::DialplanTarget {
            context: self.context.clone(),
            exten: self.exten.clone(),
            priority: self.priority.clone(),
        }
    }
}

/// What an answered originated channel runs.
///
/// # Example
///
/// ```no_run
/// use ami_plugin_sdk::channels::{DialplanTarget, OriginateTarget};
///
/// let app = OriginateTarget::Application { name: "Wait".into(), data: "1".into() };
/// let dialplan = OriginateTarget::Dialplan(DialplanTarget::new("default", "100", "1"));
/// assert_ne!(app, dialplan);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OriginateTarget {
    /// Start the dialplan here.
    Dialplan(DialplanTarget),
    /// Run application `name` with argument `data`.
    Application {
        /// The application, e.g. `Wait`.
        name: String,
        /// Its argument, possibly empty.
        data: String,
    },
}

impl Default for OriginateTarget {
    fn default() -> OriginateTarget {
        OriginateTarget::Dialplan(DialplanTarget::default())
    }
}

/// An Originate request.
///
/// # Example
///
/// ```no_run
/// use ami_plugin_sdk::channels::{self, OriginateRequest, OriginateTarget};
///
/// let request = OriginateRequest {
///     channel: "Local/100@default".into(),
///     target: OriginateTarget::Application { name: "Wait".into(), data: "1".into() },
///     caller_id_num: Some("5550100".into()),
///     variables: vec![("FOO".into(), "bar".into())],
///     ..OriginateRequest::default()
/// };
/// let answered = channels::originate(&request).success;
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OriginateRequest {
    /// Dial string `Tech/data`.
    pub channel: String,
    /// What runs once answered.
    pub target: OriginateTarget,
    /// Ring timeout in milliseconds (default 30000).
    pub timeout_ms: u32,
    /// Caller id number.
    pub caller_id_num: Option<String>,
    /// Caller id name.
    pub caller_id_name: Option<String>,
    /// Account code.
    pub account: Option<String>,
    /// Channel variables of the new channel, (name, value) in order.
    pub variables: Vec<(String, String)>,
}

impl Default for OriginateRequest {
    fn default() -> OriginateRequest {
        OriginateRequest {
            channel: String::new(),
            target: OriginateTarget::default(),
            timeout_ms: 30_000,
            caller_id_num: None,
            caller_id_name: None,
            account: None,
            variables: Vec::new(),
        }
    }
}

impl OriginateRequest {
    fn to_wit(&self) -> host::OriginateRequest {
        host::OriginateRequest {
            channel: self.channel.clone(),
            target: match &self.target {
                OriginateTarget::Dialplan(target) => {
                    host::OriginateTarget::Dialplan(target.to_wit())
                }
                OriginateTarget::Application { name, data } => {
                    host::OriginateTarget::Application((name.clone(), data.clone()))
                }
            },
            timeout_ms: self.timeout_ms,
            caller_id_num: self.caller_id_num.clone(),
            caller_id_name: self.caller_id_name.clone(),
            account: self.account.clone(),
            variables: self
                .variables
                .iter()
                .map(|(name, value)| wit::Header {
                    name: name.clone(),
                    value: value.clone(),
                })
                .collect(),
        }
    }
}

/// How an origination ended.
///
/// # Example
///
/// ```no_run
/// use ami_plugin_sdk::channels::{self, OriginateRequest};
///
/// let outcome = channels::originate(&OriginateRequest::default());
/// let uniqueid = outcome.uniqueid.unwrap_or_else(|| "<null>".to_string());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OriginateOutcome {
    /// Answered and started.
    pub success: bool,
    /// Last call-progress code (`AST_CONTROL_*`: 0, 1 hung up, 3 ringing, 4 answered,
    /// 5 busy, 8 congestion).
    pub reason: u32,
    /// The created channel's name, or the dial string when none was created.
    pub channel: String,
    /// The created channel's unique id, when one was created.
    pub uniqueid: Option<String>,
}

/// Every channel, in creation order.
///
/// # Example
///
/// ```no_run
/// use ami_plugin_sdk::channels;
///
/// let up = channels::all().iter().filter(|c| c.state == 6).count();
/// ```
pub fn all() -> Vec<ChannelInfo> {
    host::all().into_iter().map(ChannelInfo::from_wit).collect()
}

/// The channel named `name` (case-insensitive), `None` when there is none.
///
/// # Example
///
/// ```no_run
/// use ami_plugin_sdk::channels;
///
/// let exists = channels::get("SIP/100-08a3c1e8").is_some();
/// ```
pub fn get(name: &str) -> Option<ChannelInfo> {
    host::get(name).map(ChannelInfo::from_wit)
}

/// Requests a hangup of `name` with hangup cause `cause` (16 = normal clearing). Returns
/// once requested; the `Hangup` event follows.
///
/// # Example
///
/// ```no_run
/// use ami_plugin_sdk::channels::{self, ChannelError};
///
/// if let Err(ChannelError::NoSuchChannel) = channels::hangup("SIP/100-08a3c1e8", 16) {
///     // nothing to hang up
/// }
/// ```
pub fn hangup(name: &str, cause: u32) -> Result<(), ChannelError> {
    host::hangup(name, cause).map_err(ChannelError::from_wit)
}

/// Sends `name` to `target` (Redirect). The priority should be a number; resolve labels
/// first with [`dialplan::find_label`](crate::dialplan::find_label).
///
/// # Example
///
/// ```no_run
/// use ami_plugin_sdk::channels::{self, DialplanTarget};
///
/// let result = channels::redirect("SIP/100-08a3c1e8", &DialplanTarget::new("default", "300", "1"));
/// ```
pub fn redirect(name: &str, target: &DialplanTarget) -> Result<(), ChannelError> {
    host::redirect(name, &target.to_wit()).map_err(ChannelError::from_wit)
}

/// Hangs `name` up `seconds` from now (AbsoluteTimeout); a negative value puts the
/// deadline in the past.
///
/// # Example
///
/// ```no_run
/// use ami_plugin_sdk::channels;
///
/// let result = channels::set_absolute_timeout("SIP/100-08a3c1e8", 60);
/// ```
pub fn set_absolute_timeout(name: &str, seconds: i64) -> Result<(), ChannelError> {
    host::set_absolute_timeout(name, seconds).map_err(ChannelError::from_wit)
}

/// Starts an attended transfer of `name` to `exten`, in `context` when given (Atxfer).
/// [`ChannelError::Unsupported`] means no attended-transfer feature is configured.
///
/// # Example
///
/// ```no_run
/// use ami_plugin_sdk::channels;
///
/// let result = channels::atxfer("SIP/100-08a3c1e8", "200", Some("default"));
/// ```
pub fn atxfer(name: &str, exten: &str, context: Option<&str>) -> Result<(), ChannelError> {
    host::atxfer(name, exten, context).map_err(ChannelError::from_wit)
}

/// Originates a call and waits until it is answered or fails (synchronous Originate). The
/// wait holds no host thread and counts against no CPU deadline.
///
/// # Example
///
/// ```no_run
/// use ami_plugin_sdk::channels::{self, DialplanTarget, OriginateRequest, OriginateTarget};
///
/// let request = OriginateRequest {
///     channel: "SIP/100".into(),
///     target: OriginateTarget::Dialplan(DialplanTarget::new("default", "200", "1")),
///     ..OriginateRequest::default()
/// };
/// let text = if channels::originate(&request).success {
///     "Originate successfully queued"
/// } else {
///     "Originate failed"
/// };
/// ```
pub fn originate(request: &OriginateRequest) -> OriginateOutcome {
    let outcome = host::originate(&request.to_wit());
    OriginateOutcome {
        success: outcome.success,
        reason: outcome.reason,
        channel: outcome.channel,
        uniqueid: outcome.uniqueid,
    }
}

/// Starts originating a call and returns at once (asynchronous Originate). When the
/// attempt ends, the host emits `OriginateResponse` (class `call`) carrying `action_id`
/// as its `ActionID` (none when `None`).
///
/// # Example
///
/// ```no_run
/// use ami_plugin_sdk::channels::{self, OriginateRequest, OriginateTarget};
/// use ami_plugin_sdk::{Request, Response};
///
/// fn originate_async(req: &Request, request: &OriginateRequest) -> Response {
///     channels::originate_async(request, req.action_id());
///     Response::ack(req, "Originate successfully queued")
/// }
/// ```
pub fn originate_async(request: &OriginateRequest, action_id: Option<&str>) {
    host::originate_async(&request.to_wit(), action_id);
}
