//! Security regressions of issue 10 in the operation and argument layers, through the built
//! module: saved operation states (PKCS#11 v3.0 §5.6 C_GetOperationState/C_SetOperationState,
//! §5.10 C_DigestKey), generated IVs of the message-based AEAD functions (§5.11 with
//! CK_GCM_MESSAGE_PARAMS / CK_CCM_MESSAGE_PARAMS, Current Mechanisms §2.14.4), NULL PINs
//! (§5.5 C_InitToken/C_InitPIN/C_SetPIN, §5.6 C_Login/C_LoginUser), templates at unaligned
//! addresses (§5.7) and the application's mutex callbacks (§5.4 C_Initialize).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::p11::*;
use common::*;
use cryptoki_sys::*;
use std::ptr::null_mut;

/// A key value the tests look for in everything the module returns.
const KEY: [u8; 32] = *b"\x13\x37KEY-BYTES-THAT-MUST-NOT-LEAK!\xee";

/// A session AES key of value `KEY`, sensitive and not extractable.
fn sensitive_aes(t: &Tok) -> CK_OBJECT_HANDLE {
    t.obj(&aes(&KEY).b(CKA_SENSITIVE, true).b(CKA_EXTRACTABLE, false))
}

// ---- finding 1: saved states --------------------------------------------------------------

/// Every digest mechanism the module lists (so a digest added later is covered too).
fn digests(t: &Tok) -> Vec<CK_MECHANISM_TYPE> {
    let all = t.mechanism_list().ok_or_panic("C_GetMechanismList");
    let d: Vec<_> = all
        .into_iter()
        .filter(|m| {
            t.mechanism_info(*m)
                .is_ok_and(|i| i.flags & CKF_DIGEST != 0)
        })
        .collect();
    assert!(d.contains(&CKM_SHA512), "SHA-512 is not listed as a digest");
    d
}

/// Issue 10 finding 1: DigestInit → DigestKey → GetOperationState handed out the hash state
/// with the key in its partial block. After C_DigestKey the state is unsaveable, for the rest
/// of the operation; the digest itself still completes.
#[test]
fn digest_key_makes_the_state_unsaveable() {
    let t = token("digest-key-state");
    let k = sensitive_aes(&t);
    for m in digests(&t) {
        t.digest_init_in(t.h, &Mech::new(m))
            .ok_or_panic("C_DigestInit");
        t.digest_update_in(t.h, b"prefix")
            .ok_or_panic("C_DigestUpdate");
        t.digest_key(k).ok_or_panic("C_DigestKey");
        let got = t.get_operation_state(t.h);
        if let Ok(state) = &got {
            assert!(
                !contains(state, &KEY[..16]),
                "{m:#x}: the saved state holds the key"
            );
        }
        expect_err(
            &format!("{m:#x}: state after C_DigestKey"),
            got,
            CKR_STATE_UNSAVEABLE,
        );
        // More data does not clean the state.
        t.digest_update_in(t.h, &[0u8; 300])
            .ok_or_panic("C_DigestUpdate");
        expect_err(
            &format!("{m:#x}: state after C_DigestKey and more data"),
            t.get_operation_state(t.h),
            CKR_STATE_UNSAVEABLE,
        );
        let d = t.digest_final_in(t.h).ok_or_panic("C_DigestFinal");
        assert!(!d.is_empty());
    }
    // A digest without a key stays saveable, and a new operation after a keyed one too.
    t.digest_init_in(t.h, &Mech::new(CKM_SHA512))
        .ok_or_panic("C_DigestInit");
    t.digest_update_in(t.h, b"abc")
        .ok_or_panic("C_DigestUpdate");
    let state = t
        .get_operation_state(t.h)
        .ok_or_panic("C_GetOperationState");
    t.set_operation_state(t.h, &state)
        .ok_or_panic("C_SetOperationState");
    t.digest_final_in(t.h).ok_or_panic("C_DigestFinal");
}

