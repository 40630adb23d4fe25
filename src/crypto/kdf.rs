//! Key derivation functions: HKDF (RFC 5869) with PKCS#11's extract/expand switches, PBKDF2
//! (RFC 8018) and the ANSI X9.63 KDF applied to ECDH shared secrets. Serves `CKM_HKDF_DERIVE`
//! (Current Mechanisms v3.0, HKDF mechanisms), `CKM_PKCS5_PBKD2` (§2.36 PKCS #5 PBE) and the
//! `CKD_SHA*_KDF` functions of `CKM_ECDH1_DERIVE` / `CKM_ECDH1_COFACTOR_DERIVE` (§2.3).
//!
//! HKDF is written here over this engine's HMAC: PKCS#11 allows an expand-only derivation from
//! any base key, including one shorter than the hash (which the `hkdf` crate refuses as a
//! PRK), and one code path serves all nine hashes.

use super::digest::{HashAlg, Hasher, Hmac};
use crate::error::{Error, Result};
use cryptoki_sys::{CKR_KEY_SIZE_RANGE, CKR_MECHANISM_PARAM_INVALID};
use zeroize::Zeroizing;

/// Upper bound for derived lengths that have no smaller limit of their own (PBKDF2, X9.63): no
/// key the token stores comes near it, and it keeps a bad template from allocating gigabytes.
pub const MAX_DERIVED_LEN: usize = 1 << 16;

/// HKDF-Extract: `PRK = HMAC(salt, IKM)`. No salt means `HashLen` zero bytes, which HMAC
/// treats the same as an empty key.
pub fn hkdf_extract(alg: HashAlg, salt: Option<&[u8]>, ikm: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    let mut m = Hmac::new(alg, salt.unwrap_or(&[]))?;
    m.update(ikm);
    Ok(m.finalize())
}

/// HKDF-Expand: `len` bytes (1..=255 * HashLen, else `CKR_KEY_SIZE_RANGE`) from `prk`.
pub fn hkdf_expand(
    alg: HashAlg,
    prk: &[u8],
    info: &[u8],
    len: usize,
) -> Result<Zeroizing<Vec<u8>>> {
    if len == 0 || len > 255 * alg.output_len() {
        return Err(Error::new(CKR_KEY_SIZE_RANGE));
    }
    let mut okm = Zeroizing::new(Vec::with_capacity(len + alg.output_len()));
    let mut t = Zeroizing::new(Vec::new());
    let mut counter = 1u8;
    while okm.len() < len {
        let mut m = Hmac::new(alg, prk)?;
        m.update(&t);
        m.update(info);
        m.update(&[counter]);
        t = m.finalize();
        okm.extend_from_slice(&t);
        counter = counter.wrapping_add(1);
    }
    okm.truncate(len);
    Ok(okm)
}

/// `CKM_HKDF_DERIVE`: both steps, or one of them (`CK_HKDF_PARAMS.bExtract` / `bExpand`;
/// neither is `CKR_MECHANISM_PARAM_INVALID`). With `expand` false the result is the PRK cut to
/// `len` bytes (at most `HashLen`, else `CKR_KEY_SIZE_RANGE`); with `extract` false, `ikm` is
/// used as the PRK. For `CKF_HKDF_SALT_KEY` pass the salt key's value as `salt`.
pub fn hkdf_derive(
    alg: HashAlg,
    extract: bool,
    expand: bool,
    salt: Option<&[u8]>,
    ikm: &[u8],
    info: &[u8],
    len: usize,
) -> Result<Zeroizing<Vec<u8>>> {
    match (extract, expand) {
        (true, true) => hkdf_expand(alg, &hkdf_extract(alg, salt, ikm)?, info, len),
        (false, true) => hkdf_expand(alg, ikm, info, len),
        (true, false) => {
            if len == 0 || len > alg.output_len() {
                return Err(Error::new(CKR_KEY_SIZE_RANGE));
            }
            let mut prk = hkdf_extract(alg, salt, ikm)?;
            prk.truncate(len);
            Ok(prk)
        }
        (false, false) => Err(Error::new(CKR_MECHANISM_PARAM_INVALID)),
    }
}

