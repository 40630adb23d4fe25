//! Mechanism parameter parsing through the C ABI: a fuzzed `CK_MECHANISM` (type, and a
//! parameter that is either the structure the mechanism defines, with its pointers into buffers
//! of the lengths it claims, or raw bytes where the parameter holds no pointer) into
//! C_EncryptInit/C_DecryptInit/C_SignInit/C_VerifyInit/C_DigestInit/C_DeriveKey/C_WrapKey/
//! C_UnwrapKey/C_GenerateKey and the message-based calls, with fixed keys, then the operation on
//! fuzzed data. Any return code is fine; a crash, an abort or a hang is a finding.
#![no_main]

use ferrohsm_fuzz::*;
use libfuzzer_sys::fuzz_target;

/// The black-box tests' fixed key material (RSA-2048 parts as hex).
#[allow(dead_code)]
#[path = "../../tests/common/keys.rs"]
mod test_keys;
use std::ffi::c_void;
use std::mem::size_of;
use std::sync::OnceLock;

/// What a mechanism's parameter is, so the fuzzer only builds parameters whose pointers are real.
#[derive(Clone, Copy, Debug, PartialEq)]
enum P {
    /// No pointer inside: any bytes are a safe parameter (NULL, an IV, a ulong, CTR, PSS).
    Bytes,
    Gcm,
    Ccm,
    Oaep,
    Ecdh,
    Eddsa,
    Hkdf,
    Pbkdf2,
    EcbData,
    CbcData,
    /// CK_SP800_108_KDF_PARAMS / CK_SP800_108_FEEDBACK_KDF_PARAMS with their nested arrays.
    Kbkdf,
}

const MECHS: &[(CK_MECHANISM_TYPE, P)] = &[
    (CKM_AES_KEY_GEN, P::Bytes),
    (CKM_AES_ECB, P::Bytes),
    (CKM_AES_CBC, P::Bytes),
    (CKM_AES_CBC_PAD, P::Bytes),
    (CKM_AES_CTS, P::Bytes),
    (CKM_AES_CTR, P::Bytes),
    (CKM_AES_GCM, P::Gcm),
    (CKM_AES_CCM, P::Ccm),
    (CKM_AES_KEY_WRAP, P::Bytes),
    (CKM_AES_KEY_WRAP_KWP, P::Bytes),
    (CKM_AES_CMAC, P::Bytes),
    (CKM_AES_CMAC_GENERAL, P::Bytes),
    (CKM_AES_ECB_ENCRYPT_DATA, P::EcbData),
    (CKM_AES_CBC_ENCRYPT_DATA, P::CbcData),
    (CKM_RSA_PKCS, P::Bytes),
    (CKM_RSA_X_509, P::Bytes),
    (CKM_RSA_PKCS_OAEP, P::Oaep),
    (CKM_RSA_PKCS_PSS, P::Bytes),
    (CKM_SHA1_RSA_PKCS, P::Bytes),
    (CKM_SHA256_RSA_PKCS, P::Bytes),
    (CKM_SHA3_256_RSA_PKCS, P::Bytes),
    (CKM_SHA256_RSA_PKCS_PSS, P::Bytes),
    (CKM_SHA512_RSA_PKCS_PSS, P::Bytes),
    (CKM_EC_KEY_PAIR_GEN, P::Bytes),
    (CKM_ECDSA, P::Bytes),
    (CKM_ECDSA_SHA1, P::Bytes),
    (CKM_ECDSA_SHA256, P::Bytes),
    (CKM_ECDSA_SHA512, P::Bytes),
    (CKM_ECDH1_DERIVE, P::Ecdh),
    (CKM_ECDH1_COFACTOR_DERIVE, P::Ecdh),
    (CKM_EC_EDWARDS_KEY_PAIR_GEN, P::Bytes),
    (CKM_EDDSA, P::Eddsa),
    (CKM_SHA_1, P::Bytes),
    (CKM_SHA256, P::Bytes),
    (CKM_SHA3_512, P::Bytes),
    (CKM_SHA256_HMAC, P::Bytes),
    (CKM_SHA3_256_HMAC, P::Bytes),
    (CKM_SHA256_HMAC_GENERAL, P::Bytes),
    (CKM_SHA_1_HMAC_GENERAL, P::Bytes),
    (CKM_GENERIC_SECRET_KEY_GEN, P::Bytes),
    (CKM_HKDF_KEY_GEN, P::Bytes),
    (CKM_HKDF_DERIVE, P::Hkdf),
    (CKM_PKCS5_PBKD2, P::Pbkdf2),
    (CKM_DES3_CBC, P::Bytes),
    // Issue 12, derivation.
    (CKM_CONCATENATE_BASE_AND_KEY, P::Bytes),
    (CKM_CONCATENATE_BASE_AND_DATA, P::EcbData),
    (CKM_CONCATENATE_DATA_AND_BASE, P::EcbData),
    (CKM_XOR_BASE_AND_DATA, P::EcbData),
    (CKM_EXTRACT_KEY_FROM_KEY, P::Bytes),
    (CKM_PUB_KEY_FROM_PRIV_KEY, P::Bytes),
    (CKM_SP800_108_COUNTER_KDF, P::Kbkdf),
    (CKM_SP800_108_FEEDBACK_KDF, P::Kbkdf),
    (CKM_SP800_108_DOUBLE_PIPELINE_KDF, P::Kbkdf),
];

