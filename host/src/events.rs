//! The event bus (`manager_event`): one broadcast channel of events, each rendered to
//! bytes at most once per dialect and shared by every session that receives it.
//!
//! Sessions filter by their read classes and event mask. The channel is a bounded ring
//! ([`crate::config::General::event_queue`] entries): a producer never waits, and a
//! session that falls further behind than the ring loses its oldest events; what it then
//! does is the `block-sockets` policy in [`crate::session`].

use std::sync::{Arc, OnceLock};
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
    parts: [Option<EventPart>; 2],
    /// `Timestamp:` value (seconds, microseconds) when `timestampevents` is on.
    pub timestamp: Option<(u64, u32)>,
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
        Event::per_dialect(Some(part.clone()), Some(part), timestamped)
    }

    /// An event shaped per dialect; `None` leaves it out of that dialect.
    pub fn per_dialect(
        v1: Option<EventPart>,
        modern: Option<EventPart>,
        timestamped: bool,
    ) -> Event {
        Event {
            parts: [v1, modern],
            timestamp: timestamped.then(now),
            rendered: [OnceLock::new(), OnceLock::new()],
        }
    }

    /// The event as `dialect` sees it.
    pub fn part(&self, dialect: Dialect) -> Option<&EventPart> {
        self.parts[dialect.index()].as_ref()
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
        let mut out = BytesMut::with_capacity(64 + part.body.len() * 32);
        put_header(&mut out, "Event", &part.name);
        put_header(&mut out, "Privilege", &part.class.render(dialect.classes()));
        if let Some((s, us)) = self.timestamp {
            put_header(&mut out, "Timestamp", &format!("{s}.{us:06}"));
        }
        for (n, v) in &part.body {
            put_header(&mut out, n, v);
        }
        out.put_slice(b"\r\n");
        out.freeze()
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

/// The bus. Cheap to clone.
#[derive(Clone, Debug)]
pub struct EventBus {
    tx: broadcast::Sender<Arc<Event>>,
}

impl EventBus {
    /// A bus whose ring holds `capacity` events.
    pub fn new(capacity: usize) -> EventBus {
        let (tx, _) = broadcast::channel(capacity.max(16));
        EventBus { tx }
    }

    /// Publishes an event to every subscribed session. Never waits. Returns the number of
    /// sessions it was offered to (0 when none is connected: nothing is kept, as in the seed).
    pub fn publish(&self, event: Event) -> usize {
        self.tx.send(Arc::new(event)).unwrap_or(0)
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
