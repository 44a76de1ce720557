//! The embedded, in-memory PBX: channels with unique ids, states, caller ids and
//! variables; global variables; simulated devices; Local channels; a small dialplan
//! interpreter; hints; and a voicemail spool read from disk. Every change is published
//! as the events Asterisk emits for it, shaped per dialect.
//!
//! Each channel that runs dialplan has its own tokio task; control requests (hangup,
//! redirect, absolute timeout) reach it through the channel's flags and `Notify`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::Notify;

use super::dialplan::Dialplan;
use super::*;
use crate::config::DeviceBehaviour;
use crate::events::{Event, EventBus, EventPart};
use crate::privilege::Privilege;

/// How long `Playback` takes in the simulation.
const PLAYBACK_TIME: Duration = Duration::from_secs(1);

/// Hangup causes (`AST_CAUSE_*`).
fn cause_text(cause: u32) -> &'static str {
    match cause {
        0 => "Unknown",
        1 => "Unallocated (unassigned) number",
        16 => "Normal Clearing",
        17 => "User busy",
        18 => "No user responding",
        19 => "User alerting, no answer",
        20 => "Subscriber absent",
        21 => "Call Rejected",
        34 => "Circuit/channel congestion",
        _ => "Unknown",
    }
}

#[derive(Debug, Clone)]
struct ChanData {
    name: String,
    uniqueid: String,
    linkedid: String,
    state: u8,
    cid_num: Option<String>,
    cid_name: Option<String>,
    conn_num: Option<String>,
    conn_name: Option<String>,
    account: String,
    context: String,
    exten: String,
    priority: u32,
    in_dialplan: bool,
    app: String,
    appdata: String,
    created: Instant,
    vars: Vec<(String, String)>,
    bridged: Option<String>,
    hangup: Option<u32>,
    redirect: Option<DialplanTarget>,
    timeout_at: Option<Instant>,
    gone: bool,
}

#[derive(Debug)]
struct Chan {
    data: Mutex<ChanData>,
    control: Notify,
}

impl Chan {
    fn lock(&self) -> std::sync::MutexGuard<'_, ChanData> {
        match self.data.lock() {
            Ok(d) => d,
            Err(p) => p.into_inner(),
        }
    }

    fn snapshot(&self) -> ChannelSnapshot {
        let d = self.lock();
        ChannelSnapshot {
            name: d.name.clone(),
            uniqueid: d.uniqueid.clone(),
            linkedid: d.linkedid.clone(),
            state: d.state,
            caller_id_num: d.cid_num.clone(),
            caller_id_name: d.cid_name.clone(),
            connected_line_num: d.conn_num.clone(),
            connected_line_name: d.conn_name.clone(),
            account_code: d.account.clone(),
            language: "en".into(),
            context: d.context.clone(),
            exten: d.exten.clone(),
            priority: d.priority,
            in_dialplan: d.in_dialplan,
            application: d.app.clone(),
            application_data: d.appdata.clone(),
            seconds: d.created.elapsed().as_secs(),
            bridged_to: d.bridged.clone(),
        }
    }
}

/// The embedded PBX.
pub struct EmbeddedPbx {
    inner: Arc<Inner>,
}

struct Inner {
    bus: EventBus,
    timestamps: AtomicBool,
    dialplan: RwLock<Arc<Dialplan>>,
    devices: RwLock<HashMap<String, DeviceBehaviour>>,
    spool: RwLock<PathBuf>,
    atxfer: AtomicBool,
    channels: Mutex<Vec<Arc<Chan>>>,
    globals: Mutex<Vec<(String, String)>>,
    hint_states: Mutex<HashMap<(String, String), i32>>,
    epoch: u64,
    seq: AtomicU64,
    names: AtomicU32,
    processed: AtomicU32,
}

impl std::fmt::Debug for EmbeddedPbx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedPbx").finish_non_exhaustive()
    }
}

/// Where the embedded PBX reads its files, and how it answers.
#[derive(Debug, Clone)]
pub struct PbxSettings {
    /// Directory of `extensions.conf`, `features.conf`.
    pub config_dir: PathBuf,
    /// Spool directory (`voicemail/<context>/<box>/INBOX|Old`).
    pub spool_dir: PathBuf,
    /// Simulated devices.
    pub devices: Vec<(String, DeviceBehaviour)>,
    /// Add `Timestamp:` to events.
    pub timestamps: bool,
}

impl EmbeddedPbx {
    /// A PBX publishing on `bus`. A broken `extensions.conf` is an error naming the line.
    pub fn new(bus: EventBus, settings: &PbxSettings) -> Result<EmbeddedPbx, String> {
        let dialplan = Dialplan::load(&settings.config_dir)?;
        let globals = dialplan.globals.clone();
        let epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let pbx = EmbeddedPbx {
            inner: Arc::new(Inner {
                bus,
                timestamps: AtomicBool::new(settings.timestamps),
                dialplan: RwLock::new(Arc::new(dialplan)),
                devices: RwLock::new(HashMap::new()),
                spool: RwLock::new(settings.spool_dir.clone()),
                atxfer: AtomicBool::new(false),
                channels: Mutex::new(Vec::new()),
                globals: Mutex::new(globals),
                hint_states: Mutex::new(HashMap::new()),
                epoch,
                seq: AtomicU64::new(0),
                names: AtomicU32::new(0),
                processed: AtomicU32::new(0),
            }),
        };
        pbx.apply(settings, None);
        Ok(pbx)
    }

    /// Applies new settings (reload): devices, spool, timestamps, and the dialplan when
    /// given.
    pub fn apply(&self, settings: &PbxSettings, dialplan: Option<Dialplan>) {
        let i = &self.inner;
        i.timestamps.store(settings.timestamps, Ordering::Relaxed);
        let devices = settings
            .devices
            .iter()
            .map(|(n, b)| (n.to_ascii_lowercase(), *b))
            .collect();
        write(&i.devices, devices);
        write(&i.spool, settings.spool_dir.clone());
        if let Some(d) = dialplan {
            write(&i.dialplan, Arc::new(d));
        }
        i.atxfer.store(
            features_have_atxfer(&settings.config_dir),
            Ordering::Relaxed,
        );
        let hints = read(&i.dialplan).hints();
        let mut states = lock(&i.hint_states);
        states.clear();
        for (exten, context, devices) in hints {
            let s = i.hint_status(&devices);
            states.insert((exten, context), s);
        }
    }
}

