//! The event bus (`manager_event`): one broadcast channel of events, each rendered to
//! bytes at most once per dialect and shared by every session that receives it.
//!
//! Sessions filter by their read classes and event mask. The channel is a bounded ring
//! ([`crate::config::General::event_queue`] entries): a producer never waits, and a
//! session that falls further behind than the ring loses its oldest events; what it then
//! does is the `block-sockets` policy in [`crate::session`].
//!
//! Wake-ups follow interest: a session is woken only for events it will receive. Each
//! subscription ([`EventStream`]) is filed under its dialect and effective classes (read
//! classes and event mask), and publishing an event wakes only the subscriptions of the
//! groups that see it, so a flood of call events costs nothing to sessions logged in
//! with `Events: off` or a mask without `call`. Such a session leaves the events it does
//! not receive in the ring; when the ring passes it by, it has lost nothing it would
//! have received, and it goes on without being counted as slow.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};
use std::task::Poll;
use std::time::{SystemTime, UNIX_EPOCH};

use atomic_waker::AtomicWaker;
use bytes::{BufMut, Bytes, BytesMut};
use tokio::sync::broadcast::{self, error::TryRecvError};

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
    /// Position in the bus's sequence of published events (set when published).
    seq: u64,
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
            seq: 0,
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
            seq: 0,
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
        // The class names need no cleaning: they are the host's own.
        out.put_slice(b"Privilege: ");
        part.class.write_to(dialect.classes(), &mut out);
        out.put_slice(b"\r\n");
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

/// Locks `m`, through poisoning (the bus's state stays consistent at every await-free step).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
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
    /// Events published so far (counted after each is in the ring); changed only under
    /// `inner`'s lock, so it is also the next event's sequence number.
    published: Arc<AtomicU64>,
    inner: Arc<Mutex<Inner>>,
    /// Subscriptions resting (see [`EventStream::rest`]); changed under `inner`'s lock.
    resting: Arc<AtomicUsize>,
    /// `timestampevents` as configured now, so an emitter need not read the configuration.
    timestamps: Arc<AtomicBool>,
    capacity: usize,
    budget: usize,
}

#[derive(Debug, Default)]
struct Inner {
    /// Sizes of the events now in the ring (the last `capacity` published), and their sum.
    sizes: VecDeque<usize>,
    total: usize,
    /// Subscriptions by what they see.
    groups: Vec<Group>,
}

/// The subscriptions that see the same events: one dialect, one set of effective classes.
#[derive(Debug)]
struct Group {
    dialect: Dialect,
    classes: Privilege,
    members: Vec<Arc<Interest>>,
    /// How many members rest.
    resting: usize,
}

/// What the bus knows of one subscription: what it sees and how to wake it. The atomics
/// make the hand-over between the publisher and the session lock-free on both sides.
#[derive(Debug)]
struct Interest {
    dialect: Dialect,
    read: Privilege,
    /// The event mask the subscription is filed under; changed under the bus's lock.
    mask: AtomicU32,
    /// Changes of the mask the reader has not reached yet: from which event on (its
    /// sequence number) which mask applies. An event is judged by the mask in force
    /// when it was published, however late the session reads it.
    changes: Mutex<VecDeque<(u64, Privilege)>>,
    /// `changes` is not empty.
    changed: AtomicBool,
    /// Index in its group's `members`; changed under the bus's lock.
    slot: AtomicUsize,
    /// The subscription holds no place in the ring (see [`EventStream::rest`]); changed
    /// under the bus's lock.
    resting: AtomicBool,
    /// A place in the ring made for a resting subscription by the publisher of an event
    /// it sees, with that event's sequence number.
    handoff: Mutex<Option<(broadcast::Receiver<Arc<Event>>, u64)>>,
    /// Set by the session just before it sleeps; the publisher clears it and wakes.
    armed: AtomicBool,
    /// Sequence number + 1 of the latest event this subscription sees (0: none yet).
    last: AtomicU64,
    /// Sequence number + 1 of the earliest event it sees published since the session
    /// last took this mark (0: none). Only ever set from 0 by the publisher and taken
    /// (reset to 0) by the session.
    first: AtomicU64,
    /// The waiting session's task.
    waker: AtomicWaker,
}