/// Operations that hold a key (MACs, ciphers, signatures) have no saveable state at all.
#[test]
fn keyed_operations_are_never_saveable() {
    let t = token("keyed-state");
    let hmac = t.obj(
        &secret(CKK_GENERIC_SECRET, &KEY)
            .b(CKA_SENSITIVE, true)
            .b(CKA_EXTRACTABLE, false),
    );
    let k = sensitive_aes(&t);
    let cases: [(&str, CK_MECHANISM_TYPE, CK_OBJECT_HANDLE); 3] = [
        ("HMAC-SHA256", CKM_SHA256_HMAC, hmac),
        ("HMAC-SHA512", CKM_SHA512_HMAC, hmac),
        ("AES-CMAC", CKM_AES_CMAC, k),
    ];
    for (what, m, key) in cases {
        t.sign_init(&Mech::new(m), key).ok_or_panic("C_SignInit");
        t.sign_update(b"some data").ok_or_panic("C_SignUpdate");
        let got = t.get_operation_state(t.h);
        if let Ok(state) = &got {
            assert!(
                !contains(state, &KEY[..16]),
                "{what}: the saved state holds the key"
            );
        }
        expect_err(what, got, CKR_STATE_UNSAVEABLE);
        t.sign_final().ok_or_panic("C_SignFinal");
    }
    t.encrypt_init(&Mech::new(CKM_AES_ECB), k)
        .ok_or_panic("C_EncryptInit");
    expect_err("AES-ECB", t.get_operation_state(t.h), CKR_STATE_UNSAVEABLE);
}

// ---- finding 6: generated IVs -------------------------------------------------------------

use std::collections::HashSet;

fn gcm_init(t: &Tok, key: CK_OBJECT_HANDLE) {
    t.message_encrypt_init(&Mech::new(CKM_AES_GCM), key)
        .ok_or_panic("C_MessageEncryptInit");
}

/// Encrypt with a generated IV until the module refuses; every IV it gave must be new, and it
/// must refuse with `CKR_KEY_EXHAUSTED` within the space the free bits leave.
fn drain(t: &Tok, generator: CK_GENERATOR_FUNCTION, fixed_bits: CK_ULONG, space: usize) {
    let mut seen = HashSet::new();
    for n in 1..=space + 2 {
        match t.gcm_generated_iv(12, generator, fixed_bits) {
            Ok(iv) => {
                assert_eq!(
                    &iv[..11],
                    &[0x5a; 11],
                    "message {n}: the fixed part changed"
                );
                assert!(
                    seen.insert(iv.clone()),
                    "message {n} repeats IV {}",
                    hex(&iv)
                );
            }
            Err(rv) => {
                expect_rv_raw(&format!("message {n}"), rv, CKR_KEY_EXHAUSTED);
                assert!(n > 1, "the first message was refused");
                return;
            }
        }
    }
    panic!("{} messages encrypted with {space} possible IVs", space + 2);
}

/// Issue 10 finding 6: CKG_GENERATE_COUNTER with 88 fixed bits of a 12-byte IV gave message
/// 257 the IV of message 1. Now the module refuses once the 8 free bits are used up.
#[test]
fn counter_ivs_never_repeat_and_exhaust() {
    let t = token("iv-counter");
    let k = sensitive_aes(&t);
    gcm_init(&t, k);
    drain(&t, CKG_GENERATE_COUNTER, 88, 256);
    // Exhausted for good for this key: a new operation does not reset it.
    t.message_encrypt_final()
        .ok_or_panic("C_MessageEncryptFinal");
    gcm_init(&t, k);
    expect_err(
        "after re-init",
        t.gcm_generated_iv(12, CKG_GENERATE_COUNTER, 88),
        CKR_KEY_EXHAUSTED,
    );
}

#[test]
fn counter_xor_ivs_never_repeat_and_exhaust() {
    let t = token("iv-counter-xor");
    let k = sensitive_aes(&t);
    gcm_init(&t, k);
    drain(&t, CKG_GENERATE_COUNTER_XOR, 88, 256);
}

