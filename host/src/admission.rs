//! Admission control against hostile clients: the count of unauthenticated TCP sessions
//! (`authlimit`) and the per-address login failure budget (`loginfailures` within
//! `loginfailurewindow`). No I/O here; the limits are passed in at the time they apply, so
//! a reload changes them for the next connection or login.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// At most this many addresses are tracked by the failure budget.
pub const MAX_TRACKED_ADDRESSES: usize = 10_000;

/// Shared admission state (one per host).
#[derive(Debug, Default)]
pub struct Admission {
    unauthenticated: Arc<AtomicUsize>,
    failures: Mutex<HashMap<IpAddr, FailureWindow>>,
}

/// Counts one unauthenticated TCP session for as long as it lives; dropped on login or
/// when the session ends, whichever comes first.
#[derive(Debug)]
pub struct UnauthGuard {
    counter: Arc<AtomicUsize>,
}

impl Drop for UnauthGuard {
    fn drop(&mut self) {
        self.counter.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Failures of one address in the current window.
#[derive(Debug, Clone, Copy)]
struct FailureWindow {
    started: Instant,
    failures: u32,
    warned: bool,
}

/// What the failure budget says about a login attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Budget {
    /// Check the credentials as usual.
    Open,
    /// Refuse without checking; `warn` is true the first time in this window.
    Exhausted {
        /// Log a warning (once per window).
        warn: bool,
    },
}

impl Admission {
    /// Unauthenticated TCP sessions now.
    pub fn unauthenticated(&self) -> usize {
        self.unauthenticated.load(Ordering::Acquire)
    }

    /// Admits one more unauthenticated session unless `limit` are already there.
    /// Called from the accept loop only, so the check and the increment do not race
    /// with another admission.
    pub fn admit(&self, limit: usize) -> Option<UnauthGuard> {
        let now = self.unauthenticated.load(Ordering::Acquire);
        if now >= limit {
            return None;
        }
        self.unauthenticated.fetch_add(1, Ordering::AcqRel);
        Some(UnauthGuard {
            counter: self.unauthenticated.clone(),
        })
    }

    /// Whether a login from `ip` may be checked: at most `limit` failures per `window`
    /// (`limit` 0 turns the budget off).
    pub fn login_budget(&self, ip: IpAddr, limit: u32, window: Duration, now: Instant) -> Budget {
        if limit == 0 {
            return Budget::Open;
        }
        let mut map = lock(&self.failures);
        let Some(entry) = map.get_mut(&ip) else {
            return Budget::Open;
        };
        if now.saturating_duration_since(entry.started) >= window {
            map.remove(&ip);
            return Budget::Open;
        }
        if entry.failures < limit {
            return Budget::Open;
        }
        let warn = !entry.warned;
        entry.warned = true;
        Budget::Exhausted { warn }
    }

    /// Records a failed login from `ip`.
    pub fn record_failure(&self, ip: IpAddr, limit: u32, window: Duration, now: Instant) {
        if limit == 0 {
            return;
        }
        let mut map = lock(&self.failures);
        if let Some(entry) = map.get_mut(&ip) {
            if now.saturating_duration_since(entry.started) < window {
                entry.failures = entry.failures.saturating_add(1);
                return;
            }
        }
        if map.len() >= MAX_TRACKED_ADDRESSES && !map.contains_key(&ip) {
            map.retain(|_, e| now.saturating_duration_since(e.started) < window);
            if map.len() >= MAX_TRACKED_ADDRESSES {
                // Still full of live windows: forget the oldest one.
                let oldest = map.iter().min_by_key(|(_, e)| e.started).map(|(ip, _)| *ip);
                if let Some(oldest) = oldest {
                    map.remove(&oldest);
                }
            }
        }
        map.insert(
            ip,
            FailureWindow {
                started: now,
                failures: 1,
                warned: false,
            },
        );
    }

    /// Addresses tracked by the failure budget now.
    pub fn tracked_addresses(&self) -> usize {
        lock(&self.failures).len()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guards_count_and_release() {
        let a = Admission::default();
        let g1 = a.admit(2).unwrap();
        let g2 = a.admit(2).unwrap();
        assert!(a.admit(2).is_none());
        assert_eq!(a.unauthenticated(), 2);
        drop(g1);
        let g3 = a.admit(2).unwrap();
        drop((g2, g3));
        assert_eq!(a.unauthenticated(), 0);
    }

    #[test]
    fn budget_window() {
        let a = Admission::default();
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let other: IpAddr = "::1".parse().unwrap();
        let w = Duration::from_secs(60);
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(a.login_budget(ip, 3, w, t0), Budget::Open);
            a.record_failure(ip, 3, w, t0);
        }
        assert_eq!(
            a.login_budget(ip, 3, w, t0),
            Budget::Exhausted { warn: true }
        );
        assert_eq!(
            a.login_budget(ip, 3, w, t0 + Duration::from_secs(1)),
            Budget::Exhausted { warn: false }
        );
        assert_eq!(a.login_budget(other, 3, w, t0), Budget::Open);
        // Off.
        assert_eq!(a.login_budget(ip, 0, w, t0), Budget::Open);
        // The window ends.
        assert_eq!(a.login_budget(ip, 3, w, t0 + w), Budget::Open);
        assert_eq!(a.tracked_addresses(), 0);
    }

    #[test]
    fn the_map_is_bounded() {
        let a = Admission::default();
        let w = Duration::from_secs(60);
        let t0 = Instant::now();
        for i in 0..(MAX_TRACKED_ADDRESSES as u32 + 500) {
            let ip = IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000 + i));
            a.record_failure(ip, 3, w, t0 + Duration::from_millis(u64::from(i)));
        }
        assert_eq!(a.tracked_addresses(), MAX_TRACKED_ADDRESSES);
        // Expired windows are pruned first.
        let later = t0 + Duration::from_secs(3600);
        a.record_failure("192.0.2.1".parse().unwrap(), 3, w, later);
        assert_eq!(a.tracked_addresses(), 1);
    }
}
