//! Tests of the RSA engine: known answers, agreement with the `rsa` crate, the encodings' edge
//! cases and the return codes.
#![allow(clippy::unwrap_used)]
use super::padding::oaep_decode;
use super::*;
use crate::crypto::digest::{digest, hex};
use rand::rngs::SysRng;
use rsa::Pkcs1v15Sign;
use std::sync::OnceLock;

// Known answers from an independent implementation (OpenSSL through Python `cryptography`),
// so that the `--no-default-features` build, whose backend is the `rsa` crate the other
// tests compare with, is checked against something else too;
// src/crypto/tests/kat_vectors.py writes them.
mod kat {
    include!("../tests/rsa_kat.rs");
}

/// The known-answer key (tests/common/keys.rs), imported with all eight components.
fn kat_key() -> &'static RsaPrivate {
    static K: OnceLock<RsaPrivate> = OnceLock::new();
    K.get_or_init(|| {
        RsaPrivate::from_components(
            &hex(kat::RSA_N),
            &hex(kat::RSA_E),
            &hex(kat::RSA_D),
            Some(&hex(kat::RSA_P)),
            Some(&hex(kat::RSA_Q)),
            Some(&hex(kat::RSA_DP)),
            Some(&hex(kat::RSA_DQ)),
            Some(&hex(kat::RSA_QINV)),
        )
        .unwrap()
    })
}

/// The same key from n, e, d and the primes only: the CRT values are computed by the
/// `rsa` crate, the other import path.
fn kat_key_without_crt() -> RsaPrivate {
    RsaPrivate::from_components(
        &hex(kat::RSA_N),
        &hex(kat::RSA_E),
        &hex(kat::RSA_D),
        Some(&hex(kat::RSA_P)),
        Some(&hex(kat::RSA_Q)),
        None,
        None,
        None,
    )
    .unwrap()
}

/// The same private key in the `rsa` crate: the reference both backends are checked
/// against (in the default build, aws-lc against RustCrypto).
fn crate_private(k: &RsaPrivate) -> rsa::PrivateKey {
    let c = k.components();
    rustcrypto::PrivateKey::from_parts(
        &c.modulus,
        &c.public_exponent,
        &c.private_exponent,
        Some((&c.prime_1, &c.prime_2)),
    )
    .unwrap()
    .inner()
    .clone()
}

fn crate_public(p: &RsaPublic) -> rsa::PublicKey {
    rustcrypto::PublicKey::new(&p.n, &p.e)
        .unwrap()
        .inner()
        .clone()
}

const E65537: [u8; 3] = [1, 0, 1];

/// One 2048-bit key for the whole module: generation is slow in unoptimized builds.
fn key() -> &'static RsaPrivate {
    static K: OnceLock<RsaPrivate> = OnceLock::new();
    K.get_or_init(|| RsaPrivate::generate(2048, &E65537).unwrap())
}

/// An odd modulus length (2049 bits... rounded) exercises emLen = k - 1 in PSS: built from a
/// fixed 1025-bit key so the test stays fast.
fn from_c(c: &RsaComponents) -> Result<RsaPrivate> {
    RsaPrivate::from_components(
        &c.modulus,
        &c.public_exponent,
        &c.private_exponent,
        Some(&c.prime_1),
        Some(&c.prime_2),
        Some(&c.exponent_1),
        Some(&c.exponent_2),
        Some(&c.coefficient),
    )
}

#[test]
fn generated_key_has_consistent_components_and_reimports() {
    let k = key();
    let c = k.components();
    assert_eq!(bit_len(&c.modulus), 2048);
    assert_eq!(c.public_exponent, E65537);
    assert_eq!(k.public().size(), 256);
    assert_eq!(k.public().modulus(), c.modulus);
    let again = from_c(&c).unwrap();
    assert_eq!(again.components().private_exponent, c.private_exponent);
    // n, e, d alone: the primes are recovered.
    let bare = RsaPrivate::from_components(
        &c.modulus,
        &c.public_exponent,
        &c.private_exponent,
        None,
        None,
        None,
        None,
        None,
    )
    .unwrap();
    let bc = bare.components();
    let mut mine = [bc.prime_1.to_vec(), bc.prime_2.to_vec()];
    let mut theirs = [c.prime_1.to_vec(), c.prime_2.to_vec()];
    mine.sort();
    theirs.sort();
    assert_eq!(mine, theirs);
    // Leading zeros in the attribute values are accepted.
    let mut padded_n = vec![0, 0];
    padded_n.extend_from_slice(&c.modulus);
    assert!(RsaPublic::new(&padded_n, &[0, 1, 0, 1]).is_ok());
}