/// Mechanism types with a pointer-bearing parameter: a raw type from the input that happens to
/// be one of these gets a structured parameter, never raw bytes.
fn kind_of(m: CK_MECHANISM_TYPE) -> P {
    MECHS
        .iter()
        .find(|(t, _)| *t == m)
        .map(|(_, p)| *p)
        .unwrap_or(P::Bytes)
}

const HASHES: &[CK_ULONG] = &[
    CKM_SHA_1,
    CKM_SHA224,
    CKM_SHA256,
    CKM_SHA384,
    CKM_SHA512,
    CKM_SHA3_256,
    CKM_MD5,
];
const MGFS: &[CK_ULONG] = &[
    CKG_MGF1_SHA1,
    CKG_MGF1_SHA224,
    CKG_MGF1_SHA256,
    CKG_MGF1_SHA384,
    CKG_MGF1_SHA512,
    CKG_MGF1_SHA3_256,
];

/// A pointer/length pair into the arena: a real buffer, or NULL with a length (which the module
/// must reject without reading).
fn ptr_len(input: &mut Input<'_>, arena: &mut Arena) -> (*mut u8, CK_ULONG) {
    let s = input.u8();
    if s >= 0xf0 {
        (std::ptr::null_mut(), CK_ULONG::from(input.u8()))
    } else {
        let b = input.blob();
        (arena.bytes(b), b.len() as CK_ULONG)
    }
}

/// The parameter bytes of a structure, and the length claimed for it: usually exact, sometimes
/// shorter (the buffer is never shorter than the claim).
fn structure<T>(value: T, input: &mut Input<'_>, arena: &mut Arena) -> (*mut c_void, CK_ULONG) {
    let size = size_of::<T>();
    // SAFETY: T is a plain C structure; its bytes are copied out.
    let bytes = unsafe { std::slice::from_raw_parts(&value as *const T as *const u8, size) };
    let claim = match input.u8() {
        0xff => size - usize::from(input.u8()) % size,
        0xfe => 0,
        _ => size,
    };
    (arena.bytes(bytes) as *mut c_void, claim as CK_ULONG)
}

