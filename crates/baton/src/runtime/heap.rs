//! Returning memory freed after a burst to the kernel.
//!
//! Loading a configuration and starting its instances allocates far more than the daemon
//! keeps (tokens, the preprocessed text, the first batch of actions): with 200 instances the
//! peak is about twice what stays live. glibc's allocator keeps freed chunks inside the heap
//! for reuse, so without a trim that start-up peak stays resident for the daemon's life.

/// How often, at most, the loop gives freed memory back on its own (see [`Trim`]).
pub const TRIM_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// Trims no more often than [`TRIM_EVERY`]. What a burst frees (a thousand instances taking
/// over: their VIP requests, the kernel's notifications of them, their gratuitous ARPs) is
/// freed over many wake-ups after it, and a trim after each wake-up gave the steady ones'
/// pages back too, only for them to come back as page faults on the next (a master of
/// thousands of instances spent a twelfth of its CPU clearing pages).
#[derive(Debug)]
pub struct Trim {
    last: std::time::Instant,
}

impl Trim {
    pub fn new() -> Trim {
        Trim {
            last: std::time::Instant::now(),
        }
    }

    /// Give the free pages back if the last time was [`TRIM_EVERY`] ago.
    pub fn now_and_then(&mut self) {
        if self.last.elapsed() >= TRIM_EVERY {
            release_free_pages();
            self.last = std::time::Instant::now();
        }
    }
}

/// Give the free pages of the heap back to the kernel. Called after start, after each reload
/// and after a burst of actions, never per packet (a trim walks the heap).
pub fn release_free_pages() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only inspects and shrinks the allocator's own free lists; it takes
    // no pointers from us and is safe to call at any time from any thread.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trimming_keeps_live_allocations_intact() {
        let keep: Vec<Vec<u8>> = (0..64u8).map(|i| vec![i; 4096]).collect();
        let freed: Vec<Vec<u8>> = (0..256).map(|_| vec![0u8; 4096]).collect();
        drop(freed);
        release_free_pages();
        for (i, v) in keep.iter().enumerate() {
            assert!(v.iter().all(|&b| usize::from(b) == i));
        }
    }
}
