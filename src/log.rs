//! Diagnostic logging (`FERROHSM_LOG=debug|info|warn`): call shapes and return codes, never PINs
//! or key bytes. Off by default.

use parking_lot::Mutex;
use std::io::Write;
use std::sync::atomic::{AtomicU8, Ordering};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Off = 0,
    Warn = 1,
    Info = 2,
    Debug = 3,
}

static LEVEL: AtomicU8 = AtomicU8::new(Level::Off as u8);
static SINK: Mutex<Option<std::fs::File>> = Mutex::new(None);

impl Level {
    pub fn parse(s: &str) -> Level {
        match s.trim().to_ascii_lowercase().as_str() {
            "debug" | "trace" => Level::Debug,
            "info" => Level::Info,
            "warn" | "warning" | "error" => Level::Warn,
            _ => Level::Off,
        }
    }
}

/// Set the level and sink; called by `C_Initialize` from the configuration.
pub fn configure(level: Level, file: Option<&std::path::Path>) {
    let f = file.and_then(|p| {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(p)
            .ok()
    });
    *SINK.lock() = f;
    LEVEL.store(level as u8, Ordering::Relaxed);
}

pub fn enabled(level: Level) -> bool {
    LEVEL.load(Ordering::Relaxed) >= level as u8 && level != Level::Off
}

fn emit(level: Level, args: std::fmt::Arguments<'_>) {
    if !enabled(level) {
        return;
    }
    let line = format!("ferrohsm[{}] {:?}: {}\n", std::process::id(), level, args);
    let mut sink = SINK.lock();
    // A failing log write must never fail the call it describes.
    let _ = match sink.as_mut() {
        Some(f) => f.write_all(line.as_bytes()),
        None => std::io::stderr().write_all(line.as_bytes()),
    };
}

pub fn warn(args: std::fmt::Arguments<'_>) {
    // The audit trail records why a call failed (issue 14): the last warning of the call,
    // kept whether or not logging is on. Warnings are rare (failures), so this costs nothing
    // on the paths that succeed.
    REASON.with(|r| {
        let mut r = r.borrow_mut();
        r.1 = 0;
        let _ = std::fmt::Write::write_fmt(&mut Truncating(&mut r), args);
    });
    emit(Level::Warn, args)
}

/// The longest reason kept, in bytes; a longer warning is cut at a character boundary.
const REASON_MAX: usize = 240;

thread_local! {
    // Plain bytes, not a String: a thread-local that needs dropping registers a destructor
    // with the C library, which from then on refuses to unload the module at dlclose (a host
    // that unloads and loads it again would find it still initialized).
    static REASON: std::cell::RefCell<([u8; REASON_MAX], usize)> =
        const { std::cell::RefCell::new(([0; REASON_MAX], 0)) };
}

/// Writes into the reason buffer what fits, whole characters only.
struct Truncating<'a>(&'a mut ([u8; REASON_MAX], usize));

impl std::fmt::Write for Truncating<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let (buf, len) = &mut *self.0;
        let mut take = s.len().min(REASON_MAX - *len);
        while !s.is_char_boundary(take) {
            take -= 1;
        }
        buf[*len..*len + take].copy_from_slice(&s.as_bytes()[..take]);
        *len += take;
        Ok(())
    }
}

/// Forget the last warning of this thread (a recorded call starts).
pub fn clear_reason() {
    REASON.with(|r| r.borrow_mut().1 = 0);
}

/// The last warning of this thread since [`clear_reason`], taken.
pub fn take_reason() -> Option<String> {
    REASON.with(|r| {
        let mut r = r.borrow_mut();
        let len = std::mem::take(&mut r.1);
        // Only whole characters were written, so this is valid UTF-8.
        (len > 0).then(|| String::from_utf8_lossy(&r.0[..len]).into_owned())
    })
}

pub fn info(args: std::fmt::Arguments<'_>) {
    emit(Level::Info, args)
}
pub fn debug(args: std::fmt::Arguments<'_>) {
    emit(Level::Debug, args)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::expect_used)]
    use super::*;

    /// The failure reason is the call's last warning, cut to whole characters, taken once.
    #[test]
    fn reason_is_the_last_warning_cut_at_a_character() {
        clear_reason();
        assert_eq!(take_reason(), None);
        warn(format_args!("first"));
        let long = "é".repeat(REASON_MAX);
        warn(format_args!("x{long}"));
        let got = take_reason().expect("a reason");
        assert!(
            got.len() <= REASON_MAX && got.len() > REASON_MAX - 2,
            "{}",
            got.len()
        );
        assert!(got.starts_with("xé"), "{got}");
        assert_eq!(take_reason(), None, "taken once");
    }
}
