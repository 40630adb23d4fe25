//! PKCS#11 v3.0 Current Mechanisms §2.1 (RSA: CKM_RSA_PKCS_KEY_PAIR_GEN, CKM_RSA_PKCS,
//! CKM_RSA_X_509, CKM_RSA_PKCS_OAEP, CKM_RSA_PKCS_PSS, CKM_SHAx_RSA_PKCS, CKM_SHAx_RSA_PKCS_PSS,
//! CKM_SHA3_x_RSA_PKCS) through base §5.8-§5.9, §5.12-§5.13 (C_Sign, C_SignRecover, C_Verify,
//! C_VerifyRecover) and §5.18 (C_GenerateKeyPair): known-answer tests with the key of
//! tests/common/keys.rs, and cross-checks with the openssl CLI in both directions.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::der::*;
use common::p11::*;
use common::vectors::*;
use cryptoki_sys::*;

/// The fixed RSA-2048 key pair of tests/common/keys.rs: (public, private).
fn fixed_pair(t: &Tok) -> (CK_OBJECT_HANDLE, CK_OBJECT_HANDLE) {
    (t.obj(&rsa_public_fixed()), t.obj(&rsa_private_fixed()))
}

/// The SubjectPublicKeyInfo built from CKA_MODULUS and CKA_PUBLIC_EXPONENT of a key object.
fn rsa_spki_of(t: &Tok, key: CK_OBJECT_HANDLE) -> Vec<u8> {
    rsa_spki(&t.get(key, CKA_MODULUS), &t.get(key, CKA_PUBLIC_EXPONENT))
}

/// Files for openssl: msg.bin, sig.bin, pub.der (and the fixed private key as priv.der).
fn scratch_with(msg: &[u8], sig: &[u8], spki: &[u8]) -> Scratch {
    let s = Scratch::new();
    s.write("msg.bin", msg);
    s.write("sig.bin", sig);
    s.write("pub.der", spki);
    s.write("priv.der", &fixed_rsa_private_der());
    s
}

#[track_caller]
fn openssl_verifies(what: &str, s: &Scratch, md: &str, pss_salt: Option<usize>) {
    let mut args: Vec<String> = vec!["dgst".into(), format!("-{md}")];
    if let Some(salt) = pss_salt {
        args.extend([
            "-sigopt".into(),
            "rsa_padding_mode:pss".into(),
            "-sigopt".into(),
            format!("rsa_pss_saltlen:{salt}"),
            "-sigopt".into(),
            format!("rsa_mgf1_md:{md}"),
        ]);
    }
    args.extend([
        "-verify".into(),
        s.p("pub.der"),
        "-keyform".into(),
        "DER".into(),
        "-signature".into(),
        s.p("sig.bin"),
        s.p("msg.bin"),
    ]);
    let a: Vec<&str> = args.iter().map(|x| x.as_str()).collect();
    let (ok, out, err) = openssl_run(&a);
    assert!(
        ok && String::from_utf8_lossy(&out).contains("Verified OK"),
        "{what}: openssl does not verify the module's signature:\n{}{err}",
        String::from_utf8_lossy(&out)
    );
}