/// The counter restarted at every C_MessageEncryptInit, in every session, and for a copy of
/// the key: all of them must continue one sequence per key value.
#[test]
fn counters_are_kept_per_key_across_operations() {
    let t = token("iv-per-key");
    let k = sensitive_aes(&t);
    let copy = t.copy(k, &Tmpl::new()).ok_or_panic("C_CopyObject");
    let mut seen = HashSet::new();
    for round in 0..3 {
        for key in [k, copy] {
            gcm_init(&t, key);
            for g in [CKG_GENERATE_COUNTER, CKG_GENERATE] {
                let iv = t
                    .gcm_generated_iv(12, g, 32)
                    .ok_or_panic("C_EncryptMessage");
                assert!(
                    seen.insert(iv.clone()),
                    "round {round}: IV {} again",
                    hex(&iv)
                );
            }
            t.message_encrypt_final()
                .ok_or_panic("C_MessageEncryptFinal");
        }
    }
    // Another session of the same token continues the same sequence.
    let other = t.open_session();
    let mut ck = Mech::new(CKM_AES_GCM).ck();
    // SAFETY: the mechanism lives across the call.
    let rv = unsafe { t.fl().C_MessageEncryptInit.unwrap()(other, &mut ck, k) };
    expect_rv_raw("C_MessageEncryptInit (other session)", rv, CKR_OK);
    let p = gcm_message_params(&[0x5a; 12], CKG_GENERATE_COUNTER, 32, &[0u8; 16]);
    let (pp, pl) = p.param_ptr();
    let mut data = *b"message";
    let mut out = [0u8; 64];
    let mut len = out.len() as CK_ULONG;
    // SAFETY: all buffers live across the call.
    let rv = unsafe {
        t.fl().C_EncryptMessage.unwrap()(
            other,
            pp,
            pl,
            null_mut(),
            0,
            data.as_mut_ptr(),
            data.len() as CK_ULONG,
            out.as_mut_ptr(),
            &mut len,
        )
    };
    expect_rv_raw("C_EncryptMessage (other session)", rv, CKR_OK);
    assert!(seen.insert(p.kept(0)), "the other session repeated an IV");
}

/// With no free bits the generated IV could never change: refused, for every generator.
#[test]
fn generation_without_free_bits_is_refused() {
    let t = token("iv-no-free-bits");
    let k = sensitive_aes(&t);
    gcm_init(&t, k);
    for g in [
        CKG_GENERATE,
        CKG_GENERATE_COUNTER,
        CKG_GENERATE_COUNTER_XOR,
        CKG_GENERATE_RANDOM,
    ] {
        for _ in 0..2 {
            expect_err(
                &format!("generator {g}, 96 fixed bits"),
                t.gcm_generated_iv(12, g, 96),
                CKR_MECHANISM_PARAM_INVALID,
            );
        }
    }
    // The operation survives the refusals.
    t.gcm_generated_iv(12, CKG_GENERATE_COUNTER, 32)
        .ok_or_panic("C_EncryptMessage after refusals");
}

/// Random IVs need at least 64 random bits; fewer is refused rather than left to chance.
#[test]
fn random_ivs_need_64_free_bits() {
    let t = token("iv-random");
    let k = sensitive_aes(&t);
    gcm_init(&t, k);
    for fixed in [40, 64, 88] {
        expect_err(
            &format!("CKG_GENERATE_RANDOM with {fixed} fixed bits"),
            t.gcm_generated_iv(12, CKG_GENERATE_RANDOM, fixed),
            CKR_MECHANISM_PARAM_INVALID,
        );
    }
    let a = t
        .gcm_generated_iv(12, CKG_GENERATE_RANDOM, 32)
        .ok_or_panic("64 free bits");
    let b = t
        .gcm_generated_iv(12, CKG_GENERATE_RANDOM, 0)
        .ok_or_panic("96 free bits");
    assert_ne!(a, b);
    assert_eq!(&a[..4], &[0x5a; 4]);
    // CKG_GENERATE with few free bits counts instead of guessing.
    let c = t
        .gcm_generated_iv(12, CKG_GENERATE, 88)
        .ok_or_panic("CKG_GENERATE, 8 free bits");
    assert_eq!(&c[..11], &[0x5a; 11]);
}

// ---- finding 9: NULL PINs -----------------------------------------------------------------

const ATTEMPTS: usize = 3;

fn pin_flags(raw: &Raw, slot: CK_SLOT_ID) -> CK_FLAGS {
    token_flags(raw, slot)
        & (CKF_USER_PIN_COUNT_LOW
            | CKF_USER_PIN_FINAL_TRY
            | CKF_USER_PIN_LOCKED
            | CKF_SO_PIN_COUNT_LOW
            | CKF_SO_PIN_FINAL_TRY
            | CKF_SO_PIN_LOCKED)
}