#[test]
fn mismatched_components_are_rejected() {
    let c = key().components();
    let bump = |v: &[u8]| {
        let mut v = v.to_vec();
        let last = v.len() - 1;
        v[last] ^= 2;
        v
    };
    let other = RsaPrivate::generate(1024, &E65537).unwrap().components();
    let cases: Vec<(&str, Result<RsaPrivate>)> = vec![
        (
            "d",
            RsaPrivate::from_components(
                &c.modulus,
                &c.public_exponent,
                &bump(&c.private_exponent),
                Some(&c.prime_1),
                Some(&c.prime_2),
                None,
                None,
                None,
            ),
        ),
        (
            "p",
            RsaPrivate::from_components(
                &c.modulus,
                &c.public_exponent,
                &c.private_exponent,
                Some(&bump(&c.prime_1)),
                Some(&c.prime_2),
                None,
                None,
                None,
            ),
        ),
        (
            "q from another key",
            RsaPrivate::from_components(
                &c.modulus,
                &c.public_exponent,
                &c.private_exponent,
                Some(&c.prime_1),
                Some(&other.prime_2),
                None,
                None,
                None,
            ),
        ),
        (
            "e",
            RsaPrivate::from_components(
                &c.modulus,
                &[3],
                &c.private_exponent,
                Some(&c.prime_1),
                Some(&c.prime_2),
                None,
                None,
                None,
            ),
        ),
        (
            "dp",
            RsaPrivate::from_components(
                &c.modulus,
                &c.public_exponent,
                &c.private_exponent,
                Some(&c.prime_1),
                Some(&c.prime_2),
                Some(&bump(&c.exponent_1)),
                None,
                None,
            ),
        ),
        (
            "dq",
            RsaPrivate::from_components(
                &c.modulus,
                &c.public_exponent,
                &c.private_exponent,
                Some(&c.prime_1),
                Some(&c.prime_2),
                None,
                Some(&bump(&c.exponent_2)),
                None,
            ),
        ),
        (
            "qinv",
            RsaPrivate::from_components(
                &c.modulus,
                &c.public_exponent,
                &c.private_exponent,
                Some(&c.prime_1),
                Some(&c.prime_2),
                None,
                None,
                Some(&bump(&c.coefficient)),
            ),
        ),
        (
            "only p",
            RsaPrivate::from_components(
                &c.modulus,
                &c.public_exponent,
                &c.private_exponent,
                Some(&c.prime_1),
                None,
                None,
                None,
                None,
            ),
        ),
        (
            "wrong d, no primes",
            RsaPrivate::from_components(
                &c.modulus,
                &c.public_exponent,
                &bump(&c.private_exponent),
                None,
                None,
                None,
                None,
                None,
            ),
        ),
    ];
    for (what, r) in cases {
        assert_eq!(r.unwrap_err().rv(), CKR_ATTRIBUTE_VALUE_INVALID, "{what}");
    }
    let mut even = c.modulus.clone();
    *even.last_mut().unwrap() ^= 1;
    for (n, e) in [
        (even, E65537.to_vec()),
        (c.modulus.clone(), vec![1, 0, 0]), // even exponent
        (c.modulus.clone(), vec![1]),
        (c.modulus.clone(), vec![]),
        (c.modulus[..60].to_vec(), E65537.to_vec()), // 480 bits, below the 512 minimum
        (c.modulus.clone(), vec![0x02, 0, 0, 0, 1]), // above 2^33 - 1
    ] {
        assert_eq!(
            RsaPublic::new(&n, &e).unwrap_err().rv(),
            CKR_ATTRIBUTE_VALUE_INVALID,
            "{e:?}"
        );
    }
    assert_eq!(
        RsaPrivate::generate(512, &E65537).unwrap_err().rv(),
        CKR_KEY_SIZE_RANGE
    );
    assert_eq!(
        RsaPrivate::generate(8192, &E65537).unwrap_err().rv(),
        CKR_KEY_SIZE_RANGE
    );
    assert_eq!(
        RsaPrivate::generate(2048, &[1, 0, 0]).unwrap_err().rv(),
        CKR_ATTRIBUTE_VALUE_INVALID
    );
}

