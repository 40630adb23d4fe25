//! The crypto rows: each module through PKCS#11 (`C_*Init` plus a single-part call), and
//! aws-lc-rs alone in the same process, its key set up once, as the library column.

use super::{batch, ec_templates, rsa_templates, Hsm, Runner, HASH32, HASH48, MSG, P256};
use crate::measure::Batch;
use crate::p11::{Mech, Template};
use crate::report::Unit;
use anyhow::{anyhow, bail, Result};
use aws_lc_rs::{aead, agreement, cipher, digest, hmac, rand, rsa, signature};
use cryptoki_sys::*;

/// aws-lc-rs reports no detail in its errors: name the operation.
fn lib<E>(what: &'static str) -> impl FnOnce(E) -> anyhow::Error {
    move |_| anyhow!("aws-lc-rs: {what} failed")
}

/// The library alone, as the library column of a row.
fn alone<'a>(op: impl FnMut() -> Result<()> + 'a) -> Option<Batch<'a>> {
    Some(batch(op))
}

pub fn crypto(r: &mut Runner, hsms: &[Hsm; 2]) -> Result<()> {
    rsa_rows(r, hsms)?;
    ec_rows(r, hsms)?;
    keygen_rows(r, hsms)?;
    symmetric_rows(r, hsms)
}

fn rsa_rows(r: &mut Runner, hsms: &[Hsm; 2]) -> Result<()> {
    use signature::{RsaKeyPair, RSA_PKCS1_SHA256, RSA_PSS_SHA256};
    let plan = r.plan();
    let g = "crypto";
    let rng = aws_lc_rs::rand::SystemRandom::new();
    for (i, bits) in [2048u32, 3072].into_iter().enumerate() {
        let size = if bits == 2048 {
            rsa::KeySize::Rsa2048
        } else {
            rsa::KeySize::Rsa3072
        };
        let key = RsaKeyPair::generate(size).map_err(lib("RSA key generation"))?;
        let key = &key;
        let rng = &rng;

        let mut out = vec![0u8; key.public_modulus_len()];
        r.bench(
            hsms,
            plan,
            (g, &format!("RSA-{bits} sign SHA256_RSA_PKCS"), Unit::Ops),
            |h| {
                let key = h.keys.rsa[i].1;
                let mech = Mech::Plain(CKM_SHA256_RSA_PKCS);
                let mut out = vec![0u8; 512];
                Ok(batch(move || {
                    h.m.sign(h.s, &mech, key, MSG, &mut out).map(drop)
                }))
            },
            alone(move || {
                key.sign(&RSA_PKCS1_SHA256, rng, MSG, &mut out)
                    .map_err(lib("RSA sign"))
            }),
        )?;

        // CKM_RSA_PKCS_PSS signs the caller's hash: the library signs the same digest.
        let hash = digest::Digest::import_less_safe(HASH32, &digest::SHA256)
            .map_err(lib("digest import"))?;
        let mut out = vec![0u8; key.public_modulus_len()];
        r.bench(
            hsms,
            plan,
            (g, &format!("RSA-{bits} sign RSA_PKCS_PSS"), Unit::Ops),
            |h| {
                let key = h.keys.rsa[i].1;
                let mech = Mech::PssSha256(CKM_RSA_PKCS_PSS);
                let mut out = vec![0u8; 512];
                Ok(batch(move || {
                    h.m.sign(h.s, &mech, key, HASH32, &mut out).map(drop)
                }))
            },
            alone(move || {
                key.sign_digest(&RSA_PSS_SHA256, &hash, &mut out)
                    .map_err(lib("RSA-PSS sign"))
            }),
        )?;

        let public = signature::ParsedPublicKey::new(
            &signature::RSA_PKCS1_2048_8192_SHA256,
            signature::KeyPair::public_key(key).as_ref(),
        )
        .map_err(lib("RSA public key parsing"))?;
        let mut lib_sig = vec![0u8; key.public_modulus_len()];
        key.sign(&RSA_PKCS1_SHA256, rng, MSG, &mut lib_sig)
            .map_err(lib("RSA sign"))?;
        r.bench(
            hsms,
            plan,
            (g, &format!("RSA-{bits} verify SHA256_RSA_PKCS"), Unit::Ops),
            |h| {
                let (public, private) = h.keys.rsa[i];
                let mech = Mech::Plain(CKM_SHA256_RSA_PKCS);
                let mut sig = vec![0u8; 512];
                let n = h.m.sign(h.s, &mech, private, MSG, &mut sig)?;
                sig.truncate(n);
                Ok(batch(move || h.m.verify(h.s, &mech, public, MSG, &sig)))
            },
            alone(move || public.verify_sig(MSG, &lib_sig).map_err(lib("RSA verify"))),
        )?;

        let private =
            rsa::PrivateDecryptingKey::generate(size).map_err(lib("RSA key generation"))?;
        let encrypting = rsa::OaepPublicEncryptingKey::new(private.public_key())
            .map_err(lib("RSA public key"))?;
        let decrypting =
            rsa::OaepPrivateDecryptingKey::new(private).map_err(lib("RSA private key"))?;
        let mut lib_ct = vec![0u8; encrypting.ciphertext_size()];
        let n = encrypting
            .encrypt(&rsa::OAEP_SHA1_MGF1SHA1, HASH32, &mut lib_ct, None)
            .map_err(lib("RSA-OAEP encrypt"))?
            .len();
        lib_ct.truncate(n);
        let mut lib_pt = vec![0u8; decrypting.min_output_size()];
        r.bench(
            hsms,
            plan,
            (
                g,
                &format!("RSA-{bits} decrypt RSA_PKCS_OAEP SHA-1"),
                Unit::Ops,
            ),
            |h| {
                let (public, private) = h.keys.rsa[i];
                let mut ct = vec![0u8; 512];
                let n = h.m.encrypt(h.s, &Mech::OaepSha1, public, HASH32, &mut ct)?;
                ct.truncate(n);
                let mut pt = vec![0u8; 512];
                Ok(batch(move || {
                    let n = h.m.decrypt(h.s, &Mech::OaepSha1, private, &ct, &mut pt)?;
                    if pt.get(..n) != Some(&HASH32[..]) {
                        bail!("{}: OAEP decryption gave a wrong plaintext", h.m.name);
                    }
                    Ok(())
                }))
            },
            alone(move || {
                let pt = decrypting
                    .decrypt(&rsa::OAEP_SHA1_MGF1SHA1, &lib_ct, &mut lib_pt, None)
                    .map_err(lib("RSA-OAEP decrypt"))?;
                if pt != HASH32 {
                    bail!("aws-lc-rs: OAEP decryption gave a wrong plaintext");
                }
                Ok(())
            }),
        )?;
    }
    Ok(())
}

