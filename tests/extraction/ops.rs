//! The battery's tries through the cryptographic functions (PKCS#11 v3.0 §5.8-§5.14, §5.6
//! operation state): digests of keys, MACs and signatures, encryption and decryption, the
//! message API and sign/verify-recover, each with C_GetOperationState in the middle. Outputs are
//! allowed; every byte of them and of every saved state is scanned for the targets' secrets.

use crate::harness::*;
use crate::table::*;
use cryptoki_sys::*;

const DATA: &[u8] = b"0123456789abcdef0123456789abcdef";

/// Mechanisms the token lists whose family is one of `fams`.
pub fn listed(b: &Battery, fams: &[Fam]) -> Vec<CK_MECHANISM_TYPE> {
    let list = b.t.mechanism_list().unwrap_or_default();
    list.into_iter()
        .filter(|m| family(*m).is_some_and(|f| fams.contains(&f)))
        .collect()
}

/// Digest every key: C_DigestKey then C_GetOperationState, C_DigestFinal; also with data
/// before and after the key (the partial block then holds part of the key).
pub fn digest_keys(b: &mut Battery) {
    for m in listed(b, &[Fam::Digest]) {
        for t in b.of(None) {
            for (shape, before, after) in [
                ("key", &b""[..], &b""[..]),
                ("data+key", &b"abc"[..], &b""[..]),
                ("key+data", &b""[..], &b"xyz"[..]),
            ] {
                let what = format!("C_DigestKey({}, {}) [{shape}]", name(m), t.name);
                let mech = crate::common::p11::Mech::new(m);
                if let Err(rv) = b.init(Init::Digest, &mech, 0) {
                    b.fail(&what, format!("C_DigestInit failed: {}", rv_name(rv)));
                    continue;
                }
                if !before.is_empty() {
                    let _ = b.update(Init::Digest, before);
                }
                let r = b.digest_key(t.h);
                if r.is_err() {
                    b.outcome(&what, r.map(|()| Vec::new()));
                    b.recycle();
                    continue;
                }
                if !after.is_empty() {
                    let _ = b.update(Init::Digest, after);
                }
                let st = b.state();
                b.outcome(&format!("{what}: C_GetOperationState"), st.clone());
                if let Ok(st) = st {
                    // The saved state restored in another session must not hand it out either.
                    restore_and_finish(b, &what, &st);
                }
                let fin = b.final_(Init::Digest);
                b.outcome(&format!("{what}: C_DigestFinal"), fin);
                b.recycle();
            }
        }
    }
}

/// C_SetOperationState of a saved state in a fresh session, then C_GetOperationState again:
/// what comes back is scanned too.
fn restore_and_finish(b: &mut Battery, what: &str, st: &[u8]) {
    let keep = b.w;
    b.w = b.t.open_session();
    let r = b.t.set_operation_state(b.w, st);
    if r.is_ok() {
        let again = b.state();
        b.outcome(&format!("{what}: state restored, saved again"), again);
    }
    let _ = b.t.close(b.w);
    b.w = keep;
}

/// A multi-part operation of `which` with `m` on every target: init, update, the saved
/// state, final; then the single-part call. Returns nothing: outcomes are recorded.
fn multi_and_single(b: &mut Battery, which: Init, m: CK_MECHANISM_TYPE, kinds: Option<Kind>) {
    for t in b.of(kinds) {
        for mech in params(m, DATA.len()) {
            let what = format!("{which:?}({}, {})", name(m), t.name);
            match b.init(which, &mech, t.h) {
                Err(rv) => {
                    b.outcome(&format!("{what}: init"), Err(rv));
                }
                Ok(()) => {
                    let u = b.update(which, DATA);
                    b.outcome(&format!("{what}: update"), u);
                    let st = b.state();
                    b.outcome(&format!("{what}: C_GetOperationState"), st.clone());
                    if let Ok(st) = st {
                        restore_and_finish(b, &what, &st);
                    }
                    let f = b.final_(which);
                    b.outcome(&format!("{what}: final"), f);
                }
            }
            b.recycle();
            if b.init(which, &mech, t.h).is_ok() {
                let st = b.state();
                b.outcome(&format!("{what}: C_GetOperationState right after init"), st);
                let out = b.single(which, DATA);
                b.outcome(&format!("{what}: single-part"), out);
            }
            b.recycle();
        }
    }
}

