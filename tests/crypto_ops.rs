//! PKCS#11 v3.0 base §5.2 (the variable-length output convention: size query and
//! CKR_BUFFER_TOO_SMALL), §5.8-§5.13 (operation state: CKR_OPERATION_ACTIVE,
//! CKR_OPERATION_NOT_INITIALIZED, operations ended by errors and by completion), §5.6
//! (C_GetOperationState, C_SetOperationState) and §5.11/§5.13 (message-based encryption and
//! decryption: C_MessageEncryptInit, C_EncryptMessage, C_MessageDecryptInit, C_DecryptMessage
//! with CK_GCM_MESSAGE_PARAMS and CK_CCM_MESSAGE_PARAMS).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::p11::*;
use common::vectors::*;
use cryptoki_sys::*;

fn ecb_key(t: &Tok) -> CK_OBJECT_HANDLE {
    t.obj(&aes(&hx(SP800_38A_KEY128)))
}

#[test]
fn second_init_is_operation_active_and_the_first_survives() {
    let t = token("ops-active");
    let k = ecb_key(&t);
    t.encrypt_init(&Mech::new(CKM_AES_ECB), k)
        .ok_or_panic("C_EncryptInit");
    expect_err(
        "C_EncryptInit while an encryption is active",
        t.encrypt_init(&Mech::bytes(CKM_AES_CBC, &[0u8; 16]), k),
        CKR_OPERATION_ACTIVE,
    );
    let (rv, out, _) = t.encrypt_call(&hx(SP800_38A_PLAIN), Some(64));
    expect_rv_raw("C_Encrypt of the first operation", rv, CKR_OK);
    assert_bytes(
        "the first (ECB) operation is the one that ran",
        &out,
        &hx(F11_ECB128),
    );
    // Different kinds of operation may be active together (one of each kind per session).
    t.digest_init_in(t.h, &Mech::new(CKM_SHA256))
        .ok_or_panic("C_DigestInit");
    t.sign_init(&Mech::new(CKM_AES_CMAC), k)
        .ok_or_panic("C_SignInit beside a digest");
    expect_err(
        "C_DigestInit while a digest is active",
        t.digest_init_in(t.h, &Mech::new(CKM_SHA256)),
        CKR_OPERATION_ACTIVE,
    );
    expect_err(
        "C_SignInit while a signature is active",
        t.sign_init(&Mech::new(CKM_AES_CMAC), k),
        CKR_OPERATION_ACTIVE,
    );
}

#[test]
fn calls_without_init_are_operation_not_initialized() {
    let t = token("ops-not-init");
    let (rv, _, _) = t.encrypt_call(b"0123456789abcdef", Some(64));
    expect_rv_raw(
        "C_Encrypt without C_EncryptInit",
        rv,
        CKR_OPERATION_NOT_INITIALIZED,
    );
    let (rv, _, _) = t.decrypt_call(b"0123456789abcdef", Some(64));
    expect_rv_raw(
        "C_Decrypt without C_DecryptInit",
        rv,
        CKR_OPERATION_NOT_INITIALIZED,
    );
    let (rv, _, _) = t.encrypt_update_raw(b"0123456789abcdef", Some(64));
    expect_rv_raw(
        "C_EncryptUpdate without C_EncryptInit",
        rv,
        CKR_OPERATION_NOT_INITIALIZED,
    );
    let (rv, _, _) = t.encrypt_final_raw(Some(64));
    expect_rv_raw(
        "C_EncryptFinal without C_EncryptInit",
        rv,
        CKR_OPERATION_NOT_INITIALIZED,
    );
    let (rv, _, _) = t.sign_raw(b"x", Some(64));
    expect_rv_raw(
        "C_Sign without C_SignInit",
        rv,
        CKR_OPERATION_NOT_INITIALIZED,
    );
    expect_rv_raw(
        "C_Verify without C_VerifyInit",
        t.verify_call(b"x", &[0u8; 16]),
        CKR_OPERATION_NOT_INITIALIZED,
    );
    let (rv, _, _) = t.digest_raw(b"x", Some(64));
    expect_rv_raw(
        "C_Digest without C_DigestInit",
        rv,
        CKR_OPERATION_NOT_INITIALIZED,
    );
    expect_err(
        "C_DigestFinal without C_DigestInit",
        t.digest_final_in(t.h),
        CKR_OPERATION_NOT_INITIALIZED,
    );
}