fn ec_rows(r: &mut Runner, hsms: &[Hsm; 2]) -> Result<()> {
    use signature::EcdsaKeyPair;
    let plan = r.plan();
    let g = "crypto";
    let rng = aws_lc_rs::rand::SystemRandom::new();
    let rng = &rng;
    for (i, curve) in ["P-256", "P-384"].into_iter().enumerate() {
        let hash: &[u8] = if i == 0 { HASH32 } else { HASH48 };
        // aws-lc-rs pairs P-384 with SHA-384 only; hashing 64 bytes costs next to nothing.
        let (lib_sign, lib_verify, lib_hash) = if i == 0 {
            (
                &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                &signature::ECDSA_P256_SHA256_FIXED,
                &digest::SHA256,
            )
        } else {
            (
                &signature::ECDSA_P384_SHA384_FIXED_SIGNING,
                &signature::ECDSA_P384_SHA384_FIXED,
                &digest::SHA384,
            )
        };
        let key = EcdsaKeyPair::generate(lib_sign).map_err(lib("EC key generation"))?;
        let key = &key;

        // CKM_ECDSA signs the caller's hash: the library signs the same digest.
        let lib_digest =
            digest::Digest::import_less_safe(hash, lib_hash).map_err(lib("digest import"))?;
        r.bench(
            hsms,
            plan,
            (g, &format!("ECDSA {curve} sign ECDSA"), Unit::Ops),
            |h| {
                let key = h.keys.ec[i].1;
                let mut out = vec![0u8; 256];
                Ok(batch(move || {
                    h.m.sign(h.s, &Mech::Plain(CKM_ECDSA), key, hash, &mut out)
                        .map(drop)
                }))
            },
            alone(move || {
                key.sign_digest(&lib_digest)
                    .map(drop)
                    .map_err(lib("ECDSA sign"))
            }),
        )?;
        r.bench(
            hsms,
            plan,
            (g, &format!("ECDSA {curve} sign ECDSA_SHA256*"), Unit::Ops),
            |h| {
                let key = h.keys.ec[i].1;
                let mut out = vec![0u8; 256];
                Ok(batch(move || {
                    h.sign_ecdsa_sha256(h.s, key, MSG, &mut out).map(drop)
                }))
            },
            alone(move || key.sign(rng, MSG).map(drop).map_err(lib("ECDSA sign"))),
        )?;

        let public = signature::ParsedPublicKey::new(
            lib_verify,
            signature::KeyPair::public_key(key).as_ref(),
        )
        .map_err(lib("EC public key parsing"))?;
        let lib_sig = key.sign(rng, MSG).map_err(lib("ECDSA sign"))?;
        r.bench(
            hsms,
            plan,
            (g, &format!("ECDSA {curve} verify ECDSA_SHA256*"), Unit::Ops),
            |h| {
                let (public, private) = h.keys.ec[i];
                let mut sig = vec![0u8; 256];
                let n = h.sign_ecdsa_sha256(h.s, private, MSG, &mut sig)?;
                sig.truncate(n);
                Ok(batch(move || h.verify_ecdsa_sha256(public, MSG, &sig)))
            },
            alone(move || {
                public
                    .verify_sig(MSG, lib_sig.as_ref())
                    .map_err(lib("ECDSA verify"))
            }),
        )?;
    }

    // The modules parse the peer's point on every derivation, so the library does too.
    let private = agreement::PrivateKey::generate(&agreement::ECDH_P256)
        .map_err(lib("ECDH key generation"))?;
    let peer = agreement::PrivateKey::generate(&agreement::ECDH_P256)
        .and_then(|k| k.compute_public_key())
        .map_err(lib("ECDH key generation"))?;
    let mut secret = [0u8; 32];
    r.bench(
        hsms,
        plan,
        (g, "ECDH P-256 derive (+destroy)", Unit::Ops),
        |h| {
            let base = h.keys.ec[0].1;
            let point = h.keys.peer_point.clone();
            Ok(batch(move || {
                let t = Template::new()
                    .ulong(CKA_CLASS, CKO_SECRET_KEY)
                    .ulong(CKA_KEY_TYPE, CKK_GENERIC_SECRET)
                    .ulong(CKA_VALUE_LEN, 32)
                    .bool(CKA_TOKEN, false)
                    .bool(CKA_SENSITIVE, true);
                let k = h.m.derive(h.s, &Mech::Ecdh(&point), base, t)?;
                h.m.destroy_object(h.s, k)
            }))
        },
        alone(move || {
            agreement::agree(
                &private,
                agreement::UnparsedPublicKey::new(&agreement::ECDH_P256, peer.as_ref()),
                anyhow!("aws-lc-rs: ECDH failed"),
                |s| {
                    secret.copy_from_slice(s);
                    Ok(())
                },
            )
        }),
    )?;
    Ok(())
}

