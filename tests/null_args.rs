//! PKCS#11 v3.0 §5.2 and §5.8-5.14: a NULL length pointer (`pulEncryptedDataLen`,
//! `pulDigestLen`, `pulSignatureLen` …) is CKR_ARGUMENTS_BAD and, being a failed call, ends the
//! active operation; a NULL template with a non-zero count is CKR_ARGUMENTS_BAD for
//! C_GenerateKey, C_GenerateKeyPair and C_CreateObject, whatever the mechanism.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::p11::*;
use cryptoki_sys::*;
use std::ptr::{null, null_mut};

fn aes_key(t: &Tok) -> CK_OBJECT_HANDLE {
    t.obj(&aes(&[0x42; 16]).b(CKA_ENCRYPT, true).b(CKA_DECRYPT, true))
}

/// After a failed call the operation is over: the next call of the family is
/// CKR_OPERATION_NOT_INITIALIZED.
#[track_caller]
fn ended(what: &str, rv: CK_RV) {
    expect_rv_raw(what, rv, CKR_OPERATION_NOT_INITIALIZED);
}

#[test]
fn null_length_pointer_in_single_part_calls_is_arguments_bad_and_ends_the_operation() {
    let t = token("null-len");
    let key = aes_key(&t);
    let fl = t.fl();
    let mut data = [0u8; 16];
    let mut out = [0u8; 64];
    let mut len: CK_ULONG = out.len() as CK_ULONG;
    let ecb = Mech::new(CKM_AES_ECB);

    t.encrypt_init(&ecb, key).unwrap();
    // SAFETY: every pointer is NULL or valid for the call.
    let rv =
        unsafe { fl.C_Encrypt.unwrap()(t.h, data.as_mut_ptr(), 16, out.as_mut_ptr(), null_mut()) };
    expect_rv_raw("C_Encrypt, NULL pulEncryptedDataLen", rv, CKR_ARGUMENTS_BAD);
    // SAFETY: as above.
    let rv =
        unsafe { fl.C_Encrypt.unwrap()(t.h, data.as_mut_ptr(), 16, out.as_mut_ptr(), &mut len) };
    ended("C_Encrypt after the failed call", rv);

    t.decrypt_init(&ecb, key).unwrap();
    // SAFETY: as above.
    let rv = unsafe { fl.C_Decrypt.unwrap()(t.h, data.as_mut_ptr(), 16, null_mut(), null_mut()) };
    expect_rv_raw("C_Decrypt, NULL pulDataLen", rv, CKR_ARGUMENTS_BAD);
    // SAFETY: as above.
    let rv =
        unsafe { fl.C_Decrypt.unwrap()(t.h, data.as_mut_ptr(), 16, out.as_mut_ptr(), &mut len) };
    ended("C_Decrypt after the failed call", rv);

    t.digest_init_in(t.h, &Mech::new(CKM_SHA256)).unwrap();
    // SAFETY: as above.
    let rv =
        unsafe { fl.C_Digest.unwrap()(t.h, data.as_mut_ptr(), 16, out.as_mut_ptr(), null_mut()) };
    expect_rv_raw("C_Digest, NULL pulDigestLen", rv, CKR_ARGUMENTS_BAD);
    let (rv, _, _) = t.digest_raw(b"x", Some(64));
    ended("C_Digest after the failed call", rv);

    let mac = t.obj(&secret(CKK_GENERIC_SECRET, &[7; 32]).b(CKA_SIGN, true));
    t.sign_init(&Mech::new(CKM_SHA256_HMAC), mac).unwrap();
    // SAFETY: as above.
    let rv =
        unsafe { fl.C_Sign.unwrap()(t.h, data.as_mut_ptr(), 16, out.as_mut_ptr(), null_mut()) };
    expect_rv_raw("C_Sign, NULL pulSignatureLen", rv, CKR_ARGUMENTS_BAD);
    let (rv, _, _) = t.sign_raw(b"x", Some(64));
    ended("C_Sign after the failed call", rv);

    // A NULL data pointer with a length fails the call the same way.
    t.encrypt_init(&ecb, key).unwrap();
    // SAFETY: as above.
    let rv = unsafe { fl.C_Encrypt.unwrap()(t.h, null_mut(), 16, out.as_mut_ptr(), &mut len) };
    expect_rv_raw("C_Encrypt, NULL pData", rv, CKR_ARGUMENTS_BAD);
    let (rv, _, _) = t.encrypt_call(&data, Some(64));
    ended("C_Encrypt after the failed call", rv);
}