impl Interest {
    fn classes(&self) -> Privilege {
        Privilege(self.read.0 & self.mask.load(Ordering::Relaxed))
    }

    /// Tells the subscription that the event `seq` is for it: after the event is in the ring.
    fn offer(&self, seq: u64) {
        // `last` before `first`: whoever takes `first` then reads a `last` at least as new.
        self.last.store(seq + 1, Ordering::SeqCst);
        if self.first.load(Ordering::Relaxed) == 0 {
            let _ = self
                .first
                .compare_exchange(0, seq + 1, Ordering::SeqCst, Ordering::Relaxed);
        }
        if self.armed.load(Ordering::SeqCst) && self.armed.swap(false, Ordering::SeqCst) {
            self.waker.wake();
        }
    }
}

/// A session's link to its subscriptions, so a change of its event mask refiles them
/// (see [`crate::state::SessionInfo::set_event_mask`]).
#[derive(Debug, Default)]
pub struct Subscriptions {
    links: Mutex<Vec<(EventBus, Weak<Interest>)>>,
}

impl Subscriptions {
    fn lock(&self) -> MutexGuard<'_, Vec<(EventBus, Weak<Interest>)>> {
        lock(&self.links)
    }

    fn add(&self, bus: &EventBus, interest: &Arc<Interest>) {
        let mut links = self.lock();
        links.retain(|(_, i)| i.strong_count() > 0);
        links.push((bus.clone(), Arc::downgrade(interest)));
    }

    /// Files every live subscription under the mask `mask()` returns (read under the
    /// bus's lock, so racing changes settle on the latest).
    pub fn refile(&self, mask: impl Fn() -> Privilege) {
        for (bus, interest) in self.lock().iter() {
            if let Some(interest) = interest.upgrade() {
                let mut inner = bus.lock();
                inner.remove(&interest);
                let mask = mask();
                interest.mask.store(mask.0, Ordering::Relaxed);
                inner.insert(&interest);
                let from = bus.published.load(Ordering::Relaxed);
                let mut changes = lock(&interest.changes);
                if changes.back().is_some_and(|&(f, _)| f == from) {
                    changes.pop_back();
                }
                changes.push_back((from, mask));
                // Changes that only apply to events gone from the ring are moot but for
                // the latest of them: at most a ring's worth is kept.
                let oldest = from.saturating_sub(bus.capacity as u64);
                while changes.get(1).is_some_and(|&(f, _)| f <= oldest) {
                    changes.pop_front();
                }
                interest.changed.store(true, Ordering::Release);
            }
        }
    }
}

impl Inner {
    fn insert(&mut self, interest: &Arc<Interest>) {
        let (dialect, classes) = (interest.dialect, interest.classes());
        let group = match self
            .groups
            .iter()
            .position(|g| g.dialect == dialect && g.classes == classes)
        {
            Some(i) => &mut self.groups[i],
            None => {
                self.groups.push(Group {
                    dialect,
                    classes,
                    members: Vec::new(),
                    resting: 0,
                });
                let last = self.groups.len() - 1;
                &mut self.groups[last]
            }
        };
        interest.slot.store(group.members.len(), Ordering::Relaxed);
        group.members.push(interest.clone());
        group.resting += usize::from(interest.resting.load(Ordering::Relaxed));
    }

    /// The group `interest` is filed in.
    fn group_of(&mut self, interest: &Interest) -> Option<&mut Group> {
        let (dialect, classes) = (interest.dialect, interest.classes());
        self.groups
            .iter_mut()
            .find(|g| g.dialect == dialect && g.classes == classes)
    }

