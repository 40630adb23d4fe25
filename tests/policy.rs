//! The per-token algorithm policy (issue 12, Deliver 1) through the built module: what a
//! `compat` token (the default) and a `strict` token (FIPS 140-3 approved set) allow for key
//! generation, import and use (PKCS#11 v3.0 §5.7, §5.8-5.14), what C_GetMechanismList and
//! C_GetMechanismInfo report (§5.5), and that the policy is kept in the token, authenticated.
//! The mechanisms of other families (DES, MD5) are named by type even where this build lacks
//! them: a strict token must refuse them either way.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::p11::*;
use common::*;
use cryptoki::error::{Error, RvError};
use cryptoki::session::UserType;
use cryptoki_sys::*;

/// An RSA-512 key (made with OpenSSL for this test) and a PKCS#1 v1.5 SHA-256 signature of
/// `MSG512` by it (Python `cryptography`).
const N512: &str = "9cc0b5ef21f347b4bd80ef4093a35555c3382e1414ce0c2f8316699bb0f4bf8ce2d9fdc4d5c128bcf1b74be32e42bb639d3ec83dcc4041b8fe6da0312979f735";
const D512: &str = "126f0b362afcec12d232467086ac2f8ddd5e4ef4e7996f8f6ad008ed593aff07884afd9e87984d0a229aabcbaf7ce5d7153a86fff15bd3429bf45ea13f1d6c25";
const P512: &str = "cb66398bbb1ab8270fb9a6a477056077b36d63ca3ce801732997361a7d97dc7b";
const Q512: &str = "c54a50adb866b59851c55d0535607444335f51b39f6de34082761125ba1c640f";
const DP512: &str = "953d1e400e3ade9f9a842767490522f0f12ff4263166319a240c14e07f026bfd";
const DQ512: &str = "53921c44ca34efbd7afde05e6172df2d3899aaf12c9a8ec5f7bd6d9c0e8f122f";
const QI512: &str = "1f8abc3a0d44399bb2fd0694fdbd0e7c5fc93228f4e9e35e47799a10afb339e0";
const MSG512: &[u8] = b"policy: a 512-bit key verifies on compat";
const SIG512: &str = "76c1e287b5c7a03130a4cad8e5dcd209beb3d7b55587cdd58f4ba6ac10eea1c3da2264d419e810c723c4b4e1c6d6a7ef700cdd62910978b1e62d4a59de3228b9";

const OID_P192: &str = "06082a8648ce3d030101";
const OID_SECP256K1: &str = "06052b8104000a";

/// The mechanisms a strict token must not have at all.
const DES_MD5: [CK_MECHANISM_TYPE; 10] = [
    CKM_DES_KEY_GEN,
    CKM_DES2_KEY_GEN,
    CKM_DES3_KEY_GEN,
    CKM_DES_CBC,
    CKM_DES3_ECB,
    CKM_DES3_CBC_PAD,
    CKM_MD5,
    CKM_MD5_HMAC,
    CKM_MD5_RSA_PKCS,
    CKM_DES3_CMAC,
];

fn rsa512_public() -> Tmpl {
    Tmpl::new()
        .u(CKA_CLASS, CKO_PUBLIC_KEY)
        .u(CKA_KEY_TYPE, CKK_RSA)
        .b(CKA_TOKEN, false)
        .b(CKA_VERIFY, true)
        .b(CKA_ENCRYPT, true)
        .bytes(CKA_MODULUS, hx(N512))
        .bytes(CKA_PUBLIC_EXPONENT, [1, 0, 1])
}