/// CKM_SHA256_RSA_PKCS over a fixed message equals the signature OpenSSL made with the same
/// key (PKCS#1 v1.5 is deterministic); CKM_RSA_PKCS over the DigestInfo gives the same bytes.
#[test]
fn rsa_pkcs1_v15_signature_known_answer() {
    let t = token("rsa-kat");
    let (public, private) = fixed_pair(&t);
    let want = hx(RSA_KAT_SHA256_PKCS1_SIG);
    let got = t
        .sign(&Mech::new(CKM_SHA256_RSA_PKCS), private, RSA_KAT_MESSAGE)
        .ok_or_panic("C_Sign CKM_SHA256_RSA_PKCS");
    assert_bytes("SHA256_RSA_PKCS signature", &got, &want);
    let got = t
        .sign_multi(
            &Mech::new(CKM_SHA256_RSA_PKCS),
            private,
            &[&RSA_KAT_MESSAGE[..9], &RSA_KAT_MESSAGE[9..]],
        )
        .ok_or_panic("C_SignUpdate/Final CKM_SHA256_RSA_PKCS");
    assert_bytes("SHA256_RSA_PKCS multi-part signature", &got, &want);
    let digest_info = [
        hx(SHA256_DIGEST_INFO_PREFIX),
        openssl_digest("sha256", RSA_KAT_MESSAGE),
    ]
    .concat();
    let got = t
        .sign(&Mech::new(CKM_RSA_PKCS), private, &digest_info)
        .ok_or_panic("C_Sign CKM_RSA_PKCS over a DigestInfo");
    assert_bytes("RSA_PKCS over the DigestInfo", &got, &want);

    t.verify(
        &Mech::new(CKM_SHA256_RSA_PKCS),
        public,
        RSA_KAT_MESSAGE,
        &want,
    )
    .ok_or_panic("C_Verify CKM_SHA256_RSA_PKCS");
    t.verify(&Mech::new(CKM_RSA_PKCS), public, &digest_info, &want)
        .ok_or_panic("C_Verify CKM_RSA_PKCS");
    let mut bad = want.clone();
    bad[100] ^= 1;
    expect_err(
        "verify of a corrupted signature",
        t.verify(
            &Mech::new(CKM_SHA256_RSA_PKCS),
            public,
            RSA_KAT_MESSAGE,
            &bad,
        ),
        CKR_SIGNATURE_INVALID,
    );
    expect_err(
        "verify of another message",
        t.verify(
            &Mech::new(CKM_SHA256_RSA_PKCS),
            public,
            b"another message",
            &want,
        ),
        CKR_SIGNATURE_INVALID,
    );
    expect_err(
        "verify of a short signature",
        t.verify(
            &Mech::new(CKM_SHA256_RSA_PKCS),
            public,
            RSA_KAT_MESSAGE,
            &want[1..],
        ),
        CKR_SIGNATURE_LEN_RANGE,
    );
}

/// Every CKM_SHAx_RSA_PKCS (SHA-1, SHA-2, SHA-3) gives exactly what `openssl dgst -sign` gives
/// with the same key.
#[test]
fn rsa_pkcs1_hash_mechanisms_match_openssl() {
    let t = token("rsa-hashes");
    let (public, private) = fixed_pair(&t);
    let msg = b"The quick brown fox jumps over the lazy dog";
    let s = scratch_with(msg, &[], &[]);
    let mut problems = Vec::new();
    for (m, md) in [
        (CKM_SHA1_RSA_PKCS, "sha1"),
        (CKM_SHA224_RSA_PKCS, "sha224"),
        (CKM_SHA256_RSA_PKCS, "sha256"),
        (CKM_SHA384_RSA_PKCS, "sha384"),
        (CKM_SHA512_RSA_PKCS, "sha512"),
        (CKM_SHA3_256_RSA_PKCS, "sha3-256"),
        (CKM_SHA3_384_RSA_PKCS, "sha3-384"),
        (CKM_SHA3_512_RSA_PKCS, "sha3-512"),
    ] {
        let out = s.p(&format!("{md}.sig"));
        openssl(&[
            "dgst",
            &format!("-{md}"),
            "-sign",
            &s.p("priv.der"),
            "-keyform",
            "DER",
            "-out",
            &out,
            &s.p("msg.bin"),
        ]);
        let want = s.read(&format!("{md}.sig"));
        match t.sign(&Mech::new(m), private, msg) {
            Ok(got) if got == want => {}
            Ok(got) => problems.push(format!("{md}: differs from openssl: {}", hex(&got))),
            Err(rv) => problems.push(format!("{md}: C_Sign {}", rvn(rv))),
        }
        if let Err(rv) = t.verify(&Mech::new(m), public, msg, &want) {
            problems.push(format!("{md}: C_Verify of openssl's signature {}", rvn(rv)));
        }
    }
    assert!(
        problems.is_empty(),
        "RSA PKCS#1 v1.5:\n  {}",
        problems.join("\n  ")
    );
}

