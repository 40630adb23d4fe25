//! The master key wrapped under a PIN-derived key (PKCS#11 v3.0 §5.6 C_Login, C_SetPIN,
//! C_InitPIN): Argon2id with the parameters and salt stored beside the wrap, AES-256-GCM.
//!
//! Format 1 (schema 1): `1 | memory | passes | lanes | salt | sealed`, associated data the role.
//! Format 2 (schema 2) also binds the Argon2 parameters in the associated data, and marks the
//! wrap as belonging to an integrity-checked file: a schema-2 file dressed up as schema 1 (to be
//! "migrated" again with tampered objects) fails at the wraps already in format 2.

use super::{MasterKey, Role};
use crate::crypto::{self, Aead256, KdfParams};
use crate::error::{Error, Result};
use zeroize::Zeroizing;

pub const FORMAT_1: u8 = 1;
pub const FORMAT_2: u8 = 2;
const HEADER: usize = 29;

/// A PIN wrap as stored.
pub struct Wrap {
    pub format: u8,
    pub kdf: KdfParams,
    pub salt: [u8; 16],
    pub sealed: Vec<u8>,
}

fn aad(format: u8, role: Role, kdf: KdfParams) -> Vec<u8> {
    if format == FORMAT_1 {
        let mut a = b"fhsmwrap\0".to_vec();
        a[8] = role.tag();
        return a;
    }
    let mut a = b"fhsmwrap2".to_vec();
    a.push(role.tag());
    for v in [kdf.memory_kib, kdf.iterations, kdf.parallelism] {
        a.extend_from_slice(&v.to_le_bytes());
    }
    a
}

impl Wrap {
    /// Parse a stored wrap. The Argon2 costs are the file's, so they are held to the same
    /// limits as the configuration's before anything is derived.
    pub fn parse(blob: &[u8]) -> Result<Wrap> {
        if blob.len() < HEADER + 12 + 16 || !matches!(blob[0], FORMAT_1 | FORMAT_2) {
            return Err(Error::device("PIN wrap damaged"));
        }
        let rd = |o: usize| u32::from_le_bytes([blob[o], blob[o + 1], blob[o + 2], blob[o + 3]]);
        let kdf = KdfParams {
            memory_kib: rd(1),
            iterations: rd(5),
            parallelism: rd(9),
        };
        crate::config::kdf_allowed(kdf.memory_kib, kdf.iterations, kdf.parallelism).map_err(
            |why| {
                Error::device(format_args!(
                    "PIN wrap asks for Argon2 costs beyond the limits: {why}"
                ))
            },
        )?;
        let mut salt = [0u8; 16];
        salt.copy_from_slice(&blob[13..HEADER]);
        Ok(Wrap {
            format: blob[0],
            kdf,
            salt,
            sealed: blob[HEADER..].to_vec(),
        })
    }

    /// The PIN-derived key for this wrap.
    pub fn derive(&self, pin: &[u8]) -> Result<Zeroizing<[u8; 32]>> {
        crypto::argon2id(pin, &self.salt, self.kdf)
    }

    /// `Ok(None)` for a wrong PIN, detected by the AEAD tag.
    pub fn open(&self, role: Role, k: &[u8; 32]) -> Result<Option<MasterKey>> {
        let Some(raw) = Aead256::new(k).open(&aad(self.format, role, self.kdf), &self.sealed)
        else {
            return Ok(None);
        };
        let arr: [u8; 32] = raw
            .as_slice()
            .try_into()
            .map_err(|_| Error::device("master key length"))?;
        Ok(Some(MasterKey::from_raw(Zeroizing::new(arr))))
    }

    /// The same wrap in format 2, under the key already derived from the PIN (no second
    /// Argon2 run).
    pub fn upgraded(&self, role: Role, k: &[u8; 32], master: &MasterKey) -> Result<Vec<u8>> {
        seal(role, k, &self.salt, self.kdf, master)
    }
}

fn seal(
    role: Role,
    k: &[u8; 32],
    salt: &[u8; 16],
    kdf: KdfParams,
    master: &MasterKey,
) -> Result<Vec<u8>> {
    let sealed = Aead256::new(k).seal(&aad(FORMAT_2, role, kdf), master.raw())?;
    let mut v = vec![FORMAT_2];
    v.extend_from_slice(&kdf.memory_kib.to_le_bytes());
    v.extend_from_slice(&kdf.iterations.to_le_bytes());
    v.extend_from_slice(&kdf.parallelism.to_le_bytes());
    v.extend_from_slice(salt);
    v.extend_from_slice(&sealed);
    Ok(v)
}

/// Wrap the master key under a PIN (format 2, fresh salt).
pub fn wrap_master(master: &MasterKey, role: Role, pin: &[u8], kdf: KdfParams) -> Result<Vec<u8>> {
    let salt: [u8; 16] = crypto::random_array()?;
    let k = crypto::argon2id(pin, &salt, kdf)?;
    seal(role, &k, &salt, kdf, master)
}