    fn remove(&mut self, interest: &Arc<Interest>) {
        let (dialect, classes) = (interest.dialect, interest.classes());
        let Some(g) = self
            .groups
            .iter()
            .position(|g| g.dialect == dialect && g.classes == classes)
        else {
            return;
        };
        let members = &mut self.groups[g].members;
        let slot = interest.slot.load(Ordering::Relaxed);
        if !members.get(slot).is_some_and(|m| Arc::ptr_eq(m, interest)) {
            return;
        }
        members.swap_remove(slot);
        if let Some(moved) = members.get(slot) {
            moved.slot.store(slot, Ordering::Relaxed);
        }
        let group = &mut self.groups[g];
        group.resting -= usize::from(interest.resting.load(Ordering::Relaxed));
        if group.members.is_empty() {
            self.groups.swap_remove(g);
        }
    }
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
            inner: Arc::new(Mutex::new(Inner::default())),
            resting: Arc::new(AtomicUsize::new(0)),
            timestamps: Arc::new(AtomicBool::new(false)),
            capacity,
            budget,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        lock(&self.inner)
    }

    /// Publishes an event to every subscribed session, waking those that will receive
    /// it. Never waits for a session. Returns the number of subscriptions it was offered
    /// to (0 when none is connected: nothing is kept, as in the seed).
    ///
    /// An event that would take the ring over its byte budget ([`RING_BYTES`]) is refused
    /// and logged (returns 0): under a flood of huge events the host sheds them rather
    /// than holding gigabytes for sessions that have not read them yet.
    pub fn publish(&self, mut event: Event) -> usize {
        let size = event.weight();
        let mut inner = self.lock();
        let inner = &mut *inner;
        // The ring keeps the last `capacity` events: the oldest leaves as this enters.
        let leaving = if inner.sizes.len() >= self.capacity {
            inner.sizes.front().copied().unwrap_or(0)
        } else {
            0
        };
        if inner.total - leaving + size > self.budget {
            tracing::warn!(
                event = event.name(),
                bytes = size,
                held = inner.total,
                "event refused: the event queue holds its byte budget ({} MiB) of unread events",
                self.budget >> 20
            );
            return 0;
        }
        if inner.sizes.len() >= self.capacity {
            inner.sizes.pop_front();
        }
        inner.sizes.push_back(size);
        inner.total = inner.total - leaving + size;
        // Sequence numbers, ring order and wake-ups all follow the lock's order.
        let seq = self.published.load(Ordering::Relaxed);
        event.seq = seq;
        // Resting subscriptions that see this event get their place in the ring first.
        for group in &mut inner.groups {
            if group.resting > 0 && event.visible_to(group.dialect, group.classes, Privilege::ALL) {
                for member in &group.members {
                    if member.resting.swap(false, Ordering::Relaxed) {
                        *lock(&member.handoff) = Some((self.tx.subscribe(), seq));
                    }
                }
                self.resting.fetch_sub(group.resting, Ordering::Relaxed);
                group.resting = 0;
            }
        }
        let event = Arc::new(event);
        let offered = self.tx.send(event.clone()).unwrap_or(0);
        self.published.store(seq + 1, Ordering::Release);
        for group in &inner.groups {
            if event.visible_to(group.dialect, group.classes, Privilege::ALL) {
                for member in &group.members {
                    member.offer(seq);
                }
            }
        }
        offered
    }

    /// Whether events get a `Timestamp:` (`timestampevents`), as last set.
    pub fn timestamps(&self) -> bool {
        self.timestamps.load(Ordering::Relaxed)
    }

    /// Sets `timestampevents` (at start and on reload).
    pub fn set_timestamps(&self, on: bool) {
        self.timestamps.store(on, Ordering::Relaxed);
    }

    /// Events published so far.
    pub fn published(&self) -> u64 {
        self.published.load(Ordering::Acquire)
    }

    /// A subscription to the events published from now on that a session speaking
    /// `dialect` with read classes `read` and the event mask of `subs`' owner receives.
    /// `mask` is read under the bus's lock after the subscription is linked, so a
    /// concurrent change of the mask is never missed.
    pub fn subscribe(
        &self,
        dialect: Dialect,
        read: Privilege,
        subs: &Subscriptions,
        mask: impl Fn() -> Privilege,
    ) -> EventStream {
        let interest = Arc::new(Interest {
            dialect,
            read,
            mask: AtomicU32::new(0),
            changes: Mutex::new(VecDeque::new()),
            changed: AtomicBool::new(false),
            slot: AtomicUsize::new(0),
            resting: AtomicBool::new(false),
            handoff: Mutex::new(None),
            armed: AtomicBool::new(false),
            last: AtomicU64::new(0),
            first: AtomicU64::new(0),
            waker: AtomicWaker::new(),
        });
        subs.add(self, &interest);
        let mut inner = self.lock();
        let mask = mask();
        interest.mask.store(mask.0, Ordering::Relaxed);
        let rx = self.tx.subscribe();
        let next = self.published.load(Ordering::Relaxed);
        inner.insert(&interest);
        drop(inner);
        EventStream {
            rx: Some(rx),
            interest,
            bus: self.clone(),
            next,
            mask,
            known: None,
            passed: 0,
        }
    }

    /// A receiver of every event published from now on, unfiltered (tests and tools).
    pub fn tap(&self) -> broadcast::Receiver<Arc<Event>> {
        let _inner = self.lock();
        self.tx.subscribe()
    }

    /// Number of subscriptions (and taps).
    pub fn receivers(&self) -> usize {
        self.tx.receiver_count() + self.resting.load(Ordering::Relaxed)
    }
}