/// PBKDF2 with HMAC over `prf` (RFC 8018 §5.2). `iterations` 1..=2^32-1 (else
/// `CKR_MECHANISM_PARAM_INVALID`); `len` 1..=[`MAX_DERIVED_LEN`] (else `CKR_KEY_SIZE_RANGE`).
pub fn pbkdf2(
    prf: HashAlg,
    password: &[u8],
    salt: &[u8],
    iterations: u64,
    len: usize,
) -> Result<Zeroizing<Vec<u8>>> {
    let rounds = u32::try_from(iterations)
        .ok()
        .filter(|r| *r > 0)
        .ok_or(Error::new(CKR_MECHANISM_PARAM_INVALID))?;
    if len == 0 || len > MAX_DERIVED_LEN {
        return Err(Error::new(CKR_KEY_SIZE_RANGE));
    }
    let mut out = Zeroizing::new(vec![0u8; len]);
    // HMAC takes keys of any length, so the crate's InvalidLength cannot happen.
    let bad = |_| Error::new(CKR_MECHANISM_PARAM_INVALID);
    match prf {
        HashAlg::Sha1 => pbkdf2::pbkdf2::<hmac::Hmac<sha1::Sha1>>(password, salt, rounds, &mut out)
            .map_err(bad)?,
        HashAlg::Sha224 => {
            pbkdf2::pbkdf2::<hmac::Hmac<sha2::Sha224>>(password, salt, rounds, &mut out)
                .map_err(bad)?
        }
        HashAlg::Sha256 => {
            pbkdf2::pbkdf2::<hmac::Hmac<sha2::Sha256>>(password, salt, rounds, &mut out)
                .map_err(bad)?
        }
        HashAlg::Sha384 => {
            pbkdf2::pbkdf2::<hmac::Hmac<sha2::Sha384>>(password, salt, rounds, &mut out)
                .map_err(bad)?
        }
        HashAlg::Sha512 => {
            pbkdf2::pbkdf2::<hmac::Hmac<sha2::Sha512>>(password, salt, rounds, &mut out)
                .map_err(bad)?
        }
        HashAlg::Sha3_224 => {
            pbkdf2::pbkdf2::<hmac::SimpleHmac<sha3::Sha3_224>>(password, salt, rounds, &mut out)
                .map_err(bad)?
        }
        HashAlg::Sha3_256 => {
            pbkdf2::pbkdf2::<hmac::SimpleHmac<sha3::Sha3_256>>(password, salt, rounds, &mut out)
                .map_err(bad)?
        }
        HashAlg::Sha3_384 => {
            pbkdf2::pbkdf2::<hmac::SimpleHmac<sha3::Sha3_384>>(password, salt, rounds, &mut out)
                .map_err(bad)?
        }
        HashAlg::Sha3_512 => {
            pbkdf2::pbkdf2::<hmac::SimpleHmac<sha3::Sha3_512>>(password, salt, rounds, &mut out)
                .map_err(bad)?
        } // PKCS #5 names no MD5 PRF for PBKDF2, nor does CK_PKCS5_PBKD2_PARAMS2.
        HashAlg::Md5 => return Err(Error::new(CKR_MECHANISM_PARAM_INVALID)),
    }
    Ok(out)
}

/// The ANSI X9.63 KDF (SEC 1 §3.6.1) that `CKD_SHA*_KDF` name:
/// `Hash(Z || counter || SharedInfo)` for a 32-bit big-endian counter from 1, concatenated and
/// cut to `len` bytes (1..=[`MAX_DERIVED_LEN`], else `CKR_KEY_SIZE_RANGE`).
pub fn x963_kdf(
    alg: HashAlg,
    z: &[u8],
    shared_info: &[u8],
    len: usize,
) -> Result<Zeroizing<Vec<u8>>> {
    hash_kdf(alg, z, shared_info, len, false)
}

/// The one-step KDF of NIST SP 800-56C (§4.1, with a hash as H) that `CKD_SHA*_KDF_SP800`
/// name: `Hash(counter || Z || FixedInfo)`, the counter first; otherwise as [`x963_kdf`].
pub fn sp800_56c_kdf(
    alg: HashAlg,
    z: &[u8],
    fixed_info: &[u8],
    len: usize,
) -> Result<Zeroizing<Vec<u8>>> {
    hash_kdf(alg, z, fixed_info, len, true)
}