/// An SP 800-108 parameter: up to six data parameters of fuzzed types (counter and length
/// formats as structures, byte arrays as pointer/length pairs), up to two additional keys with
/// a one-attribute template and a writable handle, and for feedback mode an IV.
fn kbkdf(
    ty: CK_MECHANISM_TYPE,
    input: &mut Input<'_>,
    arena: &mut Arena,
) -> (*mut c_void, CK_ULONG) {
    let mut params = Vec::new();
    for _ in 0..input.u8() % 7 {
        let t = input.ulong(&[1, 2, 3, 4, 5, 0]);
        let (v, l) = match input.u8() % 4 {
            0 => (std::ptr::null_mut(), 0),
            1 => structure(
                CK_SP800_108_COUNTER_FORMAT {
                    bLittleEndian: input.u8() % 3,
                    ulWidthInBits: input.ulong(&[8, 16, 24, 32, 12, 40]),
                },
                input,
                arena,
            ),
            2 => structure(
                CK_SP800_108_DKM_LENGTH_FORMAT {
                    dkmLengthMethod: input.ulong(&[1, 2, 3]),
                    bLittleEndian: input.u8() % 3,
                    ulWidthInBits: input.ulong(&[8, 16, 32, 64, 72]),
                },
                input,
                arena,
            ),
            _ => {
                let (p, l) = ptr_len(input, arena);
                (p as *mut c_void, l)
            }
        };
        params.push(CK_PRF_DATA_PARAM {
            type_: t,
            pValue: v,
            ulValueLen: l,
        });
    }
    let mut keys = Vec::new();
    for _ in 0..input.u8() % 3 {
        let len = arena.bytes(&input.ulong(&[16, 32, 1, 0]).to_ne_bytes());
        let t = arena.attrs(vec![attr(CKA_VALUE_LEN, len, size_of::<CK_ULONG>())]);
        keys.push(CK_DERIVED_KEY {
            pTemplate: t,
            ulAttributeCount: CK_ULONG::from(input.u8() % 2),
            phKey: arena.out(size_of::<CK_OBJECT_HANDLE>()) as *mut CK_OBJECT_HANDLE,
        });
    }
    // SAFETY: `p` points at `n` bytes of plain C structures; they are copied into the arena.
    let raw = |p: *const u8, n: usize| unsafe { std::slice::from_raw_parts(p, n) }.to_vec();
    let np = params.len();
    let pd = arena.bytes(&raw(
        params.as_ptr() as *const u8,
        np * size_of::<CK_PRF_DATA_PARAM>(),
    ));
    let nk = keys.len();
    let pk = arena.bytes(&raw(
        keys.as_ptr() as *const u8,
        nk * size_of::<CK_DERIVED_KEY>(),
    ));
    // Counts never exceed the arrays (a shorter claim is fine).
    let np = (np - usize::from(input.u8()) % (np + 1)) as CK_ULONG;
    let nk = nk as CK_ULONG;
    let pd = pd as *mut CK_PRF_DATA_PARAM;
    let pk = if nk == 0 {
        std::ptr::null_mut()
    } else {
        pk as *mut CK_DERIVED_KEY
    };
    let prf = input.ulong(&[
        CKM_AES_CMAC,
        CKM_SHA256_HMAC,
        CKM_SHA_1_HMAC,
        CKM_SHA256,
        CKM_MD5_HMAC,
    ]);
    if ty == CKM_SP800_108_FEEDBACK_KDF {
        let (iv, iv_len) = ptr_len(input, arena);
        let v = CK_SP800_108_FEEDBACK_KDF_PARAMS {
            prfType: prf,
            ulNumberOfDataParams: np,
            pDataParams: pd,
            ulIVLen: iv_len,
            pIV: iv,
            ulAdditionalDerivedKeys: nk,
            pAdditionalDerivedKeys: pk,
        };
        structure(v, input, arena)
    } else {
        let v = CK_SP800_108_KDF_PARAMS {
            prfType: prf,
            ulNumberOfDataParams: np,
            pDataParams: pd,
            ulAdditionalDerivedKeys: nk,
            pAdditionalDerivedKeys: pk,
        };
        structure(v, input, arena)
    }
}