fn features_have_atxfer(dir: &Path) -> bool {
    crate::config::conf_file::read_capped(&dir.join("features.conf"))
        .map(|bytes| {
            String::from_utf8_lossy(&bytes).lines().any(|l| {
                let l = l.split(';').next().unwrap_or("").trim();
                l.to_ascii_lowercase().starts_with("atxfer")
            })
        })
        .unwrap_or(false)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

fn read<T: Clone>(l: &RwLock<T>) -> T {
    match l.read() {
        Ok(g) => g.clone(),
        Err(p) => p.into_inner().clone(),
    }
}

fn write<T>(l: &RwLock<T>, v: T) {
    match l.write() {
        Ok(mut g) => *g = v,
        Err(p) => *p.into_inner() = v,
    }
}

fn unknown(v: &Option<String>) -> String {
    v.clone().unwrap_or_else(|| "<unknown>".into())
}

/// The modern channel snapshot block.
fn snapshot_block(d: &ChanData, prefix: &str) -> Vec<(String, String)> {
    vec![
        (format!("{prefix}Channel"), d.name.clone()),
        (format!("{prefix}ChannelState"), d.state.to_string()),
        (format!("{prefix}ChannelStateDesc"), state_text(d.state)),
        (format!("{prefix}CallerIDNum"), unknown(&d.cid_num)),
        (format!("{prefix}CallerIDName"), unknown(&d.cid_name)),
        (format!("{prefix}ConnectedLineNum"), unknown(&d.conn_num)),
        (format!("{prefix}ConnectedLineName"), unknown(&d.conn_name)),
        (format!("{prefix}Language"), "en".into()),
        (format!("{prefix}AccountCode"), d.account.clone()),
        (format!("{prefix}Context"), d.context.clone()),
        (format!("{prefix}Exten"), d.exten.clone()),
        (format!("{prefix}Priority"), d.priority.to_string()),
        (format!("{prefix}Uniqueid"), d.uniqueid.clone()),
        (format!("{prefix}Linkedid"), d.linkedid.clone()),
    ]
}

fn pairs(items: &[(&str, String)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(n, v)| (n.to_string(), v.clone()))
        .collect()
}

impl Inner {
    fn publish(&self, event: Event) {
        if self.bus.receivers() > 0 {
            self.bus.publish(event);
        }
    }

    fn ts(&self) -> bool {
        self.timestamps.load(Ordering::Relaxed)
    }

    /// Publishes a channel event: `v1` body (None: not in 1.0) and the modern extra
    /// headers after the snapshot block (None: not in modern).
    fn channel_event(
        &self,
        d: &ChanData,
        name: &str,
        v1: Option<(Privilege, Vec<(String, String)>)>,
        modern: Option<(Privilege, Vec<(String, String)>)>,
    ) {
        let v1 = v1.map(|(class, body)| EventPart {
            class,
            name: name.to_string(),
            body,
        });
        let modern = modern.map(|(class, extra)| {
            let mut body = snapshot_block(d, "");
            body.extend(extra);
            EventPart {
                class,
                name: name.to_string(),
                body,
            }
        });
        self.publish(Event::per_dialect(v1, modern, self.ts()));
    }

    fn new_uniqueid(&self) -> String {
        format!(
            "{}.{}",
            self.epoch,
            self.seq.fetch_add(1, Ordering::Relaxed)
        )
    }

    fn find(&self, name: &str) -> Option<Arc<Chan>> {
        lock(&self.channels)
            .iter()
            .find(|c| c.lock().name.eq_ignore_ascii_case(name))
            .cloned()
    }

    /// Creates a channel and publishes `Newchannel`.
    fn create(
        &self,
        name: String,
        linkedid: Option<String>,
        state: u8,
        context: &str,
        exten: &str,
    ) -> Arc<Chan> {
        let uniqueid = self.new_uniqueid();
        let d = ChanData {
            linkedid: linkedid.unwrap_or_else(|| uniqueid.clone()),
            name,
            uniqueid,
            state,
            cid_num: None,
            cid_name: None,
            conn_num: None,
            conn_name: None,
            account: String::new(),
            context: context.to_string(),
            exten: exten.to_string(),
            priority: 1,
            in_dialplan: false,
            app: String::new(),
            appdata: String::new(),
            created: Instant::now(),
            vars: Vec::new(),
            bridged: None,
            hangup: None,
            redirect: None,
            timeout_at: None,
            gone: false,
        };
        self.channel_event(
            &d,
            "Newchannel",
            Some((
                Privilege::CALL,
                pairs(&[
                    ("Channel", d.name.clone()),
                    ("State", state_text(d.state)),
                    ("CallerIDNum", unknown(&d.cid_num)),
                    ("CallerIDName", unknown(&d.cid_name)),
                    ("Uniqueid", d.uniqueid.clone()),
                ]),
            )),
            Some((Privilege::CALL, vec![])),
        );
        let chan = Arc::new(Chan {
            data: Mutex::new(d),
            control: Notify::new(),
        });
        lock(&self.channels).push(chan.clone());
        self.update_hints();
        chan
    }

    fn set_state(&self, chan: &Chan, state: u8) {
        let d = {
            let mut d = chan.lock();
            if d.state == state {
                return;
            }
            d.state = state;
            d.clone()
        };
        self.channel_event(
            &d,
            "Newstate",
            Some((
                Privilege::CALL,
                pairs(&[
                    ("Channel", d.name.clone()),
                    ("State", state_text(d.state)),
                    ("CallerID", unknown(&d.cid_num)),
                    ("CallerIDName", unknown(&d.cid_name)),
                    ("Uniqueid", d.uniqueid.clone()),
                ]),
            )),
            Some((Privilege::CALL, vec![])),
        );
        self.update_hints();
    }

    fn set_callerid(&self, chan: &Chan, num: Option<String>, name: Option<String>) {
        let d = {
            let mut d = chan.lock();
            d.cid_num = num;
            d.cid_name = name;
            d.clone()
        };
        self.channel_event(
            &d,
            "Newcallerid",
            Some((
                Privilege::CALL,
                pairs(&[
                    ("Channel", d.name.clone()),
                    (
                        "CallerID",
                        d.cid_num.clone().unwrap_or_else(|| "<Unknown>".into()),
                    ),
                    (
                        "CallerIDName",
                        d.cid_name.clone().unwrap_or_else(|| "<Unknown>".into()),
                    ),
                    ("Uniqueid", d.uniqueid.clone()),
                    (
                        "CID-CallingPres",
                        "0 (Presentation Allowed, Not Screened)".into(),
                    ),
                ]),
            )),
            None,
        );
        let d2 = d.clone();
        self.publish(Event::per_dialect(
            None,
            Some(EventPart {
                class: Privilege::CALL,
                name: "NewCallerid".into(),
                body: {
                    let mut b = snapshot_block(&d2, "");
                    b.push((
                        "CID-CallingPres".into(),
                        "0 (Presentation Allowed, Not Screened)".into(),
                    ));
                    b
                },
            }),
            self.ts(),
        ));
    }

    fn set_var(&self, chan: &Chan, name: &str, value: &str) {
        let name = name.trim_start_matches('_').to_string();
        let d = {
            let mut d = chan.lock();
            match d.vars.iter_mut().find(|(n, _)| *n == name) {
                Some(v) => v.1 = value.to_string(),
                None => d.vars.push((name.clone(), value.to_string())),
            }
            d.clone()
        };
        self.channel_event(
            &d,
            "VarSet",
            None,
            Some((
                Privilege(Privilege::CALL.0 << 10), // dialplan (1 << 11)
                pairs(&[("Variable", name), ("Value", value.to_string())]),
            )),
        );
    }

    fn rename(&self, chan: &Chan, new_name: String) {
        let (old, d) = {
            let mut d = chan.lock();
            let old = std::mem::replace(&mut d.name, new_name);
            (old, d.clone())
        };
        self.channel_event(
            &d,
            "Rename",
            Some((
                Privilege::CALL,
                pairs(&[
                    ("Oldname", old.clone()),
                    ("Newname", d.name.clone()),
                    ("Uniqueid", d.uniqueid.clone()),
                ]),
            )),
            Some((Privilege::CALL, pairs(&[("Newname", d.name.clone())]))),
        );
    }

    fn newexten(&self, chan: &Chan) {
        let d = chan.lock().clone();
        self.channel_event(
            &d,
            "Newexten",
            Some((
                Privilege::CALL,
                pairs(&[
                    ("Channel", d.name.clone()),
                    ("Context", d.context.clone()),
                    ("Extension", d.exten.clone()),
                    ("Priority", d.priority.to_string()),
                    ("Application", d.app.clone()),
                    ("AppData", d.appdata.clone()),
                    ("Uniqueid", d.uniqueid.clone()),
                ]),
            )),
            Some((
                Privilege(1 << 11),
                pairs(&[
                    ("Extension", d.exten.clone()),
                    ("Application", d.app.clone()),
                    ("AppData", d.appdata.clone()),
                ]),
            )),
        );
    }

    fn link(&self, a: &Chan, b: &Chan, linked: bool) {
        let (da, db) = (a.lock().clone(), b.lock().clone());
        let name = if linked { "Link" } else { "Unlink" };
        self.publish(Event::per_dialect(
            Some(EventPart {
                class: Privilege::CALL,
                name: name.into(),
                body: pairs(&[
                    ("Channel1", da.name.clone()),
                    ("Channel2", db.name.clone()),
                    ("Uniqueid1", da.uniqueid.clone()),
                    ("Uniqueid2", db.uniqueid.clone()),
                    ("CallerID1", unknown(&da.cid_num)),
                    ("CallerID2", unknown(&db.cid_num)),
                ]),
            }),
            None,
            self.ts(),
        ));
    }

    /// Hangs a channel up now: Hangup event, removal, bridge peer released.
    fn destroy(&self, chan: &Arc<Chan>, cause: u32) {
        let d = {
            let mut d = chan.lock();
            if d.gone {
                return;
            }
            d.gone = true;
            d.clone()
        };
        lock(&self.channels).retain(|c| !Arc::ptr_eq(c, chan));
        self.processed.fetch_add(0, Ordering::Relaxed);
        self.channel_event(
            &d,
            "Hangup",
            Some((
                Privilege::CALL,
                pairs(&[
                    ("Channel", d.name.clone()),
                    ("Uniqueid", d.uniqueid.clone()),
                    ("Cause", cause.to_string()),
                    ("Cause-txt", cause_text(cause).to_string()),
                ]),
            )),
            Some((
                Privilege::CALL,
                pairs(&[
                    ("Cause", cause.to_string()),
                    ("Cause-txt", cause_text(cause).to_string()),
                ]),
            )),
        );
        chan.control.notify_one();
        // The two halves of a Local channel live and die together.
        let partner = if let Some(base) = d.name.strip_suffix(";1") {
            Some(format!("{base};2"))
        } else {
            d.name.strip_suffix(";2").map(|base| format!("{base};1"))
        };
        if let Some(other) = partner.filter(|_| d.name.starts_with("Local/")) {
            if let Some(o) = self.find(&other) {
                let running = o.lock().in_dialplan;
                self.request_hangup(&o, cause);
                if !running {
                    self.destroy(&o, cause);
                }
            }
        }
        self.update_hints();
    }

    fn request_hangup(&self, chan: &Chan, cause: u32) {
        chan.lock().hangup.get_or_insert(cause);
        chan.control.notify_one();
    }

    fn device_state(&self, device: &str) -> i32 {
        let dev = device.trim();
        let lower = dev.to_ascii_lowercase();
        let devices = read(&self.devices);
        let prefix = format!("{lower}-");
        let mut inuse = false;
        let mut ringing = false;
        for c in lock(&self.channels).iter() {
            let d = c.lock();
            let n = d.name.to_ascii_lowercase();
            if n.starts_with(&prefix) || n == lower {
                if d.state == 5 {
                    ringing = true;
                } else {
                    inuse = true;
                }
            }
        }
        match (inuse, ringing) {
            (true, true) => 9,
            (false, true) => 8,
            (true, false) => 1,
            _ => match devices.get(&lower) {
                Some(DeviceBehaviour::Unavailable) => 4,
                Some(DeviceBehaviour::Busy) => 2,
                _ => 0,
            },
        }
    }

    fn hint_status(&self, devices: &str) -> i32 {
        let states: Vec<i32> = devices.split('&').map(|d| self.device_state(d)).collect();
        if states.is_empty() {
            return -1;
        }
        let ringing = states.iter().any(|s| s & 8 != 0);
        let inuse = states.iter().any(|s| s & 1 != 0);
        let busy = states.contains(&2);
        if ringing && inuse {
            9
        } else if ringing {
            8
        } else if busy {
            2
        } else if inuse {
            1
        } else if states.iter().all(|s| *s == 4) {
            4
        } else {
            0
        }
    }

    fn update_hints(&self) {
        let plan = read(&self.dialplan);
        let mut changed = Vec::new();
        {
            let mut states = lock(&self.hint_states);
            for (exten, context, devices) in plan.hints() {
                let s = self.hint_status(&devices);
                let key = (exten.clone(), context.clone());
                if states.get(&key) != Some(&s) {
                    states.insert(key, s);
                    changed.push((exten, context, devices, s));
                }
            }
        }
        for (exten, context, hint, status) in changed {
            let v1 = EventPart {
                class: Privilege::CALL,
                name: "ExtensionStatus".into(),
                body: pairs(&[
                    ("Exten", exten.clone()),
                    ("Context", context.clone()),
                    ("Status", status.to_string()),
                ]),
            };
            let modern = EventPart {
                class: Privilege::CALL,
                name: "ExtensionStatus".into(),
                body: pairs(&[
                    ("Exten", exten),
                    ("Context", context),
                    ("Hint", hint),
                    ("Status", status.to_string()),
                    ("StatusText", status_text(status).into()),
                ]),
            };
            self.publish(Event::per_dialect(Some(v1), Some(modern), self.ts()));
        }
    }

    fn lookup_var(&self, chan: Option<&Chan>, name: &str) -> Option<String> {
        if let Some(c) = chan {
            let d = c.lock();
            let builtin = match name {
                "CHANNEL" => Some(d.name.clone()),
                "UNIQUEID" => Some(d.uniqueid.clone()),
                "EXTEN" => Some(d.exten.clone()),
                "CONTEXT" => Some(d.context.clone()),
                "PRIORITY" => Some(d.priority.to_string()),
                "CALLERID(num)" | "CALLERIDNUM" => d.cid_num.clone(),
                "CALLERID(name)" | "CALLERIDNAME" => d.cid_name.clone(),
                "CDR(accountcode)" | "ACCOUNTCODE" => Some(d.account.clone()),
                _ => None,
            };
            if builtin.is_some() {
                return builtin;
            }
            if let Some((_, v)) = d.vars.iter().rev().find(|(n, _)| n == name) {
                return Some(v.clone());
            }
        }
        lock(&self.globals)
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    }

    /// `${NAME}` substitution.
    fn substitute(&self, chan: &Chan, text: &str) -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let mut depth = 1;
            let mut end = None;
            for (i, ch) in after.char_indices() {
                match ch {
                    '{' => depth += 1,
                    '}' => {
                        depth -= 1;
                        if depth == 0 {
                            end = Some(i);
                            break;
                        }
                    }
                    _ => {}
                }
            }
            let Some(end) = end else {
                out.push_str(&rest[start..]);
                return out;
            };
            let name = self.substitute(chan, &after[..end]);
            out.push_str(&self.lookup_var(Some(chan), &name).unwrap_or_default());
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        out
    }
}