fn hash_kdf(
    alg: HashAlg,
    z: &[u8],
    info: &[u8],
    len: usize,
    counter_first: bool,
) -> Result<Zeroizing<Vec<u8>>> {
    if len == 0 || len > MAX_DERIVED_LEN {
        return Err(Error::new(CKR_KEY_SIZE_RANGE));
    }
    let mut out = Zeroizing::new(Vec::with_capacity(len + alg.output_len()));
    let mut counter = 1u32;
    while out.len() < len {
        let mut h = Hasher::new(alg);
        if counter_first {
            h.update(&counter.to_be_bytes());
            h.update(z);
        } else {
            h.update(z);
            h.update(&counter.to_be_bytes());
        }
        h.update(info);
        let block = Zeroizing::new(h.finalize());
        out.extend_from_slice(&block);
        counter = counter.wrapping_add(1);
    }
    out.truncate(len);
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::crypto::digest::hex;

    // RFC 5869 appendix A, test cases 1-4.
    #[test]
    fn rfc5869_hkdf() {
        let ikm = [0x0bu8; 22];
        let salt = hex("000102030405060708090a0b0c");
        let info = hex("f0f1f2f3f4f5f6f7f8f9");
        let prk = hkdf_extract(HashAlg::Sha256, Some(&salt), &ikm).unwrap();
        assert_eq!(
            *prk,
            hex("077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5")
        );
        let okm = hkdf_derive(HashAlg::Sha256, true, true, Some(&salt), &ikm, &info, 42).unwrap();
        assert_eq!(
            *okm,
            hex("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865")
        );
        // Expand only, from the PRK.
        assert_eq!(
            hkdf_derive(HashAlg::Sha256, false, true, None, &prk, &info, 42).unwrap(),
            okm
        );
        // Extract only gives the PRK.
        assert_eq!(
            hkdf_derive(HashAlg::Sha256, true, false, Some(&salt), &ikm, &[], 32).unwrap(),
            prk
        );

        let ikm2: Vec<u8> = (0x00..0x50).collect();
        let salt2: Vec<u8> = (0x60..0xb0).collect();
        let info2: Vec<u8> = (0xb0..=0xff).collect();
        assert_eq!(
            *hkdf_derive(HashAlg::Sha256, true, true, Some(&salt2), &ikm2, &info2, 82).unwrap(),
            hex(
                "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c\
                 59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71\
                 cc30c58179ec3e87c14c01d5c1f3434f1d87"
            )
        );
        // Case 3: no salt (CKF_HKDF_SALT_NULL) and no info.
        assert_eq!(
            *hkdf_derive(HashAlg::Sha256, true, true, None, &ikm, &[], 42).unwrap(),
            hex("8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8")
        );
        // An explicit all-zero salt is the same as none.
        assert_eq!(
            hkdf_extract(HashAlg::Sha256, Some(&[0; 32]), &ikm).unwrap(),
            hkdf_extract(HashAlg::Sha256, None, &ikm).unwrap()
        );
        // Case 4: SHA-1.
        assert_eq!(
            *hkdf_derive(HashAlg::Sha1, true, true, Some(&salt), &[0x0b; 11], &info, 42).unwrap(),
            hex("085a01ea1b10f36933068b56efa5ad81a4f14b822f5b091568a9cdd4f155fda2c22e422478d305f3f896")
        );
    }

    // Cross-checked against Python `cryptography` (OpenSSL): SHA-3 and an expand-only
    // derivation from a base key shorter than the hash.
    #[test]
    fn hkdf_other_hashes_and_limits() {
        assert_eq!(
            *hkdf_derive(
                HashAlg::Sha3_256,
                true,
                true,
                Some(b"salt"),
                b"ikm",
                b"info",
                40
            )
            .unwrap(),
            hex("0a35ce133619c6dda6c47247ba3a65352b8fa7313a3ccddfc707ea425085517cbcaa618df8674ec8")
        );
        let short: Vec<u8> = (0..16).collect();
        assert_eq!(
            *hkdf_derive(HashAlg::Sha384, false, true, None, &short, b"info", 60).unwrap(),
            hex("715294852057cf3e66ef3a819efadaf6f185600db2abb4c98c1453e638fff0978d7533e6359b70a87aa1e62c\
                 214ebf2b5e23425c8ede1f5addcff577")
        );
        assert_eq!(
            hkdf_derive(HashAlg::Sha256, false, false, None, b"k", b"", 16)
                .unwrap_err()
                .rv(),
            CKR_MECHANISM_PARAM_INVALID
        );
        assert_eq!(
            hkdf_expand(HashAlg::Sha256, b"k", b"", 255 * 32 + 1)
                .unwrap_err()
                .rv(),
            CKR_KEY_SIZE_RANGE
        );
        assert_eq!(
            hkdf_expand(HashAlg::Sha256, b"k", b"", 255 * 32)
                .unwrap()
                .len(),
            255 * 32
        );
        assert_eq!(
            hkdf_expand(HashAlg::Sha256, b"k", b"", 0).unwrap_err().rv(),
            CKR_KEY_SIZE_RANGE
        );
        assert_eq!(
            hkdf_derive(HashAlg::Sha256, true, false, None, b"k", b"", 33)
                .unwrap_err()
                .rv(),
            CKR_KEY_SIZE_RANGE
        );
        assert_eq!(
            hkdf_derive(HashAlg::Sha256, true, false, None, b"k", b"", 16)
                .unwrap()
                .len(),
            16
        );
    }

    // RFC 6070 (PBKDF2-HMAC-SHA1), and SHA-2/SHA-3 cross-checked against Python `cryptography`.
    #[test]
    fn rfc6070_pbkdf2() {
        let cases: [(&[u8], &[u8], u64, &str); 5] = [
            (
                b"password",
                b"salt",
                1,
                "0c60c80f961f0e71f3a9b524af6012062fe037a6",
            ),
            (
                b"password",
                b"salt",
                2,
                "ea6c014dc72d6f8ccd1ed92ace1d41f0d8de8957",
            ),
            (
                b"password",
                b"salt",
                4096,
                "4b007901b765489abead49d926f721d065a429c1",
            ),
            (
                b"passwordPASSWORDpassword",
                b"saltSALTsaltSALTsaltSALTsaltSALTsalt",
                4096,
                "3d2eec4fe41c849b80c8d83662c0e44a8b291a964cf2f07038",
            ),
            (
                b"pass\0word",
                b"sa\0lt",
                4096,
                "56fa6aa75548099dcc37d7f03425e0c3",
            ),
        ];
        for (pw, salt, it, want) in cases {
            let want = hex(want);
            assert_eq!(
                *pbkdf2(HashAlg::Sha1, pw, salt, it, want.len()).unwrap(),
                want
            );
        }
        let others = [
            (
                HashAlg::Sha224,
                "94caada0587cd9bec0aa1d6eb1a4da672122d1152458e36e38647fb64e51cfaffe1a74af200c1f20",
            ),
            (
                HashAlg::Sha256,
                "07e6997180cf7f12904f04100d405d34888fdf62af6d506a0ecc23b196fe99d8675294ec5aa7944b",
            ),
            (
                HashAlg::Sha384,
                "fd59f4c5847bbcf1ca33174a7d63ae50c5adeef45d94a36f730b13ebe352ae801b7e6bca0e71eb40",
            ),
            (
                HashAlg::Sha512,
                "fef7276b107040a0a713bcbec9fd3e191cc6153249e245a3e1a22087dbe616060bbfc8411c6363f3",
            ),
            (
                HashAlg::Sha3_256,
                "3662b9455cde6979b1d5d866df806e1fe15954073e07c7c2acf2c80205074e46d2226ae0253297f8",
            ),
        ];
        for (alg, want) in others {
            assert_eq!(
                *pbkdf2(alg, b"password", b"salt", 100, 40).unwrap(),
                hex(want),
                "{alg:?}"
            );
        }
        assert_eq!(
            pbkdf2(HashAlg::Sha256, b"p", b"s", 0, 16).unwrap_err().rv(),
            CKR_MECHANISM_PARAM_INVALID
        );
        assert_eq!(
            pbkdf2(HashAlg::Sha256, b"p", b"s", 1 << 32, 16)
                .unwrap_err()
                .rv(),
            CKR_MECHANISM_PARAM_INVALID
        );
        assert_eq!(
            pbkdf2(HashAlg::Sha256, b"p", b"s", 1, 0).unwrap_err().rv(),
            CKR_KEY_SIZE_RANGE
        );
    }

    // Cross-checked against Python `cryptography`'s X963KDF (OpenSSL); the first is the
    // SHA-256 example of NIST's CAVS X9.63 KDF data (Z of 24 bytes, no SharedInfo).
    #[test]
    fn x963_kdf_known_answers() {
        let z = hex("96c05619d56c328ab95fe84b18264b08725b85e33fd34f08");
        assert_eq!(
            *x963_kdf(HashAlg::Sha256, &z, &[], 16).unwrap(),
            hex("443024c3dae66b95e6f5670601558f71")
        );
        let z2: Vec<u8> = (0..32).collect();
        assert_eq!(
            *x963_kdf(HashAlg::Sha1, &z2, b"shared info", 50).unwrap(),
            hex(
                "4011ea603f80e0ee1a1724d45854c25790566e05ec2a78794d8c1af6a379b62b\
                 078e20f66ac752b88d123b8c1b9685952fd1"
            )
        );
        assert_eq!(
            *x963_kdf(HashAlg::Sha512, &z2, b"shared info", 70).unwrap(),
            hex(
                "690226c0e6ac85fe577d4e7f1751e44be3028e400b2a2f4c824cbe97e147b133\
                 e204741bb20286e114d6907b66113c6f38396388e0000477725636aacd40db67\
                 b5fe27c2eb0f"
            )
        );
        assert_eq!(
            x963_kdf(HashAlg::Sha256, &z, &[], 0).unwrap_err().rv(),
            CKR_KEY_SIZE_RANGE
        );
        assert_eq!(
            x963_kdf(HashAlg::Sha256, &z, &[], MAX_DERIVED_LEN + 1)
                .unwrap_err()
                .rv(),
            CKR_KEY_SIZE_RANGE
        );
    }
}
