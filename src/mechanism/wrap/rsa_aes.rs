//! `CKM_RSA_AES_KEY_WRAP` (Current Mechanisms v3.0 §2.1.21; the key-import format of AWS KMS
//! and CloudHSM): a fresh AES key of `ulAESKeyBits` wrapped with RSA-OAEP under the RSA
//! public key, followed by the target key's bytes wrapped with AES key wrap with padding (RFC
//! 5649, `CKM_AES_KEY_WRAP_KWP`) under that AES key. Unwrapping with the private key reverses
//! both. The ephemeral AES key lives in a wiped buffer for the call and is never an object.
//!
//! Both halves run through the mechanisms that already do them (`CKM_RSA_PKCS_OAEP`'s cipher,
//! the KWP functions), and the result goes through the one unwrap path in `module::keys`.

use crate::crypto::aes;
use crate::error::{Error, Result};
use crate::ffi::mech::Param;
use crate::mechanism::{bad_param, build, Mechanism};
use crate::object::attr::Attributes;
use cryptoki_sys::*;
use zeroize::Zeroizing;

/// `CK_RSA_AES_KEY_WRAP_PARAMS`: the AES key size (128, 192 or 256 bits) and the OAEP
/// parameters, parsed by the RSA family as a `CKM_RSA_PKCS_OAEP` parameter.
pub(super) fn parse(p: &Param) -> Result<Mechanism> {
    let w: CK_RSA_AES_KEY_WRAP_PARAMS = p.get()?;
    if !matches!(w.ulAESKeyBits, 128 | 192 | 256) || w.pOAEPParams.is_null() {
        return Err(bad_param());
    }
    let oaep = p.sub_param(
        w.pOAEPParams as *const std::ffi::c_void,
        std::mem::size_of::<CK_RSA_PKCS_OAEP_PARAMS>(),
    );
    match crate::mechanism::parse(CKM_RSA_PKCS_OAEP, &oaep)? {
        Mechanism::RsaOaep { hash, mgf, label } => Ok(Mechanism::RsaAesKeyWrap {
            aes_bits: w.ulAESKeyBits,
            hash,
            mgf,
            label,
        }),
        _ => Err(bad_param()),
    }
}

/// The OAEP mechanism and the AES key length in bytes of an RSA-AES mechanism.
fn parts(mech: &Mechanism) -> Result<(Mechanism, usize)> {
    match mech {
        Mechanism::RsaAesKeyWrap {
            aes_bits,
            hash,
            mgf,
            label,
        } => Ok((
            Mechanism::RsaOaep {
                hash: *hash,
                mgf: *mgf,
                label: label.clone(),
            },
            usize::try_from(*aes_bits / 8).map_err(|_| bad_param())?,
        )),
        _ => Err(Error::new(CKR_MECHANISM_INVALID)),
    }
}

fn run(c: &mut dyn crate::mechanism::ops::Cipher, d: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    let out = c.update(d)?;
    let last = c.finish()?;
    let mut whole = Zeroizing::new(Vec::with_capacity(out.len() + last.len()));
    whole.extend_from_slice(&out);
    whole.extend_from_slice(&last);
    Ok(whole)
}

/// `OAEP(K) || KWP_K(bytes)` under the RSA public key `wrapping`.
pub(super) fn wrap(mech: &Mechanism, wrapping: &Attributes, bytes: &[u8]) -> Result<Vec<u8>> {
    let (oaep, n) = parts(mech)?;
    // The RSA key is checked before a key is made for it.
    let mut rsa = build::cipher(&oaep, wrapping, true)?;
    let k = super::super::generate::random_key(n)?;
    let size = |e: Error| {
        if e.rv() == CKR_DATA_LEN_RANGE {
            Error::new(CKR_KEY_SIZE_RANGE)
        } else {
            e
        }
    };
    let mut out = run(rsa.as_mut(), &k)?.to_vec();
    out.extend_from_slice(&aes::kwp_wrap(&k, None, bytes).map_err(size)?);
    Ok(out)
}

/// The key bytes of `OAEP(K) || KWP_K(bytes)`, with the RSA private key `unwrapping`. A blob
/// no longer than the modulus is `CKR_WRAPPED_KEY_LEN_RANGE`; an AES key of another length
/// than the parameter says, or a failed OAEP or KWP check, `CKR_WRAPPED_KEY_INVALID`.
pub(super) fn unwrap(
    mech: &Mechanism,
    unwrapping: &Attributes,
    wrapped: &[u8],
) -> Result<Zeroizing<Vec<u8>>> {
    let (oaep, n) = parts(mech)?;
    let mut rsa = build::cipher(&oaep, unwrapping, false)?;
    let modulus = super::super::keys::rsa_public(unwrapping)?.size();
    if wrapped.len() <= modulus {
        return Err(Error::new(CKR_WRAPPED_KEY_LEN_RANGE));
    }
    let (head, body) = wrapped.split_at(modulus);
    let k = run(rsa.as_mut(), head).map_err(|e| match e.rv() {
        CKR_ENCRYPTED_DATA_LEN_RANGE => Error::new(CKR_WRAPPED_KEY_INVALID),
        _ => e,
    })?;
    if k.len() != n {
        return Err(Error::new(CKR_WRAPPED_KEY_INVALID));
    }
    aes::kwp_unwrap(&k, None, body)
}
