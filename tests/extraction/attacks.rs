//! The battery's known attack shapes beyond one call per function (PKCS#11 v3.0 §5.6 operation
//! state, §5.7 objects, §6.3 ECDH, §6.3 ECDSA): changing a key's class or type so another
//! class's rules let its value out, resuming a saved operation under a substituted key that
//! forbids the operation, ECDH with points off the curve (the invalid-curve attack recovers the
//! scalar), ECDSA signatures sharing a nonce (recovers the scalar), and raw RSA unwrap with a
//! key that may neither sign nor decrypt.

use crate::common::keys as fixed;
use crate::common::p11::*;
use crate::harness::*;
use crate::ops::listed;
use crate::table::*;
use cryptoki_sys::*;

/// CKA_CLASS / CKA_KEY_TYPE changed by C_SetAttributeValue or C_CopyObject: refused, or at the
/// least the value stays unreadable.
pub fn class_and_type_changes(b: &mut Battery) {
    for t in b.of(None) {
        let other_type = if t.kind == Kind::Aes {
            CKK_GENERIC_SECRET
        } else {
            CKK_AES
        };
        let asks = [
            ("CLASS=DATA", Tmpl::new().u(CKA_CLASS, CKO_DATA)),
            ("CLASS=SECRET_KEY", Tmpl::new().u(CKA_CLASS, CKO_SECRET_KEY)),
            ("KEY_TYPE changed", Tmpl::new().u(CKA_KEY_TYPE, other_type)),
            ("PRIVATE=false", Tmpl::new().b(CKA_PRIVATE, false)),
            ("TOKEN=true", Tmpl::new().b(CKA_TOKEN, true)),
        ];
        for (shape, tmpl) in asks {
            let what = format!("C_CopyObject({}, {shape})", t.name);
            b.tried += 1;
            match b.copy(t.h, &tmpl) {
                Err(_) => b.refused += 1,
                Ok(h) => {
                    b.tried -= 1;
                    let v = b.attr(h, CKA_VALUE);
                    if v.is_ok() {
                        b.fail(&what, "the copy's CKA_VALUE is readable".into());
                    }
                    b.dump_and_destroy(&what, h);
                }
            }
            if shape == "TOKEN=true" {
                continue; // CKA_TOKEN is read-only after creation: nothing to learn from a set
            }
            let what = format!("C_SetAttributeValue({}, {shape})", t.name);
            let r = b.set(t.h, &tmpl);
            let v = b.attr(t.h, CKA_VALUE);
            if r.is_ok() && v.is_ok() {
                b.fail(
                    &what,
                    "the change was accepted and CKA_VALUE became readable".into(),
                );
            }
            b.outcome(&what, v);
        }
    }
    b.recycle();
}

/// A saved operation resumed with C_SetOperationState naming another key: the module must not
/// run the operation with a key that forbids it (a decryption or MAC oracle on a key without
/// CKA_DECRYPT / CKA_SIGN), whatever the state says.
pub fn state_with_substituted_key(b: &mut Battery) {
    let known_aes = b.t.obj(&aes(&[0x31; 32]));
    let known_gen = b.t.obj(&secret(CKK_GENERIC_SECRET, &[0x32; 32]));
    let forbid = |t: Tmpl| {
        t.b(CKA_ENCRYPT, false)
            .b(CKA_DECRYPT, false)
            .b(CKA_SIGN, false)
            .b(CKA_VERIFY, false)
            .b(CKA_SENSITIVE, true)
            .b(CKA_EXTRACTABLE, false)
    };
    let no_aes = b.t.obj(&forbid(aes(&hx(AES32))));
    let no_gen = b.t.obj(&forbid(secret(CKK_GENERIC_SECRET, &hx(GENERIC48))));
    let block = [0x5au8; 32];
    let cases = [
        (
            "decrypt AES-ECB",
            Init::Decrypt,
            Mech::new(CKM_AES_ECB),
            known_aes,
            no_aes,
            true,
        ),
        (
            "encrypt AES-CBC",
            Init::Encrypt,
            Mech::bytes(CKM_AES_CBC, &[0; 16]),
            known_aes,
            no_aes,
            true,
        ),
        (
            "sign HMAC-SHA256",
            Init::Sign,
            Mech::new(CKM_SHA256_HMAC),
            known_gen,
            no_gen,
            false,
        ),
        (
            "sign AES-CMAC",
            Init::Sign,
            Mech::new(CKM_AES_CMAC),
            known_aes,
            no_aes,
            false,
        ),
    ];
    for (shape, which, mech, known, forbidden, is_cipher) in cases {
        let what =
            format!("C_SetOperationState({shape} state, key swapped for one that forbids it)");
        if b.init(which, &mech, known).is_err() {
            b.fail(&what, "set-up: init with the known key failed".into());
            continue;
        }
        let _ = b.update(which, &block[..16]);
        let expected = b.final_(which);
        b.recycle();
        let _ = b.init(which, &mech, known);
        let _ = b.update(which, &block[..16]);
        let state = b.state();
        let Some(state) = b.outcome(&format!("{what}: the saved state"), state) else {
            b.recycle();
            continue;
        };
        let s2 = b.t.open_session();
        let mut st = state.clone();
        let (enc, auth) = if is_cipher {
            (forbidden, CK_INVALID_HANDLE)
        } else {
            (CK_INVALID_HANDLE, forbidden)
        };
        let rv = call!(
            b,
            C_SetOperationState(s2, st.as_mut_ptr(), st.len() as CK_ULONG, enc, auth)
        );
        b.tried += 1;
        if rv != CKR_OK {
            b.refused += 1;
        } else {
            let keep = b.w;
            b.w = s2;
            let out = b.final_(which);
            b.w = keep;
            match (&out, &expected) {
                (Ok(o), Ok(e)) if o == e => b.clean += 1,
                (Ok(o), _) => {
                    b.fail(&what, "the operation ran under the substituted key".into());
                    b.scan(&what, o);
                }
                (Err(_), _) => b.refused += 1,
            }
        }
        let _ = b.t.close(s2);
        b.recycle();
    }
}