#[test]
fn pkcs1v15_signatures_with_every_hash() {
    let k = key();
    let p = k.public();
    for alg in HashAlg::ALL {
        let h = digest(alg, b"message");
        let sig = k.sign_pkcs1v15(alg, &h).unwrap();
        assert_eq!(sig.len(), 256);
        p.verify_pkcs1v15(alg, &h, &sig).unwrap();
        // CKM_RSA_PKCS over the DigestInfo gives the same signature.
        let mut di = alg.digest_info_prefix().to_vec();
        di.extend_from_slice(&h);
        assert_eq!(k.sign_pkcs1v15_raw(&di).unwrap(), sig);
        p.verify_pkcs1v15_raw(&di, &sig).unwrap();
        assert_eq!(p.recover_pkcs1v15(&sig).unwrap(), di);
        let mut bad = sig.clone();
        bad[100] ^= 1;
        assert_eq!(
            p.verify_pkcs1v15(alg, &h, &bad).unwrap_err().rv(),
            CKR_SIGNATURE_INVALID
        );
        assert_eq!(
            p.verify_pkcs1v15(alg, &h, &sig[1..]).unwrap_err().rv(),
            CKR_SIGNATURE_LEN_RANGE
        );
        let other = digest(alg, b"messagf");
        assert_eq!(
            p.verify_pkcs1v15(alg, &other, &sig).unwrap_err().rv(),
            CKR_SIGNATURE_INVALID
        );
        assert_eq!(
            k.sign_pkcs1v15(alg, &h[1..]).unwrap_err().rv(),
            CKR_DATA_LEN_RANGE
        );
    }
    // Known answers: OpenSSL's signatures of the known-answer key, made and checked here
    // on both import paths.
    let msg = hex(kat::RSA_MSG);
    for k in [kat_key(), &kat_key_without_crt()] {
        for (alg, want) in [
            (HashAlg::Sha256, kat::RSA_PKCS1_SHA256_SIG),
            (HashAlg::Sha384, kat::RSA_PKCS1_SHA384_SIG),
        ] {
            let h = digest(alg, &msg);
            assert_eq!(k.sign_pkcs1v15(alg, &h).unwrap(), hex(want), "{alg:?}");
            k.public().verify_pkcs1v15(alg, &h, &hex(want)).unwrap();
        }
    }
    // The crate's own SHA-256 signer agrees with the prefix table.
    let h = digest(HashAlg::Sha256, b"abc");
    let theirs = crate_private(k)
        .sign_with_rng(&mut SysRng, Pkcs1v15Sign::new::<sha2::Sha256>(), &h)
        .unwrap();
    assert_eq!(k.sign_pkcs1v15(HashAlg::Sha256, &h).unwrap(), theirs);
    assert_eq!(
        k.sign_pkcs1v15_raw(&[0; 246]).unwrap_err().rv(),
        CKR_DATA_LEN_RANGE
    );
    assert!(k.sign_pkcs1v15_raw(&[0; 245]).is_ok());
    assert!(p
        .recover_pkcs1v15(&k.raw_private(&[5; 200]).unwrap())
        .is_err());
}