fn status_text(status: i32) -> &'static str {
    match status {
        -1 => "Unknown",
        0 => "Idle",
        1 => "InUse",
        2 => "Busy",
        4 => "Unavailable",
        8 => "Ringing",
        9 => "InUse&Ringing",
        16 => "Hold",
        _ => "Unknown",
    }
}

/// What waking up on a channel's control means.
enum Wake {
    /// Hang up with this cause.
    Hangup(u32),
    /// Jump to this place.
    Redirect(DialplanTarget),
}

/// Waits up to `d` (or forever) unless the channel is told to hang up or move.
async fn wait_on(chan: &Chan, d: Option<Duration>) -> Option<Wake> {
    let deadline = d.map(|d| tokio::time::Instant::now() + d);
    loop {
        {
            let mut data = chan.lock();
            if let Some(c) = data.hangup {
                return Some(Wake::Hangup(c));
            }
            if data.gone {
                return Some(Wake::Hangup(16));
            }
            if let Some(t) = data.redirect.take() {
                return Some(Wake::Redirect(t));
            }
            if let Some(at) = data.timeout_at {
                if Instant::now() >= at {
                    data.hangup = Some(16);
                    return Some(Wake::Hangup(16));
                }
            }
        }
        let timeout_at = chan.lock().timeout_at;
        let mut until = deadline;
        if let Some(at) = timeout_at {
            let at = tokio::time::Instant::from_std(at);
            until = Some(until.map_or(at, |u| u.min(at)));
        }
        match until {
            Some(u) => {
                tokio::select! {
                    _ = chan.control.notified() => {}
                    _ = tokio::time::sleep_until(u) => {
                        if deadline.is_some_and(|dl| tokio::time::Instant::now() >= dl) {
                            // Re-check control flags once more before reporting the timeout.
                            let data = chan.lock();
                            if data.hangup.is_none() && data.redirect.is_none() && !data.gone
                                && data.timeout_at.is_none_or(|at| Instant::now() < at) {
                                return None;
                            }
                        }
                    }
                }
            }
            None => chan.control.notified().await,
        }
    }
}