/// A subscription lost events its session would have received (it fell further behind
/// than the ring holds); the count is of every event it skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Missed(pub u64);

/// A session's subscription to the bus: the events it receives, in order, and a wait
/// that ends only when one of them is published.
#[derive(Debug)]
pub struct EventStream {
    /// Its place in the ring; `None` while it rests.
    rx: Option<broadcast::Receiver<Arc<Event>>>,
    interest: Arc<Interest>,
    bus: EventBus,
    /// Sequence number of the next event to read.
    next: u64,
    /// The event mask in force for that event.
    mask: Privilege,
    /// Where events this subscription sees may still be unread: sequence numbers from
    /// the first up to (not including) the second.
    known: Option<(u64, u64)>,
    /// Events passed over (not for it) since it last waited.
    passed: u64,
}

impl EventStream {
    /// The next event this subscription receives, or `None` when none is queued.
    /// Events of other classes or dialects are passed over. `Err` when the ring passed
    /// this subscription by and took events it would have received; the stream then
    /// goes on from the oldest event still queued. A gap made only of events it would
    /// not have received is passed over silently.
    pub fn try_next(&mut self) -> Result<Option<Arc<Event>>, Missed> {
        let (dialect, read) = (self.interest.dialect, self.interest.read);
        loop {
            let Some(rx) = self.rx.as_mut() else {
                let handoff = lock(&self.interest.handoff).take();
                match handoff {
                    Some((rx, next)) => {
                        self.rx = Some(rx);
                        self.next = next;
                        continue;
                    }
                    None => {
                        self.take_marks();
                        return Ok(None);
                    }
                }
            };
            match rx.try_recv() {
                Ok(ev) => {
                    if self.interest.changed.load(Ordering::Acquire) {
                        self.follow_changes(ev.seq);
                    }
                    self.next = ev.seq + 1;
                    if ev.visible_to(dialect, read, self.mask) {
                        return Ok(Some(ev));
                    }
                    self.passed += 1;
                }
                Err(TryRecvError::Empty) | Err(TryRecvError::Closed) => {
                    self.take_marks();
                    return Ok(None);
                }
                Err(TryRecvError::Lagged(n)) => {
                    self.take_marks();
                    let resumed = self.next + n;
                    let lost = self.known.is_some_and(|(first, _)| first < resumed);
                    self.next = resumed;
                    self.clamp();
                    if lost {
                        return Err(Missed(n));
                    }
                }
            }
        }
    }

    /// Whether an event this subscription receives was published since it last read.
    pub fn pending(&self) -> bool {
        self.interest.last.load(Ordering::SeqCst) > self.next
    }

