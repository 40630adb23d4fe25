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
