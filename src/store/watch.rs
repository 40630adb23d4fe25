//! A cheap look for other processes' commits: the WAL index header in the token's `-shm` file,
//! read from a shared mapping (`ffi::shm`) without SQLite and without a system call. Every
//! commit in WAL mode rewrites that header (its change counter and frame count move), so an
//! unchanged header means nothing was committed since the last look, and `PRAGMA
//! data_version` (a read transaction: two file-lock system calls and a statement) is needed
//! only when it moved. SQLite file format, "WAL-index format"
//! (https://www.sqlite.org/walformat.html): two copies of a 48-byte header at offset 0.

use crate::ffi::shm::SharedPage;
use std::cell::Cell;
use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::{Arc, Mutex, Weak};

/// Both copies of the header, in 32-bit words: a commit writes the second then the first, so
/// a look during a commit sees them differ from the last look, or sees the state before it.
const HEADER: usize = 24;

/// One mapping per `-shm` file (device, inode) in the process, shared by every connection to
/// it: its descriptor may only be closed once no connection of this process uses the file,
/// since closing it drops the process's POSIX locks on the file, SQLite's own included.
static PAGES: Mutex<Vec<(FileId, Weak<SharedPage>)>> = Mutex::new(Vec::new());

/// Device and inode.
type FileId = (u64, u64);

fn shared_page(name: &Path) -> Option<Arc<SharedPage>> {
    // Looked up by `stat`, without opening: opening and closing a second descriptor would
    // drop SQLite's locks just the same.
    let meta = std::fs::metadata(name).ok()?;
    let key = (meta.dev(), meta.ino());
    let mut pages = PAGES
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    pages.retain(|(_, w)| w.strong_count() > 0);
    if let Some(p) = pages
        .iter()
        .find(|(k, _)| *k == key)
        .and_then(|(_, w)| w.upgrade())
    {
        return Some(p);
    }
    let page = Arc::new(SharedPage::map(File::open(name).ok()?)?);
    pages.push((key, Arc::downgrade(&page)));
    Some(page)
}

#[derive(Debug)]
pub struct ShmWatch {
    /// `Some` until dropped (see the `Drop` impl).
    page: Option<Arc<SharedPage>>,
    /// The header as it was just before the last authoritative check; `None` until one ran.
    seen: Cell<Option<[u32; HEADER]>>,
}

impl ShmWatch {
    /// Watch the `-shm` file of the WAL database at `db`; `None` when there is none to read (a
    /// database not in WAL mode, or opened immutable).
    pub fn open(db: &Path) -> Option<ShmWatch> {
        let mut name = db.as_os_str().to_owned();
        name.push("-shm");
        let page = shared_page(Path::new(&name))?;
        Some(ShmWatch {
            page: Some(page),
            seen: Cell::new(None),
        })
    }

    fn header(&self) -> Option<[u32; HEADER]> {
        self.page.as_ref().map(|p| p.words())
    }

    /// True only when the header is the one recorded by the last [`ShmWatch::checked`]: no
    /// commit since. Any doubt (no record, a read error) answers false.
    pub fn unchanged(&self) -> bool {
        match (self.seen.get(), self.header()) {
            (Some(a), Some(b)) => a == b,
            _ => false,
        }
    }

    /// Run the authoritative check `f`, recording the header read just before it: a commit
    /// that lands after this read changes the header again, so the next look sees it.
    pub fn checked<T, E>(&self, f: impl FnOnce() -> Result<T, E>) -> Result<T, E> {
        let before = self.header();
        let out = f()?;
        self.seen.set(before);
        Ok(out)
    }
}

/// The registry's entries for mappings nobody uses are removed as the last user goes, so
/// nothing of it outlives `C_Finalize` (a weak reference keeps its allocation, and the
/// registry's own buffer would be lost when the library is unloaded).
impl Drop for ShmWatch {
    fn drop(&mut self) {
        drop(self.page.take());
        let mut pages = PAGES
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        pages.retain(|(_, w)| w.strong_count() > 0);
        if pages.is_empty() {
            *pages = Vec::new();
        }
    }
}
