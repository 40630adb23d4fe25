//! Issue 11, keys prepared once per key object (PKCS#11 v3.0 §5.12-5.13 signing and
//! verification, §5.7.6 C_SetAttributeValue, §5.6.3 C_Logout): the module keeps each key
//! object's parsed engine key between operations, so these check what a cache could break.
//! Two keys never get each other's engine key, a key whose attributes change is judged by its
//! new attributes, and after logout and login the keys still work.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use cryptoki::error::RvError;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, ObjectHandle};
use cryptoki::session::{Session, UserType};

const MESSAGE: &[u8] = b"envelope of a data key";

/// A token key pair labelled `label`: (public, private).
fn pair(s: &Session, label: &str, rsa: bool) -> (ObjectHandle, ObjectHandle) {
    let (mech, mut public) = if rsa {
        (
            Mechanism::RsaPkcsKeyPairGen,
            vec![
                Attribute::ModulusBits(2048.into()),
                Attribute::PublicExponent(vec![1, 0, 1]),
            ],
        )
    } else {
        (
            Mechanism::EccKeyPairGen,
            vec![Attribute::EcParams(P256.to_vec())],
        )
    };
    public.extend([
        Attribute::Token(true),
        Attribute::Verify(true),
        Attribute::Label(format!("{label}-pub").into_bytes()),
    ]);
    let private = [
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Sign(true),
        Attribute::Label(format!("{label}-priv").into_bytes()),
    ];
    s.generate_key_pair(&mech, &public, &private)
        .expect("C_GenerateKeyPair")
}

fn mechanism(rsa: bool) -> Mechanism<'static> {
    if rsa {
        Mechanism::Sha256RsaPkcs
    } else {
        Mechanism::EcdsaSha256
    }
}

/// Sign with each private key twice (the second time from the prepared key) and check each
/// signature against every public key: only its own accepts it.
fn signatures_stay_apart(s: &Session, keys: &[(ObjectHandle, ObjectHandle)], rsa: bool) {
    let m = mechanism(rsa);
    for (i, (_, private)) in keys.iter().enumerate() {
        for round in 0..2 {
            let sig = s.sign(&m, *private, MESSAGE).expect("C_Sign");
            for (j, (public, _)) in keys.iter().enumerate() {
                let r = s.verify(&m, *public, MESSAGE, &sig);
                if i == j {
                    r.unwrap_or_else(|e| panic!("key {i}, round {round}: own signature: {e}"));
                } else {
                    expect_rv_for(
                        &format!("key {i}'s signature under key {j}, round {round}"),
                        r,
                        RvError::SignatureInvalid,
                    );
                }
            }
        }
    }
}

#[test]
fn two_keys_never_share_an_engine_key() {
    let _env = TestEnv::new();
    let ctx = load_module();
    let slot = init_token(&ctx, "cache-apart");
    let s = user_session(&ctx, slot);
    for rsa in [false, true] {
        let keys = [pair(&s, "a", rsa), pair(&s, "b", rsa)];
        signatures_stay_apart(&s, &keys, rsa);
    }
}

#[test]
fn a_changed_key_is_judged_by_its_new_attributes() {
    let _env = TestEnv::new();
    let ctx = load_module();
    let slot = init_token(&ctx, "cache-change");
    let s = user_session(&ctx, slot);
    for rsa in [false, true] {
        let (public, private) = pair(&s, "k", rsa);
        let (other_public, other_private) = pair(&s, "other", rsa);
        let m = mechanism(rsa);
        // Used once, so its engine key is prepared.
        let sig = s.sign(&m, private, MESSAGE).expect("C_Sign");
        s.verify(&m, public, MESSAGE, &sig).expect("C_Verify");
        // A change that does not touch the key material: the key still signs, as itself.
        s.update_attributes(private, &[Attribute::Label(b"renamed".to_vec())])
            .expect("relabel");
        let sig = s
            .sign(&m, private, MESSAGE)
            .expect("C_Sign after a relabel");
        s.verify(&m, public, MESSAGE, &sig)
            .expect("C_Verify after a relabel");
        // A change that forbids signing: refused from then on, whatever was prepared.
        s.update_attributes(private, &[Attribute::Sign(false)])
            .expect("CKA_SIGN false");
        expect_rv_for(
            "C_SignInit with a key whose CKA_SIGN was turned off",
            s.sign(&m, private, MESSAGE),
            RvError::KeyFunctionNotPermitted,
        );
        s.update_attributes(public, &[Attribute::Verify(false)])
            .expect("CKA_VERIFY false");
        expect_rv_for(
            "C_VerifyInit with a key whose CKA_VERIFY was turned off",
            s.verify(&m, public, MESSAGE, &sig),
            RvError::KeyFunctionNotPermitted,
        );
        // The other pair is untouched.
        let sig = s.sign(&m, other_private, MESSAGE).expect("other C_Sign");
        s.verify(&m, other_public, MESSAGE, &sig)
            .expect("other C_Verify");
    }
}

#[test]
fn keys_work_after_logout_and_login() {
    let _env = TestEnv::new();
    let ctx = load_module();
    let slot = init_token(&ctx, "cache-login");
    let s = user_session(&ctx, slot);
    for rsa in [false, true] {
        let keys = [pair(&s, "a", rsa), pair(&s, "b", rsa)];
        signatures_stay_apart(&s, &keys, rsa);
        s.logout().expect("C_Logout");
        // A private object is out of reach while logged out, prepared key or not.
        expect_rv_for(
            "C_SignInit with a private key while logged out",
            s.sign(&mechanism(rsa), keys[0].1, MESSAGE),
            RvError::KeyHandleInvalid,
        );
        s.login(UserType::User, Some(&pin(USER_PIN)))
            .expect("C_Login");
        let found = ["a", "b"].map(|l| {
            (
                one_by_label(&s, &format!("{l}-pub")),
                one_by_label(&s, &format!("{l}-priv")),
            )
        });
        signatures_stay_apart(&s, &found, rsa);
        for (public, private) in found {
            s.destroy_object(public).expect("destroy");
            s.destroy_object(private).expect("destroy");
        }
    }
}
