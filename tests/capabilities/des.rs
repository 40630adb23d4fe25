//! The DES exerciser (issue 12; Current Mechanisms, Triple-DES and DES3-CMAC; CKM_DES_* of the
//! historical mechanisms): key generation, ECB, CBC, CBC-PAD (encrypt, decrypt, wrap, unwrap)
//! and DES3-CMAC. Key sizes are bytes: 8 is a DES key, 16 a DES2 key, 24 a DES3 key. Results
//! are compared with Python `cryptography`'s TripleDES (which takes the three key lengths as
//! K1K1K1, K1K2K1 and K1K2K3).

use crate::common::p11::*;
use crate::oracle::w;
use crate::{ck, no_exerciser, random, refuses, same, Case, Cx, Exerciser, Outcome};
use cryptoki_sys::*;

pub struct Des;

fn key_type(size: usize) -> Option<CK_KEY_TYPE> {
    Some(match size {
        8 => CKK_DES,
        16 => CKK_DES2,
        24 => CKK_DES3,
        _ => return None,
    })
}

/// The module's mechanism and the oracle's request (with its leading arguments) of a mode.
fn mode(m: CK_MECHANISM_TYPE, key: &[u8], iv: &[u8]) -> Option<(Mech, &'static str, Vec<String>)> {
    Some(match m {
        CKM_DES_ECB | CKM_DES3_ECB => (Mech::new(m), "tdes_ecb", vec![w(key)]),
        CKM_DES_CBC | CKM_DES3_CBC => (Mech::bytes(m, iv), "tdes_cbc", vec![w(key), w(iv)]),
        CKM_DES_CBC_PAD | CKM_DES3_CBC_PAD => {
            (Mech::bytes(m, iv), "tdes_cbc_pad", vec![w(key), w(iv)])
        }
        _ => return None,
    })
}

fn python(cx: &mut Cx, op: &str, args: &[String], data: &[u8]) -> Result<Vec<u8>, String> {
    let mut a = args.to_vec();
    a.push(w(data));
    cx.py.bytes(op, &a)
}

impl Exerciser for Des {
    fn exercise(&mut self, cx: &mut Cx, c: &Case) -> Outcome {
        let size = c.size as usize;
        let kt = key_type(size).ok_or_else(|| format!("no DES key type of {size} bytes"))?;
        let mut key = random(cx, size);
        // DES keys must have odd parity (the module refuses others).
        for b in &mut key {
            *b = (*b & 0xfe) | u8::from((*b >> 1).count_ones() % 2 == 0);
        }
        let h = ck("C_CreateObject(DES key)", cx.t.create(&secret(kt, &key)))?;
        let iv = random(cx, 8);
        // Whole blocks for ECB and CBC, a partial block for CBC-PAD.
        let data_len = if matches!(c.m, CKM_DES_CBC_PAD | CKM_DES3_CBC_PAD) {
            37
        } else {
            40
        };
        match (c.m, c.flag) {
            (CKM_DES_KEY_GEN | CKM_DES2_KEY_GEN | CKM_DES3_KEY_GEN, CKF_GENERATE) => {
                let g = ck(
                    "C_GenerateKey",
                    cx.t.generate_key(&Mech::new(c.m), &new_secret(kt, None)),
                )?;
                let value = ck("CKA_VALUE", cx.t.attr(g, CKA_VALUE))?;
                if value.len() != size || value.iter().any(|b| b.count_ones() % 2 == 0) {
                    return Err(format!(
                        "generated {} (not {size} odd-parity bytes)",
                        hex(&value)
                    ));
                }
                let ecb = if kt == CKK_DES {
                    CKM_DES_ECB
                } else {
                    CKM_DES3_ECB
                };
                let block = random(cx, 8);
                let got = ck(
                    "ECB with the generated key",
                    cx.t.encrypt(&Mech::new(ecb), g, &block),
                )?;
                let want = cx.py.bytes("tdes_ecb", &[w(&value), w(&block)])?;
                same("ECB with the generated key", &got, &want)
            }
            (_, CKF_ENCRYPT) => {
                let data = random(cx, data_len);
                let (mech, op, args) = mode(c.m, &key, &iv).ok_or_else(no_exerciser)?;
                let got = ck("C_Encrypt", cx.t.encrypt(&mech, h, &data))?;
                same("ciphertext", &got, &python(cx, op, &args, &data)?)
            }
            (_, CKF_DECRYPT) => {
                let data = random(cx, data_len);
                let (mech, op, args) = mode(c.m, &key, &iv).ok_or_else(no_exerciser)?;
                let cipher = python(cx, op, &args, &data)?;
                let got = ck("C_Decrypt", cx.t.decrypt(&mech, h, &cipher))?;
                same("plaintext", &got, &data)
            }
            (_, CKF_WRAP) => {
                let target = random(cx, 24);
                let th = ck("C_CreateObject(target)", cx.t.create(&aes(&target)))?;
                let (mech, op, args) = mode(c.m, &key, &iv).ok_or_else(no_exerciser)?;
                let got = ck("C_WrapKey", cx.t.wrap(&mech, h, th))?;
                same("wrapped key", &got, &python(cx, op, &args, &target)?)
            }
            (_, CKF_UNWRAP) => {
                let target = random(cx, 24);
                let (mech, op, args) = mode(c.m, &key, &iv).ok_or_else(no_exerciser)?;
                let wrapped = python(cx, op, &args, &target)?;
                let u = ck(
                    "C_UnwrapKey",
                    cx.t.unwrap(&mech, h, &wrapped, &new_secret(CKK_AES, None)),
                )?;
                let value = ck("CKA_VALUE of the unwrapped key", cx.t.attr(u, CKA_VALUE))?;
                same("unwrapped key value", &value, &target)
            }
            (CKM_DES3_CMAC | CKM_DES3_CMAC_GENERAL, CKF_SIGN | CKF_VERIFY) => {
                let (mech, len) = if c.m == CKM_DES3_CMAC {
                    (Mech::new(c.m), 8)
                } else {
                    (Mech::ulong(c.m, 5), 5)
                };
                let data = random(cx, 45);
                let mut want = cx.py.bytes("tdes_cmac", &[w(&key), w(&data)])?;
                want.truncate(len);
                if c.flag == CKF_SIGN {
                    let got = ck("C_Sign", cx.t.sign(&mech, h, &data))?;
                    return same("CMAC", &got, &want);
                }
                ck("C_Verify", cx.t.verify(&mech, h, &data, &want))?;
                want[0] ^= 1;
                refuses("C_Verify", cx.t.verify(&mech, h, &data, &want))
            }
            _ => Err(no_exerciser()),
        }
    }
}