/// CKM_RSA_X_509 (raw RSA): C_Sign and C_SignRecover give m^d mod n; C_Encrypt with the public
/// key and C_VerifyRecover give the block back; C_Decrypt is the private operation.
#[test]
fn rsa_x509_raw_known_answer_sign_recover_verify_recover() {
    let t = token("rsa-x509");
    let (public, private) = fixed_pair(&t);
    let mut block = vec![0u8; 256 - RSA_X509_BLOCK.len()];
    block.extend_from_slice(RSA_X509_BLOCK);
    let want = hx(RSA_X509_KAT);
    let m = || Mech::new(CKM_RSA_X_509);
    assert_bytes(
        "RSA_X_509 C_Sign",
        &t.sign(&m(), private, &block).ok_or_panic("C_Sign"),
        &want,
    );
    assert_bytes(
        "RSA_X_509 C_SignRecover",
        &t.sign_recover(&m(), private, &block)
            .ok_or_panic("C_SignRecover"),
        &want,
    );
    assert_bytes(
        "RSA_X_509 C_VerifyRecover",
        &t.verify_recover(&m(), public, &want)
            .ok_or_panic("C_VerifyRecover"),
        &block,
    );
    t.verify(&m(), public, &block, &want)
        .ok_or_panic("RSA_X_509 C_Verify");
    assert_bytes(
        "RSA_X_509 C_Encrypt (public)",
        &t.encrypt(&m(), public, &want).ok_or_panic("C_Encrypt"),
        &block,
    );
    assert_bytes(
        "RSA_X_509 C_Decrypt (private)",
        &t.decrypt(&m(), private, &block).ok_or_panic("C_Decrypt"),
        &want,
    );
    // A value not below the modulus.
    expect_err_in(
        "RSA_X_509 C_Sign of 0xff..ff",
        t.sign(&m(), private, &[0xff; 256]),
        &[CKR_DATA_INVALID, CKR_DATA_LEN_RANGE],
    );
}

/// CKM_RSA_PKCS C_SignRecover / C_VerifyRecover: the data comes back.
#[test]
fn rsa_pkcs_sign_recover_round_trip() {
    let t = token("rsa-recover");
    let (public, private) = fixed_pair(&t);
    let data = b"recoverable data, at most k-11 bytes";
    let sig = t
        .sign_recover(&Mech::new(CKM_RSA_PKCS), private, data)
        .ok_or_panic("C_SignRecover RSA_PKCS");
    assert_eq!(sig.len(), 256);
    // Equal to C_Sign (PKCS#1 v1.5 type 1 padding is deterministic).
    assert_bytes(
        "SignRecover equals Sign",
        &sig,
        &t.sign(&Mech::new(CKM_RSA_PKCS), private, data)
            .ok_or_panic("C_Sign"),
    );
    let back = t
        .verify_recover(&Mech::new(CKM_RSA_PKCS), public, &sig)
        .ok_or_panic("C_VerifyRecover RSA_PKCS");
    assert_bytes("C_VerifyRecover output", &back, data);
    expect_err(
        "RSA_PKCS C_Sign of k-10 bytes",
        t.sign(&Mech::new(CKM_RSA_PKCS), private, &[1u8; 246]),
        CKR_DATA_LEN_RANGE,
    );
}

/// Signatures made by OpenSSL (PKCS#1 v1.5 SHA-384, PSS SHA-256 salt 32) verify in the module.
#[test]
fn openssl_signatures_verify_in_the_module() {
    let t = token("rsa-ossl-verify");
    let (public, _) = fixed_pair(&t);
    let msg = b"signed by openssl";
    let s = scratch_with(msg, &[], &[]);
    openssl(&[
        "dgst",
        "-sha384",
        "-sign",
        &s.p("priv.der"),
        "-keyform",
        "DER",
        "-out",
        &s.p("a.sig"),
        &s.p("msg.bin"),
    ]);
    t.verify(
        &Mech::new(CKM_SHA384_RSA_PKCS),
        public,
        msg,
        &s.read("a.sig"),
    )
    .ok_or_panic("verify openssl SHA-384 PKCS#1 v1.5");
    openssl(&[
        "dgst",
        "-sha256",
        "-sigopt",
        "rsa_padding_mode:pss",
        "-sigopt",
        "rsa_pss_saltlen:32",
        "-sign",
        &s.p("priv.der"),
        "-keyform",
        "DER",
        "-out",
        &s.p("b.sig"),
        &s.p("msg.bin"),
    ]);
    let sig = s.read("b.sig");
    t.verify(
        &pss(CKM_SHA256_RSA_PKCS_PSS, CKM_SHA256, CKG_MGF1_SHA256, 32),
        public,
        msg,
        &sig,
    )
    .ok_or_panic("verify openssl PSS SHA-256 salt 32");
    // CKM_RSA_PKCS_PSS takes the hash.
    t.verify(
        &pss(CKM_RSA_PKCS_PSS, CKM_SHA256, CKG_MGF1_SHA256, 32),
        public,
        &openssl_digest("sha256", msg),
        &sig,
    )
    .ok_or_panic("verify openssl PSS with CKM_RSA_PKCS_PSS over the hash");
    // The wrong salt length must not verify.
    expect_err(
        "PSS verify with salt 20 of a salt-32 signature",
        t.verify(
            &pss(CKM_SHA256_RSA_PKCS_PSS, CKM_SHA256, CKG_MGF1_SHA256, 20),
            public,
            msg,
            &sig,
        ),
        CKR_SIGNATURE_INVALID,
    );
}