#[test]
fn pss_any_salt_and_mgf_and_agreement_with_the_crate() {
    let k = key();
    let p = k.public();
    let h = digest(HashAlg::Sha256, b"pss");
    // 0, the hash length and the largest salt the 2048-bit modulus allows.
    for salt in [0usize, 32, 256 - 32 - 2] {
        let sig = k
            .sign_pss(HashAlg::Sha256, HashAlg::Sha256, salt, &h)
            .unwrap();
        p.verify_pss(HashAlg::Sha256, HashAlg::Sha256, salt, &h, &sig)
            .unwrap();
        let scheme = rsa::Pss::<sha2::Sha256> {
            blinded: true,
            digest: Default::default(),
            salt_len: Some(salt),
        };
        crate_public(&p).verify(scheme, &h, &sig).unwrap();
        if salt > 0 {
            assert!(p
                .verify_pss(HashAlg::Sha256, HashAlg::Sha256, salt - 1, &h, &sig)
                .is_err());
        }
    }
    assert_eq!(
        k.sign_pss(HashAlg::Sha256, HashAlg::Sha256, 256 - 32 - 1, &h)
            .unwrap_err()
            .rv(),
        CKR_MECHANISM_PARAM_INVALID
    );
    // Known answers: OpenSSL's signatures (random salts) verify, and fixed salts give
    // exactly the signatures RFC 8017 computed independently gives.
    let kk = kat_key();
    let kp = kk.public();
    let msg = hex(kat::RSA_MSG);
    for (alg, mgf, salt_len, sig) in [
        (
            HashAlg::Sha256,
            HashAlg::Sha256,
            32,
            kat::RSA_PSS_SHA256_MGF1_SHA256_SALT32_SIG,
        ),
        (
            HashAlg::Sha384,
            HashAlg::Sha1,
            48,
            kat::RSA_PSS_SHA384_MGF1_SHA1_SALT48_SIG,
        ),
    ] {
        let h = digest(alg, &msg);
        kp.verify_pss(alg, mgf, salt_len, &h, &hex(sig)).unwrap();
        assert_eq!(
            kp.verify_pss(alg, mgf, salt_len + 1, &h, &hex(sig))
                .unwrap_err()
                .rv(),
            CKR_SIGNATURE_INVALID
        );
    }
    for (alg, mgf, salt, want) in [
        (
            HashAlg::Sha256,
            HashAlg::Sha256,
            kat::RSA_PSS_SALT32,
            kat::RSA_PSS_SHA256_MGF1_SHA256_FIXED_SALT32_SIG,
        ),
        (
            HashAlg::Sha512,
            HashAlg::Sha1,
            kat::RSA_PSS_SALT20,
            kat::RSA_PSS_SHA512_MGF1_SHA1_FIXED_SALT20_SIG,
        ),
    ] {
        let h = digest(alg, &msg);
        let sig = kk.sign_pss_with_salt(alg, mgf, &hex(salt), &h).unwrap();
        assert_eq!(sig, hex(want), "{alg:?} with MGF1-{mgf:?}");
        kp.verify_pss(alg, mgf, hex(salt).len(), &h, &sig).unwrap();
    }
    // The crate signs, we verify.
    let theirs = crate_private(k)
        .sign_with_rng(&mut SysRng, rsa::Pss::<sha2::Sha256>::new_with_salt(20), &h)
        .unwrap();
    p.verify_pss(HashAlg::Sha256, HashAlg::Sha256, 20, &h, &theirs)
        .unwrap();
    // A different MGF hash, and SHA-3.
    for (alg, mgf) in [
        (HashAlg::Sha384, HashAlg::Sha1),
        (HashAlg::Sha3_256, HashAlg::Sha3_512),
        (HashAlg::Sha512, HashAlg::Sha512),
    ] {
        let h = digest(alg, b"x");
        let sig = k.sign_pss(alg, mgf, alg.output_len(), &h).unwrap();
        p.verify_pss(alg, mgf, alg.output_len(), &h, &sig).unwrap();
        assert_eq!(
            p.verify_pss(alg, HashAlg::Sha224, alg.output_len(), &h, &sig)
                .unwrap_err()
                .rv(),
            CKR_SIGNATURE_INVALID
        );
        let mut bad = sig.clone();
        bad[0] ^= 0x40;
        assert!(p.verify_pss(alg, mgf, alg.output_len(), &h, &bad).is_err());
    }
    assert_eq!(
        p.verify_pss(HashAlg::Sha256, HashAlg::Sha256, 32, &h, &[0; 255])
            .unwrap_err()
            .rv(),
        CKR_SIGNATURE_LEN_RANGE
    );
}

#[test]
fn pss_with_a_modulus_of_odd_byte_boundary() {
    // 1025 bits: emBits = 1024, so EM is one byte shorter than the modulus.
    let k = RsaPrivate::generate(1025, &E65537).unwrap();
    let p = k.public();
    assert_eq!(p.modulus_bits(), 1025);
    let h = digest(HashAlg::Sha1, b"odd");
    for salt in [0usize, 20, 128 - 20 - 2] {
        let sig = k.sign_pss(HashAlg::Sha1, HashAlg::Sha1, salt, &h).unwrap();
        p.verify_pss(HashAlg::Sha1, HashAlg::Sha1, salt, &h, &sig)
            .unwrap();
        let scheme = rsa::Pss::<sha1::Sha1> {
            blinded: true,
            digest: Default::default(),
            salt_len: Some(salt),
        };
        crate_public(&p).verify(scheme, &h, &sig).unwrap();
    }
}

