//! The AES exerciser (Current Mechanisms §2.10-§2.14: key generation, ECB, CBC, CBC-PAD, CTR,
//! GCM, CCM, CTS, key wrap RFC 3394/5649, CMAC, ECB/CBC_ENCRYPT_DATA derivation; base §5.8-§5.11
//! for the message-based GCM/CCM). Key sizes are in bytes, as the specification gives them for
//! AES. Each result is compared with Python `cryptography` given the same key and inputs.

use crate::common::p11::*;
use crate::oracle::w;
use crate::{ck, no_exerciser, random, refuses, same, Case, Cx, Exerciser, Outcome};
use cryptoki_sys::*;

pub struct Aes;

/// A cipher mode: the module's mechanism for an IV/nonce, and the Python request that encrypts
/// `data` the same way.
struct Mode {
    mech: Mech,
    py: (&'static str, Vec<String>),
    /// Appended to the Python arguments after the data (CCM's tag length).
    tail: Vec<String>,
}

fn mode(m: CK_MECHANISM_TYPE, key: &[u8], iv: &[u8], data_len: usize) -> Option<Mode> {
    let k = w(key);
    let iv16: [u8; 16] = iv[..16].try_into().ok()?;
    let (mech, op, args, tail): (Mech, &str, Vec<String>, Vec<String>) = match m {
        CKM_AES_ECB => (Mech::new(m), "ecb", vec![k], vec![]),
        CKM_AES_CBC => (Mech::bytes(m, &iv16), "cbc", vec![k, w(&iv16)], vec![]),
        CKM_AES_CBC_PAD => (Mech::bytes(m, &iv16), "cbc_pad", vec![k, w(&iv16)], vec![]),
        CKM_AES_CTS => (Mech::bytes(m, &iv16), "cts", vec![k, w(&iv16)], vec![]),
        CKM_AES_CTR => (ctr(128, iv16), "ctr", vec![k, w(&iv16)], vec![]),
        CKM_AES_GCM => (
            gcm(&iv[..12], b"capability aad", 128),
            "gcm",
            vec![k, w(&iv[..12]), w(b"capability aad")],
            vec![],
        ),
        CKM_AES_CCM => (
            ccm(data_len, &iv[..13], b"capability aad", 16),
            "ccm",
            vec![k, w(&iv[..13]), w(b"capability aad")],
            vec!["16".into()],
        ),
        CKM_AES_KEY_WRAP => (Mech::new(m), "kw", vec![k], vec![]),
        CKM_AES_KEY_WRAP_KWP => (Mech::new(m), "kwp", vec![k], vec![]),
        CKM_AES_OFB => (Mech::bytes(m, &iv16), "ofb", vec![k, w(&iv16)], vec![]),
        CKM_AES_CFB8 => (Mech::bytes(m, &iv16), "cfb8", vec![k, w(&iv16)], vec![]),
        CKM_AES_CFB64 => (Mech::bytes(m, &iv16), "cfb64", vec![k, w(&iv16)], vec![]),
        CKM_AES_CFB128 => (Mech::bytes(m, &iv16), "cfb128", vec![k, w(&iv16)], vec![]),
        CKM_AES_XTS => (Mech::bytes(m, &iv16), "xts", vec![k, w(&iv16)], vec![]),
        _ => return None,
    };
    Some(Mode {
        mech,
        py: (op, args),
        tail,
    })
}

/// Data for single-part encryption: whole blocks where the mode needs them (ECB, CBC, RFC 3394),
/// otherwise a length that leaves a partial block (CTS steals, CBC-PAD pads, KWP pads).
fn data_len(m: CK_MECHANISM_TYPE) -> usize {
    match m {
        CKM_AES_ECB | CKM_AES_CBC | CKM_AES_KEY_WRAP => 48,
        _ => 37,
    }
}

fn python_encrypt(cx: &mut Cx, md: &Mode, data: &[u8]) -> Result<Vec<u8>, String> {
    let mut args = md.py.1.clone();
    args.push(w(data));
    args.extend(md.tail.iter().cloned());
    cx.py.bytes(md.py.0, &args)
}

impl Exerciser for Aes {
    fn exercise(&mut self, cx: &mut Cx, c: &Case) -> Outcome {
        let size = c.size as usize;
        let key = random(cx, size);
        // XTS keys are their own key type: two AES keys.
        let xts = matches!(c.m, CKM_AES_XTS | CKM_AES_XTS_KEY_GEN);
        let kt = if xts { CKK_AES_XTS } else { CKK_AES };
        let h = ck("C_CreateObject(AES key)", cx.t.create(&secret(kt, &key)))?;
        let iv = random(cx, 16);
        match (c.m, c.flag) {
            (CKM_AES_XTS_KEY_GEN, CKF_GENERATE) => {
                let g = ck(
                    "C_GenerateKey",
                    cx.t.generate_key(&Mech::new(c.m), &new_secret(CKK_AES_XTS, Some(size))),
                )?;
                let value = ck("CKA_VALUE", cx.t.attr(g, CKA_VALUE))?;
                if value.len() != size {
                    return Err(format!("generated a key of {} bytes", value.len()));
                }
                let data = random(cx, 40);
                let got = ck(
                    "AES-XTS with the generated key",
                    cx.t.encrypt(&Mech::bytes(CKM_AES_XTS, &iv), g, &data),
                )?;
                let want = cx.py.bytes("xts", &[w(&value), w(&iv), w(&data)])?;
                same("AES-XTS with the generated key", &got, &want)
            }
            (CKM_AES_MAC | CKM_AES_MAC_GENERAL | CKM_AES_GMAC, CKF_SIGN | CKF_VERIFY) => {
                let data = random(cx, 45);
                let (mech, mut want) = match c.m {
                    CKM_AES_MAC => (
                        Mech::new(c.m),
                        cx.py.bytes("cbc_mac", &[w(&key), w(&data), "8".into()])?,
                    ),
                    CKM_AES_MAC_GENERAL => (
                        Mech::ulong(c.m, 11),
                        cx.py.bytes("cbc_mac", &[w(&key), w(&data), "11".into()])?,
                    ),
                    _ => (
                        gmac_params(&iv[..12], 128),
                        cx.py.bytes("gmac", &[w(&key), w(&iv[..12]), w(&data)])?,
                    ),
                };
                if c.flag == CKF_SIGN {
                    let got = ck("C_Sign", cx.t.sign(&mech, h, &data))?;
                    return same("MAC", &got, &want);
                }
                ck("C_Verify", cx.t.verify(&mech, h, &data, &want))?;
                want[0] ^= 1;
                refuses("C_Verify", cx.t.verify(&mech, h, &data, &want))
            }
            (CKM_AES_KEY_GEN, CKF_GENERATE) => {
                let g = ck(
                    "C_GenerateKey",
                    cx.t.generate_key(&Mech::new(c.m), &new_secret(CKK_AES, Some(size))),
                )?;
                let value = ck("CKA_VALUE", cx.t.attr(g, CKA_VALUE))?;
                if value.len() != size {
                    return Err(format!("generated a key of {} bytes", value.len()));
                }
                let block = random(cx, 16);
                let got = ck(
                    "AES-ECB with the generated key",
                    cx.t.encrypt(&Mech::new(CKM_AES_ECB), g, &block),
                )?;
                let want = cx.py.bytes("ecb", &[w(&value), w(&block)])?;
                same("AES-ECB with the generated key", &got, &want)
            }
            (_, CKF_ENCRYPT) => {
                let data = random(cx, data_len(c.m));
                let md = mode(c.m, &key, &iv, data.len()).ok_or_else(no_exerciser)?;
                let got = ck("C_Encrypt", cx.t.encrypt(&md.mech, h, &data))?;
                let want = python_encrypt(cx, &md, &data)?;
                same("ciphertext", &got, &want)
            }
            (_, CKF_DECRYPT) => {
                let data = random(cx, data_len(c.m));
                let md = mode(c.m, &key, &iv, data.len()).ok_or_else(no_exerciser)?;
                let cipher = python_encrypt(cx, &md, &data)?;
                let got = ck("C_Decrypt", cx.t.decrypt(&md.mech, h, &cipher))?;
                same("plaintext", &got, &data)
            }
            (_, CKF_WRAP) => {
                let target = random(cx, 32);
                let th = ck("C_CreateObject(target)", cx.t.create(&aes(&target)))?;
                let md = mode(c.m, &key, &iv, target.len()).ok_or_else(no_exerciser)?;
                let got = ck("C_WrapKey", cx.t.wrap(&md.mech, h, th))?;
                let want = python_encrypt(cx, &md, &target)?;
                same("wrapped key", &got, &want)
            }
            (_, CKF_UNWRAP) => {
                let target = random(cx, 32);
                let md = mode(c.m, &key, &iv, target.len()).ok_or_else(no_exerciser)?;
                let wrapped = python_encrypt(cx, &md, &target)?;
                let u = ck(
                    "C_UnwrapKey",
                    cx.t.unwrap(&md.mech, h, &wrapped, &new_secret(CKK_AES, None)),
                )?;
                let value = ck("CKA_VALUE of the unwrapped key", cx.t.attr(u, CKA_VALUE))?;
                same("unwrapped key value", &value, &target)
            }
            (_, CKF_MESSAGE_ENCRYPT) | (_, CKF_MESSAGE_DECRYPT) => message(cx, c, &key, h, &iv),
            (CKM_AES_CMAC | CKM_AES_CMAC_GENERAL, CKF_SIGN | CKF_VERIFY) => {
                let (mech, len) = if c.m == CKM_AES_CMAC {
                    (Mech::new(c.m), 16)
                } else {
                    (Mech::ulong(c.m, 10), 10)
                };
                let data = random(cx, 45);
                let mut want = cx.py.bytes("aes_cmac", &[w(&key), w(&data)])?;
                want.truncate(len);
                if c.flag == CKF_SIGN {
                    let got = ck("C_Sign", cx.t.sign(&mech, h, &data))?;
                    return same("CMAC", &got, &want);
                }
                ck("C_Verify", cx.t.verify(&mech, h, &data, &want))?;
                want[0] ^= 1;
                refuses("C_Verify", cx.t.verify(&mech, h, &data, &want))
            }
            (CKM_AES_ECB_ENCRYPT_DATA | CKM_AES_CBC_ENCRYPT_DATA, CKF_DERIVE) => {
                let data = random(cx, 32);
                let iv16: [u8; 16] = iv[..16].try_into().unwrap();
                let (mech, want) = if c.m == CKM_AES_ECB_ENCRYPT_DATA {
                    (
                        aes_ecb_encrypt_data(&data),
                        cx.py.bytes("ecb", &[w(&key), w(&data)])?,
                    )
                } else {
                    (
                        aes_cbc_encrypt_data(iv16, &data),
                        cx.py.bytes("cbc", &[w(&key), w(&iv16), w(&data)])?,
                    )
                };
                let d = ck(
                    "C_DeriveKey",
                    cx.t.derive(&mech, h, &new_secret(CKK_AES, Some(32))),
                )?;
                let value = ck("CKA_VALUE of the derived key", cx.t.attr(d, CKA_VALUE))?;
                same("derived key value", &value, &want)
            }
            _ => Err(no_exerciser()),
        }
    }
}

/// C_EncryptMessage / C_DecryptMessage (base §5.11, §5.13) with a caller-given IV or nonce,
/// one message; the tag travels in the per-message parameter.
fn message(cx: &mut Cx, c: &Case, key: &[u8], h: CK_OBJECT_HANDLE, iv: &[u8]) -> Outcome {
    let data = random(cx, 37);
    let aad = b"message aad".to_vec();
    let sealed = match c.m {
        CKM_AES_GCM => cx
            .py
            .bytes("gcm", &[w(key), w(&iv[..12]), w(&aad), w(&data)])?,
        CKM_AES_CCM => cx.py.bytes(
            "ccm",
            &[w(key), w(&iv[..13]), w(&aad), w(&data), "16".into()],
        )?,
        _ => return Err(no_exerciser()),
    };
    let (want_cipher, want_tag) = sealed.split_at(data.len());
    let params = |tag: &[u8]| match c.m {
        CKM_AES_GCM => gcm_message_params(&iv[..12], CKG_NO_GENERATE, 0, tag),
        _ => ccm_message_params(data.len(), &iv[..13], tag),
    };
    let init = Mech::new(c.m);
    if c.flag == CKF_MESSAGE_ENCRYPT {
        ck("C_MessageEncryptInit", cx.t.message_encrypt_init(&init, h))?;
        let p = params(&[0u8; 16]);
        let got = ck("C_EncryptMessage", cx.t.encrypt_message(&p, &aad, &data))?;
        ck("C_MessageEncryptFinal", cx.t.message_encrypt_final())?;
        same("message ciphertext", &got, want_cipher)?;
        same("message tag", &p.kept(1), want_tag)
    } else {
        ck("C_MessageDecryptInit", cx.t.message_decrypt_init(&init, h))?;
        let got = ck(
            "C_DecryptMessage",
            cx.t.decrypt_message(&params(want_tag), &aad, want_cipher),
        )?;
        ck("C_MessageDecryptFinal", cx.t.message_decrypt_final())?;
        same("message plaintext", &got, &data)
    }
}