/// PSS signatures of the module (several hashes and salt lengths) verify in OpenSSL and in the
/// module; a mechanism whose parameter names another hash is refused.
#[test]
fn rsa_pss_signatures_verify_in_openssl() {
    let t = token("rsa-pss");
    let (public, private) = fixed_pair(&t);
    let msg = b"PSS message";
    let spki = rsa_spki(
        &common::keys::unhex(common::keys::RSA_MODULUS),
        &common::keys::unhex(common::keys::RSA_PUBLIC_EXPONENT),
    );
    for (m, h, g, md, salt) in [
        (
            CKM_SHA256_RSA_PKCS_PSS,
            CKM_SHA256,
            CKG_MGF1_SHA256,
            "sha256",
            32,
        ),
        (
            CKM_SHA256_RSA_PKCS_PSS,
            CKM_SHA256,
            CKG_MGF1_SHA256,
            "sha256",
            0,
        ),
        (
            CKM_SHA384_RSA_PKCS_PSS,
            CKM_SHA384,
            CKG_MGF1_SHA384,
            "sha384",
            48,
        ),
        (
            CKM_SHA512_RSA_PKCS_PSS,
            CKM_SHA512,
            CKG_MGF1_SHA512,
            "sha512",
            64,
        ),
        (CKM_SHA1_RSA_PKCS_PSS, CKM_SHA_1, CKG_MGF1_SHA1, "sha1", 20),
        (
            CKM_SHA224_RSA_PKCS_PSS,
            CKM_SHA224,
            CKG_MGF1_SHA224,
            "sha224",
            28,
        ),
    ] {
        let what = format!("{md} PSS salt {salt}");
        let sig = t
            .sign(&pss(m, h, g, salt), private, msg)
            .ok_or_panic(&format!("{what}: C_Sign"));
        assert_eq!(sig.len(), 256, "{what}: signature length");
        let again = t.sign(&pss(m, h, g, salt), private, msg).ok_or_panic(&what);
        if salt > 0 {
            assert_ne!(
                sig, again,
                "{what}: two PSS signatures with a random salt are equal"
            );
        }
        t.verify(&pss(m, h, g, salt), public, msg, &sig)
            .ok_or_panic(&format!("{what}: C_Verify"));
        let s = scratch_with(msg, &sig, &spki);
        openssl_verifies(&what, &s, md, Some(salt as usize));
    }
    expect_err(
        "SHA256_RSA_PKCS_PSS with hashAlg SHA-1",
        t.sign_init(
            &pss(CKM_SHA256_RSA_PKCS_PSS, CKM_SHA_1, CKG_MGF1_SHA1, 20),
            private,
        ),
        CKR_MECHANISM_PARAM_INVALID,
    );
}