#[test]
fn null_length_pointer_in_update_and_final_is_arguments_bad_and_ends_the_operation() {
    let t = token("null-len-parts");
    let key = aes_key(&t);
    let fl = t.fl();
    let mut data = [0u8; 16];
    let mut out = [0u8; 64];
    let mut len: CK_ULONG = out.len() as CK_ULONG;
    let cbc = Mech::bytes(CKM_AES_CBC_PAD, &[0; 16]);

    t.encrypt_init(&cbc, key).unwrap();
    // SAFETY: every pointer is NULL or valid for the call.
    let rv = unsafe {
        fl.C_EncryptUpdate.unwrap()(t.h, data.as_mut_ptr(), 16, out.as_mut_ptr(), null_mut())
    };
    expect_rv_raw(
        "C_EncryptUpdate, NULL pulEncryptedPartLen",
        rv,
        CKR_ARGUMENTS_BAD,
    );
    let (rv, _, _) = t.encrypt_final_raw(Some(64));
    ended("C_EncryptFinal after the failed update", rv);

    t.encrypt_init(&cbc, key).unwrap();
    // SAFETY: as above.
    let rv = unsafe { fl.C_EncryptFinal.unwrap()(t.h, out.as_mut_ptr(), null_mut()) };
    expect_rv_raw(
        "C_EncryptFinal, NULL pulLastEncryptedPartLen",
        rv,
        CKR_ARGUMENTS_BAD,
    );
    let (rv, _, _) = t.encrypt_final_raw(Some(64));
    ended("C_EncryptFinal after the failed call", rv);

    t.decrypt_init(&cbc, key).unwrap();
    // SAFETY: as above.
    let rv =
        unsafe { fl.C_DecryptUpdate.unwrap()(t.h, data.as_mut_ptr(), 16, null_mut(), null_mut()) };
    expect_rv_raw("C_DecryptUpdate, NULL pulPartLen", rv, CKR_ARGUMENTS_BAD);
    // SAFETY: as above.
    let rv = unsafe { fl.C_DecryptFinal.unwrap()(t.h, out.as_mut_ptr(), &mut len) };
    ended("C_DecryptFinal after the failed update", rv);

    t.digest_init_in(t.h, &Mech::new(CKM_SHA256)).unwrap();
    // SAFETY: as above.
    let rv = unsafe { fl.C_DigestFinal.unwrap()(t.h, out.as_mut_ptr(), null_mut()) };
    expect_rv_raw("C_DigestFinal, NULL pulDigestLen", rv, CKR_ARGUMENTS_BAD);
    ended(
        "C_DigestFinal after the failed call",
        t.digest_final_in(t.h).err().unwrap_or(CKR_OK),
    );

    let mac = t.obj(&secret(CKK_GENERIC_SECRET, &[7; 32]).b(CKA_SIGN, true));
    t.sign_init(&Mech::new(CKM_SHA256_HMAC), mac).unwrap();
    t.sign_update(b"part").unwrap();
    // SAFETY: as above.
    let rv = unsafe { fl.C_SignFinal.unwrap()(t.h, out.as_mut_ptr(), null_mut()) };
    expect_rv_raw("C_SignFinal, NULL pulSignatureLen", rv, CKR_ARGUMENTS_BAD);
    ended(
        "C_SignFinal after the failed call",
        t.sign_final().err().unwrap_or(CKR_OK),
    );
}

#[test]
fn null_template_with_a_count_is_arguments_bad() {
    let t = token("null-template");
    let fl = t.fl();
    let mut h: CK_OBJECT_HANDLE = CK_INVALID_HANDLE;
    let mut h2: CK_OBJECT_HANDLE = CK_INVALID_HANDLE;
    // A mechanism the token does not have, and one it has: the NULL template is judged first.
    for ty in [
        CKM_AES_KEY_GEN,
        CKM_GENERIC_SECRET_KEY_GEN,
        CKM_VENDOR_DEFINED + 0x7777,
    ] {
        let mut m = Mech::new(ty).ck();
        // SAFETY: pointers NULL or valid.
        let rv = unsafe { fl.C_GenerateKey.unwrap()(t.h, &mut m, null_mut(), 2, &mut h) };
        expect_rv_raw(
            &format!("C_GenerateKey({ty:#x}, NULL, 2)"),
            rv,
            CKR_ARGUMENTS_BAD,
        );
    }
    let (public, private) = rsa_pair_templates(2048, &[1, 0, 1]);
    let (mut pu, mut pr) = (public.raw(), private.raw());
    for ty in [CKM_RSA_PKCS_KEY_PAIR_GEN, CKM_VENDOR_DEFINED + 0x7777] {
        let mut m = Mech::new(ty).ck();
        // SAFETY: pointers NULL or valid.
        let rv = unsafe {
            fl.C_GenerateKeyPair.unwrap()(
                t.h,
                &mut m,
                null_mut(),
                3,
                pr.ptr(),
                pr.len(),
                &mut h,
                &mut h2,
            )
        };
        expect_rv_raw(
            "C_GenerateKeyPair, NULL public template",
            rv,
            CKR_ARGUMENTS_BAD,
        );
        // SAFETY: pointers NULL or valid.
        let rv = unsafe {
            fl.C_GenerateKeyPair.unwrap()(
                t.h,
                &mut m,
                pu.ptr(),
                pu.len(),
                null_mut(),
                3,
                &mut h,
                &mut h2,
            )
        };
        expect_rv_raw(
            "C_GenerateKeyPair, NULL private template",
            rv,
            CKR_ARGUMENTS_BAD,
        );
    }
    // SAFETY: pointers NULL or valid.
    let rv = unsafe { fl.C_CreateObject.unwrap()(t.h, null_mut(), 1, &mut h) };
    expect_rv_raw("C_CreateObject(NULL, 1)", rv, CKR_ARGUMENTS_BAD);
    // A NULL template with no attributes is an empty template, not a bad argument.
    let mut m = Mech::new(CKM_AES_KEY_GEN).ck();
    // SAFETY: pointers NULL or valid.
    let rv = unsafe { fl.C_GenerateKey.unwrap()(t.h, &mut m, null_mut(), 0, &mut h) };
    assert_ne!(rv, CKR_ARGUMENTS_BAD, "C_GenerateKey(NULL, 0)");
    let _ = null::<u8>();
}