/// Key generation: session objects, destroyed in the timed loop; the library generates the
/// same keys (for AES: 32 random bytes) and drops them.
fn keygen_rows(r: &mut Runner, hsms: &[Hsm; 2]) -> Result<()> {
    let plan = r.plan();
    let g = "crypto";
    let mut aes = [0u8; 32];
    r.bench(
        hsms,
        plan,
        (g, "keygen AES-256 (+destroy)", Unit::Ops),
        |h| {
            Ok(batch(move || {
                let t = Template::new()
                    .bool(CKA_TOKEN, false)
                    .ulong(CKA_VALUE_LEN, 32)
                    .bool(CKA_ENCRYPT, true);
                let k = h.m.generate_key(h.s, CKM_AES_KEY_GEN, t)?;
                h.m.destroy_object(h.s, k)
            }))
        },
        alone(move || rand::fill(&mut aes).map_err(lib("random"))),
    )?;
    for (name, plan, rsa) in [
        ("keygen EC P-256 (+destroy)", plan, false),
        ("keygen RSA-2048 (+destroy)", r.slow_plan(), true),
    ] {
        r.bench(
            hsms,
            plan,
            (g, name, Unit::Ops),
            |h| {
                Ok(batch(move || {
                    let (public, private) = if rsa {
                        rsa_templates(2048, b"k-gen", false)
                    } else {
                        ec_templates(P256, b"k-gen", false)
                    };
                    let mech = if rsa {
                        CKM_RSA_PKCS_KEY_PAIR_GEN
                    } else {
                        CKM_EC_KEY_PAIR_GEN
                    };
                    let (p, q) = h.m.generate_key_pair(h.s, mech, public, private)?;
                    h.m.destroy_object(h.s, p)?;
                    h.m.destroy_object(h.s, q)
                }))
            },
            alone(move || {
                if rsa {
                    signature::RsaKeyPair::generate(rsa::KeySize::Rsa2048).map(drop)
                } else {
                    signature::EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_FIXED_SIGNING)
                        .map(drop)
                }
                .map_err(lib("key generation"))
            }),
        )?;
    }
    Ok(())
}

