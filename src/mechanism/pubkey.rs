//! CKM_PUB_KEY_FROM_PRIV_KEY (PKCS#11 v3.0 Current Mechanisms §2.44 (miscellaneous): the
//! public key object of a private key, made through C_DeriveKey with the private key as the
//! base): the public attributes of RSA, EC and Ed25519 private keys.

use super::{Entry, Family, Mechanism};
use crate::crypto::ec::{self, EcParams};
use crate::error::{fail, Error, Result};
use crate::ffi::mech::Param;
use crate::object::attr::{Attribute, Attributes};
use cryptoki_sys::*;

pub(super) struct PubFromPriv;

// Key sizes in bits, over the key types it serves: Ed25519 (255) to RSA-4096.
static ENTRIES: &[Entry] = &[(CKM_PUB_KEY_FROM_PRIV_KEY, 255, 4096, CKF_DERIVE)];

impl Family for PubFromPriv {
    fn entries(&self) -> &'static [Entry] {
        ENTRIES
    }

    fn parse(&self, ty: CK_MECHANISM_TYPE, p: &Param) -> Result<Mechanism> {
        match ty {
            CKM_PUB_KEY_FROM_PRIV_KEY => p.none().map(|_| Mechanism::PubKeyFromPrivKey),
            _ => fail(CKR_MECHANISM_INVALID),
        }
    }
}

fn need(key: &Attributes, ty: CK_ATTRIBUTE_TYPE) -> Result<Vec<u8>> {
    key.bytes(ty)
        .map(<[u8]>::to_vec)
        .ok_or(Error::new(CKR_KEY_TYPE_INCONSISTENT))
}

/// The key type and public attributes of a private key's public half: RSA's modulus and
/// public exponent, EC's curve and point (DER OCTET STRING, as generated keys carry it),
/// Ed25519's curve and public key. Anything else is CKR_KEY_TYPE_INCONSISTENT.
pub fn public_of(private: &Attributes) -> Result<(CK_KEY_TYPE, Vec<Attribute>)> {
    if private.class() != Some(CKO_PRIVATE_KEY) {
        return fail(CKR_KEY_TYPE_INCONSISTENT);
    }
    let key_type = private
        .key_type()
        .ok_or(Error::new(CKR_KEY_TYPE_INCONSISTENT))?;
    let attrs = match key_type {
        CKK_RSA => vec![
            Attribute::bytes(CKA_MODULUS, need(private, CKA_MODULUS)?),
            Attribute::bytes(CKA_PUBLIC_EXPONENT, need(private, CKA_PUBLIC_EXPONENT)?),
        ],
        CKK_EC => {
            let params = need(private, CKA_EC_PARAMS)?;
            let EcParams::Nist(curve) =
                EcParams::parse(&params).map_err(|_| Error::new(CKR_KEY_TYPE_INCONSISTENT))?
            else {
                return fail(CKR_KEY_TYPE_INCONSISTENT);
            };
            let scalar = zeroize::Zeroizing::new(need(private, CKA_VALUE)?);
            let point = ec::public_from_private(curve, &scalar)?;
            vec![
                Attribute::bytes(CKA_EC_PARAMS, params),
                Attribute::bytes(CKA_EC_POINT, ec::point_to_der(&point)),
            ]
        }
        CKK_EC_EDWARDS => {
            let params = need(private, CKA_EC_PARAMS)?;
            let seed = zeroize::Zeroizing::new(need(private, CKA_VALUE)?);
            let public = ec::ed25519_public_from_private(&seed)?;
            vec![
                Attribute::bytes(CKA_EC_PARAMS, params),
                Attribute::bytes(CKA_EC_POINT, ec::point_to_der(&public)),
            ]
        }
        _ => return fail(CKR_KEY_TYPE_INCONSISTENT),
    };
    Ok((key_type, attrs))
}