    /// Waits until [`EventStream::pending`]. Cancel-safe. A subscription that passed
    /// over many events since it last waited rests while it waits.
    pub async fn ready(&mut self) {
        if std::mem::take(&mut self.passed) >= REST_AFTER {
            self.rest();
        }
        std::future::poll_fn(|cx| {
            if self.pending() {
                return Poll::Ready(());
            }
            self.interest.waker.register(cx.waker());
            self.interest.armed.store(true, Ordering::SeqCst);
            // Either this sees the publisher's `last`, or the publisher sees `armed` (and
            // wakes the waker registered before it).
            if self.pending() {
                self.interest.armed.store(false, Ordering::SeqCst);
                return Poll::Ready(());
            }
            Poll::Pending
        })
        .await;
    }

    /// With nothing queued for it, gives up the subscription's place in the ring until
    /// an event it receives is published: the publisher then makes it a new place just
    /// before that event. A resting subscription costs a publish nothing, and holds no
    /// event in the ring after every subscription that receives it has read it.
    pub fn rest(&mut self) {
        if self.rx.is_none() {
            return;
        }
        let mut inner = self.bus.lock();
        // Under the lock no event is being published: none unread is for it.
        if self.pending() {
            return;
        }
        let rx = self.rx.take();
        self.next = self.bus.published.load(Ordering::Relaxed);
        self.interest.resting.store(true, Ordering::Relaxed);
        if let Some(group) = inner.group_of(&self.interest) {
            group.resting += 1;
        }
        self.bus.resting.fetch_add(1, Ordering::Relaxed);
        drop(inner);
        // Reading out its unread events (to release them) happens outside the lock.
        drop(rx);
        self.clamp();
    }

    /// Takes the mask changes that apply from event `seq` on.
    fn follow_changes(&mut self, seq: u64) {
        let mut changes = lock(&self.interest.changes);
        while let Some(&(from, mask)) = changes.front() {
            if from > seq {
                break;
            }
            self.mask = mask;
            changes.pop_front();
        }
        if changes.is_empty() {
            self.interest.changed.store(false, Ordering::Release);
        }
    }

    /// Folds the publisher's marks into `known`.
    fn take_marks(&mut self) {
        let first = self.interest.first.swap(0, Ordering::SeqCst);
        if first != 0 {
            let end = self.interest.last.load(Ordering::SeqCst);
            let from = self.known.map_or(first - 1, |(k, _)| k.min(first - 1));
            self.known = Some((from, end));
        }
        self.clamp();
    }

    /// Drops from `known` what is already read.
    fn clamp(&mut self) {
        if let Some((first, end)) = self.known {
            let first = first.max(self.next);
            self.known = (first < end).then_some((first, end));
        }
    }
}