fn rsa512_private() -> Tmpl {
    Tmpl::new()
        .u(CKA_CLASS, CKO_PRIVATE_KEY)
        .u(CKA_KEY_TYPE, CKK_RSA)
        .b(CKA_TOKEN, false)
        .b(CKA_PRIVATE, true)
        .b(CKA_SIGN, true)
        .b(CKA_DECRYPT, true)
        .bytes(CKA_MODULUS, hx(N512))
        .bytes(CKA_PUBLIC_EXPONENT, [1, 0, 1])
        .bytes(CKA_PRIVATE_EXPONENT, hx(D512))
        .bytes(CKA_PRIME_1, hx(P512))
        .bytes(CKA_PRIME_2, hx(Q512))
        .bytes(CKA_EXPONENT_1, hx(DP512))
        .bytes(CKA_EXPONENT_2, hx(DQ512))
        .bytes(CKA_COEFFICIENT, hx(QI512))
}

/// A fresh token made under `policy` (C_InitToken takes the configured default).
fn token_with(policy: &str, label: &str) -> Tok {
    std::env::set_var("FERROHSM_DEFAULT_POLICY", policy);
    token(label)
}

fn slot_description(t: &Tok) -> String {
    let info = t.ctx.get_slot_info(t.slot).expect("C_GetSlotInfo");
    info.slot_description().trim_end().to_string()
}

#[test]
fn compat_is_the_default_and_reports_the_real_rsa_ranges() {
    let t = token("compat-ranges");
    assert!(
        slot_description(&t).ends_with("policy=compat"),
        "{}",
        slot_description(&t)
    );
    let gen = t.mechanism_info(CKM_RSA_PKCS_KEY_PAIR_GEN).unwrap();
    assert_eq!((gen.ulMinKeySize, gen.ulMaxKeySize), (1024, 4096));
    for m in [
        CKM_RSA_PKCS,
        CKM_SHA256_RSA_PKCS,
        CKM_RSA_PKCS_OAEP,
        CKM_SHA1_RSA_PKCS,
    ] {
        let i = t.mechanism_info(m).unwrap();
        assert_eq!((i.ulMinKeySize, i.ulMaxKeySize), (1024, 4096), "{m:#x}");
    }
    let sha1 = t.mechanism_info(CKM_SHA1_RSA_PKCS).unwrap();
    assert_ne!(sha1.flags & CKF_SIGN, 0, "compat signs with SHA-1");
}

#[test]
fn compat_generates_and_uses_rsa_1024() {
    let t = token("compat-1024");
    let (pt, st) = rsa_pair_templates(1024, &[1, 0, 1]);
    let (public, private) = t
        .generate_pair(&Mech::new(CKM_RSA_PKCS_KEY_PAIR_GEN), &pt, &st)
        .expect("RSA-1024 generation on a compat token");
    assert_eq!(t.get(public, CKA_MODULUS).len(), 128);
    let msg = b"a legacy suite's RSA-1024 key";
    for m in [CKM_SHA256_RSA_PKCS, CKM_SHA1_RSA_PKCS] {
        let sig = t.sign(&Mech::new(m), private, msg).expect("sign");
        t.verify(&Mech::new(m), public, msg, &sig).expect("verify");
    }
    let c = t.encrypt(&Mech::new(CKM_RSA_PKCS), public, msg).unwrap();
    assert_eq!(
        t.decrypt(&Mech::new(CKM_RSA_PKCS), private, &c).unwrap(),
        msg
    );
    let o = oaep(CKM_SHA256, CKG_MGF1_SHA256, b"");
    let c = t.encrypt(&o, public, msg).unwrap();
    assert_eq!(t.decrypt(&o, private, &c).unwrap(), msg);
}