/// Symmetric ciphers, digests, MACs, random. The library encrypts in place (its fastest way;
/// the modules write to the caller's separate output buffer) with unpadded CBC, as
/// `CKM_AES_CBC` is on these block-multiple sizes.
fn symmetric_rows(r: &mut Runner, hsms: &[Hsm; 2]) -> Result<()> {
    let plan = r.plan();
    let g = "crypto";
    let key_bytes = [0x11u8; 32];
    let gcm = aead::LessSafeKey::new(
        aead::UnboundKey::new(&aead::AES_256_GCM, &key_bytes).map_err(lib("AES key"))?,
    );
    let gcm = &gcm;
    let cbc = cipher::EncryptingKey::cbc(
        cipher::UnboundCipherKey::new(&cipher::AES_256, &key_bytes).map_err(lib("AES key"))?,
    )
    .map_err(lib("AES-CBC key"))?;
    let cbc = &cbc;
    let hmac_key = hmac::Key::new(hmac::HMAC_SHA256, &key_bytes);
    let hmac_key = &hmac_key;

    let sizes: [(usize, &str); 3] = [(64, "64 B"), (4096, "4 KiB"), (1 << 20, "1 MiB")];
    let unit = |n: usize| {
        if n >= 4096 {
            Unit::Bytes(n as u64)
        } else {
            Unit::Ops
        }
    };
    for (n, size) in sizes {
        let mut buf = vec![0x5au8; n];
        let mut counter = 0u64;
        r.bench(
            hsms,
            plan,
            (g, &format!("AES-256-GCM encrypt {size}"), unit(n)),
            |h| {
                let data = vec![0x5a; n];
                let mut out = vec![0u8; n + 16];
                let mut iv = [0u8; 12];
                let mut counter = 0u64;
                Ok(batch(move || {
                    counter += 1;
                    iv[..8].copy_from_slice(&counter.to_le_bytes());
                    h.m.encrypt(h.s, &Mech::Gcm(&iv), h.keys.aes, &data, &mut out)
                        .map(drop)
                }))
            },
            alone(move || {
                counter += 1;
                let mut iv = [0u8; 12];
                iv[..8].copy_from_slice(&counter.to_le_bytes());
                gcm.seal_in_place_separate_tag(
                    aead::Nonce::assume_unique_for_key(iv),
                    aead::Aad::empty(),
                    &mut buf,
                )
                .map(drop)
                .map_err(lib("AES-GCM seal"))
            }),
        )?;
        let mut buf = vec![0x5au8; n];
        r.bench(
            hsms,
            plan,
            (g, &format!("AES-256-CBC encrypt {size}"), unit(n)),
            |h| {
                let data = vec![0x5a; n];
                let mut out = vec![0u8; n];
                let iv = [7u8; 16];
                Ok(batch(move || {
                    h.m.encrypt(h.s, &Mech::Cbc(&iv), h.keys.aes, &data, &mut out)
                        .map(drop)
                }))
            },
            alone(move || {
                let iv =
                    cipher::EncryptionContext::Iv128(aws_lc_rs::iv::FixedLength::from([7u8; 16]));
                cbc.less_safe_encrypt(&mut buf, iv)
                    .map(drop)
                    .map_err(lib("AES-CBC encrypt"))
            }),
        )?;
    }
    for &(n, size) in &sizes[..2] {
        let data = vec![0x5au8; n];
        r.bench(
            hsms,
            plan,
            (g, &format!("SHA-256 digest {size}"), unit(n)),
            |h| {
                let data = vec![0x5a; n];
                let mut out = [0u8; 32];
                Ok(batch(move || {
                    h.m.digest(h.s, CKM_SHA256, &data, &mut out).map(drop)
                }))
            },
            alone(move || {
                std::hint::black_box(digest::digest(&digest::SHA256, &data));
                Ok(())
            }),
        )?;
        let data = vec![0x5au8; n];
        r.bench(
            hsms,
            plan,
            (g, &format!("HMAC-SHA256 sign {size}"), unit(n)),
            |h| {
                let data = vec![0x5a; n];
                let mut out = [0u8; 32];
                let mech = Mech::Plain(CKM_SHA256_HMAC);
                Ok(batch(move || {
                    h.m.sign(h.s, &mech, h.keys.hmac, &data, &mut out).map(drop)
                }))
            },
            alone(move || {
                std::hint::black_box(hmac::sign(hmac_key, &data));
                Ok(())
            }),
        )?;
    }
    for (n, size) in [(32usize, "32 B"), (1 << 20, "1 MiB")] {
        let mut buf = vec![0u8; n];
        r.bench(
            hsms,
            plan,
            (g, &format!("C_GenerateRandom {size}"), unit(n)),
            |h| {
                let mut out = vec![0u8; n];
                Ok(batch(move || h.m.random(h.s, &mut out)))
            },
            alone(move || rand::fill(&mut buf).map_err(lib("random"))),
        )?;
    }
    Ok(())
}