impl Drop for EventStream {
    fn drop(&mut self) {
        let mut inner = self.bus.lock();
        inner.remove(&self.interest);
        if self.interest.resting.swap(false, Ordering::Relaxed) {
            self.bus.resting.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// Events a subscription passes over between two waits before it rests while waiting.
const REST_AFTER: u64 = 64;

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
        let mut rx = bus.tap();
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
        let _rx = bus.tap();
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
    fn class(c: Privilege, name: &str) -> Event {
        Event::new(c, name, vec![], false)
    }

    /// A stream of a read-all session whose event mask is `mask`, and the session.
    fn stream(bus: &EventBus, mask: Privilege) -> (EventStream, crate::state::SessionInfo) {
        let info = crate::state::SessionInfo::new(
            "127.0.0.1:1".parse().unwrap(),
            crate::state::Transport::Tcp,
            Dialect::V1,
            mask,
        );
        let s = bus.subscribe(Dialect::V1, Privilege::ALL, &info.subscriptions, || {
            info.event_mask()
        });
        (s, info)
    }

    fn names(s: &mut EventStream) -> Result<Vec<String>, Missed> {
        let mut out = Vec::new();
        while let Some(ev) = s.try_next()? {
            out.push(ev.name().to_string());
        }
        Ok(out)
    }

    /// Whether `ready` ends within a moment.
    async fn woken(s: &mut EventStream) -> bool {
        tokio::time::timeout(std::time::Duration::from_millis(50), s.ready())
            .await
            .is_ok()
    }

    #[tokio::test]
    async fn a_stream_is_woken_only_for_events_it_receives() {
        let bus = EventBus::new(64);
        let (mut calls, _a) = stream(&bus, Privilege::CALL);
        let (mut off, _b) = stream(&bus, Privilege::NONE);
        bus.publish(class(Privilege::CALL, "Newchannel"));
        assert!(calls.pending() && woken(&mut calls).await);
        assert!(!off.pending() && !woken(&mut off).await);
        assert_eq!(names(&mut calls).unwrap(), ["Newchannel"]);
        assert!(!calls.pending());
        // An event of no class reaches every session, as manager_event delivers it.
        bus.publish(class(Privilege::NONE, "Everyone"));
        assert!(woken(&mut off).await && woken(&mut calls).await);
        assert_eq!(names(&mut off).unwrap(), ["Everyone"]);
        assert_eq!(names(&mut calls).unwrap(), ["Everyone"]);
    }

    #[tokio::test]
    async fn a_publish_from_another_task_wakes_a_waiting_stream() {
        let bus = EventBus::new(64);
        let (mut s, _info) = stream(&bus, Privilege::ALL);
        let publisher = bus.clone();
        let task = tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            publisher.publish(class(Privilege::SYSTEM, "Late"));
        });
        tokio::time::timeout(std::time::Duration::from_secs(5), s.ready())
            .await
            .expect("woken");
        assert_eq!(names(&mut s).unwrap(), ["Late"]);
        task.await.unwrap();
    }

    #[test]
    fn a_ring_passing_only_events_it_does_not_receive_loses_nothing() {
        let bus = EventBus::new(16);
        let (mut s, _info) = stream(&bus, Privilege::SYSTEM);
        bus.publish(class(Privilege::SYSTEM, "First"));
        assert_eq!(names(&mut s).unwrap(), ["First"]);
        for _ in 0..100 {
            bus.publish(class(Privilege::CALL, "Flood"));
        }
        bus.publish(class(Privilege::SYSTEM, "Second"));
        assert_eq!(names(&mut s).unwrap(), ["Second"]);
        // Unread from the start, too.
        let (mut fresh, _i) = stream(&bus, Privilege::SYSTEM);
        for _ in 0..100 {
            bus.publish(class(Privilege::CALL, "Flood"));
        }
        bus.publish(class(Privilege::SYSTEM, "Third"));
        assert_eq!(names(&mut fresh).unwrap(), ["Third"]);
        assert_eq!(names(&mut s).unwrap(), ["Third"]);
    }

    #[test]
    fn a_ring_passing_events_it_receives_is_a_loss() {
        let bus = EventBus::new(16);
        let (mut s, _info) = stream(&bus, Privilege::SYSTEM);
        bus.publish(class(Privilege::SYSTEM, "Lost"));
        for _ in 0..100 {
            bus.publish(class(Privilege::CALL, "Flood"));
        }
        bus.publish(class(Privilege::SYSTEM, "Kept"));
        assert_eq!(s.try_next().unwrap_err(), Missed(102 - 16));
        // It goes on with what is still queued.
        assert_eq!(names(&mut s).unwrap(), ["Kept"]);
        // A loss is reported once.
        bus.publish(class(Privilege::SYSTEM, "Next"));
        assert_eq!(names(&mut s).unwrap(), ["Next"]);
    }

