//! The key-extraction battery (issue 10; PKCS#11 v3.0 §4.7 CKA_SENSITIVE / CKA_EXTRACTABLE and
//! every function that touches a key): keys of known value (AES-128/192/256, a generic secret,
//! RSA-2048 of fixed components, EC P-256 and Ed25519 of fixed scalars), created readable and
//! then marked sensitive and non-extractable (one AES key unwrapped straight into that state),
//! are attacked through every function and every mechanism the token lists. Every byte the
//! module returns (outputs, saved operation states, wrapped blobs, the attributes of every
//! object it creates) is scanned for any 8-byte window of the secrets (raw, reversed, and
//! XORed with the HMAC pads). Each test prints a summary line: cases tried, refused,
//! allowed-and-clean; and fails listing every leak or policy break of its area.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "extraction/attacks.rs"]
mod attacks;
mod common;
#[path = "extraction/harness.rs"]
mod harness;
#[path = "extraction/keys.rs"]
mod keys;
#[path = "extraction/ops.rs"]
mod ops;
#[path = "extraction/table.rs"]
mod table;

use harness::Battery;
use table::*;

/// Every mechanism the token lists has a family in the battery's table, and every function
/// flag C_GetMechanismInfo gives it is one the family's tries cover.
#[test]
fn every_listed_mechanism_has_a_case() {
    let mut b = Battery::new("mechanism table");
    let list = b.t.mechanism_list().expect("C_GetMechanismList");
    assert!(!list.is_empty(), "the token lists no mechanism");
    for m in list {
        b.tried += 1;
        let info = match b.t.mechanism_info(m) {
            Ok(i) => i,
            Err(rv) => {
                b.fail(
                    &name(m),
                    format!(
                        "listed, but C_GetMechanismInfo fails with {}",
                        common::rv_name(rv)
                    ),
                );
                continue;
            }
        };
        let Some(f) = family(m) else {
            b.fail(
                &name(m),
                "NO CASE: the battery's table has no way to try this mechanism".into(),
            );
            continue;
        };
        let missing = info.flags & FUNCTION_FLAGS & !covered(f);
        if missing != 0 {
            b.fail(
                &name(m),
                format!(
                    "NO CASE: the battery does not try flags 0x{missing:x} of its {f:?} family"
                ),
            );
            continue;
        }
        b.clean += 1;
    }
    b.finish();
}

#[test]
fn digest_key_and_its_state() {
    let mut b = Battery::new("digest");
    ops::digest_keys(&mut b);
    b.finish();
}

#[test]
fn mac_and_sign_outputs_and_states() {
    let mut b = Battery::new("sign/MAC");
    ops::sign_and_mac(&mut b);
    b.finish();
}

#[test]
fn encrypt_decrypt_outputs_and_states() {
    let mut b = Battery::new("encrypt/decrypt");
    ops::encrypt_decrypt(&mut b);
    b.finish();
}

#[test]
fn sign_recover_and_verify_recover() {
    let mut b = Battery::new("recover");
    ops::recover(&mut b);
    b.finish();
}

#[test]
fn message_api() {
    let mut b = Battery::new("message API");
    ops::message_api(&mut b);
    b.finish();
}

#[test]
fn derive_into_readable_keys() {
    let mut b = Battery::new("derive");
    keys::derive_all(&mut b);
    b.finish();
}

#[test]
fn wrap_under_known_keys() {
    let mut b = Battery::new("wrap");
    keys::wrap_all(&mut b);
    b.finish();
}

#[test]
fn unwrap_chosen_blobs() {
    let mut b = Battery::new("unwrap");
    keys::unwrap_chosen(&mut b);
    b.finish();
}

#[test]
fn copy_and_set_attribute_keep_the_policy() {
    let mut b = Battery::new("copy/set");
    keys::copy_and_set(&mut b);
    b.finish();
}

#[test]
fn secret_attributes_are_unreadable() {
    let mut b = Battery::new("attributes");
    keys::read_attributes(&mut b);
    b.finish();
}

#[test]
fn find_by_a_sensitive_value() {
    let mut b = Battery::new("find");
    keys::find_by_value(&mut b);
    b.finish();
}

#[test]
fn always_authenticate_keys() {
    let mut b = Battery::new("always-authenticate");
    keys::always_authenticate(&mut b);
    b.finish();
}

#[test]
fn functions_a_key_forbids() {
    let mut b = Battery::new("usage");
    keys::usage_not_allowed(&mut b);
    b.finish();
}

#[test]
fn generated_keys_stay_sensitive() {
    let mut b = Battery::new("generation");
    keys::generated_keys(&mut b);
    b.finish();
}

#[test]
fn class_and_key_type_changes() {
    let mut b = Battery::new("class/type change");
    attacks::class_and_type_changes(&mut b);
    b.finish();
}

#[test]
fn saved_state_resumed_under_another_key() {
    let mut b = Battery::new("state key swap");
    attacks::state_with_substituted_key(&mut b);
    b.finish();
}

#[test]
fn ecdh_with_points_off_the_curve() {
    let mut b = Battery::new("ECDH invalid points");
    attacks::ecdh_invalid_points(&mut b);
    b.finish();
}

#[test]
fn ecdsa_nonces_do_not_repeat() {
    let mut b = Battery::new("ECDSA nonces");
    attacks::ecdsa_nonce_reuse(&mut b);
    b.finish();
}

#[test]
fn raw_rsa_unwrap_with_a_key_that_may_not_decrypt() {
    let mut b = Battery::new("raw RSA unwrap oracle");
    attacks::raw_rsa_unwrap_only_key(&mut b);
    b.finish();
}

/// The scan itself: it finds a window of a secret anywhere, in every registered form.
#[test]
fn the_scan_finds_what_it_looks_for() {
    let mut b = Battery::new("scan self-test");
    let key = common::p11::hx(harness::AES32);
    let mut blob = vec![0u8; 50];
    blob.extend_from_slice(&key[5..13]);
    assert!(b.find_secret(&blob).is_some(), "raw window");
    let rev: Vec<u8> = key.iter().rev().copied().collect();
    assert!(b.find_secret(&rev[3..11]).is_some(), "reversed window");
    let ipad: Vec<u8> = key.iter().map(|x| x ^ 0x36).collect();
    assert!(b.find_secret(&ipad).is_some(), "ipad window");
    assert!(
        b.find_secret(&key[..7]).is_none(),
        "7 bytes are not a window"
    );
    assert!(b.find_secret(&[0u8; 64]).is_none(), "zeros");
    b.tried = 1;
    b.clean = 1;
    b.finish();
}

#[test]
fn derived_copies_stay_protected() {
    let mut b = Battery::new("derive copies");
    keys::derive_copies(&mut b);
    b.finish();
}
