//! The library behind `ferrohsm-util`: the subcommands over a PKCS#11 module (`cmd`, `p11`), the
//! PIN sources (`pin`) and the key-file parser (`keyfile`: PEM, DER, PKCS#1, SEC1, PKCS#8, SPKI,
//! X.509), which the key_import fuzz target in fuzz/ also links.
#![forbid(unsafe_code)]

/// `println!` that returns the write error instead of panicking, so that output piped into
/// `head` ends the program quietly rather than with a panic.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout(), $($arg)*)
            .map_err(|e| anyhow::Error::new(e).context("cannot write to standard output"))?
    }};
}

pub mod cmd;
pub mod keyfile;
pub mod p11;
pub mod pin;
