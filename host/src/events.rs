//! The event bus (`manager_event`): one broadcast channel of events, each rendered to
//! bytes at most once per dialect and shared by every session that receives it.
//!
//! Sessions filter by their read classes and event mask. The channel is a bounded ring
//! ([`crate::config::General::event_queue`] entries): a producer never waits, and a
//! session that falls further behind than the ring loses its oldest events; what it then
//! does is the `block-sockets` policy in [`crate::session`].

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::{BufMut, Bytes, BytesMut};
use tokio::sync::broadcast;

use crate::dialect::Dialect;
use crate::privilege::Privilege;

/// What an event looks like in one dialect.
#[derive(Debug, Clone)]
pub struct EventPart {
    /// Its class; a session receives it only if its read classes and event mask hold
    /// every class of it.
    pub class: Privilege,
    /// `Event:` name.
    pub name: String,
    /// Body headers after `Privilege:`/`Timestamp:`.
    pub body: Vec<(String, String)>,
}

/// One event, as emitted: the same in both dialects, or shaped per dialect (channel
/// events carry Asterisk 22's snapshot fields in the modern dialect), or sent in one
/// dialect only.
#[derive(Debug)]
pub struct Event {
    parts: [Option<Arc<EventPart>>; 2],
    /// `Timestamp:` value (seconds, microseconds) when `timestampevents` is on.
    pub timestamp: Option<(u64, u32)>,
    /// Header lines already in wire form (`Name: value\r\n`...), written after the
    /// parts' `body` in both dialects: how events emitted by plugins arrive.
    lines: Bytes,
    rendered: [OnceLock<Bytes>; 2],
}

impl Event {
    /// A new event, the same in both dialects; `timestamped` adds the current time as
    /// `Timestamp:`.
    pub fn new(
        class: Privilege,
        name: impl Into<String>,
        body: Vec<(String, String)>,
        timestamped: bool,
    ) -> Event {
        let part = EventPart {
            class,
            name: name.into(),
            body,
        };
        let part = Arc::new(part);
        Event {
            parts: [Some(part.clone()), Some(part)],
            timestamp: timestamped.then(now),
            lines: Bytes::new(),
            rendered: [OnceLock::new(), OnceLock::new()],
        }
    }

    /// A new event, the same in both dialects, whose body is `lines`: header lines
    /// already in wire form (each `Name: value\r\n`, names and values without CR or LF).
    pub fn from_lines(class: Privilege, name: String, lines: Bytes, timestamped: bool) -> Event {
        let mut event = Event::new(class, name, Vec::new(), timestamped);
        event.lines = lines;
        event
    }

    /// An event shaped per dialect; `None` leaves it out of that dialect.
    pub fn per_dialect(
        v1: Option<EventPart>,
        modern: Option<EventPart>,
        timestamped: bool,
    ) -> Event {
        Event {
            parts: [v1.map(Arc::new), modern.map(Arc::new)],
            timestamp: timestamped.then(now),
            lines: Bytes::new(),
            rendered: [OnceLock::new(), OnceLock::new()],
        }
    }

    /// The event as `dialect` sees it.
    pub fn part(&self, dialect: Dialect) -> Option<&EventPart> {
        self.parts[dialect.index()].as_deref()
    }

    /// The wire bytes of this event in `dialect`, rendered on first use and shared after
    /// (empty when the event does not exist in that dialect).
    pub fn bytes(&self, dialect: Dialect) -> Bytes {
        self.rendered[dialect.index()]
            .get_or_init(|| self.render(dialect))
            .clone()
    }

    fn render(&self, dialect: Dialect) -> Bytes {
        let Some(part) = self.part(dialect) else {
            return Bytes::new();
        };
        let mut out = BytesMut::with_capacity(64 + part.body.len() * 32 + self.lines.len());
        put_header(&mut out, "Event", &part.name);
        put_header(&mut out, "Privilege", &part.class.render(dialect.classes()));
        if let Some((s, us)) = self.timestamp {
            put_header(&mut out, "Timestamp", &format!("{s}.{us:06}"));
        }
        for (n, v) in &part.body {
            put_header(&mut out, n, v);
        }
        out.put_slice(&self.lines);
        out.put_slice(b"\r\n");
        out.freeze()
    }

    /// Bytes this event keeps in memory while it is in the ring, about: its body as parsed
    /// and as rendered in each dialect.
    pub fn weight(&self) -> usize {
        let part = |p: &Option<Arc<EventPart>>| {
            p.as_ref().map_or(0, |p| {
                64 + p.name.len()
                    + p.body
                        .iter()
                        .map(|(n, v)| n.len() + v.len() + 4)
                        .sum::<usize>()
            })
        };
        3 * (part(&self.parts[0]).max(part(&self.parts[1])) + self.lines.len())
    }

