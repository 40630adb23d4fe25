//! Which calls leave secrets on the stack: code that handles key material there (a key parsed or
//! expanded, an object unsealed, a private-key operation) marks the call, and the FFI guard
//! overwrites the stack after a marked call (`ffi::guard::run_keyed`). Calls that only use a
//! prepared engine key, whose secrets live on the heap and are wiped when the key is dropped,
//! skip the overwrite, which costs about as much as a small AES-GCM encryption.

use std::cell::Cell;

thread_local! {
    static MARKED: Cell<bool> = const { Cell::new(false) };
}

/// This call has put secret material on the stack.
pub fn mark() {
    MARKED.with(|m| m.set(true));
}

/// Whether the call now ending was marked; clears the mark for the next call on this thread.
pub fn take() -> bool {
    MARKED.with(|m| m.replace(false))
}

/// Overwrite the 32 KiB of stack below the caller's frame: what a finished callee left there (a
/// key schedule returned by value, a parsed key) is gone before the caller builds anything
/// else in that region, since a value later moved to the heap carries its padding and unused
/// enum space from the stack with it. Not inlined, so its array occupies the region the
/// callee used; `black_box` keeps the zeros from being optimized away.
#[inline(never)]
pub fn scrub() {
    let mut area = [0u8; 32 * 1024];
    std::hint::black_box(&mut area);
}
