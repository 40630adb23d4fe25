//! PKCS#11 v3.0 Current Mechanisms §2.10 (AES-OFB, AES-CFB8/64/128, AES-XTS, AES-GMAC,
//! AES-MAC and AES-MAC-GENERAL) through base §5.8-§5.9 (C_Encrypt*, C_Decrypt*) and §5.12
//! (C_Sign*, C_Verify*): known answers from NIST SP 800-38A, IEEE 1619, the NIST GCM test
//! vectors and FIPS 113 (CBC-MAC), cross-checked with OpenSSL where it has the mode. Also the
//! size-query convention of multi-part AES-GCM/CCM decryption (§5.2: a client that always
//! queries first) and the parameter checks of AES_ECB/CBC_ENCRYPT_DATA (§2.10.x, §2.15).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::der::*;
use common::p11::*;
use common::vectors::*;
use cryptoki_sys::*;

fn key(t: &Tok, value: &str) -> CK_OBJECT_HANDLE {
    t.obj(&aes(&hx(value)))
}

/// Multi-part decryption as PyKCS11 does it: each C_DecryptUpdate is asked for its size first
/// (NULL buffer), then called with a buffer of exactly that size (NULL again when the size is
/// 0); C_DecryptFinal the same way.
fn decrypt_querying_first(t: &Tok, parts: &[&[u8]]) -> Result<Vec<u8>, CK_RV> {
    let mut all = Vec::new();
    for p in parts {
        let (rv, _, need) = t.decrypt_update_raw(p, None);
        if rv != CKR_OK {
            return Err(rv);
        }
        let (rv, out, _) = t.decrypt_update_raw(p, Some(need));
        if rv != CKR_OK {
            return Err(rv);
        }
        all.extend_from_slice(&out);
    }
    let (rv, _, need) = t.decrypt_final_raw(None);
    if rv != CKR_OK {
        return Err(rv);
    }
    let (rv, out, _) = t.decrypt_final_raw(Some(need));
    if rv != CKR_OK {
        return Err(rv);
    }
    all.extend_from_slice(&out);
    Ok(all)
}

/// A size-query C_DecryptUpdate answers an upper bound (the data fed so far and this part), so
/// a client that queries first feeds every part exactly once; a real call whose buffer is
/// smaller than that bound is CKR_BUFFER_TOO_SMALL and consumes nothing.
#[track_caller]
fn aead_multipart_decrypt_size_queries(
    t: &Tok,
    mech: impl Fn() -> Mech,
    k: CK_OBJECT_HANDLE,
    ct: &[u8],
    plain: &[u8],
) {
    let (a, b) = ct.split_at(ct.len() / 2);
    t.decrypt_init(&mech(), k).ok_or_panic("C_DecryptInit");
    let got = decrypt_querying_first(t, &[a, b]).ok_or_panic("query-first multi-part decryption");
    assert_bytes("query-first multi-part decryption", &got, plain);

    t.decrypt_init(&mech(), k).ok_or_panic("C_DecryptInit");
    let (rv, _, need) = t.decrypt_update_raw(a, None);
    expect_rv_raw("size query of the first part", rv, CKR_OK);
    assert!(
        need >= a.len(),
        "the bound {need} is below the part ({})",
        a.len()
    );
    let (rv, _, _) = t.decrypt_update_raw(a, Some(need));
    expect_rv_raw("first part", rv, CKR_OK);
    let (rv, _, need) = t.decrypt_update_raw(b, None);
    expect_rv_raw("size query of the second part", rv, CKR_OK);
    assert!(need >= ct.len() - plain.len().min(ct.len()) && need >= b.len());
    let (rv, _, told) = t.decrypt_update_raw(b, Some(1));
    expect_rv_raw("second part into one byte", rv, CKR_BUFFER_TOO_SMALL);
    assert_eq!(told, need, "CKR_BUFFER_TOO_SMALL reports the bound");
    // Nothing was consumed: the part goes in once more, and the result is still right.
    let (rv, _, _) = t.decrypt_update_raw(b, Some(need));
    expect_rv_raw("second part", rv, CKR_OK);
    let (rv, out, _) = t.decrypt_final_raw(Some(plain.len() + 64));
    expect_rv_raw("C_DecryptFinal", rv, CKR_OK);
    assert_bytes("decryption after a refused short buffer", &out, plain);
}

#[test]
fn aes_gcm_multipart_decrypt_answers_size_queries_with_a_bound() {
    let t = token("gcm-sizeq");
    let k = key(&t, GCM_KEY);
    let iv = hx(GCM_IV);
    let ct = [hx(GCM_TC3_CIPHER), hx(GCM_TC3_TAG)].concat();
    aead_multipart_decrypt_size_queries(&t, || gcm(&iv, &[], 128), k, &ct, &hx(GCM_TC3_PLAIN));
}

#[test]
fn aes_ccm_multipart_decrypt_answers_size_queries_with_a_bound() {
    let t = token("ccm-sizeq");
    let k = key(&t, "c0c1c2c3c4c5c6c7c8c9cacbcccdcecf");
    let nonce = hx("00000003020100a0a1a2a3a4a5");
    let aad = hx("0001020304050607");
    let payload: Vec<u8> = (0x08u8..=0x1e).collect();
    let ct = hx("588c979a61c663d2f066d0c2c0f989806d5f6b61dac384 17e8d12cfdf926e0");
    aead_multipart_decrypt_size_queries(
        &t,
        || ccm(payload.len(), &nonce, &aad, 8),
        k,
        &ct,
        &payload,
    );
}

/// Data that is not a whole number of blocks is a bad parameter of the derivation mechanism
/// (CKR_MECHANISM_PARAM_INVALID), not data of an encryption (CKR_DATA_LEN_RANGE); the base key
/// is unchanged and still derives.
#[test]
fn aes_encrypt_data_with_a_bad_length_is_mechanism_param_invalid() {
    let t = token("aes-derive-len");
    let base = key(&t, SP800_38A_KEY128);
    let tmpl = new_secret(CKK_AES, None);
    let p = hx(SP800_38A_PLAIN);
    for n in [0usize, 1, 15, 17, 33] {
        expect_err(
            &format!("ECB_ENCRYPT_DATA of {n} bytes"),
            t.derive(&aes_ecb_encrypt_data(&p[..n]), base, &tmpl),
            CKR_MECHANISM_PARAM_INVALID,
        );
        expect_err(
            &format!("CBC_ENCRYPT_DATA of {n} bytes"),
            t.derive(&aes_cbc_encrypt_data([0; 16], &p[..n]), base, &tmpl),
            CKR_MECHANISM_PARAM_INVALID,
        );
    }
    t.derive(&aes_ecb_encrypt_data(&p[..16]), base, &tmpl)
        .ok_or_panic("ECB_ENCRYPT_DATA of a block after the refusals");
}