/// OAEP and PKCS#1 v1.5 encryption by the module (fixed public key) decrypt in OpenSSL; OAEP
/// with a label, and SHA-1 and SHA-256 with matching MGF1.
#[test]
fn module_rsa_encryption_decrypts_in_openssl() {
    let t = token("rsa-enc");
    let (public, _) = fixed_pair(&t);
    let s = scratch_with(&[], &[], &[]);
    let plain = b"a 32-byte AES key would go here!";
    let cases: Vec<(Mech, Vec<&str>)> = vec![
        (
            Mech::new(CKM_RSA_PKCS),
            vec!["-pkeyopt", "rsa_padding_mode:pkcs1"],
        ),
        (
            oaep(CKM_SHA_1, CKG_MGF1_SHA1, &[]),
            vec!["-pkeyopt", "rsa_padding_mode:oaep"],
        ),
        (
            oaep(CKM_SHA256, CKG_MGF1_SHA256, &[]),
            vec![
                "-pkeyopt",
                "rsa_padding_mode:oaep",
                "-pkeyopt",
                "rsa_oaep_md:sha256",
                "-pkeyopt",
                "rsa_mgf1_md:sha256",
            ],
        ),
        (
            oaep(CKM_SHA256, CKG_MGF1_SHA256, b"label"),
            vec![
                "-pkeyopt",
                "rsa_padding_mode:oaep",
                "-pkeyopt",
                "rsa_oaep_md:sha256",
                "-pkeyopt",
                "rsa_mgf1_md:sha256",
                "-pkeyopt",
                "rsa_oaep_label:6c6162656c",
            ],
        ),
        (
            oaep(CKM_SHA512, CKG_MGF1_SHA512, &[]),
            vec![
                "-pkeyopt",
                "rsa_padding_mode:oaep",
                "-pkeyopt",
                "rsa_oaep_md:sha512",
                "-pkeyopt",
                "rsa_mgf1_md:sha512",
            ],
        ),
    ];
    for (i, (m, opts)) in cases.iter().enumerate() {
        let c = t
            .encrypt(m, public, plain)
            .ok_or_panic(&format!("case {i}: C_Encrypt"));
        assert_eq!(c.len(), 256);
        let again = t.encrypt(m, public, plain).ok_or_panic("C_Encrypt again");
        assert_ne!(c, again, "case {i}: RSA encryption is not randomized");
        s.write("c.bin", &c);
        let (key, input) = (s.p("priv.der"), s.p("c.bin"));
        let mut args = vec![
            "pkeyutl", "-decrypt", "-inkey", &key, "-keyform", "DER", "-in", &input,
        ];
        args.extend(opts.iter().copied());
        let out = openssl(&args);
        assert_bytes(
            &format!("case {i} ({opts:?}): openssl decryption"),
            &out,
            plain,
        );
    }
}