/// A NULL output buffer returns the length with CKR_OK and keeps the operation; so does a
/// short buffer (CKR_BUFFER_TOO_SMALL, with the length); the retry gives the right output.
#[test]
fn size_query_and_short_buffer_keep_the_operation() {
    let t = token("ops-size");
    let k = ecb_key(&t);
    let p = hx(SP800_38A_PLAIN);
    t.encrypt_init(&Mech::new(CKM_AES_ECB), k)
        .ok_or_panic("C_EncryptInit");
    let (rv, _, len) = t.encrypt_call(&p, None);
    expect_rv_raw("C_Encrypt size query", rv, CKR_OK);
    assert_eq!(len, 64, "size query length");
    let (rv, _, len) = t.encrypt_call(&p, Some(10));
    expect_rv_raw("C_Encrypt into 10 bytes", rv, CKR_BUFFER_TOO_SMALL);
    assert_eq!(len, 64, "CKR_BUFFER_TOO_SMALL reports the needed length");
    let (rv, out, _) = t.encrypt_call(&p, Some(64));
    expect_rv_raw(
        "C_Encrypt after the size query and the short buffer",
        rv,
        CKR_OK,
    );
    assert_bytes("ECB output after the retries", &out, &hx(F11_ECB128));

    // AES-GCM: the query may over-estimate, never under-estimate.
    let key = t.obj(&aes(&hx(GCM_KEY)));
    let p4 = hx(GCM_TC3_PLAIN)[..60].to_vec();
    let want = [hx(GCM_TC3_CIPHER)[..60].to_vec(), hx(GCM_TC4_TAG)].concat();
    t.encrypt_init(&gcm(&hx(GCM_IV), &hx(GCM_TC4_AAD), 128), key)
        .ok_or_panic("GCM init");
    let (rv, _, len) = t.encrypt_call(&p4, None);
    expect_rv_raw("GCM size query", rv, CKR_OK);
    assert!(len >= 76, "GCM size query {len} < 76");
    let (rv, _, _) = t.encrypt_call(&p4, Some(20));
    expect_rv_raw("GCM into 20 bytes", rv, CKR_BUFFER_TOO_SMALL);
    let (rv, out, _) = t.encrypt_call(&p4, Some(len));
    expect_rv_raw("GCM with the queried size", rv, CKR_OK);
    assert_bytes("GCM output after the size query", &out, &want);

    // Signatures and digests follow the same convention.
    let h = t.obj(&secret(CKK_GENERIC_SECRET, b"Jefe"));
    t.sign_init(&Mech::new(CKM_SHA256_HMAC), h)
        .ok_or_panic("C_SignInit");
    let (rv, _, len) = t.sign_raw(b"what do ya want for nothing?", None);
    expect_rv_raw("C_Sign size query", rv, CKR_OK);
    assert_eq!(len, 32);
    let (rv, _, len) = t.sign_raw(b"what do ya want for nothing?", Some(31));
    expect_rv_raw("C_Sign into 31 bytes", rv, CKR_BUFFER_TOO_SMALL);
    assert_eq!(len, 32);
    let (rv, out, _) = t.sign_raw(b"what do ya want for nothing?", Some(32));
    expect_rv_raw("C_Sign", rv, CKR_OK);
    assert_bytes(
        "HMAC after retries",
        &out,
        &hx("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
    );

    t.digest_init_in(t.h, &Mech::new(CKM_SHA256))
        .ok_or_panic("C_DigestInit");
    let (rv, _, len) = t.digest_raw(b"abc", None);
    expect_rv_raw("C_Digest size query", rv, CKR_OK);
    assert_eq!(len, 32);
    let (rv, _, _) = t.digest_raw(b"abc", Some(1));
    expect_rv_raw("C_Digest into 1 byte", rv, CKR_BUFFER_TOO_SMALL);
    let (rv, out, _) = t.digest_raw(b"abc", Some(32));
    expect_rv_raw("C_Digest", rv, CKR_OK);
    assert_bytes(
        "SHA-256(abc) after retries",
        &out,
        &hx("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
    );
}

/// A completed operation and a failed one are both over: the next call is
/// CKR_OPERATION_NOT_INITIALIZED, and a new Init works.
#[test]
fn completion_and_errors_end_the_operation() {
    let t = token("ops-end");
    let k = ecb_key(&t);
    let p = hx(SP800_38A_PLAIN);
    t.encrypt(&Mech::new(CKM_AES_ECB), k, &p)
        .ok_or_panic("C_Encrypt");
    let (rv, _, _) = t.encrypt_call(&p, Some(64));
    expect_rv_raw(
        "C_Encrypt after a completed C_Encrypt",
        rv,
        CKR_OPERATION_NOT_INITIALIZED,
    );

    let key = t.obj(&aes(&hx(GCM_KEY)));
    let mut bad = [hx(GCM_TC3_CIPHER)[..60].to_vec(), hx(GCM_TC4_TAG)].concat();
    bad[70] ^= 1;
    t.decrypt_init(&gcm(&hx(GCM_IV), &hx(GCM_TC4_AAD), 128), key)
        .ok_or_panic("C_DecryptInit");
    let (rv, _, _) = t.decrypt_call(&bad, Some(200));
    expect_rv_raw(
        "C_Decrypt with a bad GCM tag",
        rv,
        CKR_ENCRYPTED_DATA_INVALID,
    );
    let (rv, _, _) = t.decrypt_call(&bad, Some(200));
    expect_rv_raw(
        "C_Decrypt after the failed one",
        rv,
        CKR_OPERATION_NOT_INITIALIZED,
    );
    t.decrypt_init(&gcm(&hx(GCM_IV), &hx(GCM_TC4_AAD), 128), key)
        .ok_or_panic("a new C_DecryptInit after the error");

    // A data-length error ends an encryption too.
    t.encrypt_init(&Mech::new(CKM_AES_ECB), k)
        .ok_or_panic("C_EncryptInit");
    let (rv, _, _) = t.encrypt_call(&p[..15], Some(64));
    expect_rv_raw("ECB of 15 bytes", rv, CKR_DATA_LEN_RANGE);
    let (rv, _, _) = t.encrypt_call(&p, Some(64));
    expect_rv_raw(
        "C_Encrypt after CKR_DATA_LEN_RANGE",
        rv,
        CKR_OPERATION_NOT_INITIALIZED,
    );

    // A failed verification ends the verify operation.
    let h = t.obj(&secret(CKK_GENERIC_SECRET, b"Jefe"));
    t.verify_init(&Mech::new(CKM_SHA256_HMAC), h)
        .ok_or_panic("C_VerifyInit");
    expect_rv_raw(
        "C_Verify of a wrong MAC",
        t.verify_call(b"data", &[0u8; 32]),
        CKR_SIGNATURE_INVALID,
    );
    expect_rv_raw(
        "C_Verify after the failure",
        t.verify_call(b"data", &[0u8; 32]),
        CKR_OPERATION_NOT_INITIALIZED,
    );
}

/// C_GetOperationState after "ab" in one session, C_SetOperationState in a new session, then
/// "c": SHA-256("abc"). The first session can finish too. A damaged state is refused.
#[test]
fn digest_operation_state_moves_between_sessions() {
    let t = token("ops-state");
    let abc = hx("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    t.digest_init_in(t.h, &Mech::new(CKM_SHA256))
        .ok_or_panic("C_DigestInit");
    t.digest_update_in(t.h, b"ab")
        .ok_or_panic("C_DigestUpdate ab");
    let state = t
        .get_operation_state(t.h)
        .ok_or_panic("C_GetOperationState");
    assert!(!state.is_empty());
    let s2 = t.open_session();
    t.set_operation_state(s2, &state)
        .ok_or_panic("C_SetOperationState in a new session");
    t.digest_update_in(s2, b"c").ok_or_panic("C_DigestUpdate c");
    assert_bytes(
        "SHA-256 resumed in another session",
        &t.digest_final_in(s2).ok_or_panic("C_DigestFinal"),
        &abc,
    );
    t.digest_update_in(t.h, b"c")
        .ok_or_panic("C_DigestUpdate c in the first session");
    assert_bytes(
        "SHA-256 finished in the first session",
        &t.digest_final_in(t.h).ok_or_panic("C_DigestFinal"),
        &abc,
    );
    // The state can be restored twice (it is a value, not a ticket).
    let s3 = t.open_session();
    t.set_operation_state(s3, &state)
        .ok_or_panic("C_SetOperationState again");
    t.digest_update_in(s3, b"c").ok_or_panic("update");
    assert_bytes(
        "SHA-256 resumed a second time",
        &t.digest_final_in(s3).ok_or_panic("final"),
        &abc,
    );

    let mut damaged = state.clone();
    let mid = damaged.len() / 2;
    damaged[mid] ^= 0x55;
    damaged.truncate(damaged.len() - 1);
    expect_err(
        "C_SetOperationState with a damaged state",
        t.set_operation_state(s3, &damaged),
        CKR_SAVED_STATE_INVALID,
    );
    expect_err(
        "C_GetOperationState with no operation",
        t.get_operation_state(s3),
        CKR_OPERATION_NOT_INITIALIZED,
    );
}

/// Message-based AES-GCM: C_MessageEncryptInit (no parameter), then C_EncryptMessage per
/// message with CK_GCM_MESSAGE_PARAMS: a caller IV gives McGrew–Viega test case 4 (ciphertext
/// returned, tag written into pTag); a generated IV (CKG_GENERATE_RANDOM) is written back into
/// pIv; C_DecryptMessage with IV and tag round-trips and refuses a bad tag.
#[test]
fn message_based_aes_gcm() {
    let t = token("ops-msg-gcm");
    let k = t.obj(&aes(&hx(GCM_KEY)));
    let p4 = hx(GCM_TC3_PLAIN)[..60].to_vec();
    let aad = hx(GCM_TC4_AAD);
    t.message_encrypt_init(&Mech::new(CKM_AES_GCM), k)
        .ok_or_panic("C_MessageEncryptInit");
    let given = gcm_message_params(&hx(GCM_IV), CKG_NO_GENERATE, 0, &[0u8; 16]);
    let c = t
        .encrypt_message(&given, &aad, &p4)
        .ok_or_panic("C_EncryptMessage with a given IV");
    assert_bytes("message GCM ciphertext", &c, &hx(GCM_TC3_CIPHER)[..60]);
    assert_bytes("message GCM tag (pTag)", &given.kept(1), &hx(GCM_TC4_TAG));

    let generated = gcm_message_params(&[0u8; 12], CKG_GENERATE_RANDOM, 0, &[0u8; 16]);
    let c2 = t
        .encrypt_message(&generated, b"second", b"second message")
        .ok_or_panic("C_EncryptMessage with CKG_GENERATE_RANDOM");
    let iv2 = generated.kept(0);
    let tag2 = generated.kept(1);
    assert_ne!(iv2, vec![0u8; 12], "the generated IV was not written back");
    let generated_again = gcm_message_params(&[0u8; 12], CKG_GENERATE_RANDOM, 0, &[0u8; 16]);
    t.encrypt_message(&generated_again, b"second", b"second message")
        .ok_or_panic("third message");
    assert_ne!(generated_again.kept(0), iv2, "two generated IVs are equal");
    t.message_encrypt_final()
        .ok_or_panic("C_MessageEncryptFinal");
    expect_err(
        "C_EncryptMessage after C_MessageEncryptFinal",
        t.encrypt_message(
            &gcm_message_params(&hx(GCM_IV), CKG_NO_GENERATE, 0, &[0u8; 16]),
            &[],
            b"x",
        ),
        CKR_OPERATION_NOT_INITIALIZED,
    );

    t.message_decrypt_init(&Mech::new(CKM_AES_GCM), k)
        .ok_or_panic("C_MessageDecryptInit");
    let p = t
        .decrypt_message(
            &gcm_message_params(&hx(GCM_IV), CKG_NO_GENERATE, 0, &hx(GCM_TC4_TAG)),
            &aad,
            &c,
        )
        .ok_or_panic("C_DecryptMessage TC4");
    assert_bytes("message GCM decryption TC4", &p, &p4);
    let p = t
        .decrypt_message(
            &gcm_message_params(&iv2, CKG_NO_GENERATE, 0, &tag2),
            b"second",
            &c2,
        )
        .ok_or_panic("C_DecryptMessage with the generated IV");
    assert_bytes(
        "message GCM decryption with the generated IV",
        &p,
        b"second message",
    );
    let mut bad = tag2.clone();
    bad[0] ^= 1;
    expect_err(
        "C_DecryptMessage with a bad tag",
        t.decrypt_message(
            &gcm_message_params(&iv2, CKG_NO_GENERATE, 0, &bad),
            b"second",
            &c2,
        ),
        CKR_ENCRYPTED_DATA_INVALID,
    );
    t.message_decrypt_final()
        .ok_or_panic("C_MessageDecryptFinal");
}

/// Message-based AES-CCM with CK_CCM_MESSAGE_PARAMS: RFC 3610 packet vector #1.
#[test]
fn message_based_aes_ccm() {
    let t = token("ops-msg-ccm");
    let k = t.obj(&aes(&hx("c0c1c2c3c4c5c6c7c8c9cacbcccdcecf")));
    let nonce = hx("00000003020100a0a1a2a3a4a5");
    let aad = hx("0001020304050607");
    let payload: Vec<u8> = (0x08u8..=0x1e).collect();
    t.message_encrypt_init(&Mech::new(CKM_AES_CCM), k)
        .ok_or_panic("C_MessageEncryptInit CCM");
    let params = ccm_message_params(payload.len(), &nonce, &[0u8; 8]);
    let c = t
        .encrypt_message(&params, &aad, &payload)
        .ok_or_panic("C_EncryptMessage CCM");
    assert_bytes(
        "message CCM ciphertext",
        &c,
        &hx("588c979a61c663d2f066d0c2c0f989806d5f6b61dac384"),
    );
    assert_bytes(
        "message CCM MAC (pMAC)",
        &params.kept(1),
        &hx("17e8d12cfdf926e0"),
    );
    t.message_encrypt_final()
        .ok_or_panic("C_MessageEncryptFinal");
    t.message_decrypt_init(&Mech::new(CKM_AES_CCM), k)
        .ok_or_panic("C_MessageDecryptInit CCM");
    let p = t
        .decrypt_message(
            &ccm_message_params(payload.len(), &nonce, &hx("17e8d12cfdf926e0")),
            &aad,
            &c,
        )
        .ok_or_panic("C_DecryptMessage CCM");
    assert_bytes("message CCM decryption", &p, &payload);
    t.message_decrypt_final()
        .ok_or_panic("C_MessageDecryptFinal");
}

/// A message sent in parts (C_EncryptMessageBegin/Next) gives the same ciphertext and tag as
/// the single call, and decrypts in parts; C_EncryptMessage during a message in parts is
/// CKR_OPERATION_ACTIVE.
#[test]
fn message_in_parts_equals_the_single_call() {
    let t = token("ops-msg-parts");
    let k = t.obj(&aes(&hx(GCM_KEY)));
    let p4 = hx(GCM_TC3_PLAIN)[..60].to_vec();
    let aad = hx(GCM_TC4_AAD);
    t.message_encrypt_init(&Mech::new(CKM_AES_GCM), k)
        .ok_or_panic("C_MessageEncryptInit");
    let params = gcm_message_params(&hx(GCM_IV), CKG_NO_GENERATE, 0, &[0u8; 16]);
    let c = t
        .message_in_parts(true, &params, &aad, &[&p4[..7], &p4[7..40], &p4[40..]])
        .ok_or_panic("C_EncryptMessageBegin/Next");
    assert_bytes("ciphertext in parts", &c, &hx(GCM_TC3_CIPHER)[..60]);
    assert_bytes("tag in parts", &params.kept(1), &hx(GCM_TC4_TAG));
    t.message_encrypt_final().ok_or_panic("final");

    t.message_decrypt_init(&Mech::new(CKM_AES_GCM), k)
        .ok_or_panic("C_MessageDecryptInit");
    let good = gcm_message_params(&hx(GCM_IV), CKG_NO_GENERATE, 0, &hx(GCM_TC4_TAG));
    let p = t
        .message_in_parts(false, &good, &aad, &[&c[..30], &c[30..]])
        .ok_or_panic("C_DecryptMessageBegin/Next");
    assert_bytes("plaintext in parts", &p, &p4);
    let mut tag = hx(GCM_TC4_TAG);
    tag[15] ^= 0x80;
    let bad = gcm_message_params(&hx(GCM_IV), CKG_NO_GENERATE, 0, &tag);
    expect_err(
        "a bad tag at the end of a message in parts",
        t.message_in_parts(false, &bad, &aad, &[&c[..30], &c[30..]]),
        CKR_ENCRYPTED_DATA_INVALID,
    );
    t.message_decrypt_final().ok_or_panic("final");
}

/// Message-based calls refuse what the specification forbids: a mechanism other than GCM/CCM,
/// a key without CKA_ENCRYPT, a second init, a parameter of the wrong size.
#[test]
fn message_based_refusals() {
    let t = token("ops-msg-refuse");
    let k = t.obj(&aes(&hx(GCM_KEY)));
    let no_encrypt = t.obj(&aes(&hx(GCM_KEY)).b(CKA_ENCRYPT, false));
    expect_err(
        "C_MessageEncryptInit with AES-CBC",
        t.message_encrypt_init(&Mech::new(CKM_AES_CBC), k),
        CKR_MECHANISM_INVALID,
    );
    expect_err(
        "C_MessageEncryptInit with a key without CKA_ENCRYPT",
        t.message_encrypt_init(&Mech::new(CKM_AES_GCM), no_encrypt),
        CKR_KEY_FUNCTION_NOT_PERMITTED,
    );
    expect_err(
        "C_EncryptMessage without an init",
        t.encrypt_message(
            &gcm_message_params(&hx(GCM_IV), CKG_NO_GENERATE, 0, &[0u8; 16]),
            &[],
            b"x",
        ),
        CKR_OPERATION_NOT_INITIALIZED,
    );
    t.message_encrypt_init(&Mech::new(CKM_AES_GCM), k)
        .ok_or_panic("C_MessageEncryptInit");
    expect_err(
        "a second C_MessageEncryptInit",
        t.message_encrypt_init(&Mech::new(CKM_AES_GCM), k),
        CKR_OPERATION_ACTIVE,
    );
    // A CCM parameter structure for a GCM operation: wrong size.
    expect_err(
        "C_EncryptMessage with CK_CCM_MESSAGE_PARAMS for GCM",
        t.encrypt_message(&ccm_message_params(1, &[0u8; 13], &[0u8; 8]), &[], b"x"),
        CKR_MECHANISM_PARAM_INVALID,
    );
    // The operation survives a refused message.
    t.encrypt_message(
        &gcm_message_params(&hx(GCM_IV), CKG_NO_GENERATE, 0, &[0u8; 16]),
        &[],
        b"still works",
    )
    .ok_or_panic("C_EncryptMessage after a refused one");
    t.message_encrypt_final().ok_or_panic("final");
}

/// Only digests can be saved: an operation that holds a key gives CKR_STATE_UNSAVEABLE, and a
/// digest state restored with key handles is CKR_KEY_NOT_NEEDED.
#[test]
fn operation_state_refuses_keyed_operations_and_unneeded_keys() {
    let t = token("ops-state-refuse");
    let k = ecb_key(&t);
    t.encrypt_init(&Mech::new(CKM_AES_ECB), k)
        .ok_or_panic("C_EncryptInit");
    expect_err(
        "C_GetOperationState with an encryption active",
        t.get_operation_state(t.h),
        CKR_STATE_UNSAVEABLE,
    );
    let s2 = t.open_session();
    t.digest_init_in(s2, &Mech::new(CKM_SHA256))
        .ok_or_panic("C_DigestInit");
    t.digest_update_in(s2, b"ab").ok_or_panic("update");
    let state = t.get_operation_state(s2).ok_or_panic("C_GetOperationState");
    expect_err(
        "C_SetOperationState with an encryption key",
        t.set_operation_state_keys(s2, &state, k),
        CKR_KEY_NOT_NEEDED,
    );
    expect_err(
        "C_SetOperationState of random bytes",
        t.set_operation_state(s2, &[0x42; 120]),
        CKR_SAVED_STATE_INVALID,
    );
}

/// The single-part size query (NULL output) of C_Encrypt and C_Decrypt answers a length the
/// output fits in, for every cipher: a client that allocates exactly that much (python-pkcs11,
/// pkcs11-provider) must get the data, not CKR_BUFFER_TOO_SMALL.
#[test]
fn single_part_size_queries_are_large_enough_for_every_cipher() {
    let t = token("ops-size-query");
    let k = t.obj(&aes(&[0x11u8; 32]));
    let (rsa_pub, rsa_priv) = (
        t.obj(&rsa_public_fixed().b(CKA_ENCRYPT, true)),
        t.obj(&rsa_private_fixed().b(CKA_DECRYPT, true)),
    );
    let mut problems = Vec::new();
    for len in [0usize, 1, 15, 16, 17, 31, 32, 33, 100] {
        let plain: Vec<u8> = (0..len).map(|i| i as u8).collect();
        let cases: Vec<(&str, Mech, CK_OBJECT_HANDLE, CK_OBJECT_HANDLE)> = vec![
            (
                "AES_CBC_PAD",
                Mech::bytes(CKM_AES_CBC_PAD, &[1u8; 16]),
                k,
                k,
            ),
            ("AES_CTS", Mech::bytes(CKM_AES_CTS, &[1u8; 16]), k, k),
            ("AES_GCM", gcm(&[2u8; 12], b"aad", 128), k, k),
            ("AES_GCM tag 96", gcm(&[2u8; 12], b"", 96), k, k),
            ("AES_CCM", ccm(len, &[3u8; 12], b"aad", 16), k, k),
            ("AES_KEY_WRAP_KWP", Mech::new(CKM_AES_KEY_WRAP_KWP), k, k),
            ("RSA_PKCS", Mech::new(CKM_RSA_PKCS), rsa_pub, rsa_priv),
        ];
        for (name, m, ek, dk) in cases {
            // Skip the lengths a mechanism does not take at all.
            if (name == "AES_CTS" && len < 16) || (name == "AES_KEY_WRAP_KWP" && len == 0) {
                continue;
            }
            let mut sized = |encrypt: bool, input: &[u8]| -> Option<Vec<u8>> {
                let init = if encrypt {
                    t.encrypt_init(&m, ek)
                } else {
                    t.decrypt_init(&m, dk)
                };
                if let Err(rv) = init {
                    problems.push(format!("{name} {len} B: init {}", rvn(rv)));
                    return None;
                }
                let call = |cap| {
                    if encrypt {
                        t.encrypt_call(input, cap)
                    } else {
                        t.decrypt_call(input, cap)
                    }
                };
                let (rv, _, need) = call(None);
                if rv != CKR_OK {
                    problems.push(format!("{name} {len} B: size query {}", rvn(rv)));
                    return None;
                }
                let (rv, out, _) = call(Some(need));
                if rv != CKR_OK {
                    problems.push(format!(
                        "{name} {len} B ({}): buffer of the queried {need} bytes: {}",
                        if encrypt { "encrypt" } else { "decrypt" },
                        rvn(rv)
                    ));
                    return None;
                }
                Some(out)
            };
            let Some(c) = sized(true, &plain) else {
                continue;
            };
            if let Some(p) = sized(false, &c) {
                if p != plain {
                    problems.push(format!("{name} {len} B: round trip differs"));
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "size queries:\n  {}",
        problems.join("\n  ")
    );
}

/// Message-based AES-CCM in parts (C_EncryptMessageBegin/Next with the data length declared up
/// front): the RFC 3610 packet vector #1 again, in three pieces; decryption in parts checks the
/// MAC at the last part.
#[test]
fn message_based_aes_ccm_in_parts() {
    let t = token("ops-msg-ccm-parts");
    let k = t.obj(&aes(&hx("c0c1c2c3c4c5c6c7c8c9cacbcccdcecf")));
    let nonce = hx("00000003020100a0a1a2a3a4a5");
    let aad = hx("0001020304050607");
    let payload: Vec<u8> = (0x08u8..=0x1e).collect();
    let want_c = hx("588c979a61c663d2f066d0c2c0f989806d5f6b61dac384");
    let want_mac = hx("17e8d12cfdf926e0");
    t.message_encrypt_init(&Mech::new(CKM_AES_CCM), k)
        .ok_or_panic("C_MessageEncryptInit CCM");
    let params = ccm_message_params(payload.len(), &nonce, &[0u8; 8]);
    let c = t
        .message_in_parts(
            true,
            &params,
            &aad,
            &[&payload[..5], &payload[5..16], &payload[16..]],
        )
        .ok_or_panic("C_EncryptMessageBegin/Next CCM");
    assert_bytes("CCM ciphertext in parts", &c, &want_c);
    assert_bytes("CCM MAC in parts", &params.kept(1), &want_mac);
    t.message_encrypt_final().ok_or_panic("final");

    t.message_decrypt_init(&Mech::new(CKM_AES_CCM), k)
        .ok_or_panic("C_MessageDecryptInit CCM");
    let good = ccm_message_params(payload.len(), &nonce, &want_mac);
    let p = t
        .message_in_parts(false, &good, &aad, &[&c[..9], &c[9..]])
        .ok_or_panic("C_DecryptMessageBegin/Next CCM");
    assert_bytes("CCM plaintext in parts", &p, &payload);
    let mut mac = want_mac.clone();
    mac[0] ^= 1;
    let bad = ccm_message_params(payload.len(), &nonce, &mac);
    expect_err(
        "a bad MAC at the end of a CCM message in parts",
        t.message_in_parts(false, &bad, &aad, &[&c[..9], &c[9..]]),
        CKR_ENCRYPTED_DATA_INVALID,
    );
    t.message_decrypt_final().ok_or_panic("final");
}

/// Message-based AES-GCM with the module generating the IV (CKG_GENERATE, CKG_GENERATE_COUNTER,
/// CKG_GENERATE_COUNTER_XOR): the IV written back keeps the caller's fixed bits, no two
/// messages get the same IV, and Python `cryptography` decrypts each message with the IV and
/// tag the module reported.
#[test]
fn message_gcm_with_generated_ivs_decrypts_independently() {
    common::der::require_python_cryptography();
    let t = token("ops-msg-gen");
    let kv = t.random(32);
    let k = t.obj(&aes(&kv));
    let base = hx("a1a2a3a4a5a6a7a8a9aaabac");
    let mut seen = std::collections::HashSet::new();
    for generator in [CKG_GENERATE, CKG_GENERATE_COUNTER, CKG_GENERATE_COUNTER_XOR] {
        t.message_encrypt_init(&Mech::new(CKM_AES_GCM), k)
            .ok_or_panic("C_MessageEncryptInit");
        for i in 0..3u8 {
            let p = gcm_message_params(&base, generator, 32, &[0u8; 16]);
            let plain = [b"message ".as_slice(), &[b'0' + i]].concat();
            let c = t
                .encrypt_message(&p, b"hdr", &plain)
                .ok_or_panic("C_EncryptMessage with a generated IV");
            let iv = p.kept(0);
            let tag = p.kept(1);
            assert_eq!(iv[..4], base[..4], "{generator:#x}: fixed bits kept");
            assert!(
                seen.insert(iv.clone()),
                "{generator:#x}: IV {iv:02x?} repeated"
            );
            let py = common::der::python(
                "import sys; from cryptography.hazmat.primitives.ciphers.aead import AESGCM; \
                 a=[bytes.fromhex(x) for x in sys.argv[1:]]; \
                 print(AESGCM(a[0]).decrypt(a[1], a[2] + a[3], a[4]).hex())",
                &[hex(&kv), hex(&iv), hex(&c), hex(&tag), hex(b"hdr")],
            );
            assert_eq!(py, hex(&plain), "{generator:#x}: Python decryption");
        }
        t.message_encrypt_final()
            .ok_or_panic("C_MessageEncryptFinal");
    }
}
