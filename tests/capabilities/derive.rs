//! The exercisers of issue 12's derivations: the simple derivations of Current Mechanisms
//! §2.43 (concatenations, XOR, bit extraction; their sizes are the base key's, in bytes), the
//! SP 800-108 KDFs of §2.42 with HMAC-SHA256 (checked against NIST's pseudocode over Python's
//! `hmac`), and CKM_PUB_KEY_FROM_PRIV_KEY (sizes in bits: Ed25519 at 255, RSA up to 4096, the
//! RSA key made by Python `cryptography`).

use crate::common::p11::*;
use crate::oracle::w;
use crate::{ck, no_exerciser, random, same, Case, Cx, Exerciser, Outcome};
use cryptoki_sys::*;

pub struct Derive;

fn base(cx: &Cx, v: &[u8]) -> Result<CK_OBJECT_HANDLE, String> {
    ck(
        "C_CreateObject(base key)",
        cx.t.create(&secret(CKK_GENERIC_SECRET, v)),
    )
}

fn value(cx: &Cx, m: &Mech, b: CK_OBJECT_HANDLE, len: Option<usize>) -> Result<Vec<u8>, String> {
    let d = ck(
        "C_DeriveKey",
        cx.t.derive(m, b, &new_secret(CKK_GENERIC_SECRET, len)),
    )?;
    ck("CKA_VALUE", cx.t.attr(d, CKA_VALUE))
}

fn string_data(ty: CK_MECHANISM_TYPE, d: &[u8]) -> Mech {
    let mut m = Mech::new(ty);
    let p = m.keep(d);
    m.set_param(CK_KEY_DERIVATION_STRING_DATA {
        pData: p,
        ulLen: d.len() as CK_ULONG,
    });
    m
}

impl Exerciser for Derive {
    fn exercise(&mut self, cx: &mut Cx, c: &Case) -> Outcome {
        if c.flag != CKF_DERIVE {
            return Err(no_exerciser());
        }
        let n = c.size as usize;
        match c.m {
            CKM_CONCATENATE_BASE_AND_KEY
            | CKM_CONCATENATE_BASE_AND_DATA
            | CKM_CONCATENATE_DATA_AND_BASE
            | CKM_XOR_BASE_AND_DATA => {
                let k = random(cx, n);
                let d = random(cx, 7.max(n / 2));
                let b = base(cx, &k)?;
                let (m, want) = match c.m {
                    CKM_CONCATENATE_BASE_AND_KEY => {
                        let o = base(cx, &d)?;
                        (Mech::ulong(c.m, o), [&k[..], &d].concat())
                    }
                    CKM_CONCATENATE_BASE_AND_DATA => (string_data(c.m, &d), [&k[..], &d].concat()),
                    CKM_CONCATENATE_DATA_AND_BASE => (string_data(c.m, &d), [&d[..], &k].concat()),
                    _ => (
                        string_data(c.m, &d),
                        k.iter().zip(&d).map(|(x, y)| x ^ y).collect(),
                    ),
                };
                same(c.name, &value(cx, &m, b, None)?, &want)
            }
            CKM_EXTRACT_KEY_FROM_KEY => {
                let k = random(cx, n);
                let b = base(cx, &k)?;
                let bit = 8 * n as CK_ULONG - 3; // wraps around
                let got = value(cx, &Mech::ulong(c.m, bit), b, Some(n))?;
                // Big-endian rotation of the whole key left by `bit` bits.
                let total = 8 * n;
                let bit_at = |j: usize| (k[j / 8] >> (7 - j % 8)) & 1;
                let want: Vec<u8> = (0..n)
                    .map(|i| {
                        (0..8).fold(0u8, |acc, t| {
                            (acc << 1) | bit_at((bit as usize + 8 * i + t) % total)
                        })
                    })
                    .collect();
                same(c.name, &got, &want)
            }
            CKM_SP800_108_COUNTER_KDF
            | CKM_SP800_108_FEEDBACK_KDF
            | CKM_SP800_108_DOUBLE_PIPELINE_KDF => {
                let k = random(cx, n);
                let b = base(cx, &k)?;
                let fixed = random(cx, 20);
                let iv = if c.m == CKM_SP800_108_FEEDBACK_KDF {
                    random(cx, 32)
                } else {
                    Vec::new()
                };
                let m = kbkdf(c.m, CKM_SHA256_HMAC, Some(32), &fixed, &iv);
                let got = value(cx, &m, b, Some(77))?;
                let mode = match c.m {
                    CKM_SP800_108_COUNTER_KDF => "counter",
                    CKM_SP800_108_FEEDBACK_KDF => "feedback",
                    _ => "pipeline",
                };
                let want = cx.py.bytes(
                    "kbkdf_hmac",
                    &[
                        mode.into(),
                        "sha256".into(),
                        w(&k),
                        w(&fixed),
                        w(&iv),
                        "77".into(),
                    ],
                )?;
                same(c.name, &got, &want)
            }
            CKM_PUB_KEY_FROM_PRIV_KEY => pub_from_priv(cx, c),
            _ => Err(no_exerciser()),
        }
    }
}