    /// The `Event:` name (of the 1.0 form, else the modern one).
    pub fn name(&self) -> &str {
        self.parts
            .iter()
            .flatten()
            .next()
            .map_or("", |p| p.name.as_str())
    }

    /// Whether a session speaking `dialect` with these read classes and event mask
    /// receives this event.
    pub fn visible_to(&self, dialect: Dialect, read: Privilege, mask: Privilege) -> bool {
        self.part(dialect)
            .is_some_and(|p| read.contains(p.class) && mask.contains(p.class))
    }
}

/// Writes `Name: value\r\n`.
pub fn put_header(out: &mut BytesMut, name: &str, value: &str) {
    out.reserve(name.len() + value.len() + 4);
    out.put_slice(name.as_bytes());
    out.put_slice(b": ");
    out.put_slice(value.as_bytes());
    out.put_slice(b"\r\n");
}

/// Current wall-clock time as (seconds, microseconds).
pub fn now() -> (u64, u32) {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    (d.as_secs(), d.subsec_micros())
}

/// Most bytes of event text the ring may hold at once (each event counted as its body
/// rendered in both dialects plus its parsed form). With events of ordinary size the
/// ring's `eventqueue` length is the bound long before this; it matters when clients
/// send very large UserEvents, which would otherwise pin `eventqueue` times the largest
/// message (about 1 MiB) in memory.
pub const RING_BYTES: usize = 256 << 20;

/// The bus. Cheap to clone.
#[derive(Clone, Debug)]
pub struct EventBus {
    tx: broadcast::Sender<Arc<Event>>,
    /// Events published so far (counted after each is in the ring).
    published: Arc<AtomicU64>,
    /// Sizes of the events now in the ring (the last `capacity` published), and their sum.
    held: Arc<Mutex<Held>>,
    capacity: usize,
    budget: usize,
}

#[derive(Debug, Default)]
struct Held {
    sizes: VecDeque<usize>,
    total: usize,
}

impl EventBus {
    /// A bus whose ring holds `capacity` events.
    pub fn new(capacity: usize) -> EventBus {
        EventBus::with_budget(capacity, RING_BYTES)
    }

    /// A bus whose ring holds `capacity` events and at most `budget` bytes of them.
    pub fn with_budget(capacity: usize, budget: usize) -> EventBus {
        let capacity = capacity.max(16);
        let (tx, _) = broadcast::channel(capacity);
        EventBus {
            tx,
            published: Arc::new(AtomicU64::new(0)),
            held: Arc::new(Mutex::new(Held::default())),
            capacity,
            budget,
        }
    }

    /// Publishes an event to every subscribed session. Never waits. Returns the number of
    /// sessions it was offered to (0 when none is connected: nothing is kept, as in the seed).
    ///
    /// An event that would take the ring over its byte budget ([`RING_BYTES`]) is refused
    /// and logged (returns 0): under a flood of huge events the host sheds them rather
    /// than holding gigabytes for sessions that have not read them yet.
    pub fn publish(&self, event: Event) -> usize {
        let size = event.weight();
        {
            let mut held = match self.held.lock() {
                Ok(h) => h,
                Err(p) => p.into_inner(),
            };
            let held = &mut *held;
            // The ring keeps the last `capacity` events: the oldest leaves as this enters.
            let leaving = if held.sizes.len() >= self.capacity {
                held.sizes.front().copied().unwrap_or(0)
            } else {
                0
            };
            if held.total - leaving + size > self.budget {
                tracing::warn!(
                    event = event.name(),
                    bytes = size,
                    held = held.total,
                    "event refused: the event queue holds its byte budget ({} MiB) of unread events",
                    self.budget >> 20
                );
                return 0;
            }
            if held.sizes.len() >= self.capacity {
                held.sizes.pop_front();
            }
            held.sizes.push_back(size);
            held.total = held.total - leaving + size;
        }
        let offered = self.tx.send(Arc::new(event)).unwrap_or(0);
        self.published.fetch_add(1, Ordering::Release);
        offered
    }

    /// Events published so far. A session that drained its queue when this count was
    /// `n` has nothing new to read while it is still `n`.
    pub fn published(&self) -> u64 {
        self.published.load(Ordering::Acquire)
    }

