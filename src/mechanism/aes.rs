//! The AES modes family: key generation, ECB, CBC, CBC with padding, CTR, CTS, GCM, CCM, OFB,
//! CFB8/64/128 and XTS with its key generation (Current Mechanisms spec §2.10 AES and AES-XTS,
//! §2.11 AES with counter, §2.12 CTS, §2.13 GCM and CCM).

use super::keys::{aes_key, aes_prepared, gcm_prepared, secret};
use super::shapes::{buffered, zero_out, GcmOp, Stream, StreamOp, XtsOp};
use super::{bad_param, Entry, Family, Mechanism, ENC, WU};
use crate::crypto::aes::{
    self, AesCipher, Direction, Feedback, Gcm, Mode, StreamMode, Xts, XtsKey,
};
use crate::error::{fail, Error, Result};
use crate::ffi::mech::Param;
use crate::mechanism::ops::Cipher;
use crate::object::attr::Attributes;
use cryptoki_sys::*;

pub(super) struct Aes;

static ENTRIES: &[Entry] = &[
    (CKM_AES_KEY_GEN, 16, 32, CKF_GENERATE),
    (CKM_AES_ECB, 16, 32, ENC | WU),
    (CKM_AES_CBC, 16, 32, ENC | WU),
    (CKM_AES_CBC_PAD, 16, 32, ENC | WU),
    (CKM_AES_CTR, 16, 32, ENC),
    (
        CKM_AES_GCM,
        16,
        32,
        ENC | WU | CKF_MESSAGE_ENCRYPT | CKF_MESSAGE_DECRYPT,
    ),
    (
        CKM_AES_CCM,
        16,
        32,
        ENC | CKF_MESSAGE_ENCRYPT | CKF_MESSAGE_DECRYPT,
    ),
    (CKM_AES_CTS, 16, 32, ENC),
    // issue 12: OFB, CFB and XTS (XTS keys are two AES keys: 32 or 64 bytes).
    (CKM_AES_OFB, 16, 32, ENC | WU),
    (CKM_AES_CFB8, 16, 32, ENC | WU),
    (CKM_AES_CFB64, 16, 32, ENC | WU),
    (CKM_AES_CFB128, 16, 32, ENC | WU),
    (CKM_AES_XTS_KEY_GEN, 32, 64, CKF_GENERATE),
    (CKM_AES_XTS, 32, 64, ENC),
];

impl Family for Aes {
    fn entries(&self) -> &'static [Entry] {
        ENTRIES
    }

    fn parse(&self, ty: CK_MECHANISM_TYPE, p: &Param) -> Result<Mechanism> {
        use Mechanism as M;
        Ok(match ty {
            CKM_AES_KEY_GEN => p.none().map(|_| M::AesKeyGen)?,
            CKM_AES_ECB => p.none().map(|_| M::AesEcb)?,
            CKM_AES_CBC => M::AesCbc { iv: p.array()? },
            CKM_AES_CBC_PAD => M::AesCbcPad { iv: p.array()? },
            CKM_AES_CTS => M::AesCts { iv: p.array()? },
            CKM_AES_CTR => {
                let c: CK_AES_CTR_PARAMS = p.get()?;
                M::AesCtr {
                    counter_bits: c.ulCounterBits,
                    block: c.cb,
                }
            }
            CKM_AES_GCM => {
                let g: CK_GCM_PARAMS = p.get()?;
                M::AesGcm {
                    iv: p.blob(g.pIv, g.ulIvLen)?,
                    aad: p.blob(g.pAAD, g.ulAADLen)?,
                    tag_bits: g.ulTagBits,
                }
            }
            CKM_AES_CCM => {
                let c: CK_CCM_PARAMS = p.get()?;
                M::AesCcm {
                    data_len: c.ulDataLen,
                    nonce: p.blob(c.pNonce, c.ulNonceLen)?,
                    aad: p.blob(c.pAAD, c.ulAADLen)?,
                    mac_len: c.ulMACLen,
                }
            }
            CKM_AES_OFB => M::AesOfb { iv: p.array()? },
            CKM_AES_CFB8 => M::AesCfb8 { iv: p.array()? },
            CKM_AES_CFB64 => M::AesCfb64 { iv: p.array()? },
            CKM_AES_CFB128 => M::AesCfb128 { iv: p.array()? },
            CKM_AES_XTS_KEY_GEN => p.none().map(|_| M::AesXtsKeyGen)?,
            CKM_AES_XTS => M::AesXts { tweak: p.array()? },
            _ => return fail(CKR_MECHANISM_INVALID),
        })
    }

    fn cipher(
        &self,
        mech: &Mechanism,
        key: &Attributes,
        encrypt: bool,
    ) -> Option<Result<Box<dyn Cipher>>> {
        let dir = if encrypt {
            Direction::Encrypt
        } else {
            Direction::Decrypt
        };
        let stream = |mode| -> Result<Box<dyn Cipher>> {
            Ok(Box::new(Stream(AesCipher::with_key(
                aes_prepared(key)?,
                mode,
                dir,
            )?)))
        };
        Some(match mech {
            Mechanism::AesEcb => stream(Mode::Ecb),
            Mechanism::AesCbc { iv } => stream(Mode::Cbc { iv: *iv }),
            Mechanism::AesCbcPad { iv } => stream(Mode::CbcPad { iv: *iv }),
            Mechanism::AesCtr {
                counter_bits,
                block,
            } => stream(Mode::Ctr {
                counter_bits: *counter_bits,
                block: *block,
            }),
            Mechanism::AesCts { iv } => stream(Mode::Cts { iv: *iv }),
            Mechanism::AesGcm { iv, aad, tag_bits } => gcm(key, dir, iv, aad, *tag_bits),
            Mechanism::AesCcm {
                data_len,
                nonce,
                aad,
                mac_len,
            } => ccm(key, encrypt, *data_len, nonce, aad, *mac_len),
            Mechanism::AesOfb { iv } => feedback(key, Feedback::Ofb, dir, iv),
            Mechanism::AesCfb8 { iv } => feedback(key, Feedback::Cfb8, dir, iv),
            Mechanism::AesCfb64 { iv } => feedback(key, Feedback::Cfb64, dir, iv),
            Mechanism::AesCfb128 { iv } => feedback(key, Feedback::Cfb128, dir, iv),
            Mechanism::AesXts { tweak } => xts(key, dir, tweak),
            _ => return None,
        })
    }
}