#[test]
fn pkcs1v15_encryption_and_implicit_rejection() {
    let k = key();
    let p = k.public();
    let ct = p.encrypt_pkcs1v15(b"key material").unwrap();
    assert_eq!(*k.decrypt_pkcs1v15(&ct).unwrap(), b"key material");
    assert_eq!(
        p.encrypt_pkcs1v15(&[1; 246]).unwrap_err().rv(),
        CKR_DATA_LEN_RANGE
    );
    assert!(p.encrypt_pkcs1v15(&[1; 245]).is_ok());
    // A ciphertext whose plaintext is not type-2 padded yields a stable decoy, not an error.
    let not_padded = p.raw_public(&[0x42; 255]).unwrap();
    let d1 = k.decrypt_pkcs1v15(&not_padded).unwrap();
    let d2 = k.decrypt_pkcs1v15(&not_padded).unwrap();
    assert_eq!(d1, d2);
    assert_ne!(*d1, vec![0x42; 255]);
    assert_eq!(
        k.decrypt_pkcs1v15(&ct[1..]).unwrap_err().rv(),
        CKR_ENCRYPTED_DATA_LEN_RANGE
    );
    assert_eq!(
        k.decrypt_pkcs1v15(&[0xff; 256]).unwrap_err().rv(),
        CKR_ENCRYPTED_DATA_INVALID
    );
}

#[test]
fn pkcs1v15_decryption_agrees_with_the_crate_decoys_included() {
    let k = key();
    let p = k.public();
    let theirs = crate_private(k);
    let crate_ct = crate_public(&p)
        .encrypt(&mut SysRng, rsa::Pkcs1v15Encrypt, b"theirs")
        .unwrap();
    let mut cases = vec![
        p.encrypt_pkcs1v15(b"ours").unwrap(),
        crate_ct,
        p.raw_public(&[0x42; 255]).unwrap(),
    ];
    // Type-2 blocks with a short PS, no separator, and an empty message.
    let mut short_ps = vec![0u8, 2, 1, 1, 1, 0];
    short_ps.resize(256, 7);
    let no_separator = [&[0u8, 2][..], &[9; 254]].concat();
    let empty = [&[0u8, 2][..], &[9; 253], &[0]].concat();
    for em in [short_ps, no_separator, empty] {
        cases.push(p.raw_public(&em).unwrap());
    }
    for i in 0..8u8 {
        let mut c = vec![0u8; 256];
        crate::crypto::random_fill(&mut c[1..]).unwrap();
        c[1] = i;
        cases.push(c);
    }
    for c in &cases {
        assert_eq!(
            *k.decrypt_pkcs1v15(c).unwrap(),
            theirs
                .decrypt_blinded(&mut SysRng, rsa::Pkcs1v15Encrypt, c)
                .unwrap()
        );
    }
    assert_eq!(*k.decrypt_pkcs1v15(&cases[0]).unwrap(), b"ours");
    assert_eq!(*k.decrypt_pkcs1v15(&cases[1]).unwrap(), b"theirs");
    // Known answers: OpenSSL's ciphertext decrypts, and malformed blocks decrypt to the
    // synthetic messages OpenSSL's implicit rejection gives (the same draft's algorithm).
    let kk = kat_key();
    for (ct, want) in [
        (kat::RSA_PKCS1_CT, kat::RSA_PKCS1_PLAIN),
        (kat::RSA_DECOY_SHORT_PS_CT, kat::RSA_DECOY_SHORT_PS_PLAIN),
        (
            kat::RSA_DECOY_NO_SEPARATOR_CT,
            kat::RSA_DECOY_NO_SEPARATOR_PLAIN,
        ),
        (kat::RSA_DECOY_EMPTY_CT, kat::RSA_DECOY_EMPTY_PLAIN),
        (
            kat::RSA_DECOY_NOT_PADDED_CT,
            kat::RSA_DECOY_NOT_PADDED_PLAIN,
        ),
    ] {
        assert_eq!(*kk.decrypt_pkcs1v15(&hex(ct)).unwrap(), hex(want), "{want}");
    }
}

