//! The plugin's memory allocator: size classes with free lists in front of the standard
//! one, installed as the global allocator of `wasm32` builds (feature `small-alloc`, on by
//! default; turn default features off to bring your own `#[global_allocator]`).
//!
//! Every call into a plugin allocates a handful of small strings: the host lowers the
//! request's headers and the call context into guest memory, the handler builds its reply,
//! and all of it is freed after the call. Blocks of up to 2 KiB come from eight size
//! classes (16 B to 2 KiB); a freed block goes on its class's list and is handed out again
//! by the next allocation of that class, so the steady state of a call is a few pointer
//! swaps instead of the general allocator's bookkeeping. Larger or over-aligned blocks go
//! to the standard allocator. Small blocks are carved from 64 KiB chunks and never given
//! back, so a plugin's small-object memory is its peak; the host's per-plugin memory limit
//! bounds it like any other allocation.
//!
//! A component for `wasm32-wasip2` runs on one thread (no `atomics` target feature), which
//! is what makes the unsynchronised lists sound there; other targets only use the type in
//! tests, through a value that is never shared.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::UnsafeCell;
use std::ptr;

/// Block sizes of the classes; each is a multiple of 16, so every block is 16-aligned.
const CLASSES: [usize; 8] = [16, 32, 64, 128, 256, 512, 1024, 2048];

/// Size of the chunks small blocks are carved from.
const CHUNK: usize = 64 * 1024;

/// Largest alignment a class block satisfies.
const ALIGN: usize = 16;

struct Lists {
    /// Head of each class's free list; a free block's first word links to the next one.
    free: [*mut u8; CLASSES.len()],
    /// Unused rest of the current chunk.
    next: *mut u8,
    end: *mut u8,
}

/// The allocator. See the module documentation.
pub struct SmallAlloc {
    lists: UnsafeCell<Lists>,
}

// SAFETY: only where a program has one thread (wasm32 without the atomics feature), so
// the lists are never touched by two threads.
#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
#[allow(unsafe_code)]
unsafe impl Sync for SmallAlloc {}

impl SmallAlloc {
    /// An allocator with empty lists.
    pub const fn new() -> SmallAlloc {
        SmallAlloc {
            lists: UnsafeCell::new(Lists {
                free: [ptr::null_mut(); CLASSES.len()],
                next: ptr::null_mut(),
                end: ptr::null_mut(),
            }),
        }
    }
}

impl Default for SmallAlloc {
    fn default() -> SmallAlloc {
        SmallAlloc::new()
    }
}

/// The class serving `layout`, if any.
fn class(layout: Layout) -> Option<usize> {
    if layout.align() > ALIGN {
        return None;
    }
    // The class of the smallest power of two >= size, counted from 16 B: the bits of
    // `size - 1` less four.
    let bits = usize::BITS - layout.size().saturating_sub(1).leading_zeros();
    let c = bits.saturating_sub(4) as usize;
    (c < CLASSES.len()).then_some(c)
}

#[allow(unsafe_code)]
// SAFETY (whole impl): a class block is CLASSES[c] bytes, 16-aligned, inside a chunk
// from `System` that is never freed; it is either handed out or on exactly one free list.
// `dealloc`/`realloc` get the layout the block was allocated with (GlobalAlloc's
// contract), so they compute the class it came from.
unsafe impl GlobalAlloc for SmallAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let Some(c) = class(layout) else {
            // SAFETY: forwarded with the caller's layout.
            return unsafe { System.alloc(layout) };
        };
        // SAFETY: single-threaded (see the Sync impl), and no reference to the lists
        // outlives this call.
        let lists = unsafe { &mut *self.lists.get() };
        let head = lists.free[c];
        if !head.is_null() {
            // SAFETY: `head` is a free block of this class; its first word is the link.
            lists.free[c] = unsafe { head.cast::<*mut u8>().read() };
            return head;
        }
        let size = CLASSES[c];
        if (lists.end as usize) - (lists.next as usize) < size {
            // SAFETY: CHUNK and ALIGN make a valid, non-zero layout.
            let chunk = unsafe { System.alloc(Layout::from_size_align_unchecked(CHUNK, ALIGN)) };
            if chunk.is_null() {
                return chunk;
            }
            lists.next = chunk;
            // SAFETY: one past the end of the chunk just allocated.
            lists.end = unsafe { chunk.add(CHUNK) };
        }
        let block = lists.next;
        // SAFETY: `size` bytes remain in the chunk (checked above).
        lists.next = unsafe { block.add(size) };
        block
    }

    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        let Some(c) = class(layout) else {
            // SAFETY: allocated by `System` with this layout (same class test).
            return unsafe { System.dealloc(block, layout) };
        };
        // SAFETY: as in `alloc`.
        let lists = unsafe { &mut *self.lists.get() };
        // SAFETY: the block is ours, at least 16 bytes and 16-aligned: room for the link.
        unsafe { block.cast::<*mut u8>().write(lists.free[c]) };
        lists.free[c] = block;
    }

    unsafe fn realloc(&self, block: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if let Some(c) = class(layout) {
            if new_size > 0 && new_size <= CLASSES[c] && (c == 0 || new_size > CLASSES[c - 1]) {
                // Same class: the block already fits.
                return block;
            }
        }
        // SAFETY: the caller guarantees `new_size` with `layout.align()` is a valid layout.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        // SAFETY: a fresh block of the new layout, then the old contents, then the old
        // block back with its own layout.
        unsafe {
            let new = self.alloc(new_layout);
            if !new.is_null() {
                ptr::copy_nonoverlapping(block, new, layout.size().min(new_size));
                self.dealloc(block, layout);
            }
            new
        }
    }
}

