//! The Edwards-curve family: Ed25519 key-pair generation and pure EdDSA (Current Mechanisms
//! spec §2.3.5 EC Edwards key pair generation, §2.3.14 EdDSA).

use super::keys::{ed_public, edwards, inconsistent};
use super::shapes::{sign_op, verify_op};
use super::{bad_param, Entry, Family, Mechanism, SV};
use crate::crypto::ec;
use crate::error::{fail, Result};
use crate::ffi::mech::Param;
use crate::mechanism::ops::{Accumulate, Check};
use crate::object::attr::Attributes;
use cryptoki_sys::*;

pub(super) struct Edwards;

static ENTRIES: &[Entry] = &[
    (CKM_EC_EDWARDS_KEY_PAIR_GEN, 255, 255, CKF_GENERATE_KEY_PAIR),
    (CKM_EDDSA, 255, 255, SV),
];

impl Family for Edwards {
    fn entries(&self) -> &'static [Entry] {
        ENTRIES
    }

    fn parse(&self, ty: CK_MECHANISM_TYPE, p: &Param) -> Result<Mechanism> {
        Ok(match ty {
            CKM_EC_EDWARDS_KEY_PAIR_GEN => p.none().map(|_| Mechanism::EdwardsKeyPairGen)?,
            CKM_EDDSA => {
                // Pure Ed25519 only: no parameter, or one asking for neither prehash nor context.
                if !p.is_null() {
                    let e: CK_EDDSA_PARAMS = p.get()?;
                    if e.phFlag != 0 || e.ulContextDataLen != 0 {
                        return Err(bad_param());
                    }
                }
                Mechanism::EdDsa
            }
            _ => return fail(CKR_MECHANISM_INVALID),
        })
    }

    fn signer(&self, mech: &Mechanism, key: &Attributes) -> Option<Result<Box<dyn Accumulate>>> {
        if *mech != Mechanism::EdDsa {
            return None;
        }
        Some((|| {
            edwards(key, CKO_PRIVATE_KEY)?;
            if key.bytes(CKA_VALUE).is_none() {
                return inconsistent();
            }
            // The operation keeps the attribute set (shared, not copied), not a copy of d.
            let key = key.clone();
            Ok(sign_op(
                None,
                Box::new(move |m| {
                    let d = key.bytes(CKA_VALUE).unwrap_or_default();
                    ec::ed25519_sign(d, m)
                }),
                ec::ED25519_SIGNATURE_LEN,
            ))
        })())
    }

    fn verifier(&self, mech: &Mechanism, key: &Attributes) -> Option<Result<Box<dyn Check>>> {
        if *mech != Mechanism::EdDsa {
            return None;
        }
        Some((|| {
            edwards(key, CKO_PUBLIC_KEY)?;
            let pk = ed_public(key)?;
            Ok(verify_op(
                None,
                Box::new(move |m, s| ec::ed25519_verify(&pk, m, s)),
            ))
        })())
    }
}