#[test]
fn raw_operations_agree_with_the_rustcrypto_backend() {
    let k = key();
    let c = k.components();
    let rc = rustcrypto::PrivateKey::from_parts(
        &c.modulus,
        &c.public_exponent,
        &c.private_exponent,
        Some((&c.prime_1, &c.prime_2)),
    )
    .unwrap();
    for i in 0..4u8 {
        let mut x = vec![0u8; 256];
        crate::crypto::random_fill(&mut x[1..]).unwrap();
        x[1] = i;
        let s = k.raw_private(&x).unwrap();
        assert_eq!(*rc.raw(&x).unwrap(), s);
        assert_eq!(rc.public().raw(&s).unwrap(), x);
        assert_eq!(k.public().raw_public(&s).unwrap(), x);
    }
    // Known answers (Python's pow), through the backend and through the `rsa` crate.
    let kk = kat_key();
    let (x, xd, xe) = (
        hex(kat::RSA_RAW_IN),
        hex(kat::RSA_RAW_PRIVATE),
        hex(kat::RSA_RAW_PUBLIC),
    );
    assert_eq!(kk.raw_private(&x).unwrap(), xd);
    assert_eq!(kk.public().raw_public(&x).unwrap(), xe);
    assert_eq!(*kk.decrypt_raw(&xe).unwrap(), x);
    assert_eq!(kk.public().recover_raw(&xd).unwrap(), x);
    let rc = rustcrypto::PrivateKey::from_parts(
        &hex(kat::RSA_N),
        &hex(kat::RSA_E),
        &hex(kat::RSA_D),
        Some((&hex(kat::RSA_P), &hex(kat::RSA_Q))),
    )
    .unwrap();
    assert_eq!(*rc.raw(&x).unwrap(), xd);
    assert_eq!(rc.public().raw(&x).unwrap(), xe);
}

#[test]
fn oaep_with_labels_and_hash_pairs() {
    let k = key();
    let p = k.public();
    for (alg, mgf) in [
        (HashAlg::Sha1, HashAlg::Sha1),
        (HashAlg::Sha256, HashAlg::Sha256),
        (HashAlg::Sha256, HashAlg::Sha1),
        (HashAlg::Sha512, HashAlg::Sha384),
        (HashAlg::Sha3_256, HashAlg::Sha3_256),
    ] {
        let ct = p.encrypt_oaep(alg, mgf, b"label", b"secret").unwrap();
        assert_eq!(*k.decrypt_oaep(alg, mgf, b"label", &ct).unwrap(), b"secret");
        assert_eq!(
            k.decrypt_oaep(alg, mgf, b"other", &ct).unwrap_err().rv(),
            CKR_ENCRYPTED_DATA_INVALID
        );
        assert_eq!(
            k.decrypt_oaep(alg, HashAlg::Sha224, b"label", &ct)
                .unwrap_err()
                .rv(),
            CKR_ENCRYPTED_DATA_INVALID
        );
        let mut bad = ct.clone();
        bad[7] ^= 1;
        assert_eq!(
            k.decrypt_oaep(alg, mgf, b"label", &bad).unwrap_err().rv(),
            CKR_ENCRYPTED_DATA_INVALID
        );
        let max = 256 - 2 * alg.output_len() - 2;
        assert!(p.encrypt_oaep(alg, mgf, b"", &vec![7; max]).is_ok());
        assert_eq!(
            p.encrypt_oaep(alg, mgf, b"", &vec![7; max + 1])
                .unwrap_err()
                .rv(),
            CKR_DATA_LEN_RANGE
        );
    }
    // The crate's SHA-256 OAEP decrypts ours (and an empty label equals no label).
    let ct = p
        .encrypt_oaep(HashAlg::Sha256, HashAlg::Sha256, b"", b"hi")
        .unwrap();
    assert_eq!(
        crate_private(k)
            .decrypt_blinded(&mut SysRng, rsa::Oaep::<sha2::Sha256>::new(), &ct)
            .unwrap(),
        b"hi"
    );
}

