//! The Montgomery-curve family: X25519 and X448 key-pair generation and `CKM_ECDH1_DERIVE` on
//! `CKK_EC_MONTGOMERY` keys (Current Mechanisms spec §2.3.7 EC Montgomery key pair generation,
//! §2.3.21 ECDH with Montgomery keys). `CKM_ECDH1_DERIVE` itself is listed and parsed by the EC
//! family; this one computes it when the base key is a Montgomery key.

use super::ec::kdf_of_shared;
use super::keys::{inconsistent, montgomery};
use super::{Entry, Family, Mechanism};
use crate::crypto::ec;
use crate::error::{fail, Result};
use crate::ffi::mech::Param;
use crate::object::attr::Attributes;
use cryptoki_sys::*;
use zeroize::Zeroizing;

pub(super) struct Montgomery;

/// Key sizes in bits: X25519 (255) to X448 (448).
static ENTRIES: &[Entry] = &[(
    CKM_EC_MONTGOMERY_KEY_PAIR_GEN,
    255,
    448,
    CKF_GENERATE_KEY_PAIR,
)];

impl Family for Montgomery {
    fn entries(&self) -> &'static [Entry] {
        ENTRIES
    }

    fn parse(&self, ty: CK_MECHANISM_TYPE, p: &Param) -> Result<Mechanism> {
        match ty {
            CKM_EC_MONTGOMERY_KEY_PAIR_GEN => p.none().map(|_| Mechanism::MontgomeryKeyPairGen),
            _ => fail(CKR_MECHANISM_INVALID),
        }
    }

    fn derive(
        &self,
        mech: &Mechanism,
        base: &Attributes,
        _salt_key: Option<&Attributes>,
        len: Option<usize>,
    ) -> Option<Result<Zeroizing<Vec<u8>>>> {
        let Mechanism::Ecdh1 {
            cofactor,
            kdf,
            shared,
            public,
        } = mech
        else {
            return None;
        };
        if base.key_type() != Some(CKK_EC_MONTGOMERY) {
            return None;
        }
        Some((|| {
            // RFC 7748's functions clear the cofactor themselves; the cofactor variant of ECDH1
            // is defined for Weierstrass curves only.
            if *cofactor {
                return fail(CKR_KEY_TYPE_INCONSISTENT);
            }
            let curve = montgomery(base, CKO_PRIVATE_KEY)?;
            let Some(k) = base.bytes(CKA_VALUE) else {
                return inconsistent();
            };
            let z = ec::montgomery_derive(curve, k, public)?;
            kdf_of_shared(z, *kdf, shared, len)
        })())
    }
}
