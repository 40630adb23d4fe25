//! The DES family: DES, two-key and three-key Triple DES key generation, ECB, CBC and CBC with
//! padding, and DES3-CMAC (Current Mechanisms v3.0, the Triple-DES and DES3-CMAC sections;
//! CKM_DES_* from the historical mechanisms document). The DES3 mechanisms take DES2 keys as
//! K1, K2, K1. Key sizes are reported in bytes, the length of the key type's CKA_VALUE
//! (SoftHSMv2 reports 0..0, "not used").

use super::shapes::Stream;
use super::{Entry, Family, Mechanism, ENC, SV, WU};
use crate::crypto::aes::{BlockStream, Direction, Mode};
use crate::crypto::des::DesKey;
use crate::error::{fail, Result};
use crate::ffi::mech::Param;
use crate::mechanism::keys::secret;
use crate::mechanism::ops::Cipher;
use crate::object::attr::Attributes;
use cryptoki_sys::*;
use std::sync::Arc;

pub(super) struct Des;

static ENTRIES: &[Entry] = &[
    (CKM_DES_KEY_GEN, 8, 8, CKF_GENERATE),
    (CKM_DES2_KEY_GEN, 16, 16, CKF_GENERATE),
    (CKM_DES3_KEY_GEN, 24, 24, CKF_GENERATE),
    (CKM_DES_ECB, 8, 8, ENC | WU),
    (CKM_DES_CBC, 8, 8, ENC | WU),
    (CKM_DES_CBC_PAD, 8, 8, ENC | WU),
    (CKM_DES3_ECB, 16, 24, ENC | WU),
    (CKM_DES3_CBC, 16, 24, ENC | WU),
    (CKM_DES3_CBC_PAD, 16, 24, ENC | WU),
    (CKM_DES3_CMAC, 16, 24, SV),
    (CKM_DES3_CMAC_GENERAL, 16, 24, SV),
];

/// The key types a single-DES or a Triple-DES mechanism takes.
pub(super) fn key_types(triple: bool) -> &'static [CK_KEY_TYPE] {
    if triple {
        &[CKK_DES2, CKK_DES3]
    } else {
        &[CKK_DES]
    }
}

/// The expanded key of a DES key object of one of the mechanism's key types, prepared once per
/// object.
fn des_prepared(key: &Attributes, triple: bool) -> Result<Arc<DesKey>> {
    secret(key, key_types(triple))?;
    key.prepared(|key| DesKey::new(secret(key, key_types(triple))?))
}

impl Family for Des {
    fn entries(&self) -> &'static [Entry] {
        ENTRIES
    }

    fn parse(&self, ty: CK_MECHANISM_TYPE, p: &Param) -> Result<Mechanism> {
        use Mechanism as M;
        let iv = || -> Result<[u8; 16]> {
            let mut iv = [0u8; 16];
            iv[..8].copy_from_slice(&p.array::<8>()?);
            Ok(iv)
        };
        let cipher = |triple, mode| M::DesCipher { triple, mode };
        Ok(match ty {
            CKM_DES_KEY_GEN => p.none().map(|_| M::DesKeyGen(CKK_DES))?,
            CKM_DES2_KEY_GEN => p.none().map(|_| M::DesKeyGen(CKK_DES2))?,
            CKM_DES3_KEY_GEN => p.none().map(|_| M::DesKeyGen(CKK_DES3))?,
            CKM_DES_ECB => p.none().map(|_| cipher(false, Mode::Ecb))?,
            CKM_DES3_ECB => p.none().map(|_| cipher(true, Mode::Ecb))?,
            CKM_DES_CBC => cipher(false, Mode::Cbc { iv: iv()? }),
            CKM_DES3_CBC => cipher(true, Mode::Cbc { iv: iv()? }),
            CKM_DES_CBC_PAD => cipher(false, Mode::CbcPad { iv: iv()? }),
            CKM_DES3_CBC_PAD => cipher(true, Mode::CbcPad { iv: iv()? }),
            CKM_DES3_CMAC => p.none().map(|_| M::Des3Cmac { len: 8 })?,
            CKM_DES3_CMAC_GENERAL => M::Des3Cmac {
                len: p.get::<CK_ULONG>()?,
            },
            _ => return fail(CKR_MECHANISM_INVALID),
        })
    }

    fn cipher(
        &self,
        mech: &Mechanism,
        key: &Attributes,
        encrypt: bool,
    ) -> Option<Result<Box<dyn Cipher>>> {
        let Mechanism::DesCipher { triple, mode } = mech else {
            return None;
        };
        let dir = if encrypt {
            Direction::Encrypt
        } else {
            Direction::Decrypt
        };
        Some(des_prepared(key, *triple).and_then(|k| {
            Ok(Box::new(Stream(BlockStream::with_key(k, *mode, dir)?)) as Box<dyn Cipher>)
        }))
    }
}