#[test]
fn oaep_agrees_with_the_crate_and_checks_the_leading_byte() {
    let k = key();
    let p = k.public();
    let scheme = rsa::Oaep::<sha2::Sha256, sha1::Sha1>::new_with_mgf_hash_and_label(&b"lbl"[..]);
    let theirs = crate_public(&p)
        .encrypt(&mut SysRng, scheme, b"from the crate")
        .unwrap();
    assert_eq!(
        *k.decrypt_oaep(HashAlg::Sha256, HashAlg::Sha1, b"lbl", &theirs)
            .unwrap(),
        b"from the crate"
    );
    let ours = p
        .encrypt_oaep(HashAlg::Sha256, HashAlg::Sha1, b"lbl", b"x")
        .unwrap();
    let mut em = k.decrypt_raw(&ours).unwrap();
    assert_eq!(em[0], 0);
    assert_eq!(
        *oaep_decode(&em, HashAlg::Sha256, HashAlg::Sha1, b"lbl").unwrap(),
        b"x"
    );
    em[0] = 1;
    assert_eq!(
        oaep_decode(&em, HashAlg::Sha256, HashAlg::Sha1, b"lbl")
            .unwrap_err()
            .rv(),
        CKR_ENCRYPTED_DATA_INVALID
    );
    // Known answers: OpenSSL's ciphertexts decrypt.
    let kk = kat_key();
    for (alg, mgf, label, ct) in [
        (
            HashAlg::Sha256,
            HashAlg::Sha1,
            &b"lbl"[..],
            kat::RSA_OAEP_SHA256_MGF1_SHA1_LABEL_LBL_CT,
        ),
        (
            HashAlg::Sha1,
            HashAlg::Sha1,
            &b""[..],
            kat::RSA_OAEP_SHA1_CT,
        ),
    ] {
        assert_eq!(
            *kk.decrypt_oaep(alg, mgf, label, &hex(ct)).unwrap(),
            hex(kat::RSA_OAEP_PLAIN)
        );
        assert_eq!(
            kk.decrypt_oaep(alg, mgf, b"other", &hex(ct))
                .unwrap_err()
                .rv(),
            CKR_ENCRYPTED_DATA_INVALID
        );
    }
    // Empty messages and the empty label work.
    let ct = p
        .encrypt_oaep(HashAlg::Sha1, HashAlg::Sha1, b"", b"")
        .unwrap();
    assert!(k
        .decrypt_oaep(HashAlg::Sha1, HashAlg::Sha1, b"", &ct)
        .unwrap()
        .is_empty());
}

/// Every malformed component is `CKR_ATTRIBUTE_VALUE_INVALID` (`RsaPublic::new` and
/// `RsaPrivate::from_components` report nothing else), never a panic nor a key.
#[test]
fn garbage_components_are_errors_not_panics() {
    let c = key().components();
    let invalid = |what: &str, r: Result<RsaPrivate>| match r {
        Err(e) => assert_eq!(e.rv(), CKR_ATTRIBUTE_VALUE_INVALID, "{what}"),
        Ok(_) => panic!("{what}: accepted as a private key"),
    };
    let samples: [&[u8]; 6] = [&[], &[0], &[0, 0, 0], &[1], &[0xff; 600], &[3]];
    for n in samples.iter().chain([&c.modulus[..]].iter()) {
        for e in samples.iter().chain([&E65537[..]].iter()) {
            // A public key needs no more than an odd n of 1024..=8192 bits and an odd e of
            // 3..=2^33-1 below it: 2^4800-1 qualifies, the other samples do not.
            let public_ok = (*n == c.modulus.as_slice() || *n == [0xff; 600].as_slice())
                && (*e == [3].as_slice() || *e == E65537.as_slice());
            match RsaPublic::new(n, e) {
                Ok(_) => assert!(public_ok, "public n {n:02x?} e {e:02x?} accepted"),
                Err(err) => {
                    assert!(!public_ok, "public n {n:02x?} e {e:02x?} refused");
                    assert_eq!(err.rv(), CKR_ATTRIBUTE_VALUE_INVALID, "public {e:02x?}");
                }
            }
            for d in samples {
                let what = format!("n {} bytes, e {e:02x?}, d {d:02x?}", n.len());
                invalid(
                    &what,
                    RsaPrivate::from_components(n, e, d, None, None, None, None, None),
                );
                invalid(
                    &format!("{what}, all parts d"),
                    RsaPrivate::from_components(
                        n,
                        e,
                        d,
                        Some(d),
                        Some(d),
                        Some(d),
                        Some(d),
                        Some(d),
                    ),
                );
            }
        }
    }
    invalid(
        "empty primes",
        RsaPrivate::from_components(
            &c.modulus,
            &E65537,
            &c.private_exponent,
            Some(&[]),
            Some(&[]),
            None,
            None,
            None,
        ),
    );
    invalid(
        "primes n and 1",
        RsaPrivate::from_components(
            &c.modulus,
            &E65537,
            &c.private_exponent,
            Some(&c.modulus),
            Some(&[1]),
            None,
            None,
            None,
        ),
    );
    // Random values of the right sizes with the real modulus.
    for i in 0..40usize {
        let mut d = vec![0u8; 1 + i * 6];
        let mut pq = vec![0u8; 1 + i * 3];
        crate::crypto::random_fill(&mut d).unwrap();
        crate::crypto::random_fill(&mut pq).unwrap();
        invalid(
            &format!("random d of {} bytes", d.len()),
            RsaPrivate::from_components(&c.modulus, &E65537, &d, None, None, None, None, None),
        );
        invalid(
            &format!("random d and p of {} bytes", pq.len()),
            RsaPrivate::from_components(
                &c.modulus,
                &E65537,
                &d,
                Some(&pq),
                Some(&c.prime_2),
                None,
                None,
                None,
            ),
        );
        invalid(
            &format!("random q of {} bytes", pq.len()),
            RsaPrivate::from_components(
                &c.modulus,
                &E65537,
                &c.private_exponent,
                Some(&c.prime_1),
                Some(&pq),
                None,
                None,
                None,
            ),
        );
    }
}