/// A key pair generated in the module interoperates with OpenSSL: its public key (built from
/// CKA_MODULUS/CKA_PUBLIC_EXPONENT) verifies SHA256_RSA_PKCS and SHA256_RSA_PKCS_PSS (salt 32)
/// signatures; OpenSSL encryptions (PKCS#1 v1.5, OAEP SHA-256 with MGF1-SHA-256, OAEP with a
/// label) decrypt in the module.
#[test]
fn generated_rsa2048_interoperates_with_openssl() {
    let t = token("rsa-gen-ossl");
    let (pt, st) = rsa_pair_templates(2048, &[1, 0, 1]);
    let (public, private) = t
        .generate_pair(&Mech::new(CKM_RSA_PKCS_KEY_PAIR_GEN), &pt, &st)
        .ok_or_panic("C_GenerateKeyPair RSA-2048");
    let spki = rsa_spki_of(&t, public);
    let msg = b"message signed by a generated key";
    let sig = t
        .sign(&Mech::new(CKM_SHA256_RSA_PKCS), private, msg)
        .ok_or_panic("SHA256_RSA_PKCS");
    openssl_verifies(
        "SHA256_RSA_PKCS",
        &scratch_with(msg, &sig, &spki),
        "sha256",
        None,
    );
    let sig = t
        .sign(
            &pss(CKM_SHA256_RSA_PKCS_PSS, CKM_SHA256, CKG_MGF1_SHA256, 32),
            private,
            msg,
        )
        .ok_or_panic("SHA256_RSA_PKCS_PSS");
    openssl_verifies(
        "SHA256_RSA_PKCS_PSS salt 32",
        &scratch_with(msg, &sig, &spki),
        "sha256",
        Some(32),
    );

    let s = scratch_with(b"secret for the module", &[], &spki);
    for (m, opts) in [
        (Mech::new(CKM_RSA_PKCS), vec!["rsa_padding_mode:pkcs1"]),
        (
            oaep(CKM_SHA256, CKG_MGF1_SHA256, &[]),
            vec![
                "rsa_padding_mode:oaep",
                "rsa_oaep_md:sha256",
                "rsa_mgf1_md:sha256",
            ],
        ),
        (
            oaep(CKM_SHA256, CKG_MGF1_SHA256, b"ctx"),
            vec![
                "rsa_padding_mode:oaep",
                "rsa_oaep_md:sha256",
                "rsa_mgf1_md:sha256",
                "rsa_oaep_label:637478",
            ],
        ),
    ] {
        let mut args: Vec<String> = ["pkeyutl", "-encrypt", "-pubin", "-inkey"]
            .iter()
            .map(|x| x.to_string())
            .collect();
        args.extend([
            s.p("pub.der"),
            "-keyform".into(),
            "DER".into(),
            "-in".into(),
            s.p("msg.bin"),
            "-out".into(),
            s.p("c.bin"),
        ]);
        for o in &opts {
            args.extend(["-pkeyopt".to_string(), o.to_string()]);
        }
        let a: Vec<&str> = args.iter().map(|x| x.as_str()).collect();
        openssl(&a);
        let back = t
            .decrypt(&m, private, &s.read("c.bin"))
            .ok_or_panic(&format!("C_Decrypt of openssl {opts:?}"));
        assert_bytes(
            &format!("module decryption of openssl {opts:?}"),
            &back,
            b"secret for the module",
        );
    }
    // A ciphertext with a flipped bit: not the plaintext (OAEP: CKR_ENCRYPTED_DATA_INVALID).
    let mut c = s.read("c.bin");
    c[10] ^= 1;
    expect_err(
        "OAEP decryption of a corrupted ciphertext",
        t.decrypt(&oaep(CKM_SHA256, CKG_MGF1_SHA256, b"ctx"), private, &c),
        CKR_ENCRYPTED_DATA_INVALID,
    );
}

/// C_SignRecover and C_VerifyRecover refuse what they cannot do: a hashing mechanism
/// (CKR_MECHANISM_INVALID), a key without CKA_SIGN_RECOVER / CKA_VERIFY_RECOVER
/// (CKR_KEY_FUNCTION_NOT_PERMITTED), a damaged signature (CKR_SIGNATURE_INVALID).
#[test]
fn sign_recover_and_verify_recover_refusals() {
    let t = token("rsa-recover-refuse");
    let (public, private) = fixed_pair(&t);
    expect_err(
        "C_SignRecoverInit with CKM_SHA256_RSA_PKCS",
        t.sign_recover(&Mech::new(CKM_SHA256_RSA_PKCS), private, b"x"),
        CKR_MECHANISM_INVALID,
    );
    let no_recover = t.obj(&rsa_private_fixed().b(CKA_SIGN_RECOVER, false));
    expect_err(
        "C_SignRecoverInit with a key without CKA_SIGN_RECOVER",
        t.sign_recover(&Mech::new(CKM_RSA_PKCS), no_recover, b"x"),
        CKR_KEY_FUNCTION_NOT_PERMITTED,
    );
    let no_vr = t.obj(&rsa_public_fixed().b(CKA_VERIFY_RECOVER, false));
    let sig = t
        .sign_recover(&Mech::new(CKM_RSA_PKCS), private, b"data")
        .ok_or_panic("C_SignRecover");
    expect_err(
        "C_VerifyRecoverInit with a key without CKA_VERIFY_RECOVER",
        t.verify_recover(&Mech::new(CKM_RSA_PKCS), no_vr, &sig),
        CKR_KEY_FUNCTION_NOT_PERMITTED,
    );
    let mut bad = sig.clone();
    bad[100] ^= 1;
    expect_err(
        "C_VerifyRecover of a damaged signature",
        t.verify_recover(&Mech::new(CKM_RSA_PKCS), public, &bad),
        CKR_SIGNATURE_INVALID,
    );
    expect_err(
        "C_VerifyRecover of a short signature",
        t.verify_recover(&Mech::new(CKM_RSA_PKCS), public, &sig[1..]),
        CKR_SIGNATURE_LEN_RANGE,
    );
}