#[test]
fn compat_takes_rsa_512_for_public_key_use_only() {
    let t = token("compat-512");
    let public = t
        .create(&rsa512_public())
        .expect("RSA-512 public key import");
    t.verify(&Mech::new(CKM_SHA256_RSA_PKCS), public, MSG512, &hx(SIG512))
        .expect("OpenSSL's RSA-512 signature verifies");
    let c = t
        .encrypt(&Mech::new(CKM_RSA_PKCS), public, b"short")
        .unwrap();
    assert_eq!(c.len(), 64);
    // The private half imports, but no private-key operation takes it.
    let private = t
        .create(&rsa512_private())
        .expect("RSA-512 private key import");
    expect_err(
        "C_SignInit with RSA-512",
        t.sign_init(&Mech::new(CKM_SHA256_RSA_PKCS), private),
        CKR_KEY_SIZE_RANGE,
    );
    expect_err(
        "C_DecryptInit with RSA-512",
        t.decrypt_init(&Mech::new(CKM_RSA_PKCS), private),
        CKR_KEY_SIZE_RANGE,
    );
    for bits in [512, 1023] {
        let (pt, st) = rsa_pair_templates(bits, &[1, 0, 1]);
        expect_err(
            &format!("RSA-{bits} generation"),
            t.generate_pair(&Mech::new(CKM_RSA_PKCS_KEY_PAIR_GEN), &pt, &st),
            CKR_KEY_SIZE_RANGE,
        );
    }
}

#[test]
fn strict_refuses_small_rsa_keys() {
    let t = token_with("strict", "strict-rsa");
    assert!(
        slot_description(&t).ends_with("policy=strict"),
        "{}",
        slot_description(&t)
    );
    for bits in [1024, 2047] {
        let (pt, st) = rsa_pair_templates(bits, &[1, 0, 1]);
        expect_err(
            &format!("RSA-{bits} generation on strict"),
            t.generate_pair(&Mech::new(CKM_RSA_PKCS_KEY_PAIR_GEN), &pt, &st),
            CKR_KEY_SIZE_RANGE,
        );
    }
    expect_err(
        "RSA-512 public import on strict",
        t.create(&rsa512_public()),
        CKR_KEY_SIZE_RANGE,
    );
    expect_err(
        "RSA-512 private import on strict",
        t.create(&rsa512_private()),
        CKR_KEY_SIZE_RANGE,
    );
    // 2048 bits is fine, and the fixed RSA-2048 key imports.
    let public = t.obj(&rsa_public_fixed());
    let private = t.obj(&rsa_private_fixed());
    let sig = t
        .sign(&Mech::new(CKM_SHA256_RSA_PKCS), private, b"m")
        .unwrap();
    t.verify(&Mech::new(CKM_SHA256_RSA_PKCS), public, b"m", &sig)
        .unwrap();
    let gen = t.mechanism_info(CKM_RSA_PKCS_KEY_PAIR_GEN).unwrap();
    assert_eq!((gen.ulMinKeySize, gen.ulMaxKeySize), (2048, 4096));
    let pkcs = t.mechanism_info(CKM_RSA_PKCS).unwrap();
    assert_eq!(pkcs.ulMinKeySize, 2048);
}

