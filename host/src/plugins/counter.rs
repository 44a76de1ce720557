//! A statistics counter that many worker threads bump on every call without sharing a
//! cache line: each thread adds to its own shard, a read sums them.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// Shards per counter; threads beyond this share shards (still correct, just contended).
const SHARDS: usize = 8;

/// One shard, alone on its cache line.
#[derive(Default)]
#[repr(align(128))]
struct Shard(AtomicU64);

/// A monotonic counter summed over per-thread shards.
#[derive(Default)]
pub struct Counter {
    shards: [Shard; SHARDS],
}

impl std::fmt::Debug for Counter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Counter({})", self.get())
    }
}

static NEXT_SHARD: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static SHARD: usize = NEXT_SHARD.fetch_add(1, Ordering::Relaxed) % SHARDS;
}

impl Counter {
    /// Adds `n`.
    pub fn add(&self, n: u64) {
        let i = SHARD.with(|s| *s);
        self.shards[i].0.fetch_add(n, Ordering::Relaxed);
    }

    /// The total so far.
    pub fn get(&self) -> u64 {
        self.shards
            .iter()
            .map(|s| s.0.load(Ordering::Relaxed))
            .fold(0u64, u64::wrapping_add)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn sums_adds_from_many_threads() {
        let c = Arc::new(Counter::default());
        let threads: Vec<_> = (0..12)
            .map(|_| {
                let c = c.clone();
                std::thread::spawn(move || {
                    for _ in 0..1000 {
                        c.add(1);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        c.add(5);
        assert_eq!(c.get(), 12_005);
    }
}