fn gcm(
    key: &Attributes,
    dir: Direction,
    iv: &[u8],
    aad: &[u8],
    tag_bits: u64,
) -> Result<Box<dyn Cipher>> {
    if tag_bits % 8 != 0 {
        return Err(bad_param());
    }
    let tag_len = usize::try_from(tag_bits / 8).map_err(|_| bad_param())?;
    Ok(Box::new(GcmOp(Gcm::with_key(
        gcm_prepared(key)?,
        dir,
        iv,
        aad,
        tag_len,
    )?)))
}

fn ccm(
    key: &Attributes,
    encrypt: bool,
    data_len: u64,
    nonce: &[u8],
    aad: &[u8],
    mac_len: u64,
) -> Result<Box<dyn Cipher>> {
    aes_key(key)?;
    // The operation keeps the attribute set (shared, not copied), not a copy of the key bytes.
    let key = key.clone();
    let (nonce, aad) = (nonce.to_vec(), aad.to_vec());
    let tag = usize::try_from(mac_len).map_err(|_| Error::new(CKR_MECHANISM_PARAM_INVALID))?;
    // Bad parameters are reported at Init, not when the data arrives.
    if !(4..=16).contains(&tag) || tag % 2 != 0 || !(7..=13).contains(&nonce.len()) {
        return fail(CKR_MECHANISM_PARAM_INVALID);
    }
    Ok(buffered(
        move |n| if encrypt { n + tag } else { n },
        Box::new(move |d| {
            let plain_len = if encrypt {
                d.len()
            } else {
                d.len().saturating_sub(tag)
            };
            if plain_len as u64 != data_len {
                return fail(if encrypt {
                    CKR_DATA_LEN_RANGE
                } else {
                    CKR_ENCRYPTED_DATA_LEN_RANGE
                });
            }
            let k = aes_key(&key)?;
            if encrypt {
                aes::ccm_encrypt(k, &nonce, &aad, tag, d).map(zero_out)
            } else {
                aes::ccm_decrypt(k, &nonce, &aad, tag, d)
            }
        }),
    ))
}

/// OFB or CFB under the key's prepared schedule.
fn feedback(
    key: &Attributes,
    mode: Feedback,
    dir: Direction,
    iv: &[u8; 16],
) -> Result<Box<dyn Cipher>> {
    Ok(Box::new(StreamOp(StreamMode::new(
        aes_prepared(key)?,
        mode,
        dir,
        *iv,
    ))))
}

/// XTS: a `CKK_AES_XTS` key, its two halves expanded once per key object.
fn xts(key: &Attributes, dir: Direction, tweak: &[u8; 16]) -> Result<Box<dyn Cipher>> {
    secret(key, &[CKK_AES_XTS])?;
    let k = key.prepared(|key| XtsKey::new(secret(key, &[CKK_AES_XTS])?))?;
    Ok(Box::new(XtsOp(Xts::new(k, dir, *tweak))))
}
