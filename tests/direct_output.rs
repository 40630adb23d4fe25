//! Single-part encryption and decryption that write straight into the caller's buffer
//! (`module::op::single`): the same bytes as through the module's own buffer, in place (input
//! and output the same memory) as well as into a separate buffer, and nothing of a failed
//! decryption left in the caller's buffer.

mod common;

use common::p11::{gcm, Mech, Tmpl};
use common::*;
use cryptoki_sys::*;

struct Setup {
    raw: Raw,
    h: CK_SESSION_HANDLE,
    key: CK_OBJECT_HANDLE,
    _env: TestEnv,
}

fn setup(name: &str) -> Setup {
    let env = TestEnv::new();
    let ctx = load_module();
    let slot = init_token(&ctx, name).id();
    std::mem::forget(ctx); // the raw calls below share the one initialized module
    let raw = Raw::load();
    let (rv, h) = raw.open_session(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION);
    assert_rv(rv, CKR_OK);
    assert_rv(raw.login(h, CKU_USER, USER_PIN), CKR_OK);
    let mut t = Tmpl::new()
        .u(CKA_CLASS, CKO_SECRET_KEY)
        .u(CKA_KEY_TYPE, CKK_AES)
        .b(CKA_TOKEN, false)
        .b(CKA_ENCRYPT, true)
        .b(CKA_DECRYPT, true)
        .bytes(CKA_VALUE, [0x5au8; 32])
        .raw();
    let mut key = 0;
    assert_rv(
        ck!(raw, C_CreateObject(h, t.ptr(), t.len(), &mut key)),
        CKR_OK,
    );
    Setup {
        raw,
        h,
        key,
        _env: env,
    }
}

fn run(
    s: &Setup,
    m: &Mech,
    encrypt: bool,
    input: *mut u8,
    len: usize,
    out: *mut u8,
    cap: usize,
) -> (CK_RV, usize) {
    let mut ck_m = m.ck();
    let rv = if encrypt {
        ck!(s.raw, C_EncryptInit(s.h, &mut ck_m, s.key))
    } else {
        ck!(s.raw, C_DecryptInit(s.h, &mut ck_m, s.key))
    };
    assert_rv(rv, CKR_OK);
    let mut n = cap as CK_ULONG;
    let rv = if encrypt {
        ck!(s.raw, C_Encrypt(s.h, input, len as CK_ULONG, out, &mut n))
    } else {
        ck!(s.raw, C_Decrypt(s.h, input, len as CK_ULONG, out, &mut n))
    };
    (rv, n as usize)
}

/// Encrypt into a separate buffer and in place; both match, and decrypting in place gives the
/// data back.
fn same_both_ways(s: &Setup, m: &Mech, data_len: usize, overhead: usize) {
    let data: Vec<u8> = (0..data_len).map(|i| (i * 7 + 3) as u8).collect();
    let mut input = data.clone();
    let mut apart = vec![0u8; data_len + overhead + 64];
    let (rv, n) = run(
        s,
        m,
        true,
        input.as_mut_ptr(),
        data_len,
        apart.as_mut_ptr(),
        apart.len(),
    );
    assert_rv(rv, CKR_OK);
    assert_eq!(n, data_len + overhead);
    let mut inplace = data.clone();
    inplace.resize(data_len + overhead, 0);
    let p = inplace.as_mut_ptr();
    let (rv, n2) = run(s, m, true, p, data_len, p, inplace.len());
    assert_rv(rv, CKR_OK);
    assert_eq!(n2, n);
    assert_eq!(inplace[..n], apart[..n], "in place and apart differ");
    let p = inplace.as_mut_ptr();
    let (rv, back) = run(s, m, false, p, n, p, inplace.len());
    assert_rv(rv, CKR_OK);
    assert_eq!(back, data_len);
    assert_eq!(inplace[..back], data[..], "in-place decryption");
    let mut plain = vec![0u8; n];
    let (rv, back) = run(
        s,
        m,
        false,
        apart.as_mut_ptr(),
        n,
        plain.as_mut_ptr(),
        plain.len(),
    );
    assert_rv(rv, CKR_OK);
    assert_eq!(plain[..back], data[..], "decryption into a separate buffer");
}

#[test]
fn gcm_and_cbc_give_the_same_bytes_in_place_and_apart() {
    let s = setup("direct-same");
    for len in [0usize, 1, 64, 4096, 1 << 20] {
        same_both_ways(&s, &gcm(&[9u8; 12], b"aad", 128), len, 16);
    }
    for len in [16usize, 4096, 1 << 20] {
        same_both_ways(&s, &Mech::bytes(CKM_AES_CBC, &[4u8; 16]), len, 0);
        same_both_ways(&s, &Mech::new(CKM_AES_ECB), len, 0);
    }
    for len in [0usize, 15, 4096] {
        let pad = 16 - len % 16;
        same_both_ways(&s, &Mech::bytes(CKM_AES_CBC_PAD, &[4u8; 16]), len, pad);
    }
}

#[test]
fn a_failed_decryption_leaves_nothing_in_the_callers_buffer() {
    let s = setup("direct-failed");
    // CBC_PAD: a ciphertext whose last block does not decrypt to valid padding.
    let mut ct = vec![0x33u8; 64];
    let mut out = vec![0xaau8; 128];
    let (rv, _) = run(
        &s,
        &Mech::bytes(CKM_AES_CBC_PAD, &[4u8; 16]),
        false,
        ct.as_mut_ptr(),
        ct.len(),
        out.as_mut_ptr(),
        out.len(),
    );
    assert_rv(rv, CKR_ENCRYPTED_DATA_INVALID);
    assert!(
        out.iter().all(|b| *b == 0xaa || *b == 0),
        "a failed CBC_PAD decryption left output behind"
    );
    // GCM: a tag that does not verify.
    let mut out = vec![0xaau8; 128];
    let (rv, _) = run(
        &s,
        &gcm(&[9u8; 12], b"", 128),
        false,
        ct.as_mut_ptr(),
        ct.len(),
        out.as_mut_ptr(),
        out.len(),
    );
    assert_rv(rv, CKR_ENCRYPTED_DATA_INVALID);
    assert!(
        out.iter().all(|b| *b == 0xaa || *b == 0),
        "a GCM decryption that failed its tag left output behind"
    );
}

#[test]
fn a_short_buffer_keeps_the_operation_and_the_retry_gets_the_output() {
    let s = setup("direct-short");
    let m = gcm(&[1u8; 12], b"", 128);
    let mut data = vec![7u8; 100];
    let mut small = vec![0u8; 50];
    let (rv, n) = run(&s, &m, true, data.as_mut_ptr(), 100, small.as_mut_ptr(), 50);
    assert_rv(rv, CKR_BUFFER_TOO_SMALL);
    assert_eq!(n, 116);
    let mut big = vec![0u8; 200];
    let mut len = big.len() as CK_ULONG;
    assert_rv(
        ck!(
            s.raw,
            C_Encrypt(s.h, data.as_mut_ptr(), 100, big.as_mut_ptr(), &mut len)
        ),
        CKR_OK,
    );
    assert_eq!(len, 116);
    let mut again = vec![0u8; 200];
    let (rv, n) = run(
        &s,
        &m,
        true,
        data.as_mut_ptr(),
        100,
        again.as_mut_ptr(),
        200,
    );
    assert_rv(rv, CKR_OK);
    assert_eq!(again[..n], big[..116]);
}