/// Outcome of ringing a device.
struct Ring {
    /// Answered.
    answered: bool,
    /// `AST_CONTROL_*` reason.
    reason: u32,
    /// Cause when not answered.
    cause: u32,
}

impl EmbeddedPbx {
    fn inner(&self) -> &Arc<Inner> {
        &self.inner
    }
}

/// Creates the outbound channel for `dial` (`Tech/resource`) and rings it. Returns the
/// channel (already destroyed when not answered) and the outcome.
async fn dial_out(
    inner: &Arc<Inner>,
    dial: &str,
    timeout: Duration,
    linkedid: Option<String>,
    cid: (Option<String>, Option<String>),
    account: Option<String>,
    variables: &[(String, String)],
) -> (Option<Arc<Chan>>, Ring) {
    let Some((tech, resource)) = dial.split_once('/') else {
        return (
            None,
            Ring {
                answered: false,
                reason: 0,
                cause: 0,
            },
        );
    };
    let n = inner.names.fetch_add(1, Ordering::Relaxed);
    if tech.eq_ignore_ascii_case("Local") {
        let (exten, context) = match resource.split('/').next().unwrap_or("").split_once('@') {
            Some((e, c)) => (e.to_string(), c.to_string()),
            None => (resource.to_string(), "default".to_string()),
        };
        let plan = read(&inner.dialplan);
        if plan.step(&context, &exten, 1).is_none() {
            return (
                None,
                Ring {
                    answered: false,
                    reason: 0,
                    cause: 1,
                },
            );
        }
        let base = format!("Local/{exten}@{context}-{n:08x}");
        let one = inner.create(format!("{base};1"), linkedid.clone(), 0, &context, &exten);
        let link = one.lock().linkedid.clone();
        let two = inner.create(format!("{base};2"), Some(link), 4, &context, &exten);
        setup(inner, &one, &cid, &account, variables);
        setup(inner, &two, &cid, &account, &[]);
        {
            let mut d2 = two.lock();
            d2.in_dialplan = true;
        }
        // The ;2 side runs the dialplan; ;1 is answered when ;2 answers.
        let runner = inner.clone();
        let two_run = two.clone();
        tokio::spawn(async move { run_dialplan(runner, two_run).await });
        let deadline = Instant::now() + timeout;
        loop {
            let (state, gone) = {
                let d = two.lock();
                (d.state, d.gone)
            };
            if state == 6 {
                inner.set_state(&one, 6);
                return (
                    Some(one),
                    Ring {
                        answered: true,
                        reason: 4,
                        cause: 0,
                    },
                );
            }
            if gone || Instant::now() >= deadline || one.lock().hangup.is_some() {
                inner.request_hangup(&two, 16);
                inner.destroy(&one, 16);
                let reason = if gone { 1 } else { 3 };
                return (
                    Some(one),
                    Ring {
                        answered: false,
                        reason,
                        cause: 19,
                    },
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let behaviour = read(&inner.devices)
        .get(&dial.to_ascii_lowercase())
        .copied()
        .unwrap_or(DeviceBehaviour::Unavailable);
    let chan = inner.create(
        format!("{tech}/{resource}-{n:08x}"),
        linkedid,
        0,
        "default",
        "s",
    );
    setup(inner, &chan, &cid, &account, variables);
    let ring = match behaviour {
        DeviceBehaviour::Answer(ms) => {
            inner.set_state(&chan, 5);
            if Duration::from_millis(ms) >= timeout {
                let _ = wait_on(&chan, Some(timeout)).await;
                Ring {
                    answered: false,
                    reason: 3,
                    cause: 19,
                }
            } else {
                match wait_on(&chan, Some(Duration::from_millis(ms))).await {
                    None => {
                        inner.set_state(&chan, 6);
                        Ring {
                            answered: true,
                            reason: 4,
                            cause: 0,
                        }
                    }
                    Some(_) => Ring {
                        answered: false,
                        reason: 1,
                        cause: 16,
                    },
                }
            }
        }
        DeviceBehaviour::NoAnswer => {
            inner.set_state(&chan, 5);
            let _ = wait_on(&chan, Some(timeout)).await;
            Ring {
                answered: false,
                reason: 3,
                cause: 19,
            }
        }
        DeviceBehaviour::Busy => Ring {
            answered: false,
            reason: 5,
            cause: 17,
        },
        DeviceBehaviour::Congestion => Ring {
            answered: false,
            reason: 8,
            cause: 34,
        },
        DeviceBehaviour::Unavailable => Ring {
            answered: false,
            reason: 0,
            cause: 20,
        },
    };
    if !ring.answered {
        inner.destroy(&chan, ring.cause);
    }
    (Some(chan), ring)
}

fn setup(
    inner: &Inner,
    chan: &Chan,
    cid: &(Option<String>, Option<String>),
    account: &Option<String>,
    variables: &[(String, String)],
) {
    if cid.0.is_some() || cid.1.is_some() {
        inner.set_callerid(chan, cid.0.clone(), cid.1.clone());
    }
    if let Some(a) = account {
        chan.lock().account = a.clone();
    }
    for (n, v) in variables {
        inner.set_var(chan, n, v);
    }
}

/// Runs a channel through the dialplan until it hangs up. Boxed: the interpreter and
/// `Dial` call each other.
fn run_dialplan(inner: Arc<Inner>, chan: Arc<Chan>) -> BoxFuture<'static, ()> {
    Box::pin(run_dialplan_inner(inner, chan))
}

async fn run_dialplan_inner(inner: Arc<Inner>, chan: Arc<Chan>) {
    let mut cause = 16;
    let mut steps = 0u32;
    loop {
        steps += 1;
        if steps > 10_000 {
            tracing::warn!("dialplan loop: hanging up after 10000 steps");
            break;
        }
        if let Some(wake) = wait_on(&chan, Some(Duration::ZERO)).await {
            match wake {
                Wake::Hangup(c) => {
                    cause = c;
                    break;
                }
                Wake::Redirect(t) => {
                    goto(&inner, &chan, &t);
                    continue;
                }
            }
        }
        let (context, exten, priority) = {
            let d = chan.lock();
            (d.context.clone(), d.exten.clone(), d.priority)
        };
        let plan = read(&inner.dialplan);
        let Some(step) = plan.step(&context, &exten, priority).cloned() else {
            break;
        };
        let data = inner.substitute(&chan, &step.data);
        {
            let mut d = chan.lock();
            d.app = step.app.clone();
            d.appdata = data.clone();
            d.in_dialplan = true;
        }
        inner.newexten(&chan);
        match execute(&inner, &chan, &step.app, &data).await {
            Flow::Next => {
                chan.lock().priority += 1;
            }
            Flow::Jumped => {}
            Flow::Hangup(c) => {
                cause = c;
                break;
            }
        }
    }
    inner.destroy(&chan, cause);
}

/// How a dialplan application ended.
enum Flow {
    Next,
    Jumped,
    Hangup(u32),
}

fn goto(inner: &Inner, chan: &Chan, t: &DialplanTarget) {
    let plan = read(&inner.dialplan);
    let mut d = chan.lock();
    if !t.context.is_empty() {
        d.context = t.context.clone();
    }
    if !t.exten.is_empty() {
        d.exten = t.exten.clone();
    }
    d.priority = t
        .priority
        .trim()
        .parse()
        .ok()
        .or_else(|| plan.find_label(&d.context, &d.exten, t.priority.trim()))
        .unwrap_or(1);
}

async fn pause(chan: &Chan, inner: &Inner, d: Duration) -> Option<Flow> {
    match wait_on(chan, Some(d)).await {
        None => None,
        Some(Wake::Hangup(c)) => Some(Flow::Hangup(c)),
        Some(Wake::Redirect(t)) => {
            goto(inner, chan, &t);
            Some(Flow::Jumped)
        }
    }
}

async fn execute(inner: &Arc<Inner>, chan: &Arc<Chan>, app: &str, data: &str) -> Flow {
    let args: Vec<&str> = if data.contains('|') {
        data.split('|').collect()
    } else {
        data.split(',').collect()
    };
    match app.to_ascii_lowercase().as_str() {
        "answer" => {
            inner.set_state(chan, 6);
            Flow::Next
        }
        "wait" => {
            let secs: f64 = args
                .first()
                .and_then(|s| s.trim().parse().ok())
                .unwrap_or(0.0);
            pause(
                chan,
                inner,
                Duration::from_secs_f64(secs.clamp(0.0, 86_400.0)),
            )
            .await
            .unwrap_or(Flow::Next)
        }
        "playback" => pause(chan, inner, PLAYBACK_TIME)
            .await
            .unwrap_or(Flow::Next),
        "set" => {
            if let Some((n, v)) = data.split_once('=') {
                inner.set_var(chan, n.trim(), v);
            }
            Flow::Next
        }
        "noop" => Flow::Next,
        "goto" => {
            let t = match args.as_slice() {
                [p] => DialplanTarget {
                    priority: p.to_string(),
                    ..Default::default()
                },
                [e, p] => DialplanTarget {
                    exten: e.to_string(),
                    priority: p.to_string(),
                    ..Default::default()
                },
                [c, e, p, ..] => DialplanTarget {
                    context: c.to_string(),
                    exten: e.to_string(),
                    priority: p.to_string(),
                },
                [] => return Flow::Next,
            };
            goto(inner, chan, &t);
            Flow::Jumped
        }
        "hangup" => Flow::Hangup(
            args.first()
                .and_then(|s| s.trim().parse().ok())
                .unwrap_or(16),
        ),
        "userevent" => {
            let name = args
                .first()
                .map(|s| s.trim().to_string())
                .unwrap_or_default();
            let mut body = vec![("UserEvent".to_string(), name)];
            for h in args.iter().skip(1) {
                if let Some((n, v)) = h.split_once(':') {
                    body.push((n.trim().to_string(), v.trim_start().to_string()));
                }
            }
            inner.publish(Event::new(Privilege::USER, "UserEvent", body, inner.ts()));
            Flow::Next
        }
        "dial" => dial_app(inner, chan, &args).await,
        other => {
            tracing::warn!(app = other, channel = %chan.lock().name, "unknown application, skipped");
            Flow::Next
        }
    }
}

async fn dial_app(inner: &Arc<Inner>, chan: &Arc<Chan>, args: &[&str]) -> Flow {
    let target = args.first().map(|s| s.trim()).unwrap_or("");
    let secs: u64 = args
        .get(1)
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(60);
    let dest = target.split('&').next().unwrap_or("");
    let (linkedid, cid) = {
        let d = chan.lock();
        (d.linkedid.clone(), (d.cid_num.clone(), d.cid_name.clone()))
    };
    let (peer, ring) = dial_out(
        inner,
        dest,
        Duration::from_secs(secs),
        Some(linkedid),
        cid,
        None,
        &[],
    )
    .await;
    let status = match (ring.answered, ring.reason) {
        (true, _) => "ANSWER",
        (false, 5) => "BUSY",
        (false, 3) => "NOANSWER",
        (false, 8) => "CONGESTION",
        _ => "CHANUNAVAIL",
    };
    inner.set_var(chan, "DIALSTATUS", status);
    let Some(peer) = peer.filter(|_| ring.answered) else {
        return Flow::Next;
    };
    inner.set_state(chan, 6);
    let (cn, pn) = (chan.lock().name.clone(), peer.lock().name.clone());
    chan.lock().bridged = Some(pn);
    peer.lock().bridged = Some(cn);
    inner.link(chan, &peer, true);
    let flow = loop {
        if let Some(f) = pause(chan, inner, Duration::from_millis(100)).await {
            break f;
        }
        let d = peer.lock();
        if d.gone || d.hangup.is_some() || d.in_dialplan {
            break Flow::Next;
        }
    };
    inner.link(chan, &peer, false);
    chan.lock().bridged = None;
    let peer_in_dialplan = {
        let mut d = peer.lock();
        d.bridged = None;
        d.in_dialplan
    };
    if !peer_in_dialplan {
        inner.destroy(&peer, 16);
    }
    match flow {
        Flow::Next => Flow::Hangup(16),
        f => f,
    }
}

impl Pbx for EmbeddedPbx {
    fn channels(&self) -> Vec<ChannelSnapshot> {
        let chans: Vec<Arc<Chan>> = lock(&self.inner().channels).clone();
        chans.iter().map(|c| c.snapshot()).collect()
    }

    fn channel(&self, name: &str) -> Option<ChannelSnapshot> {
        self.inner().find(name).map(|c| c.snapshot())
    }

    fn hangup(&self, name: &str, cause: u32) -> Result<(), ChannelError> {
        let chan = self.inner().find(name).ok_or(ChannelError::NoSuchChannel)?;
        let running = {
            let d = chan.lock();
            d.in_dialplan || d.bridged.is_some()
        };
        if running {
            self.inner().request_hangup(&chan, cause);
        } else {
            self.inner().request_hangup(&chan, cause);
            let inner = self.inner().clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(50)).await;
                inner.destroy(&chan, cause);
            });
        }
        Ok(())
    }

    fn redirect(&self, name: &str, target: &DialplanTarget) -> Result<(), ChannelError> {
        let inner = self.inner();
        let chan = inner.find(name).ok_or(ChannelError::NoSuchChannel)?;
        let (ctx, exten, in_dialplan) = {
            let d = chan.lock();
            if d.hangup.is_some() || d.gone {
                return Err(ChannelError::NotUp);
            }
            (d.context.clone(), d.exten.clone(), d.in_dialplan)
        };
        let context = if target.context.is_empty() {
            ctx
        } else {
            target.context.clone()
        };
        let exten = if target.exten.is_empty() {
            exten
        } else {
            target.exten.clone()
        };
        let plan = read(&inner.dialplan);
        let prio = target.priority.trim();
        if !prio.is_empty()
            && prio.parse::<u32>().is_err()
            && plan.find_label(&context, &exten, prio).is_none()
        {
            return Err(ChannelError::InvalidPriority);
        }
        let t = DialplanTarget {
            context,
            exten,
            priority: if prio.is_empty() {
                "1".into()
            } else {
                prio.into()
            },
        };
        if in_dialplan {
            chan.lock().redirect = Some(t);
            chan.control.notify_one();
        } else {
            // A channel outside the dialplan is taken over by an `AsyncGoto/` channel
            // that starts the dialplan at the target (Asterisk's masquerade), announced
            // by `Rename`.
            inner.rename(&chan, format!("AsyncGoto/{}", chan.lock().name));
            goto(inner, &chan, &t);
            chan.lock().in_dialplan = true;
            let runner = inner.clone();
            tokio::spawn(async move { run_dialplan(runner, chan).await });
        }
        Ok(())
    }

    fn set_absolute_timeout(&self, name: &str, seconds: i64) -> Result<(), ChannelError> {
        let chan = self.inner().find(name).ok_or(ChannelError::NoSuchChannel)?;
        let at = if seconds <= 0 {
            Instant::now()
        } else {
            Instant::now() + Duration::from_secs(seconds as u64)
        };
        chan.lock().timeout_at = Some(at);
        chan.control.notify_one();
        let running = chan.lock().in_dialplan;
        if !running {
            let inner = self.inner().clone();
            tokio::spawn(async move {
                if wait_on(&chan, None).await.is_some() {
                    inner.destroy(&chan, 16);
                }
            });
        }
        Ok(())
    }

    fn atxfer(&self, name: &str, _exten: &str, context: Option<&str>) -> Result<(), ChannelError> {
        if !self.inner().atxfer.load(Ordering::Relaxed) {
            return Err(ChannelError::Unsupported);
        }
        let chan = self.inner().find(name).ok_or(ChannelError::NoSuchChannel)?;
        if let Some(c) = context.filter(|c| !c.is_empty()) {
            self.inner().set_var(&chan, "TRANSFER_CONTEXT", c);
        }
        Ok(())
    }

    fn originate(&self, request: OriginateRequest) -> BoxFuture<'static, OriginateOutcome> {
        let inner = self.inner().clone();
        Box::pin(async move {
            let timeout = Duration::from_millis(u64::from(request.timeout_ms.max(1)));
            let (chan, ring) = dial_out(
                &inner,
                &request.channel,
                timeout,
                None,
                (
                    request.caller_id_num.clone(),
                    request.caller_id_name.clone(),
                ),
                request.account.clone(),
                &request.variables,
            )
            .await;
            inner.processed.fetch_add(1, Ordering::Relaxed);
            let (Some(chan), true) = (chan.clone(), ring.answered) else {
                return OriginateOutcome {
                    success: false,
                    reason: ring.reason,
                    channel: chan
                        .map(|c| c.lock().name.clone())
                        .unwrap_or(request.channel),
                    uniqueid: None,
                };
            };
            let (name, uniqueid) = {
                let d = chan.lock();
                (d.name.clone(), d.uniqueid.clone())
            };
            match request.target {
                OriginateTarget::Dialplan(t) => {
                    goto(&inner, &chan, &t);
                    chan.lock().in_dialplan = true;
                    let runner = inner.clone();
                    tokio::spawn(async move { run_dialplan(runner, chan).await });
                }
                OriginateTarget::Application(app, data) => {
                    let runner = inner.clone();
                    tokio::spawn(async move {
                        {
                            let mut d = chan.lock();
                            d.app = app.clone();
                            d.appdata = data.clone();
                        }
                        let cause = match execute(&runner, &chan, &app, &data).await {
                            Flow::Hangup(c) => c,
                            _ => 16,
                        };
                        runner.destroy(&chan, cause);
                    });
                }
            }
            OriginateOutcome {
                success: true,
                reason: 4,
                channel: name,
                uniqueid: Some(uniqueid),
            }
        })
    }

    fn get_var(&self, channel: Option<&str>, name: &str) -> Result<Option<String>, ChannelError> {
        match channel {
            Some(c) => {
                let chan = self.inner().find(c).ok_or(ChannelError::NoSuchChannel)?;
                Ok(self.inner().lookup_var(Some(&chan), name))
            }
            None => Ok(self.inner().lookup_var(None, name)),
        }
    }

    fn set_var(&self, channel: Option<&str>, name: &str, value: &str) -> Result<(), ChannelError> {
        match channel {
            Some(c) => {
                let chan = self.inner().find(c).ok_or(ChannelError::NoSuchChannel)?;
                self.inner().set_var(&chan, name, value);
            }
            None => {
                let mut g = lock(&self.inner().globals);
                match g.iter_mut().find(|(n, _)| n == name) {
                    Some(v) => v.1 = value.to_string(),
                    None => g.push((name.to_string(), value.to_string())),
                }
            }
        }
        Ok(())
    }

    fn hint_state(&self, exten: &str, context: &str) -> ExtensionState {
        let plan = read(&self.inner().dialplan);
        match plan.extension(context, exten).and_then(|e| e.hint.clone()) {
            Some(hint) => ExtensionState {
                status: self.inner().hint_status(&hint),
                hint,
            },
            None => ExtensionState {
                hint: String::new(),
                status: -1,
            },
        }
    }

    fn find_label(&self, context: &str, exten: &str, label: &str) -> Option<u32> {
        read(&self.inner().dialplan).find_label(context, exten, label)
    }

    fn mailbox_counts(&self, mailbox: &str) -> MailboxCounts {
        let spool = read(&self.inner().spool);
        let mut total = MailboxCounts::default();
        for mbox in mailbox.split(',') {
            let (b, c) = mbox
                .trim()
                .split_once('@')
                .unwrap_or((mbox.trim(), "default"));
            if b.is_empty() || [b, c].iter().any(|p| p.contains('/') || p.contains("..")) {
                continue;
            }
            let dir = spool.join("voicemail").join(c).join(b);
            total.new_messages += count_messages(&dir.join("INBOX"));
            total.old_messages += count_messages(&dir.join("Old"));
        }
        total
    }

    fn dialplan_show(&self, context: Option<&str>) -> String {
        read(&self.inner().dialplan).show(context)
    }

    fn current_calls(&self) -> u32 {
        lock(&self.inner().channels).len() as u32
    }

    fn processed_calls(&self) -> u32 {
        self.inner().processed.load(Ordering::Relaxed)
    }

    fn reconfigure(&self, config: &crate::config::Config) -> Result<(), String> {
        let settings = settings_of(config);
        let plan = Dialplan::load(&settings.config_dir);
        let (plan, result) = match plan {
            Ok(p) => (Some(p), Ok(())),
            Err(e) => (None, Err(e)),
        };
        self.apply(&settings, plan);
        result
    }
}

