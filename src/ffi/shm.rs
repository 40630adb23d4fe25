//! A read-only view of the first page of SQLite's WAL index (the token's `-shm` file), shared
//! with every process that has the database open: SQLite's own memory layout is a foreign
//! interface, so the mapping lives here with the module's other unsafe code. `store::watch`
//! reads the header through it on every call, where a `pread` would cost a system call.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicU32, Ordering};

/// The bytes mapped: one page, which SQLite always has (it sizes the file in 32 KiB regions).
const MAPPED: usize = 4096;

#[derive(Debug)]
pub struct SharedPage {
    base: std::ptr::NonNull<AtomicU32>,
    /// Kept open as long as the mapping: closing any descriptor of a file drops every POSIX
    /// lock this process holds on it, SQLite's own among them (its shared "DMS" lock, which
    /// tells other processes the file is in use; without it the next process to open the
    /// database truncates the file under our mapping). The owner drops this only after its
    /// SQLite connection is closed.
    _file: File,
}

// SAFETY: the mapping is read-only shared memory that is read only through atomic loads; it
// may be used and unmapped from any thread.
unsafe impl Send for SharedPage {}
// SAFETY: as above: shared references only ever load atomically.
unsafe impl Sync for SharedPage {}

impl SharedPage {
    /// Map the first page of `file`, which must already be at least a page long (a shorter
    /// file would make reads past its end fault). SQLite never shrinks the file while any
    /// connection (ours) has the database open. On failure the descriptor is leaked rather than closed, for the same reason as `_file`
    /// (a file too short or a failed mmap: neither happens to a live WAL index).
    pub fn map(file: File) -> Option<SharedPage> {
        let keep = |file: File| {
            std::mem::forget(file);
            None
        };
        match file.metadata() {
            Ok(m) if m.len() >= MAPPED as u64 => {}
            _ => return keep(file),
        }
        // SAFETY: a fresh read-only shared mapping of an open file descriptor; the kernel picks
        // the address.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                MAPPED,
                libc::PROT_READ,
                libc::MAP_SHARED,
                file.as_raw_fd(),
                0,
            )
        };
        let Some(base) =
            std::ptr::NonNull::new(p.cast::<AtomicU32>()).filter(|_| p != libc::MAP_FAILED)
        else {
            return keep(file);
        };
        Some(SharedPage { base, _file: file })
    }

    /// Copy the first `N` 32-bit words. Other processes write them concurrently, so each is
    /// read atomically; a copy taken during a write may mix old and new words, which only ever
    /// reads as "changed".
    pub fn words<const N: usize>(&self) -> [u32; N] {
        let mut out = [0u32; N];
        for (i, w) in out.iter_mut().enumerate().take(MAPPED / 4) {
            // SAFETY: `i < MAPPED / 4`, so the word is inside the live, page-aligned mapping;
            // AtomicU32 has the layout of u32 and the memory is only read.
            *w = unsafe { &*self.base.as_ptr().add(i) }.load(Ordering::Acquire);
        }
        out
    }
}

impl Drop for SharedPage {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `map`, of exactly MAPPED bytes, unmapped once.
        unsafe { libc::munmap(self.base.as_ptr().cast(), MAPPED) };
    }
}