    #[tokio::test]
    async fn a_change_of_mask_refiles_the_stream() {
        let bus = EventBus::new(64);
        let (mut s, info) = stream(&bus, Privilege::NONE);
        bus.publish(class(Privilege::CALL, "Before"));
        assert!(!woken(&mut s).await);
        info.set_event_mask(Privilege::CALL);
        bus.publish(class(Privilege::CALL, "After"));
        assert!(woken(&mut s).await);
        // Each event is judged by the mask in force when it was published.
        assert_eq!(names(&mut s).unwrap(), ["After"]);
        bus.publish(class(Privilege::CALL, "Queued"));
        info.set_event_mask(Privilege::SYSTEM);
        bus.publish(class(Privilege::CALL, "Muted"));
        info.set_event_mask(Privilege::NONE);
        info.set_event_mask(Privilege::CALL);
        bus.publish(class(Privilege::CALL, "Again"));
        assert_eq!(names(&mut s).unwrap(), ["Queued", "Again"]);
        info.set_event_mask(Privilege::SYSTEM);
        bus.publish(class(Privilege::CALL, "Muted"));
        assert!(!woken(&mut s).await);
        assert_eq!(names(&mut s).unwrap(), Vec::<String>::new());
        // Changes while nothing is read keep at most a ring's worth of history.
        for i in 0..1000 {
            bus.publish(class(Privilege::SYSTEM, "Tick"));
            info.set_event_mask(if i % 2 == 0 {
                Privilege::NONE
            } else {
                Privilege::SYSTEM
            });
        }
        assert!(s.interest.changes.lock().unwrap().len() <= 65);
        // Half of them were published under `system`: those older than the ring are
        // lost, the 32 still in it arrive.
        assert!(matches!(s.try_next(), Err(Missed(_))));
        assert_eq!(names(&mut s).unwrap().len(), 32);
    }

    #[test]
    fn streams_leave_their_group_when_dropped() {
        let bus = EventBus::new(64);
        let streams: Vec<_> = [Privilege::ALL, Privilege::CALL, Privilege::ALL]
            .into_iter()
            .map(|m| stream(&bus, m))
            .collect();
        assert_eq!(bus.lock().groups.len(), 2);
        assert_eq!(bus.receivers(), 3);
        drop(streams);
        assert!(bus.lock().groups.is_empty());
        assert_eq!(bus.receivers(), 0);
    }

    #[test]
    fn dialects_are_filed_apart() {
        let bus = EventBus::new(64);
        let info = crate::state::SessionInfo::new(
            "127.0.0.1:1".parse().unwrap(),
            crate::state::Transport::Tcp,
            Dialect::Modern,
            Privilege::ALL,
        );
        let mut modern =
            bus.subscribe(Dialect::Modern, Privilege::ALL, &info.subscriptions, || {
                info.event_mask()
            });
        let (mut v1, _i) = stream(&bus, Privilege::ALL);
        let v1_only = EventPart {
            class: Privilege::CALL,
            name: "Old".into(),
            body: vec![],
        };
        bus.publish(Event::per_dialect(Some(v1_only), None, false));
        assert!(v1.pending() && !modern.pending());
        assert_eq!(names(&mut v1).unwrap(), ["Old"]);
        assert_eq!(names(&mut modern).unwrap(), Vec::<String>::new());
    }
    #[tokio::test]
    async fn a_resting_stream_gets_its_place_back_for_the_next_event_it_receives() {
        let bus = EventBus::new(16);
        let (mut s, info) = stream(&bus, Privilege::SYSTEM);
        let (_other, _i) = stream(&bus, Privilege::ALL);
        s.rest();
        assert!(s.rx.is_none());
        assert_eq!(bus.receivers(), 2, "a resting stream still counts");
        assert_eq!(bus.tx.receiver_count(), 1);
        for _ in 0..100 {
            bus.publish(class(Privilege::CALL, "Flood"));
        }
        assert!(!woken(&mut s).await);
        bus.publish(class(Privilege::SYSTEM, "Mine"));
        assert!(woken(&mut s).await);
        assert_eq!(names(&mut s).unwrap(), ["Mine"]);
        // Resting again, it is brought back by a change of mask too.
        s.rest();
        info.set_event_mask(Privilege::CALL);
        bus.publish(class(Privilege::CALL, "Call"));
        assert_eq!(names(&mut s).unwrap(), ["Call"]);
        // Brought back, it can fall behind like any other.
        s.rest();
        for i in 0..40 {
            bus.publish(class(Privilege::CALL, &format!("C{i}")));
        }
        assert_eq!(s.try_next().unwrap_err(), Missed(40 - 16));
        assert_eq!(names(&mut s).unwrap().len(), 16);
        // Resting with events unread for it is refused.
        bus.publish(class(Privilege::CALL, "Unread"));
        s.rest();
        assert!(s.rx.is_some());
        assert_eq!(names(&mut s).unwrap(), ["Unread"]);
        drop(s);
        assert_eq!(bus.receivers(), 1);
    }