#[test]
fn raw_rsa_round_trips_and_checks_ranges() {
    let k = key();
    let p = k.public();
    let x = hex("0102030405");
    let c = p.raw_public(&x).unwrap();
    assert_eq!(c.len(), 256);
    let m = k.decrypt_raw(&c).unwrap();
    assert_eq!(m.len(), 256);
    assert_eq!(&m[251..], x.as_slice());
    assert!(m[..251].iter().all(|b| *b == 0));
    let s = k.raw_private(&x).unwrap();
    p.verify_raw(&x, &s).unwrap();
    assert_eq!(p.recover_raw(&s).unwrap(), left_pad(&x, 256));
    assert_eq!(
        p.verify_raw(&hex("0102030406"), &s).unwrap_err().rv(),
        CKR_SIGNATURE_INVALID
    );
    let n = p.modulus();
    assert_eq!(p.raw_public(&n).unwrap_err().rv(), CKR_DATA_INVALID);
    assert_eq!(
        p.raw_public(&[1; 257]).unwrap_err().rv(),
        CKR_DATA_LEN_RANGE
    );
    assert_eq!(k.raw_private(&n).unwrap_err().rv(), CKR_DATA_INVALID);
    assert_eq!(
        k.decrypt_raw(&n).unwrap_err().rv(),
        CKR_ENCRYPTED_DATA_INVALID
    );
    assert_eq!(
        k.decrypt_raw(&[1; 255]).unwrap_err().rv(),
        CKR_ENCRYPTED_DATA_LEN_RANGE
    );
    assert_eq!(p.recover_raw(&n).unwrap_err().rv(), CKR_SIGNATURE_INVALID);
    assert_eq!(
        p.recover_raw(&[1; 10]).unwrap_err().rv(),
        CKR_SIGNATURE_LEN_RANGE
    );
}

/// Parsed keys are shared: `Send + Sync`, and two threads sign and verify with one key at once.
#[test]
fn two_threads_share_one_parsed_key() {
    fn shared<T: Send + Sync>() {}
    shared::<RsaPrivate>();
    shared::<RsaPublic>();
    let sk = std::sync::Arc::new(key().clone());
    let pk = std::sync::Arc::new(key().public());
    let work = |salt: u8| {
        let (sk, pk) = (sk.clone(), pk.clone());
        std::thread::spawn(move || {
            for i in 0..10u8 {
                let h = digest(HashAlg::Sha256, &[salt, i]);
                let sig = sk.sign_pkcs1v15(HashAlg::Sha256, &h).unwrap();
                pk.verify_pkcs1v15(HashAlg::Sha256, &h, &sig).unwrap();
                assert_eq!(sig, key().sign_pkcs1v15(HashAlg::Sha256, &h).unwrap());
            }
        })
    };
    let (a, b) = (work(1), work(2));
    a.join().unwrap();
    b.join().unwrap();
}
