//! ferrohsm: a software HSM exposed as a PKCS#11 v3.0 module.
#![deny(unsafe_code)]

pub mod audit;
pub mod config;
pub mod crypto;
pub mod error;
pub mod ffi;
pub mod log;
pub mod mechanism;
pub mod module;
pub mod object;
pub mod session;
pub mod store;
pub mod token;
pub mod wipe;