fn pub_from_priv(cx: &mut Cx, c: &Case) -> Outcome {
    let public = Tmpl::new().b(CKA_TOKEN, false).b(CKA_VERIFY, true);
    let m = Mech::new(CKM_PUB_KEY_FROM_PRIV_KEY);
    let data = random(cx, 40);
    match c.size {
        255 => {
            let g = cx.py.ask("ed_gen", &[])?;
            let (seed, point) = (hx(&g[0]), hx(&g[1]));
            let private = ck(
                "C_CreateObject(Ed25519)",
                cx.t.create(
                    &Tmpl::new()
                        .u(CKA_CLASS, CKO_PRIVATE_KEY)
                        .u(CKA_KEY_TYPE, CKK_EC_EDWARDS)
                        .b(CKA_TOKEN, false)
                        .b(CKA_SIGN, true)
                        .b(CKA_DERIVE, true)
                        .bytes(CKA_EC_PARAMS, hx(OID_ED25519))
                        .bytes(CKA_VALUE, &seed),
                ),
            )?;
            let p = ck("C_DeriveKey", cx.t.derive(&m, private, &public))?;
            let got = ck("CKA_EC_POINT", cx.t.attr(p, CKA_EC_POINT))?;
            same("Ed25519 point", &got, &[&[0x04, 0x20][..], &point].concat())?;
            let sig = cx.py.bytes("ed_sign", &[w(&seed), w(&data)])?;
            ck(
                "C_Verify",
                cx.t.verify(&Mech::new(CKM_EDDSA), p, &data, &sig),
            )
        }
        bits => {
            let g = cx.py.ask("rsa_gen", &[bits.to_string()])?;
            let v: Vec<Vec<u8>> = g.iter().map(|s| hx(s)).collect();
            let names = [
                CKA_MODULUS,
                CKA_PUBLIC_EXPONENT,
                CKA_PRIVATE_EXPONENT,
                CKA_PRIME_1,
                CKA_PRIME_2,
                CKA_EXPONENT_1,
                CKA_EXPONENT_2,
                CKA_COEFFICIENT,
            ];
            let t = names.iter().zip(&v).fold(
                Tmpl::new()
                    .u(CKA_CLASS, CKO_PRIVATE_KEY)
                    .u(CKA_KEY_TYPE, CKK_RSA)
                    .b(CKA_TOKEN, false)
                    .b(CKA_SIGN, true)
                    .b(CKA_DERIVE, true),
                |t, (a, val)| t.bytes(*a, val),
            );
            let private = ck("C_CreateObject(RSA)", cx.t.create(&t))?;
            let p = ck("C_DeriveKey", cx.t.derive(&m, private, &public))?;
            same(
                "modulus",
                &ck("CKA_MODULUS", cx.t.attr(p, CKA_MODULUS))?,
                &v[0],
            )?;
            let sm = Mech::new(CKM_SHA256_RSA_PKCS);
            let sig = ck("C_Sign", cx.t.sign(&sm, private, &data))?;
            ck("C_Verify", cx.t.verify(&sm, p, &data, &sig))
        }
    }
}