/// ECDH with public points that are not on the target's curve (or the point at infinity):
/// refused. Accepting them lets a caller learn the private scalar modulo small primes.
pub fn ecdh_invalid_points(b: &mut Battery) {
    let raw = hx(fixed::EC_POINT)[2..].to_vec();
    let mut off = raw.clone();
    let last = off.len() - 1;
    off[last] ^= 1;
    let mut zero_y = raw.clone();
    for x in &mut zero_y[33..] {
        *x = 0;
    }
    let points: Vec<(&str, Vec<u8>)> = vec![
        ("y+1 (off the curve)", off),
        ("y = 0 (off the curve)", zero_y),
        ("the point at infinity", vec![0]),
        ("x = 0, y = 0", {
            let mut v = vec![4u8];
            v.extend([0u8; 64]);
            v
        }),
    ];
    for m in listed(b, &[Fam::EcDerive]) {
        for t in b.of(Some(Kind::Ec)) {
            for (shape, p) in &points {
                let what = format!("C_DeriveKey({}, base {}, peer {shape})", name(m), t.name);
                let mech = ecdh(m, CKD_NULL, &[], p);
                b.tried += 1;
                match b.derive(
                    &mech,
                    t.h,
                    &new_secret(CKK_GENERIC_SECRET, Some(32))
                        .b(CKA_SENSITIVE, false)
                        .b(CKA_EXTRACTABLE, true),
                ) {
                    Err(_) => b.refused += 1,
                    Ok(h) => {
                        b.tried -= 1;
                        b.fail(
                            &what,
                            "ECDH accepted a point that is not on the curve".into(),
                        );
                        b.dump_and_destroy(&what, h);
                    }
                }
            }
        }
    }
    b.recycle();
}

/// Two ECDSA signatures of different messages must not share r (the nonce): two such
/// signatures give the private scalar away.
pub fn ecdsa_nonce_reuse(b: &mut Battery) {
    for m in listed(b, &[Fam::EcSign]) {
        for t in b.of(Some(Kind::Ec)) {
            let what = format!("C_Sign({}, {}) of two messages", name(m), t.name);
            let mut sigs = Vec::new();
            for msg in [[1u8; 32], [2u8; 32], [1u8; 32]] {
                let r = b
                    .init(Init::Sign, &Mech::new(m), t.h)
                    .and_then(|()| b.single(Init::Sign, &msg));
                b.recycle();
                if let Some(s) = b.outcome(&what, r) {
                    sigs.push(s);
                }
            }
            if sigs.len() == 3 {
                let r = |s: &Vec<u8>| s[..s.len() / 2].to_vec();
                if r(&sigs[0]) == r(&sigs[1]) {
                    b.fail(
                        &what,
                        "both signatures have the same r: the nonce repeats".into(),
                    );
                }
            }
        }
    }
}

/// CKM_RSA_X_509 unwrap of a chosen block with an RSA key that may neither decrypt nor sign
/// (finding 4's shape): refused, or the new key is not readable.
pub fn raw_rsa_unwrap_only_key(b: &mut Battery) {
    let k = b.t.obj(
        &rsa_private_fixed()
            .b(CKA_SIGN, false)
            .b(CKA_DECRYPT, false)
            .b(CKA_SIGN_RECOVER, false)
            .b(CKA_UNWRAP, true),
    );
    let mut c = vec![0u8; 256];
    c[255] = 2;
    for (shape, len) in [("no VALUE_LEN", None), ("VALUE_LEN 256", Some(256))] {
        let what = format!(
            "C_UnwrapKey(CKM_RSA_X_509, RSA key with SIGN=DECRYPT=false, chosen c = 2, {shape})"
        );
        let t = new_secret(CKK_GENERIC_SECRET, len)
            .b(CKA_SENSITIVE, false)
            .b(CKA_EXTRACTABLE, true);
        b.tried += 1;
        match b.unwrap(&Mech::new(CKM_RSA_X_509), k, &c, &t) {
            Err(_) => b.refused += 1,
            Ok(h) => {
                b.tried -= 1;
                if b.attr(h, CKA_VALUE).is_ok() {
                    b.fail(
                        &what,
                        "the new key's CKA_VALUE (c^d mod n) is readable".into(),
                    );
                }
                b.dump_and_destroy(&what, h);
            }
        }
    }
}