#[test]
fn strict_refuses_sha1_signatures_but_verifies_them() {
    let t = token_with("strict", "strict-sha1");
    let public = t.obj(&rsa_public_fixed());
    let private = t.obj(&rsa_private_fixed());
    for m in [CKM_SHA1_RSA_PKCS, CKM_SHA1_RSA_PKCS_PSS] {
        expect_err(
            &format!("C_SignInit {m:#x} on strict"),
            t.sign_init(&pss_or_plain(m), private),
            CKR_MECHANISM_INVALID,
        );
        let info = t.mechanism_info(m).expect("listed for verification");
        assert_eq!(info.flags & (CKF_SIGN | CKF_SIGN_RECOVER), 0, "{m:#x}");
        assert_ne!(info.flags & CKF_VERIFY, 0, "{m:#x}");
    }
    // A SHA-1 signature made before still verifies (legacy use). Made here through raw
    // CKM_RSA_PKCS over a SHA-1 DigestInfo: the same bytes CKM_SHA1_RSA_PKCS would sign.
    let mut info = hx("3021300906052b0e03021a05000414");
    info.extend(t.digest(&Mech::new(CKM_SHA_1), b"old").unwrap());
    let sig = t.sign(&Mech::new(CKM_RSA_PKCS), private, &info).unwrap();
    t.verify(&Mech::new(CKM_SHA1_RSA_PKCS), public, b"old", &sig)
        .expect("SHA-1 verification on strict");
    // ECDSA with SHA-1 likewise; HMAC-SHA-1 and SHA-1 digests are approved.
    let (ept, est) = ec_pair_templates(&hx(OID_P256));
    let (_, ek) = t
        .generate_pair(&Mech::new(CKM_EC_KEY_PAIR_GEN), &ept, &est)
        .expect("P-256 on strict");
    let r = t.sign_init(&Mech::new(CKM_ECDSA_SHA1), ek);
    assert_eq!(
        r.err(),
        Some(CKR_MECHANISM_INVALID),
        "CKM_ECDSA_SHA1 sign on strict"
    );
    let mac = t.obj(&secret(CKK_GENERIC_SECRET, &[9; 32]).b(CKA_SIGN, true));
    t.sign(&Mech::new(CKM_SHA_1_HMAC), mac, b"m")
        .expect("HMAC-SHA-1 on strict");
    t.digest(&Mech::new(CKM_SHA_1), b"m")
        .expect("SHA-1 digest on strict");
}

fn pss_or_plain(m: CK_MECHANISM_TYPE) -> Mech {
    if m == CKM_SHA1_RSA_PKCS_PSS {
        pss(m, CKM_SHA_1, CKG_MGF1_SHA1, 20)
    } else {
        Mech::new(m)
    }
}

#[test]
fn strict_has_no_des_or_md5() {
    let t = token_with("strict", "strict-des");
    let list = t.mechanism_list().unwrap();
    let aes = t.obj(&aes(&[1; 16]).b(CKA_ENCRYPT, true).b(CKA_SIGN, true));
    for m in DES_MD5 {
        assert!(!list.contains(&m), "{m:#x} listed on strict");
        expect_err(
            &format!("C_GetMechanismInfo {m:#x}"),
            t.mechanism_info(m),
            CKR_MECHANISM_INVALID,
        );
    }
    for m in [CKM_DES_KEY_GEN, CKM_DES2_KEY_GEN, CKM_DES3_KEY_GEN] {
        expect_err(
            &format!("C_GenerateKey {m:#x}"),
            t.generate_key(&Mech::new(m), &Tmpl::new().b(CKA_TOKEN, false)),
            CKR_MECHANISM_INVALID,
        );
    }
    expect_err(
        "C_DigestInit CKM_MD5",
        t.digest_init_in(t.h, &Mech::new(CKM_MD5)),
        CKR_MECHANISM_INVALID,
    );
    expect_err(
        "C_EncryptInit CKM_DES3_ECB",
        t.encrypt_init(&Mech::new(CKM_DES3_ECB), aes),
        CKR_MECHANISM_INVALID,
    );
    expect_err(
        "C_SignInit CKM_MD5_HMAC",
        t.sign_init(&Mech::new(CKM_MD5_HMAC), aes),
        CKR_MECHANISM_INVALID,
    );
    // Strict keeps AES and SHA-2.
    for m in [
        CKM_AES_KEY_GEN,
        CKM_AES_GCM,
        CKM_SHA256,
        CKM_SHA256_HMAC,
        CKM_EC_KEY_PAIR_GEN,
    ] {
        assert!(list.contains(&m), "{m:#x} missing on strict");
    }
}