/// Issue 10 finding 9: C_Login(NULL, 0) counted as a wrong PIN, so a few of them locked the
/// token. The token has no protected authentication path: a NULL PIN is CKR_ARGUMENTS_BAD and
/// counts nothing, in every function that takes a PIN.
#[test]
fn null_pins_are_arguments_bad_and_count_nothing() {
    let _env = TestEnv::with_config(&format!("max_login_attempts = {ATTEMPTS}"));
    let ctx = load_module();
    let slot = init_token(&ctx, "null-pins").id();
    let raw = Raw::load();
    let (rv, h) = raw.open_session(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION);
    assert_rv(rv, CKR_OK);
    for _ in 0..ATTEMPTS * 2 {
        for user in [CKU_USER, CKU_SO] {
            assert_rv(ck!(raw, C_Login(h, user, null_mut(), 0)), CKR_ARGUMENTS_BAD);
            assert_rv(
                ck!(raw, C_LoginUser(h, user, null_mut(), 0, null_mut(), 0)),
                CKR_ARGUMENTS_BAD,
            );
        }
        let mut label = [b' '; 32];
        assert_rv(
            ck!(raw, C_InitToken(slot, null_mut(), 0, label.as_mut_ptr())),
            CKR_ARGUMENTS_BAD,
        );
    }
    assert_eq!(pin_flags(&raw, slot), 0, "NULL PINs were counted");

    // Logged in: C_SetPIN and C_InitPIN with NULL PINs.
    assert_rv(raw.login(h, CKU_USER, USER_PIN), CKR_OK);
    let mut new = *b"new-user-pin-1";
    let mut old = USER_PIN.as_bytes().to_vec();
    for _ in 0..ATTEMPTS * 2 {
        assert_rv(
            ck!(
                raw,
                C_SetPIN(h, null_mut(), 0, new.as_mut_ptr(), new.len() as CK_ULONG)
            ),
            CKR_ARGUMENTS_BAD,
        );
        assert_rv(
            ck!(
                raw,
                C_SetPIN(h, old.as_mut_ptr(), old.len() as CK_ULONG, null_mut(), 0)
            ),
            CKR_ARGUMENTS_BAD,
        );
    }
    assert_rv(ck!(raw, C_Logout(h)), CKR_OK);
    assert_rv(raw.login(h, CKU_SO, SO_PIN), CKR_OK);
    for _ in 0..ATTEMPTS * 2 {
        assert_rv(ck!(raw, C_InitPIN(h, null_mut(), 0)), CKR_ARGUMENTS_BAD);
        assert_rv(
            ck!(raw, C_SetPIN(h, null_mut(), 0, null_mut(), 0)),
            CKR_ARGUMENTS_BAD,
        );
    }
    assert_rv(ck!(raw, C_Logout(h)), CKR_OK);
    assert_eq!(pin_flags(&raw, slot), 0, "NULL PINs were counted");

    // The PINs are unchanged and both roles still log in.
    assert_rv(raw.login(h, CKU_USER, USER_PIN), CKR_OK);
    assert_rv(ck!(raw, C_Logout(h)), CKR_OK);
    assert_rv(raw.login(h, CKU_SO, SO_PIN), CKR_OK);
    assert_rv(ck!(raw, C_Logout(h)), CKR_OK);
    drop(ctx);
}