fn count_messages(dir: &Path) -> u32 {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .filter(|e| {
                    let n = e.file_name();
                    let n = n.to_string_lossy();
                    n.starts_with("msg") && n.ends_with(".txt")
                })
                .count() as u32
        })
        .unwrap_or(0)
}

/// Builds the PBX settings from the configuration.
pub fn settings_of(config: &crate::config::Config) -> PbxSettings {
    PbxSettings {
        config_dir: crate::config::PbxConfig::config_dir_of(config),
        spool_dir: crate::config::PbxConfig::spool_dir_of(config),
        devices: config.pbx.devices.clone(),
        timestamps: config.general.timestampevents,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dialect::Dialect;
    use crate::testdir::TempDir;

    fn pbx(
        tag: &str,
        dialplan: &str,
        devices: Vec<(String, DeviceBehaviour)>,
    ) -> (EmbeddedPbx, EventBus, TempDir) {
        let dir = TempDir::new(tag);
        dir.write("extensions.conf", dialplan);
        let bus = EventBus::new(1024);
        let settings = PbxSettings {
            config_dir: dir.path().to_path_buf(),
            spool_dir: dir.path().join("spool"),
            devices,
            timestamps: false,
        };
        (EmbeddedPbx::new(bus.clone(), &settings).unwrap(), bus, dir)
    }

    fn names(rx: &mut tokio::sync::broadcast::Receiver<Arc<Event>>, d: Dialect) -> Vec<String> {
        let mut out = Vec::new();
        while let Ok(e) = rx.try_recv() {
            if let Some(p) = e.part(d) {
                out.push(p.name.clone());
            }
        }
        out
    }

    const PLAN: &str = "[default]\nexten => 100,hint,SIP/100\nexten => 100,1,Answer()\n same => n,Wait(0.2)\n same => n,Hangup()\n\
                        exten => 101,1,Dial(SIP/100,5)\n same => n,Hangup()\nexten => 102,1,Answer()\n same => n(w),Wait(30)\n";

    #[tokio::test]
    async fn originate_local_runs_the_dialplan_and_hangs_up() {
        let (pbx, bus, _dir) = pbx("local", PLAN, vec![]);
        let mut rx = bus.tap();
        let out = pbx
            .originate(OriginateRequest {
                channel: "Local/100@default".into(),
                target: OriginateTarget::Application("Wait".into(), "0.1".into()),
                timeout_ms: 5000,
                caller_id_num: Some("5550100".into()),
                caller_id_name: None,
                account: None,
                variables: vec![("FOO".into(), "bar".into())],
            })
            .await;
        assert!(out.success, "{out:?}");
        assert!(out.channel.starts_with("Local/100@default-") && out.channel.ends_with(";1"));
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert!(pbx.channels().is_empty(), "{:?}", pbx.channels());
        let v1 = names(&mut rx, Dialect::V1);
        assert_eq!(
            v1.iter().filter(|n| *n == "Newchannel").count(),
            2,
            "{v1:?}"
        );
        assert_eq!(v1.iter().filter(|n| *n == "Hangup").count(), 2, "{v1:?}");
        assert!(v1.contains(&"Newexten".to_string()));
        assert!(v1.contains(&"Newstate".to_string()));
    }

    #[tokio::test]
    async fn devices_answer_busy_and_fail() {
        let devices = vec![
            ("SIP/100".to_string(), DeviceBehaviour::Answer(50)),
            ("SIP/200".to_string(), DeviceBehaviour::Busy),
            ("SIP/300".to_string(), DeviceBehaviour::NoAnswer),
        ];
        let (pbx, _bus, _dir) = pbx("dev", PLAN, devices);
        let req = |c: &str| OriginateRequest {
            channel: c.into(),
            target: OriginateTarget::Dialplan(DialplanTarget {
                context: "default".into(),
                exten: "102".into(),
                priority: "1".into(),
            }),
            timeout_ms: 300,
            caller_id_num: None,
            caller_id_name: None,
            account: Some("4711".into()),
            variables: vec![],
        };
        let ok = pbx.originate(req("SIP/100")).await;
        assert!(ok.success && ok.reason == 4);
        let busy = pbx.originate(req("SIP/200")).await;
        assert!(!busy.success && busy.reason == 5);
        let none = pbx.originate(req("SIP/300")).await;
        assert!(!none.success && none.reason == 3);
        let gone = pbx.originate(req("SIP/999")).await;
        assert!(!gone.success && gone.reason == 0 && gone.channel.starts_with("SIP/999"));
        tokio::time::sleep(Duration::from_millis(100)).await;
        let chans = pbx.channels();
        assert_eq!(chans.len(), 1, "{chans:?}");
        let c = &chans[0];
        assert_eq!(
            (c.state, c.exten.as_str(), c.account_code.as_str()),
            (6, "102", "4711")
        );
        assert_eq!(pbx.hint_state("100", "default").status, 1);
        // Redirect to a label, then hang up.
        pbx.redirect(
            &c.name,
            &DialplanTarget {
                context: String::new(),
                exten: "102".into(),
                priority: "w".into(),
            },
        )
        .unwrap();
        pbx.set_var(Some(&c.name), "X", "1").unwrap();
        assert_eq!(
            pbx.get_var(Some(&c.name.to_uppercase()), "X")
                .unwrap()
                .as_deref(),
            Some("1")
        );
        pbx.hangup(&c.name, 16).unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(pbx.channels().is_empty());
        assert_eq!(pbx.hint_state("100", "default").status, 0);
        assert_eq!(
            pbx.hangup("SIP/nothing", 16),
            Err(ChannelError::NoSuchChannel)
        );
    }

    #[tokio::test]
    async fn dial_bridges_and_absolute_timeout_hangs_up() {
        let (pbx, bus, _dir) = pbx(
            "dial",
            PLAN,
            vec![("SIP/100".to_string(), DeviceBehaviour::Answer(20))],
        );
        let mut rx = bus.tap();
        let out = pbx
            .originate(OriginateRequest {
                channel: "Local/101@default".into(),
                target: OriginateTarget::Application("Wait".into(), "10".into()),
                timeout_ms: 2000,
                caller_id_num: None,
                caller_id_name: None,
                account: None,
                variables: vec![],
            })
            .await;
        assert!(out.success);
        tokio::time::sleep(Duration::from_millis(200)).await;
        let chans = pbx.channels();
        assert!(
            chans
                .iter()
                .any(|c| c.name.starts_with("SIP/100-") && c.bridged_to.is_some()),
            "{chans:?}"
        );
        pbx.set_absolute_timeout(&out.channel, 0).unwrap();
        tokio::time::sleep(Duration::from_millis(500)).await;
        let v1 = names(&mut rx, Dialect::V1);
        assert!(
            v1.contains(&"Link".to_string()) && v1.contains(&"Unlink".to_string()),
            "{v1:?}"
        );
        assert!(v1.contains(&"ExtensionStatus".to_string()), "{v1:?}");
    }

    #[tokio::test]
    async fn mailboxes_are_counted_from_the_spool() {
        let (pbx, _bus, dir) = pbx("vm", PLAN, vec![]);
        let inbox = dir.path().join("spool/voicemail/default/1234/INBOX");
        let old = dir.path().join("spool/voicemail/default/1234/Old");
        std::fs::create_dir_all(&inbox).unwrap();
        std::fs::create_dir_all(&old).unwrap();
        for n in ["msg0000.txt", "msg0001.txt", "msg0000.wav"] {
            std::fs::write(inbox.join(n), "").unwrap();
        }
        std::fs::write(old.join("msg0000.txt"), "").unwrap();
        assert_eq!(
            pbx.mailbox_counts("1234"),
            MailboxCounts {
                new_messages: 2,
                old_messages: 1
            }
        );
        assert_eq!(
            pbx.mailbox_counts("1234@default,1234"),
            MailboxCounts {
                new_messages: 4,
                old_messages: 2
            }
        );
        assert_eq!(pbx.mailbox_counts("../../etc@x"), MailboxCounts::default());
    }
}