#[test]
fn strict_refuses_curves_below_p224_and_outside_the_approved_set() {
    let t = token_with("strict", "strict-curves");
    for oid in [OID_P192, OID_SECP256K1] {
        let (pt, st) = ec_pair_templates(&hx(oid));
        expect_err(
            &format!("EC key generation on {oid}"),
            t.generate_pair(&Mech::new(CKM_EC_KEY_PAIR_GEN), &pt, &st),
            CKR_CURVE_NOT_SUPPORTED,
        );
    }
    for oid in [OID_P256, OID_P384] {
        let (pt, st) = ec_pair_templates(&hx(oid));
        t.generate_pair(&Mech::new(CKM_EC_KEY_PAIR_GEN), &pt, &st)
            .unwrap_or_else(|rv| panic!("{oid} on strict: {}", rvn(rv)));
    }
    let (pt, st) = ec_pair_templates(&hx(OID_ED25519));
    t.generate_pair(&Mech::new(CKM_EC_EDWARDS_KEY_PAIR_GEN), &pt, &st)
        .expect("Ed25519 on strict");
    let ecdsa = t.mechanism_info(CKM_ECDSA).unwrap();
    assert!(
        ecdsa.ulMinKeySize >= 224,
        "ECDSA from {} bits",
        ecdsa.ulMinKeySize
    );
}

#[test]
fn the_policy_survives_a_restart_and_a_reinitialization_sets_it_again() {
    let env = TestEnv::new();
    std::env::set_var("FERROHSM_DEFAULT_POLICY", "strict");
    let ctx = load_module();
    let slot = init_token(&ctx, "kept");
    let ctx = restart(ctx);
    std::env::remove_var("FERROHSM_DEFAULT_POLICY");
    // The module now defaults to compat; the token stays strict.
    let ctx = restart(ctx);
    let desc = ctx
        .get_slot_info(slot)
        .unwrap()
        .slot_description()
        .trim_end()
        .to_string();
    assert!(desc.ends_with("policy=strict"), "{desc}");
    let gen = ctx
        .get_mechanism_info(
            slot,
            cryptoki::mechanism::MechanismType::RSA_PKCS_KEY_PAIR_GEN,
        )
        .unwrap();
    assert_eq!(gen.min_key_size(), 2048);
    // The free slot shows what C_InitToken will make now.
    let free = free_slot(&ctx);
    let free_gen = ctx
        .get_mechanism_info(
            free,
            cryptoki::mechanism::MechanismType::RSA_PKCS_KEY_PAIR_GEN,
        )
        .unwrap();
    assert_eq!(free_gen.min_key_size(), 1024);
    // Re-initialized under the compat default, the token is compat.
    ctx.init_token(slot, &pin(SO_PIN), "kept")
        .expect("re-initialize");
    let desc = ctx
        .get_slot_info(slot)
        .unwrap()
        .slot_description()
        .trim_end()
        .to_string();
    assert!(desc.ends_with("policy=compat"), "{desc}");
    let ctx = restart(ctx);
    let gen = ctx
        .get_mechanism_info(
            slot,
            cryptoki::mechanism::MechanismType::RSA_PKCS_KEY_PAIR_GEN,
        )
        .unwrap();
    assert_eq!(gen.min_key_size(), 1024);
    drop(env);
}

#[test]
fn default_policy_comes_from_the_configuration() {
    let _env = TestEnv::with_config("default_policy = \"strict\"");
    std::env::remove_var("FERROHSM_DEFAULT_POLICY");
    let ctx = load_module();
    let slot = init_token(&ctx, "configured");
    let desc = ctx
        .get_slot_info(slot)
        .unwrap()
        .slot_description()
        .trim_end()
        .to_string();
    assert!(desc.ends_with("policy=strict"), "{desc}");
}

#[test]
fn a_bad_policy_name_fails_initialization() {
    let _env = TestEnv::with_config("default_policy = \"fips\"");
    let ctx = cryptoki::context::Pkcs11::new(module_path()).unwrap();
    let r = ctx.initialize(cryptoki::context::CInitializeArgs::new(
        cryptoki::context::CInitializeFlags::OS_LOCKING_OK,
    ));
    assert!(r.is_err(), "C_Initialize took default_policy = \"fips\"");
}