/// Issue 10 finding 9: NULL arguments of the operation-state functions are CKR_ARGUMENTS_BAD,
/// checked before the state of the session.
#[test]
fn operation_state_null_arguments() {
    let t = token("state-null");
    let get = t.fl().C_GetOperationState.unwrap();
    let set = t.fl().C_SetOperationState.unwrap();
    // SAFETY: NULL pointers the module must refuse.
    let rv = unsafe { get(t.h, null_mut(), null_mut()) };
    expect_rv_raw(
        "C_GetOperationState(NULL, NULL), no operation",
        rv,
        CKR_ARGUMENTS_BAD,
    );
    let mut buf = [0u8; 8];
    // SAFETY: as above; the buffer is live.
    let rv = unsafe { get(t.h, buf.as_mut_ptr(), null_mut()) };
    expect_rv_raw("C_GetOperationState(buf, NULL)", rv, CKR_ARGUMENTS_BAD);
    for len in [0, 64] {
        // SAFETY: NULL state the module must refuse.
        let rv = unsafe { set(t.h, null_mut(), len, 0, 0) };
        expect_rv_raw(
            &format!("C_SetOperationState(NULL, {len})"),
            rv,
            CKR_ARGUMENTS_BAD,
        );
    }
    // A digest in progress is not disturbed by the refused calls.
    t.digest_init_in(t.h, &Mech::new(CKM_SHA256))
        .ok_or_panic("C_DigestInit");
    // SAFETY: as above.
    let rv = unsafe { get(t.h, null_mut(), null_mut()) };
    expect_rv_raw(
        "C_GetOperationState(NULL, NULL), digest",
        rv,
        CKR_ARGUMENTS_BAD,
    );
    // SAFETY: as above.
    let rv = unsafe { set(t.h, null_mut(), 0, 0, 0) };
    expect_rv_raw(
        "C_SetOperationState(NULL, 0), digest",
        rv,
        CKR_ARGUMENTS_BAD,
    );
    t.digest_update_in(t.h, b"abc")
        .ok_or_panic("C_DigestUpdate");
    let d = t.digest_final_in(t.h).ok_or_panic("C_DigestFinal");
    assert_bytes(
        "SHA-256(abc)",
        &d,
        &hx("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
    );
}

// ---- finding 10a: unaligned templates -----------------------------------------------------

/// `attrs` copied into a byte buffer at an odd address, as a C caller with a packed structure
/// may pass them. The buffer must stay alive while the pointer is used.
fn odd_template(attrs: &[CK_ATTRIBUTE]) -> (Vec<u8>, *mut CK_ATTRIBUTE) {
    let mut buf = vec![0u8; std::mem::size_of_val(attrs) + 1];
    let p = buf.as_mut_ptr().wrapping_add(1) as *mut CK_ATTRIBUTE;
    assert_ne!(p as usize % std::mem::align_of::<CK_ATTRIBUTE>(), 0);
    for (i, a) in attrs.iter().enumerate() {
        // SAFETY: element `i` lies inside `buf`; the write is unaligned on purpose.
        unsafe { std::ptr::write_unaligned(p.add(i), *a) };
    }
    (buf, p)
}

/// Issue 10 finding 10: the outer CK_ATTRIBUTE array was read as if aligned.
#[test]
fn templates_at_odd_addresses() {
    let t = token("odd-templates");
    let mut class = (CKO_DATA as CK_ULONG).to_ne_bytes();
    let mut token = [0u8];
    let mut label = *b"odd-address-object";
    let mut value = *b"odd value";
    let attrs = [
        raw_attr(CKA_CLASS, Some(&mut class), 0),
        raw_attr(CKA_TOKEN, Some(&mut token), 0),
        raw_attr(CKA_LABEL, Some(&mut label), 0),
        raw_attr(CKA_VALUE, Some(&mut value), 0),
    ];
    let (_keep, p) = odd_template(&attrs);
    let mut o = CK_INVALID_HANDLE;
    // SAFETY: the template lives in `_keep` and its values in the locals above.
    let rv = unsafe { t.fl().C_CreateObject.unwrap()(t.h, p, attrs.len() as CK_ULONG, &mut o) };
    expect_rv_raw("C_CreateObject, odd template", rv, CKR_OK);

    // Read back through an odd template too: a size query, then the value.
    let mut got = [0u8; 32];
    let query = [
        raw_attr(CKA_VALUE, None, 0),
        raw_attr(CKA_LABEL, Some(&mut got), 0),
    ];
    let (keep, q) = odd_template(&query);
    // SAFETY: as above.
    let rv = unsafe { t.fl().C_GetAttributeValue.unwrap()(t.h, o, q, 2) };
    expect_rv_raw("C_GetAttributeValue, odd template", rv, CKR_OK);
    // SAFETY: the module wrote the lengths back into the odd array inside `keep`.
    let back: Vec<CK_ATTRIBUTE> = (0..2)
        .map(|i| unsafe { std::ptr::read_unaligned(q.add(i)) })
        .collect();
    drop(keep);
    assert_eq!(back[0].ulValueLen as usize, value.len());
    assert_eq!(back[1].ulValueLen as usize, label.len());
    assert_bytes("label", &got[..label.len()], &label);

    // Searches take the same path.
    let (_k2, f) = odd_template(&attrs[2..3]);
    // SAFETY: as above.
    let rv = unsafe { t.fl().C_FindObjectsInit.unwrap()(t.h, f, 1) };
    expect_rv_raw("C_FindObjectsInit, odd template", rv, CKR_OK);
    let mut found = [CK_INVALID_HANDLE; 4];
    let mut n: CK_ULONG = 0;
    // SAFETY: output buffers are live.
    let rv = unsafe { t.fl().C_FindObjects.unwrap()(t.h, found.as_mut_ptr(), 4, &mut n) };
    expect_rv_raw("C_FindObjects", rv, CKR_OK);
    assert_eq!(&found[..n as usize], &[o]);
    // SAFETY: plain value.
    expect_rv_raw(
        "C_FindObjectsFinal",
        unsafe { t.fl().C_FindObjectsFinal.unwrap()(t.h) },
        CKR_OK,
    );
}

// ---- finding 10b: the application's mutex ------------------------------------------------

use std::ffi::c_void;
use std::sync::atomic::{AtomicUsize, Ordering};

static CREATED: AtomicUsize = AtomicUsize::new(0);
static DESTROYED: AtomicUsize = AtomicUsize::new(0);
static MUTEX_TOKEN: u8 = 0;

unsafe extern "C" fn create_mutex(out: *mut *mut c_void) -> CK_RV {
    CREATED.fetch_add(1, Ordering::SeqCst);
    // SAFETY: the module passes a writable pointer.
    unsafe { *out = &MUTEX_TOKEN as *const u8 as *mut c_void };
    CKR_OK
}
unsafe extern "C" fn destroy_mutex(_: *mut c_void) -> CK_RV {
    DESTROYED.fetch_add(1, Ordering::SeqCst);
    CKR_OK
}
unsafe extern "C" fn lock_mutex(_: *mut c_void) -> CK_RV {
    CKR_OK
}
unsafe extern "C" fn unlock_mutex(_: *mut c_void) -> CK_RV {
    CKR_OK
}

fn mutex_args() -> CK_C_INITIALIZE_ARGS {
    CK_C_INITIALIZE_ARGS {
        CreateMutex: Some(create_mutex),
        DestroyMutex: Some(destroy_mutex),
        LockMutex: Some(lock_mutex),
        UnlockMutex: Some(unlock_mutex),
        flags: 0,
        pReserved: null_mut(),
    }
}

fn counts() -> (usize, usize) {
    (
        CREATED.load(Ordering::SeqCst),
        DESTROYED.load(Ordering::SeqCst),
    )
}

/// Issue 10 finding 10: a C_Initialize that fails after creating the application's mutex
/// leaked it. Every failure path destroys it; a successful one destroys it at C_Finalize.
#[test]
fn application_mutex_is_destroyed_when_initialize_fails() {
    // A configuration that does not parse: C_Initialize fails after the mutex exists.
    let env = TestEnv::with_raw_config("this is [not toml");
    let raw = Raw::load();
    let mut args = mutex_args();
    let rv = ck!(
        raw,
        C_Initialize((&mut args as *mut CK_C_INITIALIZE_ARGS).cast())
    );
    assert_ne!(
        rv, CKR_OK,
        "C_Initialize with a broken configuration succeeded"
    );
    let (c, d) = counts();
    assert!(c >= 1, "CreateMutex was not called");
    assert_eq!(c, d, "C_Initialize failed and left {} mutexes", c - d);
    drop(env);

    // Working configuration: initialized once; a second C_Initialize fails and must not leak.
    let _env = TestEnv::new();
    let mut args = mutex_args();
    let rv = ck!(
        raw,
        C_Initialize((&mut args as *mut CK_C_INITIALIZE_ARGS).cast())
    );
    assert_rv(rv, CKR_OK);
    let mut args = mutex_args();
    let rv = ck!(
        raw,
        C_Initialize((&mut args as *mut CK_C_INITIALIZE_ARGS).cast())
    );
    assert_rv(rv, CKR_CRYPTOKI_ALREADY_INITIALIZED);
    let (c, d) = counts();
    assert_eq!(c, d + 1, "only the live module's mutex may remain");
    assert_rv(raw.finalize(), CKR_OK);
    let (c, d) = counts();
    assert_eq!(c, d, "C_Finalize left {} mutexes", c - d);
}
