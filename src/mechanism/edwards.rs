//! The Edwards-curve family: Ed25519 and Ed448 key-pair generation and EdDSA, pure or with the
//! `CK_EDDSA_PARAMS` of Ed25519ctx, Ed25519ph, Ed448 with a context and Ed448ph (Current
//! Mechanisms spec §2.3.5 EC Edwards key pair generation, §2.3.14 EdDSA).

use super::keys::{ed_public, edwards, inconsistent};
use super::shapes::{sign_op, verify_op};
use super::{bad_param, Entry, Family, Mechanism, SV};
use crate::crypto::ec::{self, EdVariant, Edwards as Curve};
use crate::error::{fail, Result};
use crate::ffi::mech::Param;
use crate::mechanism::ops::{Accumulate, Check};
use crate::object::attr::Attributes;
use cryptoki_sys::*;

pub(super) struct Edwards;

/// Key sizes in bits: Ed25519 (255) to Ed448 (448).
static ENTRIES: &[Entry] = &[
    (CKM_EC_EDWARDS_KEY_PAIR_GEN, 255, 448, CKF_GENERATE_KEY_PAIR),
    (CKM_EDDSA, 255, 448, SV),
];

/// The variant a parsed `CKM_EDDSA` asks for.
fn variant(mech: &Mechanism) -> Option<EdVariant<'_>> {
    match mech {
        Mechanism::EdDsa => Some(EdVariant::Pure),
        Mechanism::EdDsaParams {
            prehash: true,
            context,
        } => Some(EdVariant::Prehash(context)),
        Mechanism::EdDsaParams { context, .. } => Some(EdVariant::Context(context)),
        _ => None,
    }
}

impl Family for Edwards {
    fn entries(&self) -> &'static [Entry] {
        ENTRIES
    }

    fn parse(&self, ty: CK_MECHANISM_TYPE, p: &Param) -> Result<Mechanism> {
        Ok(match ty {
            CKM_EC_EDWARDS_KEY_PAIR_GEN => p.none().map(|_| Mechanism::EdwardsKeyPairGen)?,
            CKM_EDDSA => {
                if p.is_null() {
                    return Ok(Mechanism::EdDsa);
                }
                let e: CK_EDDSA_PARAMS = p.get()?;
                let context = p.blob(e.pContextData, e.ulContextDataLen)?;
                if context.len() > 255 {
                    return Err(bad_param());
                }
                // Neither prehash nor context is pure EdDSA: for Ed448 that is the same as an
                // empty context, and RFC 8032 §5.1 advises against Ed25519ctx with an empty one.
                if e.phFlag == 0 && context.is_empty() {
                    Mechanism::EdDsa
                } else {
                    Mechanism::EdDsaParams {
                        prehash: e.phFlag != 0,
                        context,
                    }
                }
            }
            _ => return fail(CKR_MECHANISM_INVALID),
        })
    }

    fn signer(&self, mech: &Mechanism, key: &Attributes) -> Option<Result<Box<dyn Accumulate>>> {
        variant(mech)?;
        let mech = mech.clone();
        Some((|| {
            let curve = edwards(key, CKO_PRIVATE_KEY)?;
            if key.bytes(CKA_VALUE).is_none() {
                return inconsistent();
            }
            // The operation keeps the attribute set (shared, not copied), not a copy of d.
            let key = key.clone();
            let len = match curve {
                Curve::Ed25519 => ec::ED25519_SIGNATURE_LEN,
                Curve::Ed448 => ec::ED448_SIGNATURE_LEN,
            };
            Ok(sign_op(
                None,
                Box::new(move |m| {
                    let d = key.bytes(CKA_VALUE).unwrap_or_default();
                    let v = variant(&mech).unwrap_or(EdVariant::Pure);
                    match curve {
                        Curve::Ed25519 => ec::Ed25519Private::new(d)?.sign_variant(v, m),
                        Curve::Ed448 => ec::Ed448Private::new(d)?.sign(v, m),
                    }
                }),
                len,
            ))
        })())
    }

    fn verifier(&self, mech: &Mechanism, key: &Attributes) -> Option<Result<Box<dyn Check>>> {
        variant(mech)?;
        let mech = mech.clone();
        Some((|| {
            let curve = edwards(key, CKO_PUBLIC_KEY)?;
            let pk = ed_public(key)?;
            Ok(verify_op(
                None,
                Box::new(move |m, s| {
                    let v = variant(&mech).unwrap_or(EdVariant::Pure);
                    match curve {
                        Curve::Ed25519 => ec::Ed25519Public::new(&pk)?.verify_variant(v, m, s),
                        Curve::Ed448 => ec::ed448_verify(&pk, v, m, s),
                    }
                }),
            ))
        })())
    }
}