fn mechanism(input: &mut Input<'_>, arena: &mut Arena) -> CK_MECHANISM {
    let s = input.u8();
    let (ty, kind) = if s < 0xf0 {
        MECHS[usize::from(s) % MECHS.len()]
    } else {
        let t = input.u64() as CK_MECHANISM_TYPE;
        (t, kind_of(t))
    };
    let (p, len) = match kind {
        P::Bytes => {
            let b = input.u8();
            if b == 0 {
                (std::ptr::null_mut(), 0)
            } else if b == 1 {
                (std::ptr::null_mut(), CK_ULONG::from(input.u8()))
            } else if b == 2 {
                let v = input.ulong(&[0, 1, 8, 16, 20, 32, 64, 128]);
                (
                    arena.bytes(&v.to_ne_bytes()) as *mut c_void,
                    size_of::<CK_ULONG>() as CK_ULONG,
                )
            } else if b == 3 {
                // A PSS parameter.
                let v = CK_RSA_PKCS_PSS_PARAMS {
                    hashAlg: input.ulong(HASHES),
                    mgf: input.ulong(MGFS),
                    sLen: input.ulong(&[0, 20, 32, 64]),
                };
                structure(v, input, arena)
            } else {
                let v = input.blob();
                (arena.bytes(v) as *mut c_void, v.len() as CK_ULONG)
            }
        }
        P::Gcm => {
            let (iv, iv_len) = ptr_len(input, arena);
            let (aad, aad_len) = ptr_len(input, arena);
            let v = CK_GCM_PARAMS {
                pIv: iv,
                ulIvLen: iv_len,
                ulIvBits: input.ulong(&[0, 96, 128]),
                pAAD: aad,
                ulAADLen: aad_len,
                ulTagBits: input.ulong(&[0, 32, 64, 96, 104, 112, 120, 128]),
            };
            structure(v, input, arena)
        }
        P::Ccm => {
            let (n, n_len) = ptr_len(input, arena);
            let (aad, aad_len) = ptr_len(input, arena);
            let v = CK_CCM_PARAMS {
                ulDataLen: input.ulong(&[0, 1, 16, 32, 100]),
                pNonce: n,
                ulNonceLen: n_len,
                pAAD: aad,
                ulAADLen: aad_len,
                ulMACLen: input.ulong(&[4, 6, 8, 10, 12, 14, 16]),
            };
            structure(v, input, arena)
        }
        P::Oaep => {
            let (src, src_len) = ptr_len(input, arena);
            let v = CK_RSA_PKCS_OAEP_PARAMS {
                hashAlg: input.ulong(HASHES),
                mgf: input.ulong(MGFS),
                source: input.ulong(&[0, CKZ_DATA_SPECIFIED]),
                pSourceData: src as *mut c_void,
                ulSourceDataLen: src_len,
            };
            structure(v, input, arena)
        }
        P::Ecdh => {
            let (sh, sh_len) = ptr_len(input, arena);
            let (pb, pb_len) = if input.bool() {
                // The fixed P-256 key's own public point (uncompressed, or wrapped in DER).
                let point = &keys().ec_point;
                let v: &[u8] = if input.bool() { point } else { &point[2..] };
                (arena.bytes(v), v.len() as CK_ULONG)
            } else {
                ptr_len(input, arena)
            };
            let v = CK_ECDH1_DERIVE_PARAMS {
                kdf: input.ulong(&[CKD_NULL, CKD_SHA1_KDF, CKD_SHA256_KDF, CKD_SHA512_KDF]),
                ulSharedDataLen: sh_len,
                pSharedData: sh,
                ulPublicDataLen: pb_len,
                pPublicData: pb,
            };
            structure(v, input, arena)
        }
        P::Eddsa => {
            if input.bool() {
                (std::ptr::null_mut(), 0)
            } else {
                let (c, c_len) = ptr_len(input, arena);
                let v = CK_EDDSA_PARAMS {
                    phFlag: input.u8() & 1,
                    ulContextDataLen: c_len,
                    pContextData: c,
                };
                structure(v, input, arena)
            }
        }
        P::Hkdf => {
            let (salt, salt_len) = ptr_len(input, arena);
            let (info, info_len) = ptr_len(input, arena);
            let v = CK_HKDF_PARAMS {
                bExtract: input.u8() & 1,
                bExpand: input.u8() & 1,
                prfHashMechanism: input.ulong(HASHES),
                ulSaltType: input.ulong(&[
                    CKF_HKDF_SALT_NULL,
                    CKF_HKDF_SALT_DATA,
                    CKF_HKDF_SALT_KEY,
                ]),
                pSalt: salt,
                ulSaltLen: salt_len,
                hSaltKey: input.ulong(&[0, keys().generic]),
                pInfo: info,
                ulInfoLen: info_len,
            };
            structure(v, input, arena)
        }
        P::Pbkdf2 => {
            let (salt, salt_len) = ptr_len(input, arena);
            let (pw, pw_len) = ptr_len(input, arena);
            let v = CK_PKCS5_PBKD2_PARAMS2 {
                saltSource: input.ulong(&[CKZ_SALT_SPECIFIED]),
                pSaltSourceData: salt as *mut c_void,
                ulSaltSourceDataLen: salt_len,
                // Kept small: PBKDF2 costs what the caller asks, up to 2^32 - 1 rounds.
                iterations: CK_ULONG::from(input.u16() % 1024),
                prf: input.ulong(&[
                    CKP_PKCS5_PBKD2_HMAC_SHA1,
                    CKP_PKCS5_PBKD2_HMAC_SHA256,
                    CKP_PKCS5_PBKD2_HMAC_SHA512,
                ]),
                pPrfData: std::ptr::null_mut(),
                ulPrfDataLen: 0,
                pPassword: pw,
                ulPasswordLen: pw_len,
            };
            structure(v, input, arena)
        }
        P::EcbData => {
            let (d, d_len) = ptr_len(input, arena);
            let v = CK_KEY_DERIVATION_STRING_DATA {
                pData: d,
                ulLen: d_len,
            };
            structure(v, input, arena)
        }
        P::Kbkdf => kbkdf(ty, input, arena),
        P::CbcData => {
            let (d, d_len) = ptr_len(input, arena);
            let mut iv = [0u8; 16];
            iv.copy_from_slice(&{
                let mut v = input.take(16).to_vec();
                v.resize(16, 0);
                v
            });
            let v = CK_AES_CBC_ENCRYPT_DATA_PARAMS {
                iv,
                pData: d,
                length: d_len,
            };
            structure(v, input, arena)
        }
    };
    let p = p as *mut c_void;
    CK_MECHANISM {
        mechanism: ty,
        pParameter: p,
        ulParameterLen: len,
    }
}

