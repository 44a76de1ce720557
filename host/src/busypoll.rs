//! Busy polling (`[general] busypoll`): after answering, a session whose client sends
//! its next request quickly polls its socket for a few microseconds instead of going to
//! sleep, so that request is served without a wake-up.
//!
//! On a virtual machine an idle CPU halts, and waking it to serve a request costs tens of
//! microseconds: more than the request itself. A client in a request/reply loop (a
//! dashboard polling, a script issuing one action after another) pays that wake-up on
//! each round trip. Polling for a while after each reply keeps the CPU awake for the next
//! request when it comes soon; when it does not, the session sleeps as usual.
//!
//! Only a client that sent one request and waits for its reply is polled for: one that
//! pipelines has its next requests on the way while a batch is served.
//!
//! The cost is bounded three ways: a logged-in session polls only after a reply, and
//! backs off when its polls find nothing ([`Pacer`]: an idle or slow client costs one
//! fruitless poll per [`MAX_SKIP`] replies at most); at most [`Spinners::cap`] sessions
//! poll at once; and each poll yields to the runtime (other tasks run) and to the OS
//! (other threads on the same CPU, the client's included, run) between attempts.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// How many sessions are polling now, and how many may.
#[derive(Debug)]
pub struct Spinners {
    active: AtomicUsize,
    cap: usize,
}

impl Default for Spinners {
    /// Half the CPUs (at least one): polling never takes every worker.
    fn default() -> Self {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        Spinners::with_cap((cpus / 2).max(1))
    }
}

impl Spinners {
    /// At most `cap` sessions poll at once.
    pub fn with_cap(cap: usize) -> Spinners {
        Spinners {
            active: AtomicUsize::new(0),
            cap,
        }
    }

    /// How many sessions may poll at once.
    pub fn cap(&self) -> usize {
        self.cap
    }

    /// A polling slot, if one is free; released when the guard drops.
    pub fn try_acquire(&self) -> Option<SpinGuard<'_>> {
        self.active
            .fetch_update(Ordering::AcqRel, Ordering::Relaxed, |n| {
                (n < self.cap).then_some(n + 1)
            })
            .ok()
            .map(|_| SpinGuard(self))
    }
}

/// One session's polling slot.
#[derive(Debug)]
pub struct SpinGuard<'a>(&'a Spinners);

impl Drop for SpinGuard<'_> {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::AcqRel);
    }
}

/// When a session should poll, learnt from how its polls went: after a poll that found
/// nothing, the session skips polling for the next 1, 3, 7, ... replies (at most
/// [`MAX_SKIP`]); a poll that finds the next request resets that. A client in a quick
/// request/reply loop is polled for after every reply; a slow or idle one costs one
/// fruitless poll per [`MAX_SKIP`] replies at most. Kept per session; no I/O.
#[derive(Debug, Clone)]
pub struct Pacer {
    window: Duration,
    /// Fruitless polls in a row (capped).
    misses: u32,
    /// Replies still to go without polling.
    skip: u32,
}

/// The most replies skipped after fruitless polls.
pub const MAX_SKIP: u32 = 1023;

impl Pacer {
    /// A pacer polling for at most `window` (zero turns polling off).
    pub fn new(window: Duration) -> Pacer {
        Pacer {
            window,
            misses: 0,
            skip: 0,
        }
    }

    /// A reply was written. Returns how long to poll for the next request (`None`: do
    /// not poll).
    pub fn replied(&mut self) -> Option<Duration> {
        if self.window.is_zero() {
            return None;
        }
        if self.skip > 0 {
            self.skip -= 1;
            return None;
        }
        Some(self.window)
    }

    /// How the poll went: `found` when a request (or an event) came within the window.
    pub fn polled(&mut self, found: bool) {
        if found {
            self.misses = 0;
        } else {
            self.misses = (self.misses + 1).min(MAX_SKIP.count_ones());
            self.skip = (1 << self.misses) - 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polls_while_polling_finds_requests_and_backs_off_when_not() {
        let w = Duration::from_micros(50);
        let mut p = Pacer::new(w);
        for _ in 0..3 {
            assert_eq!(p.replied(), Some(w));
            p.polled(true);
        }
        // One miss skips one reply, the next two skip three, and so on.
        p.polled(false);
        assert_eq!(p.replied(), None);
        assert_eq!(p.replied(), Some(w));
        p.polled(false);
        assert_eq!((0..3).filter_map(|_| p.replied()).count(), 0);
        assert_eq!(p.replied(), Some(w));
        // A hit resets the back-off.
        p.polled(true);
        assert_eq!(p.replied(), Some(w));
    }

    #[test]
    fn an_idle_client_costs_at_most_one_poll_per_max_skip_replies() {
        let mut p = Pacer::new(Duration::from_micros(50));
        let mut polls = 0;
        for _ in 0..100_000 {
            if p.replied().is_some() {
                polls += 1;
                p.polled(false);
            }
        }
        // 10 polls to reach the cap, then one per MAX_SKIP + 1 replies.
        assert!(polls <= 10 + 100_000 / (MAX_SKIP + 1), "{polls}");
        assert!(polls >= 100_000 / (MAX_SKIP + 1), "{polls}");
    }

    #[test]
    fn zero_window_never_polls() {
        let mut p = Pacer::new(Duration::ZERO);
        assert_eq!(p.replied(), None);
    }

    #[test]
    fn slots_are_capped_and_released() {
        let s = Spinners::with_cap(2);
        let a = s.try_acquire();
        let b = s.try_acquire();
        assert!(a.is_some() && b.is_some());
        assert!(s.try_acquire().is_none());
        drop(a);
        assert!(s.try_acquire().is_some());
        assert_eq!(s.cap(), 2);
    }
}