    /// A receiver that sees events published from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Event>> {
        self.tx.subscribe()
    }

    /// Number of subscribed sessions.
    pub fn receivers(&self) -> usize {
        self.tx.receiver_count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sized(bytes: usize) -> Event {
        Event::new(
            Privilege::USER,
            "UserEvent",
            vec![("Pad".into(), "x".repeat(bytes))],
            false,
        )
    }

    #[test]
    fn the_ring_refuses_events_past_its_byte_budget_and_takes_them_again_as_room_frees() {
        let bus = EventBus::with_budget(16, 3 * 64 * 1024);
        let mut rx = bus.subscribe();
        // Each weighs about 3 x 20 KiB: three fit, the fourth does not.
        for _ in 0..3 {
            assert_eq!(bus.publish(sized(20_000)), 1);
        }
        assert_eq!(bus.publish(sized(20_000)), 0, "over the budget");
        assert_eq!(bus.published(), 3);
        // Small events still fit beside them.
        assert_eq!(bus.publish(sized(10)), 1);
        // Once the ring has moved on (16 slots), the big ones have left it and the
        // budget is free again, whether or not anyone read them.
        for _ in 0..16 {
            assert_eq!(bus.publish(sized(10)), 1);
        }
        assert_eq!(bus.publish(sized(20_000)), 1);
        let mut got = 0;
        loop {
            match rx.try_recv() {
                Ok(_) => got += 1,
                Err(broadcast::error::TryRecvError::Lagged(_)) => continue,
                Err(_) => break,
            }
        }
        assert!(got > 0);
    }

    #[test]
    fn one_event_over_the_whole_budget_is_refused_on_an_empty_ring() {
        let bus = EventBus::with_budget(16, 1000);
        let _rx = bus.subscribe();
        assert_eq!(bus.publish(sized(5000)), 0);
        assert_eq!(bus.publish(sized(10)), 1);
    }

    #[test]
    fn an_event_from_wire_lines_renders_and_weighs_like_its_headers() {
        let lines = Bytes::from_static(b"UserEvent: X\r\nPad: yyyy\r\n");
        let ev = Event::from_lines(Privilege::USER, "UserEvent".into(), lines, false);
        let parsed = Event::new(
            Privilege::USER,
            "UserEvent",
            vec![
                ("UserEvent".into(), "X".into()),
                ("Pad".into(), "yyyy".into()),
            ],
            false,
        );
        for d in [Dialect::V1, Dialect::Modern] {
            assert_eq!(ev.bytes(d), parsed.bytes(d));
        }
        assert_eq!(
            &ev.bytes(Dialect::V1)[..],
            b"Event: UserEvent\r\nPrivilege: user,all\r\nUserEvent: X\r\nPad: yyyy\r\n\r\n"
        );
        // A big body counts against the ring's byte budget either way.
        let big = Event::from_lines(
            Privilege::USER,
            "UserEvent".into(),
            Bytes::from(format!("Pad: {}\r\n", "x".repeat(20_000))),
            false,
        );
        assert!(big.weight() >= 3 * 20_000);
    }

    #[test]
    fn renders_once_per_dialect() {
        let ev = Event::new(
            Privilege::USER,
            "UserEvent",
            vec![("UserEvent".into(), "X".into())],
            false,
        );
        let a = ev.bytes(Dialect::V1);
        let b = ev.bytes(Dialect::V1);
        assert_eq!(a.as_ptr(), b.as_ptr());
        assert_eq!(
            &a[..],
            b"Event: UserEvent\r\nPrivilege: user,all\r\nUserEvent: X\r\n\r\n"
        );
    }

    #[test]
    fn timestamp_has_six_digits() {
        let mut ev = Event::new(Privilege::SYSTEM, "Reload", vec![], true);
        ev.timestamp = Some((12, 5));
        assert_eq!(
            &ev.bytes(Dialect::Modern)[..],
            b"Event: Reload\r\nPrivilege: system,all\r\nTimestamp: 12.000005\r\n\r\n"
        );
    }

    #[test]
    fn filtering_needs_every_class() {
        let ev = Event::new(Privilege(Privilege::CALL.0 | 1), "X", vec![], false);
        let d = Dialect::V1;
        assert!(!ev.visible_to(d, Privilege::CALL, Privilege::ALL));
        assert!(ev.visible_to(d, Privilege(3), Privilege::ALL));
        assert!(!ev.visible_to(d, Privilege::ALL, Privilege::NONE));
        let modern_only = Event::per_dialect(
            None,
            Some(EventPart {
                class: Privilege::CALL,
                name: "M".into(),
                body: vec![],
            }),
            false,
        );
        assert!(!modern_only.visible_to(d, Privilege::ALL, Privilege::ALL));
        assert!(modern_only.visible_to(Dialect::Modern, Privilege::ALL, Privilege::ALL));
    }
}