/// Every MAC and signature mechanism with every target (refusals of the wrong key type are
/// refusals like any other).
pub fn sign_and_mac(b: &mut Battery) {
    for m in listed(
        b,
        &[
            Fam::AesMac,
            Fam::Hmac,
            Fam::RsaSign,
            Fam::EcSign,
            Fam::EdSign,
            Fam::RsaCipher,
        ],
    ) {
        multi_and_single(b, Init::Sign, m, None);
        multi_and_single(b, Init::Verify, m, None);
    }
}

/// Every cipher with every target, both directions.
pub fn encrypt_decrypt(b: &mut Battery) {
    for m in listed(b, &[Fam::AesCipher, Fam::RsaCipher]) {
        multi_and_single(b, Init::Encrypt, m, None);
        multi_and_single(b, Init::Decrypt, m, None);
    }
}

/// C_SignRecover / C_VerifyRecover with every mechanism that claims them.
pub fn recover(b: &mut Battery) {
    for m in b.t.mechanism_list().unwrap_or_default() {
        let flags = b.t.mechanism_info(m).map(|i| i.flags).unwrap_or(0);
        if flags & (CKF_SIGN_RECOVER | CKF_VERIFY_RECOVER) == 0 {
            continue;
        }
        for t in b.of(None) {
            for which in [Init::SignRecover, Init::VerifyRecover] {
                for mech in params(m, DATA.len()) {
                    let what = format!("{which:?}({}, {})", name(m), t.name);
                    let r = b.init(which, &mech, t.h).and_then(|()| {
                        // 256 bytes: a full RSA block for verify-recover.
                        let data = if which == Init::VerifyRecover {
                            vec![0x01; 256]
                        } else {
                            DATA.to_vec()
                        };
                        b.single(which, &data)
                    });
                    b.outcome(&what, r);
                    b.recycle();
                }
            }
        }
    }
}

/// The message API (v3.0 §5.11-§5.15) with every mechanism that claims it.
pub fn message_api(b: &mut Battery) {
    for m in b.t.mechanism_list().unwrap_or_default() {
        let flags = b.t.mechanism_info(m).map(|i| i.flags).unwrap_or(0);
        if flags & (CKF_MESSAGE_ENCRYPT | CKF_MESSAGE_DECRYPT | CKF_MESSAGE_SIGN) == 0 {
            continue;
        }
        let Some(_) = message_params(m, DATA.len()) else {
            b.fail(
                &name(m),
                "NO CASE: the battery has no message parameters for it".into(),
            );
            continue;
        };
        for t in b.of(None) {
            let what = format!("C_MessageEncryptInit({}, {})", name(m), t.name);
            let init = b.init(Init::MessageEncrypt, &crate::common::p11::Mech::new(m), t.h);
            if let Err(rv) = init {
                b.outcome(&what, Err(rv));
                b.recycle();
                continue;
            }
            for i in 0..2 {
                let Some(p) = message_params(m, DATA.len()) else {
                    break;
                };
                let out = b.encrypt_message(&p, DATA);
                b.outcome(&format!("{what}: message {i}"), out);
            }
            let st = b.state();
            b.outcome(&format!("{what}: C_GetOperationState"), st);
            b.recycle();
            let what = format!("C_MessageDecryptInit({}, {})", name(m), t.name);
            let init = b.init(Init::MessageDecrypt, &crate::common::p11::Mech::new(m), t.h);
            b.outcome(&what, init.map(|()| Vec::new()));
            let st = b.state();
            b.outcome(&format!("{what}: C_GetOperationState"), st);
            b.recycle();
        }
    }
}

pub fn rv_name(rv: CK_RV) -> String {
    crate::common::rv_name(rv)
}