/// The fixed keys every input may use.
struct Keys {
    all: Vec<CK_OBJECT_HANDLE>,
    generic: CK_OBJECT_HANDLE,
    ec_point: Vec<u8>,
}

fn keys() -> &'static Keys {
    static K: OnceLock<Keys> = OnceLock::new();
    K.get_or_init(|| {
        let s = session();
        let usage = |t: Fixed| {
            t.bool(CKA_ENCRYPT, true)
                .bool(CKA_DECRYPT, true)
                .bool(CKA_WRAP, true)
                .bool(CKA_UNWRAP, true)
                .bool(CKA_SIGN, true)
                .bool(CKA_VERIFY, true)
                .bool(CKA_DERIVE, true)
                .bool(CKA_EXTRACTABLE, true)
        };
        let aes = generate_key(
            s,
            CKM_AES_KEY_GEN,
            usage(Fixed::new().ulong(CKA_VALUE_LEN, 32)),
        );
        let aes16 = generate_key(
            s,
            CKM_AES_KEY_GEN,
            usage(Fixed::new().ulong(CKA_VALUE_LEN, 16)),
        );
        let generic = create(
            s,
            Fixed::new()
                .ulong(CKA_CLASS, CKO_SECRET_KEY)
                .ulong(CKA_KEY_TYPE, CKK_GENERIC_SECRET)
                .bytes(CKA_VALUE, &[0x42; 32])
                .bool(CKA_SIGN, true)
                .bool(CKA_VERIFY, true)
                .bool(CKA_DERIVE, true)
                .bool(CKA_EXTRACTABLE, true),
        );
        let (ec_pub, ec_priv) = generate_pair(
            s,
            CKM_EC_KEY_PAIR_GEN,
            Fixed::new()
                .bytes(CKA_EC_PARAMS, P256_PARAMS)
                .bool(CKA_VERIFY, true)
                .bool(CKA_ENCRYPT, true)
                .bool(CKA_WRAP, true),
            Fixed::new()
                .bool(CKA_SIGN, true)
                .bool(CKA_DERIVE, true)
                .bool(CKA_DECRYPT, true)
                .bool(CKA_UNWRAP, true)
                .bool(CKA_EXTRACTABLE, true),
        );
        let (ed_pub, ed_priv) = generate_pair(
            s,
            CKM_EC_EDWARDS_KEY_PAIR_GEN,
            Fixed::new()
                .bytes(CKA_EC_PARAMS, ED25519_PARAMS)
                .bool(CKA_VERIFY, true),
            Fixed::new()
                .bool(CKA_SIGN, true)
                .bool(CKA_EXTRACTABLE, true),
        );
        // The tests' fixed RSA-2048 key, imported (generating one costs seconds under ASan).
        use test_keys::*;
        let rsa_pub = create(
            s,
            Fixed::new()
                .ulong(CKA_CLASS, CKO_PUBLIC_KEY)
                .ulong(CKA_KEY_TYPE, CKK_RSA)
                .bytes(CKA_MODULUS, &unhex(RSA_MODULUS))
                .bytes(CKA_PUBLIC_EXPONENT, &unhex(RSA_PUBLIC_EXPONENT))
                .bool(CKA_ENCRYPT, true)
                .bool(CKA_VERIFY, true)
                .bool(CKA_VERIFY_RECOVER, true)
                .bool(CKA_WRAP, true),
        );
        let rsa_priv = create(
            s,
            Fixed::new()
                .ulong(CKA_CLASS, CKO_PRIVATE_KEY)
                .ulong(CKA_KEY_TYPE, CKK_RSA)
                .bytes(CKA_MODULUS, &unhex(RSA_MODULUS))
                .bytes(CKA_PUBLIC_EXPONENT, &unhex(RSA_PUBLIC_EXPONENT))
                .bytes(CKA_PRIVATE_EXPONENT, &unhex(RSA_PRIVATE_EXPONENT))
                .bytes(CKA_PRIME_1, &unhex(RSA_PRIME_1))
                .bytes(CKA_PRIME_2, &unhex(RSA_PRIME_2))
                .bytes(CKA_EXPONENT_1, &unhex(RSA_EXPONENT_1))
                .bytes(CKA_EXPONENT_2, &unhex(RSA_EXPONENT_2))
                .bytes(CKA_COEFFICIENT, &unhex(RSA_COEFFICIENT))
                .bool(CKA_SIGN, true)
                .bool(CKA_SIGN_RECOVER, true)
                .bool(CKA_DECRYPT, true)
                .bool(CKA_UNWRAP, true)
                .bool(CKA_EXTRACTABLE, true),
        );
        let mut t = Fixed::new().bytes(CKA_EC_POINT, &[0; 128]);
        let ptr = t.ptr();
        // SAFETY: a 128-byte buffer for the point.
        check("C_GetAttributeValue", unsafe {
            C_GetAttributeValue(s, ec_pub, ptr, 1)
        });
        // SAFETY: the module set the length it wrote.
        let (p, n) = unsafe { ((*ptr).pValue as *const u8, (*ptr).ulValueLen as usize) };
        // SAFETY: `n` bytes were written into the 128-byte buffer.
        let ec_point = unsafe { std::slice::from_raw_parts(p, n) }.to_vec();
        Keys {
            all: vec![
                aes, aes16, generic, ec_pub, ec_priv, ed_pub, ed_priv, rsa_pub, rsa_priv,
            ],
            generic,
            ec_point,
        }
    })
}