    #[tokio::test]
    async fn a_stream_rests_while_it_waits_after_passing_over_many_events() {
        let bus = EventBus::new(256);
        let (mut s, _info) = stream(&bus, Privilege::SYSTEM);
        bus.publish(class(Privilege::NONE, "Everyone"));
        for _ in 0..REST_AFTER {
            bus.publish(class(Privilege::CALL, "Other"));
        }
        bus.publish(class(Privilege::SYSTEM, "Mine"));
        assert_eq!(names(&mut s).unwrap(), ["Everyone", "Mine"]);
        assert!(s.rx.is_some());
        assert!(!woken(&mut s).await);
        assert!(s.rx.is_none(), "rests while it waits");
        bus.publish(class(Privilege::SYSTEM, "Again"));
        assert!(woken(&mut s).await);
        assert_eq!(names(&mut s).unwrap(), ["Again"]);
    }
    /// Publishers on two threads, readers of four masks on a two-worker runtime, some of
    /// them resting between waits: each reader gets exactly the events of its classes, in
    /// order, once, and is never left asleep with one queued.
    #[test]
    fn concurrent_publishers_and_readers_lose_and_repeat_nothing() {
        const PER_PUBLISHER: u64 = 20_000;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let bus = EventBus::new(1 << 17);
        let classes = [
            Privilege::CALL,
            Privilege::SYSTEM,
            Privilege::USER,
            Privilege::NONE,
        ];
        let masks = [
            Privilege::ALL,
            Privilege::CALL,
            Privilege::SYSTEM,
            Privilege::NONE,
        ];
        let readers: Vec<_> = masks
            .iter()
            .enumerate()
            .map(|(i, &mask)| {
                let (mut s, info) = stream(&bus, mask);
                rt.spawn(async move {
                    let _info = info;
                    let (mut got, mut stops, mut last_seq) = (Vec::new(), 0, None::<u64>);
                    let mut rounds = 0u64;
                    while stops < 2 {
                        tokio::time::timeout(std::time::Duration::from_secs(20), s.ready())
                            .await
                            .expect("woken for a queued event");
                        while let Some(ev) = s.try_next().expect("nothing lost") {
                            assert!(last_seq.is_none_or(|l| ev.seq > l), "in order, once");
                            last_seq = Some(ev.seq);
                            if ev.name() == "Stop" {
                                stops += 1;
                            } else {
                                got.push(ev.part(Dialect::V1).unwrap().class);
                            }
                        }
                        rounds += 1;
                        if (rounds + i as u64).is_multiple_of(3) {
                            s.rest();
                        }
                    }
                    got
                })
            })
            .collect();
        let publishers: Vec<_> = (0..2)
            .map(|_| {
                let bus = bus.clone();
                std::thread::spawn(move || {
                    for n in 0..PER_PUBLISHER {
                        bus.publish(class(classes[(n % 4) as usize], "E"));
                    }
                    bus.publish(class(Privilege::NONE, "Stop"));
                })
            })
            .collect();
        for p in publishers {
            p.join().unwrap();
        }
        let per_class = 2 * PER_PUBLISHER / 4;
        for (reader, &mask) in readers.into_iter().zip(&masks) {
            let got = rt.block_on(reader).unwrap();
            for c in classes {
                let want = if mask.contains(c) { per_class } else { 0 };
                let n = got.iter().filter(|&&g| g == c).count() as u64;
                assert_eq!(n, want, "mask {mask:?}, class {c:?}");
            }
        }
    }
}