#[cfg(test)]
#[allow(unsafe_code)]
mod tests {
    use super::*;

    fn layout(size: usize, align: usize) -> Layout {
        Layout::from_size_align(size, align).unwrap()
    }

    #[test]
    fn classes_cover_small_blocks_only() {
        assert_eq!(class(layout(0, 1)), Some(0));
        assert_eq!(class(layout(16, 8)), Some(0));
        assert_eq!(class(layout(17, 1)), Some(1));
        assert_eq!(class(layout(2048, 16)), Some(7));
        assert_eq!(class(layout(2049, 1)), None);
        assert_eq!(class(layout(8, 32)), None);
        // Each size gets the first class it fits in.
        for size in 0..=4096 {
            let first = CLASSES.iter().position(|&c| size.max(1) <= c);
            assert_eq!(class(layout(size, 1)), first, "size {size}");
        }
    }

    #[test]
    fn a_freed_block_is_reused_by_its_class_and_blocks_do_not_overlap() {
        let a = SmallAlloc::new();
        unsafe {
            let l = layout(24, 8);
            let x = a.alloc(l);
            let y = a.alloc(l);
            assert!(!x.is_null() && !y.is_null());
            assert_eq!(x as usize % 16, 0);
            assert!((y as usize).abs_diff(x as usize) >= 32);
            x.write_bytes(0xAA, 24);
            y.write_bytes(0xBB, 24);
            assert_eq!(*x.add(23), 0xAA);
            a.dealloc(x, l);
            // Same class, other size: the freed block comes back.
            let z = a.alloc(layout(30, 2));
            assert_eq!(z, x);
            assert_eq!(*y, 0xBB);
            a.dealloc(z, layout(30, 2));
            a.dealloc(y, l);
        }
    }

    #[test]
    fn large_and_over_aligned_blocks_use_the_standard_allocator() {
        let a = SmallAlloc::new();
        unsafe {
            for l in [layout(100_000, 8), layout(64, 64)] {
                let p = a.alloc(l);
                assert!(!p.is_null());
                assert_eq!(p as usize % l.align(), 0);
                p.write_bytes(7, l.size());
                a.dealloc(p, l);
            }
        }
    }

    #[test]
    fn realloc_keeps_contents_across_classes_and_into_large_blocks() {
        let a = SmallAlloc::new();
        unsafe {
            let mut l = layout(10, 1);
            let mut p = a.alloc(l);
            for i in 0..10 {
                *p.add(i) = i as u8;
            }
            // Within the class: same block.
            assert_eq!(a.realloc(p, l, 16), p);
            l = layout(16, 1);
            for size in [40, 300, 5000, 20] {
                p = a.realloc(p, l, size);
                assert!(!p.is_null());
                for i in 0..10 {
                    assert_eq!(*p.add(i), i as u8, "size {size}");
                }
                l = layout(size, 1);
            }
            a.dealloc(p, l);
        }
    }

    #[test]
    fn many_blocks_span_chunks() {
        let a = SmallAlloc::new();
        let l = layout(2048, 16);
        let mut blocks = Vec::new();
        unsafe {
            for i in 0..100 {
                let p = a.alloc(l);
                assert!(!p.is_null());
                p.write_bytes(i as u8, 2048);
                blocks.push(p);
            }
            for (i, p) in blocks.iter().enumerate() {
                assert_eq!(**p, i as u8);
                assert_eq!(*p.add(2047), i as u8);
            }
            for p in blocks {
                a.dealloc(p, l);
            }
        }
    }
}