/// Rewrite one meta row of a token file behind the module's back.
fn set_meta(file: &std::path::Path, key: &str, value: &[u8]) {
    let db = rusqlite::Connection::open(file).expect("open token database");
    let n = db
        .execute(
            "INSERT OR REPLACE INTO meta(key, value) VALUES (?1, ?2)",
            rusqlite::params![key, value],
        )
        .expect("tamper");
    assert_eq!(n, 1);
}

fn delete_meta(file: &std::path::Path, key: &str) {
    let db = rusqlite::Connection::open(file).expect("open token database");
    db.execute("DELETE FROM meta WHERE key = ?1", [key])
        .expect("tamper");
}

/// A strict token with a private object on it, its file, finalized.
fn strict_token_file(env: &TestEnv) -> std::path::PathBuf {
    std::env::set_var("FERROHSM_DEFAULT_POLICY", "strict");
    let ctx = load_module();
    let slot = init_token(&ctx, "edited");
    let serial = serial_of(&ctx, slot);
    let s = user_session(&ctx, slot);
    s.create_object(&data_object("private", b"value", true, true))
        .expect("object");
    drop(s);
    ctx.finalize().expect("C_Finalize");
    std::env::remove_var("FERROHSM_DEFAULT_POLICY");
    env.token_file(&serial)
}

/// Whether a login to the token labelled "edited" and a search report the damage.
fn damage_detected() -> bool {
    const DAMAGE: [RvError; 2] = [RvError::DeviceError, RvError::TokenNotRecognized];
    let ctx = load_module();
    let Some(slot) = ctx.get_all_slots().unwrap().into_iter().find(|s| {
        ctx.get_token_info(*s)
            .is_ok_and(|i| i.token_initialized() && i.label() == "edited")
    }) else {
        // The file no longer opens as a token at all.
        return true;
    };
    let s = ctx.open_rw_session(slot).expect("session");
    match s.login(UserType::User, Some(&pin(USER_PIN))) {
        Err(Error::Pkcs11(code, _)) if DAMAGE.contains(&code) => return true,
        Err(e) => panic!("login: {e:?}"),
        Ok(()) => {}
    }
    matches!(s.find_objects(&[]), Err(Error::Pkcs11(code, _)) if DAMAGE.contains(&code))
}

#[test]
fn an_edited_policy_row_is_detected() {
    for edit in ["compat", "delete", "garbage"] {
        let env = TestEnv::sqlite();
        let file = strict_token_file(&env);
        match edit {
            "delete" => delete_meta(&file, "policy"),
            "garbage" => set_meta(&file, "policy", b"lax"),
            v => set_meta(&file, "policy", v.as_bytes()),
        }
        assert!(damage_detected(), "policy row edit {edit:?} went unnoticed");
    }
    // Unedited, the same steps find no damage.
    let env = TestEnv::sqlite();
    strict_token_file(&env);
    assert!(!damage_detected(), "an untouched token reported as damaged");
}

#[test]
fn a_file_from_before_policies_is_compat_and_still_authenticates() {
    // The schema-1 fixture has no policy row; its migration at login seals the meta rows as
    // they are, and the token reads as compat before and after.
    let env = TestEnv::sqlite();
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/v1-token.sqlite");
    std::fs::copy(&src, env.token_file("a286a1e1a2cf9e31")).expect("copy the fixture");
    for _ in 0..2 {
        let ctx = load_module();
        let slot = slot_by_label(&ctx, "v1-fixture");
        let desc = ctx
            .get_slot_info(slot)
            .unwrap()
            .slot_description()
            .trim_end()
            .to_string();
        assert!(desc.ends_with("policy=compat"), "{desc}");
        let s = user_session(&ctx, slot);
        assert!(!s.find_objects(&[]).expect("objects").is_empty());
        drop(s);
        ctx.finalize().unwrap();
    }
}
