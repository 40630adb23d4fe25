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
    REASON.with(|r| *r.borrow_mut() = Some(args.to_string()));
    emit(Level::Warn, args)
}

thread_local! {
    static REASON: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// Forget the last warning of this thread (a recorded call starts).
pub fn clear_reason() {
    REASON.with(|r| *r.borrow_mut() = None);
}

/// The last warning of this thread since [`clear_reason`], taken.
pub fn take_reason() -> Option<String> {
    REASON.with(|r| r.borrow_mut().take())
}
pub fn info(args: std::fmt::Arguments<'_>) {
    emit(Level::Info, args)
}
pub fn debug(args: std::fmt::Arguments<'_>) {
    emit(Level::Debug, args)
}