/// Run an output-producing call with the size-query convention: a NULL query, then a buffer
/// of the size asked for (or a deliberately short one).
fn output(short: bool, mut call: impl FnMut(*mut u8, *mut CK_ULONG) -> CK_RV) {
    let mut len: CK_ULONG = 0;
    if call(std::ptr::null_mut(), &mut len) != CKR_OK || len > 1 << 20 {
        return;
    }
    let want = if short {
        (len as usize).saturating_sub(1)
    } else {
        len as usize
    };
    let mut buf = vec![0xa5u8; want];
    let mut l = want as CK_ULONG;
    call(buf.as_mut_ptr(), &mut l);
}

fuzz_target!(|data: &[u8]| {
    let k = keys();
    // A session of its own per input: closing it ends whatever operation the input left active.
    let s = open_session(slot());
    run(s, k, data);
    C_CloseSession(s);
});

fn run(s: CK_SESSION_HANDLE, k: &Keys, data: &[u8]) {
    let mut input = Input(data);
    let mut arena = Arena::default();
    let op = input.u8();
    let mut m = mechanism(&mut input, &mut arena);
    let key = if input.u8() == 0xff {
        0xdead
    } else {
        input.pick(&k.all)
    };
    let short = input.u8() & 0x10 != 0;
    let multi = input.u8() & 1 == 1;
    let payload = input.blob();
    let p = payload.as_ptr() as *mut u8;
    let n = payload.len() as CK_ULONG;
    // SAFETY (all calls below): the mechanism's pointers are valid for their lengths (see
    // `mechanism`), data pointers for their lengths, output buffers per `output`.
    unsafe {
        match op % 11 {
            0 | 1 => {
                let enc = op % 2 == 0;
                let rv = if enc {
                    C_EncryptInit(s, &mut m, key)
                } else {
                    C_DecryptInit(s, &mut m, key)
                };
                if rv != CKR_OK {
                    return;
                }
                if multi {
                    let half = n / 2;
                    output(short, |o, l| {
                        if enc {
                            C_EncryptUpdate(s, p, half, o, l)
                        } else {
                            C_DecryptUpdate(s, p, half, o, l)
                        }
                    });
                    output(short, |o, l| {
                        if enc {
                            C_EncryptUpdate(s, p.add(half as usize), n - half, o, l)
                        } else {
                            C_DecryptUpdate(s, p.add(half as usize), n - half, o, l)
                        }
                    });
                    output(short, |o, l| {
                        if enc {
                            C_EncryptFinal(s, o, l)
                        } else {
                            C_DecryptFinal(s, o, l)
                        }
                    });
                } else {
                    output(short, |o, l| {
                        if enc {
                            C_Encrypt(s, p, n, o, l)
                        } else {
                            C_Decrypt(s, p, n, o, l)
                        }
                    });
                }
            }
            2 => {
                if C_SignInit(s, &mut m, key) != CKR_OK {
                    return;
                }
                if multi {
                    C_SignUpdate(s, p, n);
                    output(short, |o, l| C_SignFinal(s, o, l));
                } else {
                    output(short, |o, l| C_Sign(s, p, n, o, l));
                }
            }
            3 => {
                if C_VerifyInit(s, &mut m, key) != CKR_OK {
                    return;
                }
                let sig = input.blob();
                if multi {
                    C_VerifyUpdate(s, p, n);
                    C_VerifyFinal(s, sig.as_ptr() as *mut u8, sig.len() as CK_ULONG);
                } else {
                    C_Verify(s, p, n, sig.as_ptr() as *mut u8, sig.len() as CK_ULONG);
                }
            }
            4 => {
                if C_DigestInit(s, &mut m) != CKR_OK {
                    return;
                }
                if multi {
                    C_DigestUpdate(s, p, n);
                    C_DigestKey(s, key);
                    output(short, |o, l| C_DigestFinal(s, o, l));
                } else {
                    output(short, |o, l| C_Digest(s, p, n, o, l));
                }
            }
            5 => {
                let mut t = Template::decode(&mut input, 6);
                if input.bool() {
                    t.push(CKA_CLASS, &CKO_SECRET_KEY.to_ne_bytes());
                    t.push(
                        CKA_KEY_TYPE,
                        &input.pick(&[CKK_AES, CKK_GENERIC_SECRET]).to_ne_bytes(),
                    );
                    t.push(CKA_VALUE_LEN, &input.ulong(&[16, 32, 64]).to_ne_bytes());
                }
                let mut h = 0;
                if C_DeriveKey(s, &mut m, key, t.ptr(), t.len(), &mut h) == CKR_OK {
                    C_DestroyObject(s, h);
                }
            }
            6 => {
                let wrapped_key = input.pick(&k.all);
                output(short, |o, l| C_WrapKey(s, &mut m, key, wrapped_key, o, l));
            }
            7 => {
                let mut t = Template::decode(&mut input, 6);
                if input.bool() {
                    t.push(
                        CKA_CLASS,
                        &input.pick(&[CKO_SECRET_KEY, CKO_PRIVATE_KEY]).to_ne_bytes(),
                    );
                    t.push(
                        CKA_KEY_TYPE,
                        &input
                            .pick(&[CKK_AES, CKK_GENERIC_SECRET, CKK_EC, CKK_RSA])
                            .to_ne_bytes(),
                    );
                }
                let mut h = 0;
                if C_UnwrapKey(s, &mut m, key, p, n, t.ptr(), t.len(), &mut h) == CKR_OK {
                    C_DestroyObject(s, h);
                }
            }
            8 => {
                // Key generation of the cheap kinds only (no RSA: its cost is the caller's choice).
                if m.mechanism == CKM_RSA_PKCS_KEY_PAIR_GEN {
                    return;
                }
                let mut t = Template::decode(&mut input, 6);
                let mut h = 0;
                if C_GenerateKey(s, &mut m, t.ptr(), t.len(), &mut h) == CKR_OK {
                    C_DestroyObject(s, h);
                }
            }
            _ => {
                // Message-based encryption: the per-message parameter, with IV/tag buffers the
                // module writes back into.
                let enc = op % 2 == 0;
                let rv = if enc {
                    C_MessageEncryptInit(s, &mut m, key)
                } else {
                    C_MessageDecryptInit(s, &mut m, key)
                };
                if rv != CKR_OK {
                    return;
                }
                let iv_len = usize::from(input.u8() % 33);
                let tag_len = usize::from(input.u8() % 33);
                let iv = arena.bytes(&{
                    let mut v = input.take(iv_len).to_vec();
                    v.resize(iv_len, 0);
                    v
                });
                let tag = arena.bytes(&{
                    let mut v = input.take(tag_len).to_vec();
                    v.resize(tag_len, 0);
                    v
                });
                let gen = input.ulong(&[
                    CKG_NO_GENERATE,
                    CKG_GENERATE,
                    CKG_GENERATE_COUNTER,
                    CKG_GENERATE_RANDOM,
                ]);
                let fixed_bits = input.ulong(&[0, 32, 64, 96]);
                let (param, plen) = if m.mechanism == CKM_AES_CCM {
                    structure(
                        CK_CCM_MESSAGE_PARAMS {
                            ulDataLen: input.ulong(&[0, n, n + 1]),
                            pNonce: iv,
                            ulNonceLen: iv_len as CK_ULONG,
                            ulNonceFixedBits: fixed_bits,
                            nonceGenerator: gen,
                            pMAC: tag,
                            ulMACLen: tag_len as CK_ULONG,
                        },
                        &mut input,
                        &mut arena,
                    )
                } else {
                    structure(
                        CK_GCM_MESSAGE_PARAMS {
                            pIv: iv,
                            ulIvLen: iv_len as CK_ULONG,
                            ulIvFixedBits: fixed_bits,
                            ivGenerator: gen,
                            pTag: tag,
                            ulTagBits: (tag_len * 8) as CK_ULONG,
                        },
                        &mut input,
                        &mut arena,
                    )
                };
                let aad = input.blob();
                let (a, al) = (aad.as_ptr() as *mut u8, aad.len() as CK_ULONG);
                if multi {
                    let begin = if enc {
                        C_EncryptMessageBegin(s, param, plen, a, al)
                    } else {
                        C_DecryptMessageBegin(s, param, plen, a, al)
                    };
                    if begin == CKR_OK {
                        output(short, |o, l| {
                            if enc {
                                C_EncryptMessageNext(s, param, plen, p, n, o, l, CKF_END_OF_MESSAGE)
                            } else {
                                C_DecryptMessageNext(s, param, plen, p, n, o, l, CKF_END_OF_MESSAGE)
                            }
                        });
                    }
                } else {
                    output(short, |o, l| {
                        if enc {
                            C_EncryptMessage(s, param, plen, a, al, p, n, o, l)
                        } else {
                            C_DecryptMessage(s, param, plen, a, al, p, n, o, l)
                        }
                    });
                }
                if enc {
                    C_MessageEncryptFinal(s)
                } else {
                    C_MessageDecryptFinal(s)
                };
            }
        }
    }
}
