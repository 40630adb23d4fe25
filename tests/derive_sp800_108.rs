//! The SP 800-108 KDFs of the Current Mechanisms spec v3.0 §2.42 (CKM_SP800_108_COUNTER_KDF,
//! CKM_SP800_108_FEEDBACK_KDF, CKM_SP800_108_DOUBLE_PIPELINE_KDF) through the built module:
//! NIST CAVP KBKDF counter-mode vectors (CMAC-AES), the known answers of NSS's power-up self
//! test for all three modes (HMAC-SHA256, CMAC-AES), a cross-check against Python
//! `cryptography`'s KBKDFHMAC, additional derived keys (CK_DERIVED_KEY: handles written back,
//! all or none stored), and the parameter rules.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::p11::*;
use cryptoki_sys::*;
use std::ffi::c_void;
use std::ptr::null_mut;

/// One CK_PRF_DATA_PARAM to build.
#[derive(Clone)]
enum P {
    /// Iteration variable with a counter format (counter mode): (little endian, bits).
    Iter(bool, CK_ULONG),
    /// Iteration variable without a value (feedback, double pipeline).
    Chain,
    Counter(bool, CK_ULONG),
    /// DKM length: (method, little endian, bits).
    Dkm(CK_ULONG, bool, CK_ULONG),
    Bytes(Vec<u8>),
}

/// An SP 800-108 mechanism with every buffer it points to. The boxes keep each structure at
/// one address while the vectors holding them grow: the parameter points at them.
#[allow(clippy::vec_box)]
struct Kdf {
    mech: Mech,
    _counters: Vec<Box<CK_SP800_108_COUNTER_FORMAT>>,
    _dkms: Vec<Box<CK_SP800_108_DKM_LENGTH_FORMAT>>,
    _bytes: Vec<Vec<u8>>,
    _params: Vec<CK_PRF_DATA_PARAM>,
    _keys: Vec<CK_DERIVED_KEY>,
    _templates: Vec<RawTmpl>,
    handles: Vec<Box<CK_OBJECT_HANDLE>>,
    _iv: Vec<u8>,
}

impl Kdf {
    fn new(
        ty: CK_MECHANISM_TYPE,
        prf: CK_MECHANISM_TYPE,
        ps: &[P],
        iv: Option<&[u8]>,
        extra: &[Tmpl],
    ) -> Kdf {
        let mut counters = Vec::new();
        let mut dkms = Vec::new();
        let mut bytes: Vec<Vec<u8>> = Vec::new();
        let mut params = Vec::new();
        for p in ps {
            let (type_, v, l): (CK_ULONG, *mut c_void, usize) = match p {
                P::Iter(le, bits) | P::Counter(le, bits) => {
                    let mut b = Box::new(CK_SP800_108_COUNTER_FORMAT {
                        bLittleEndian: u8::from(*le),
                        ulWidthInBits: *bits,
                    });
                    let ptr = &mut *b as *mut _ as *mut c_void;
                    counters.push(b);
                    let ty = if matches!(p, P::Iter(..)) {
                        CK_SP800_108_ITERATION_VARIABLE
                    } else {
                        CK_SP800_108_COUNTER
                    };
                    (ty, ptr, std::mem::size_of::<CK_SP800_108_COUNTER_FORMAT>())
                }
                P::Chain => (CK_SP800_108_ITERATION_VARIABLE, null_mut(), 0),
                P::Dkm(method, le, bits) => {
                    let mut b = Box::new(CK_SP800_108_DKM_LENGTH_FORMAT {
                        dkmLengthMethod: *method,
                        bLittleEndian: u8::from(*le),
                        ulWidthInBits: *bits,
                    });
                    let ptr = &mut *b as *mut _ as *mut c_void;
                    dkms.push(b);
                    (
                        CK_SP800_108_DKM_LENGTH,
                        ptr,
                        std::mem::size_of::<CK_SP800_108_DKM_LENGTH_FORMAT>(),
                    )
                }
                P::Bytes(v) => {
                    let mut v = v.clone();
                    let ptr = if v.is_empty() {
                        null_mut()
                    } else {
                        v.as_mut_ptr() as *mut c_void
                    };
                    let l = v.len();
                    bytes.push(v);
                    (CK_SP800_108_BYTE_ARRAY, ptr, l)
                }
            };
            params.push(CK_PRF_DATA_PARAM {
                type_,
                pValue: v,
                ulValueLen: l as CK_ULONG,
            });
        }
        let mut templates: Vec<RawTmpl> = extra.iter().map(Tmpl::raw).collect();
        let mut handles: Vec<Box<CK_OBJECT_HANDLE>> =
            extra.iter().map(|_| Box::new(0x5555_5555)).collect();
        let mut keys: Vec<CK_DERIVED_KEY> = templates
            .iter_mut()
            .zip(handles.iter_mut())
            .map(|(t, h)| CK_DERIVED_KEY {
                pTemplate: t.ptr(),
                ulAttributeCount: t.len(),
                phKey: &mut **h,
            })
            .collect();
        let pk = if keys.is_empty() {
            null_mut()
        } else {
            keys.as_mut_ptr()
        };
        let pd = if params.is_empty() {
            null_mut()
        } else {
            params.as_mut_ptr()
        };
        let mut iv = iv.map(<[u8]>::to_vec).unwrap_or_default();
        let mech = if ty == CKM_SP800_108_FEEDBACK_KDF {
            Mech::with(
                ty,
                CK_SP800_108_FEEDBACK_KDF_PARAMS {
                    prfType: prf,
                    ulNumberOfDataParams: params.len() as CK_ULONG,
                    pDataParams: pd,
                    ulIVLen: iv.len() as CK_ULONG,
                    pIV: if iv.is_empty() {
                        null_mut()
                    } else {
                        iv.as_mut_ptr()
                    },
                    ulAdditionalDerivedKeys: keys.len() as CK_ULONG,
                    pAdditionalDerivedKeys: pk,
                },
            )
        } else {
            Mech::with(
                ty,
                CK_SP800_108_KDF_PARAMS {
                    prfType: prf,
                    ulNumberOfDataParams: params.len() as CK_ULONG,
                    pDataParams: pd,
                    ulAdditionalDerivedKeys: keys.len() as CK_ULONG,
                    pAdditionalDerivedKeys: pk,
                },
            )
        };
        Kdf {
            mech,
            _counters: counters,
            _dkms: dkms,
            _bytes: bytes,
            _params: params,
            _keys: keys,
            _templates: templates,
            handles,
            _iv: iv,
        }
    }

    fn handle(&self, i: usize) -> CK_OBJECT_HANDLE {
        *self.handles[i]
    }
}

fn out(len: usize) -> Tmpl {
    new_secret(CKK_GENERIC_SECRET, Some(len))
}

fn derive_value(t: &Tok, k: &Kdf, base: CK_OBJECT_HANDLE, len: usize) -> Vec<u8> {
    let h = t
        .derive(&k.mech, base, &out(len))
        .ok_or_panic("C_DeriveKey");
    t.get(h, CKA_VALUE)
}

// NIST CAVP KBKDF, KDFCTR_gen.rsp, [PRF=CMAC_AES*]: (key, counter bits, fixed input before
// the counter, fixed input after it, KO).
const CAVP_CTR_CMAC: &[(&str, CK_ULONG, &str, &str, &str)] = &[
    // [CMAC_AES128] [BEFORE_FIXED] [RLEN=8_BITS] COUNT=0, L=128
    ("dff1e50ac0b69dc40f1051d46c2b069c", 8, "",
     "c16e6e02c5a3dcc8d78b9ac1306877761310455b4e41469951d9e6c2245a064b33fd8c3b01203a7824485bf0a64060c4648b707d2607935699316ea5",
     "8be8f0869b3c0ba97b71863d1b9f7813"),
    // [CMAC_AES128] [BEFORE_FIXED] [RLEN=24_BITS] L=320
    ("26fa0e32e7e08f9b157ebae9f579710f", 24, "",
     "ceab805efbe0c50a8aef62e59d95e7a54daa74ed86aa9b1ae8abf68b985b5af4b0ee150e83e6c063b59c7bf813ede9826af149237aed85b415898fa8",
     "f1d9138afcc3db6001eb54c4da567a5db3659fc0ed48e664a0408946bcee0742127c17cabf348c7a"),
    // [CMAC_AES256] [AFTER_FIXED] [RLEN=32_BITS] L=320
    ("a487f6ae25608d71b98bd7f7973fa68871b91fb59f703a2e4684d3b98c4309fe", 32,
     "b353d8e8558b52023882646d9271e245ea5c3684806d726858227dbae641385f4dd122907abb9005f59584f7bf859e0f19a99f52b2f15fffbed3499f", "",
     "9820f408e23d1c05638e36540e18832659691471bf215e68f535d66e6b482362902fcdda1818a01f"),
    // [CMAC_AES128] [MIDDLE_FIXED] [RLEN=8_BITS] L=128
    ("b6e04abd1651f8794d4326f4c684e631", 8,
     "93612f7256c46a3d856d3e951e32dbf15fe11159d0b389ad38d603850fee6d18d22031435ed36ee20da76745fbea4b10fe1e",
     "99322aae605a5f01e32b", "dcb1db87a68762c6b3354779fa590bef"),
];

#[test]
fn cavp_counter_mode_cmac() {
    let t = token("kbkdf-cavp");
    for (i, (key, r, before, after, ko)) in CAVP_CTR_CMAC.iter().enumerate() {
        let base = t.obj(&aes(&hx(key)));
        let mut ps = Vec::new();
        if !before.is_empty() {
            ps.push(P::Bytes(hx(before)));
        }
        ps.push(P::Iter(false, *r));
        if !after.is_empty() {
            ps.push(P::Bytes(hx(after)));
        }
        let k = Kdf::new(CKM_SP800_108_COUNTER_KDF, CKM_AES_CMAC, &ps, None, &[]);
        let want = hx(ko);
        assert_bytes(
            &format!("CAVP vector {i}"),
            &derive_value(&t, &k, base, want.len()),
            &want,
        );
    }
}

/// The key of NSS's SP 800-108 power-up self test (lib/softoken/kbkdf.c), of which each test
/// uses the PRF's output length; the feedback IV is the same bytes.
fn nss_key(len: usize) -> Vec<u8> {
    (0u8..8)
        .flat_map(|hi| (0u8..9).map(move |lo| hi << 4 | lo))
        .take(len)
        .collect()
}

// NSS's known answers: 64 bytes, the iteration variable alone as the PRF input.
const NSS_KATS: &[(CK_MECHANISM_TYPE, CK_MECHANISM_TYPE, &str)] = &[
    (CKM_SP800_108_COUNTER_KDF, CKM_AES_CMAC,
     "7b1ce7f3146715dd de0c09463f477ba6 b8ba40077ce31953 26ac4c2e2b3741e4 1b013f2f2d1695ee eb7e727da4ab2e67 1def6fa2c6ee3ccf ef88fd5c1d7ba05a"),
    (CKM_SP800_108_COUNTER_KDF, CKM_SHA256_HMAC,
     "fb2bb5dece5a2bdc 258f54174b5aa790 6436eb431f1df923 b22229a0fa2e21b6 b7fb270a1ca65843 a11644294b1cb372 d5989d27d57525bf 23614048bb0b498e"),
    (CKM_SP800_108_COUNTER_KDF, CKM_SHA512_HMAC,
     "b07836e115d6f0ac 687b42d3b68251ad 950a698884c22e07 34628d42720f22e6 d57f8015e6840065 ef647729d63bc79a 156d36f396c9143f 2d4a7cdbc36c3d6a"),
    (CKM_SP800_108_FEEDBACK_KDF, CKM_AES_CMAC,
     "c0a02396164dd6bd 2a758e72f5c3a0b8 7883152134d3d871 c9e74b20b7655b13 bc8554e3b6ee73d5 f2a0941a79663b1e 673e69a41240a9da 8d14b1cef14b794e"),
    (CKM_SP800_108_FEEDBACK_KDF, CKM_SHA256_HMAC,
     "999b0879142e5834 d792a77e7fc2f034 a34e33f063952dad bf3bcb6d4e07d9e9 bdbd7754e1a33626 cdb1f92d8068a201 4ebf35ec65aefd71 a6d762262c3f7363"),
    (CKM_SP800_108_DOUBLE_PIPELINE_KDF, CKM_AES_CMAC,
     "3ea8bf778490b03a 8916320192d31f1b c106c53262035016 3bb9a7dcb5686abb bb7d6369246e09d6 6f805765c5623396 69e6ab6536d0e25c d7bde46813d6b146"),
    (CKM_SP800_108_DOUBLE_PIPELINE_KDF, CKM_SHA256_HMAC,
     "eb28d92c1933b92a f9ac85bdf4dbfa88 73f43608dbfe13d1 5aec7b681353b3d1 31f283ae9f7547b6 6d3c2016479c2766 eca9df0cda2af9f4 5574de9d3fe35e14"),
    (CKM_SP800_108_DOUBLE_PIPELINE_KDF, CKM_SHA384_HMAC,
     "a5ca32400093b2cc 783ca6c4afa8b3d0 a46bb531358733a2 6a6be1ffea1d6e9e 0bde8b9215d6562f b61ad7d2013e282e fa843cc0e8be94c0 06bdbf871fb864c2"),
];

#[test]
fn nss_known_answers_all_modes() {
    let t = token("kbkdf-nss");
    for (mech, prf, want) in NSS_KATS {
        let h = match *prf {
            CKM_AES_CMAC => 16,
            CKM_SHA256_HMAC => 32,
            CKM_SHA384_HMAC => 48,
            _ => 64,
        };
        let key = nss_key(h);
        let base = if *prf == CKM_AES_CMAC {
            t.obj(&aes(&key))
        } else {
            t.obj(&secret(CKK_GENERIC_SECRET, &key))
        };
        let (ps, iv) = match *mech {
            CKM_SP800_108_COUNTER_KDF => (
                vec![P::Iter(false, if *prf == CKM_AES_CMAC { 16 } else { 32 })],
                None,
            ),
            CKM_SP800_108_FEEDBACK_KDF => (vec![P::Chain], Some(key.clone())),
            _ => (vec![P::Chain], None),
        };
        let k = Kdf::new(*mech, *prf, &ps, iv.as_deref(), &[]);
        assert_bytes(
            &format!("NSS KAT {mech:#x} / {prf:#x}"),
            &derive_value(&t, &k, base, 64),
            &hx(want),
        );
    }
}

/// Label || 0x00 || Context || [L]_32 with a 32-bit counter first is what Python
/// `cryptography`'s KBKDFHMAC computes.
#[test]
fn counter_mode_matches_python_cryptography() {
    common::der::require_python_cryptography();
    let t = token("kbkdf-pyca");
    let key = [0x4bu8; 32];
    let base = t.obj(&secret(CKK_GENERIC_SECRET, &key));
    let ps = [
        P::Iter(false, 32),
        P::Bytes(b"label".to_vec()),
        P::Bytes(vec![0]),
        P::Bytes(b"context".to_vec()),
        P::Dkm(CK_SP800_108_DKM_LENGTH_SUM_OF_KEYS, false, 32),
    ];
    let k = Kdf::new(CKM_SP800_108_COUNTER_KDF, CKM_SHA256_HMAC, &ps, None, &[]);
    let got = derive_value(&t, &k, base, 42);
    let py = common::der::python(
        "import sys\n\
         from cryptography.hazmat.primitives import hashes\n\
         from cryptography.hazmat.primitives.kdf.kbkdf import KBKDFHMAC, Mode, CounterLocation\n\
         k = KBKDFHMAC(algorithm=hashes.SHA256(), mode=Mode.CounterMode, length=42, rlen=4, llen=4,\n\
                       location=CounterLocation.BeforeFixed, label=b'label', context=b'context', fixed=None)\n\
         print(k.derive(bytes.fromhex(sys.argv[1])).hex())\n",
        &[hex(&key)],
    );
    assert_bytes("KBKDFHMAC", &got, &hx(py.trim()));
}

/// Additional keys each start on a fresh PRF block of one run and get their own template;
/// their handles come back in the CK_DERIVED_KEY array.
#[test]
fn additional_keys() {
    let t = token("kbkdf-more");
    let base = t.obj(&aes(&[0x11; 32]));
    let ps = [P::Iter(false, 16), P::Bytes(b"test_label".to_vec())];
    let stream = {
        let k = Kdf::new(CKM_SP800_108_COUNTER_KDF, CKM_AES_CMAC, &ps, None, &[]);
        derive_value(&t, &k, base, 64)
    };
    let extra = [
        new_secret(CKK_AES, Some(16))
            .b(CKA_SIGN, true)
            .b(CKA_ENCRYPT, false),
        new_secret(CKK_GENERIC_SECRET, Some(1)),
    ];
    let k = Kdf::new(CKM_SP800_108_COUNTER_KDF, CKM_AES_CMAC, &ps, None, &extra);
    let main = t
        .derive(
            &k.mech,
            base,
            &new_secret(CKK_AES, Some(20)).u(CKA_VALUE_LEN, 32),
        )
        .ok_or_panic("C_DeriveKey with additional keys");
    assert_bytes("main key", &t.get(main, CKA_VALUE), &stream[..32]);
    let (a, b) = (k.handle(0), k.handle(1));
    assert!(a != CK_INVALID_HANDLE && b != CK_INVALID_HANDLE && a != b && a != main);
    assert_bytes(
        "first additional key",
        &t.get(a, CKA_VALUE),
        &stream[32..48],
    );
    assert_bytes(
        "second additional key",
        &t.get(b, CKA_VALUE),
        &stream[48..49],
    );
    assert_eq!(t.get_ulong(a, CKA_KEY_TYPE), CKK_AES);
    assert!(!t.get_bool(a, CKA_ENCRYPT) && t.get_bool(a, CKA_SIGN));
    assert_eq!(t.get_ulong(b, CKA_VALUE_LEN), 1);
    assert!(!t.get_bool(b, CKA_LOCAL));

    // DKM length counts every key: SUM_OF_KEYS is 8 * (32 + 16 + 1), SUM_OF_SEGMENTS rounds
    // each to the 16-byte CMAC block. The main key then differs from a run without them.
    let with_dkm = |method| {
        let ps = [P::Iter(false, 16), P::Dkm(method, false, 16)];
        let k = Kdf::new(CKM_SP800_108_COUNTER_KDF, CKM_AES_CMAC, &ps, None, &extra);
        t.get(
            t.derive(&k.mech, base, &out(32)).ok_or_panic("with DKM"),
            CKA_VALUE,
        )
    };
    let keys = with_dkm(CK_SP800_108_DKM_LENGTH_SUM_OF_KEYS);
    let segs = with_dkm(CK_SP800_108_DKM_LENGTH_SUM_OF_SEGMENTS);
    assert_ne!(keys, segs);
    // Computed by hand: CMAC(K, [1]_16 || [L]_16) with L = 392 and 512 bits.
    let cmac = |l: u16| {
        let k = Kdf::new(
            CKM_SP800_108_COUNTER_KDF,
            CKM_AES_CMAC,
            &[P::Iter(false, 16), P::Bytes(l.to_be_bytes().to_vec())],
            None,
            &[],
        );
        derive_value(&t, &k, base, 16)
    };
    assert_bytes("SUM_OF_KEYS", &keys[..16], &cmac(392));
    assert_bytes("SUM_OF_SEGMENTS", &segs[..16], &cmac(512));
}

fn session_objects(t: &Tok) -> usize {
    t.session.find_objects(&[]).expect("C_FindObjects").len()
}

/// On any failure no key is left and every phKey reads CK_INVALID_HANDLE.
#[test]
fn all_or_none() {
    let t = token("kbkdf-none");
    let base = t.obj(&aes(&[0x22; 16]));
    let ps = [P::Iter(false, 32)];
    let before = session_objects(&t);
    for (what, extra, want) in [
        (
            "an additional key without a length",
            vec![out(16), new_secret(CKK_GENERIC_SECRET, None)],
            CKR_TEMPLATE_INCOMPLETE,
        ),
        (
            "an additional key of another class",
            vec![out(16), out(16).u(CKA_CLASS, CKO_PRIVATE_KEY)],
            CKR_TEMPLATE_INCONSISTENT,
        ),
        (
            "an additional AES key of 20 bytes",
            vec![out(16), new_secret(CKK_AES, Some(20))],
            CKR_KEY_SIZE_RANGE,
        ),
    ] {
        let k = Kdf::new(CKM_SP800_108_COUNTER_KDF, CKM_AES_CMAC, &ps, None, &extra);
        expect_err(what, t.derive(&k.mech, base, &out(16)), want);
        for i in 0..extra.len() {
            assert_eq!(k.handle(i), CK_INVALID_HANDLE, "{what}: phKey {i}");
        }
        assert_eq!(session_objects(&t), before, "{what}: objects left behind");
    }
    // A sensitive base with a readable main key is fine for a KDF (its output reveals nothing
    // of the base), but a base without CKA_DERIVE is not.
    let no_derive = t.obj(&aes(&[0x33; 16]).b(CKA_DERIVE, false));
    let k = Kdf::new(
        CKM_SP800_108_COUNTER_KDF,
        CKM_AES_CMAC,
        &ps,
        None,
        &[out(8)],
    );
    expect_err(
        "no CKA_DERIVE",
        t.derive(&k.mech, no_derive, &out(16)),
        CKR_KEY_FUNCTION_NOT_PERMITTED,
    );
    assert_eq!(k.handle(0), CK_INVALID_HANDLE);
}

#[test]
fn parameter_rules() {
    let t = token("kbkdf-params");
    let base = t.obj(&aes(&[0x44; 16]));
    let hmac_base = t.obj(&secret(CKK_GENERIC_SECRET, &[0x44; 16]));
    let bad = |what: &str, ty, prf, ps: &[P], b| {
        let k = Kdf::new(ty, prf, ps, None, &[]);
        expect_err(
            what,
            t.derive(&k.mech, b, &out(16)),
            CKR_MECHANISM_PARAM_INVALID,
        );
    };
    let lbl = P::Bytes(b"l".to_vec());
    let dkm = P::Dkm(CK_SP800_108_DKM_LENGTH_SUM_OF_KEYS, false, 32);
    use CKM_SP800_108_COUNTER_KDF as CTR;
    bad(
        "no iteration variable",
        CTR,
        CKM_AES_CMAC,
        std::slice::from_ref(&lbl),
        base,
    );
    bad("no data parameters", CTR, CKM_AES_CMAC, &[], base);
    bad(
        "two iteration variables",
        CTR,
        CKM_AES_CMAC,
        &[P::Iter(false, 8), P::Iter(false, 8)],
        base,
    );
    bad(
        "counter in counter mode",
        CTR,
        CKM_AES_CMAC,
        &[P::Iter(false, 8), P::Counter(false, 8)],
        base,
    );
    bad(
        "two DKM lengths",
        CTR,
        CKM_AES_CMAC,
        &[P::Iter(false, 8), dkm.clone(), dkm.clone()],
        base,
    );
    bad(
        "iteration variable without format",
        CTR,
        CKM_AES_CMAC,
        &[P::Chain],
        base,
    );
    bad(
        "counter of 12 bits",
        CTR,
        CKM_AES_CMAC,
        &[P::Iter(false, 12)],
        base,
    );
    bad(
        "counter of 40 bits",
        CTR,
        CKM_AES_CMAC,
        &[P::Iter(false, 40)],
        base,
    );
    bad(
        "DKM length of 72 bits",
        CTR,
        CKM_AES_CMAC,
        &[P::Iter(false, 8), P::Dkm(1, false, 72)],
        base,
    );
    bad(
        "DKM method 3",
        CTR,
        CKM_AES_CMAC,
        &[P::Iter(false, 8), P::Dkm(3, false, 16)],
        base,
    );
    bad(
        "feedback with a counter format",
        CKM_SP800_108_FEEDBACK_KDF,
        CKM_AES_CMAC,
        &[P::Iter(false, 8)],
        base,
    );
    bad(
        "pipeline with a counter format",
        CKM_SP800_108_DOUBLE_PIPELINE_KDF,
        CKM_AES_CMAC,
        &[P::Iter(false, 8)],
        base,
    );
    bad(
        "a digest as the PRF",
        CTR,
        CKM_SHA256,
        &[P::Iter(false, 8)],
        hmac_base,
    );
    bad(
        "HMAC_GENERAL as the PRF",
        CTR,
        CKM_SHA256_HMAC_GENERAL,
        &[P::Iter(false, 8)],
        hmac_base,
    );
    // More PRF blocks than an 8-bit counter numbers (SP 800-108: n <= 2^r - 1): 255 CMAC
    // blocks are the most.
    let k = Kdf::new(CTR, CKM_AES_CMAC, &[P::Iter(false, 8)], None, &[]);
    t.derive(&k.mech, base, &out(255 * 16))
        .ok_or_panic("255 blocks, 8-bit counter");
    expect_err(
        "256 blocks, 8-bit counter",
        t.derive(&k.mech, base, &out(255 * 16 + 1)),
        CKR_MECHANISM_PARAM_INVALID,
    );
    // Wrong key types for the PRF.
    let k = Kdf::new(CTR, CKM_AES_CMAC, &[P::Iter(false, 8)], None, &[]);
    expect_err(
        "CMAC with a generic secret",
        t.derive(&k.mech, hmac_base, &out(16)),
        CKR_KEY_TYPE_INCONSISTENT,
    );
    // A NULL phKey, a feedback IV pointer without a length.
    let mut k = Kdf::new(CTR, CKM_AES_CMAC, &[P::Iter(false, 8)], None, &[out(8)]);
    let mut params: CK_SP800_108_KDF_PARAMS = k.mech.param_as();
    // SAFETY: the array of one CK_DERIVED_KEY lives in `k`.
    unsafe { (*params.pAdditionalDerivedKeys).phKey = null_mut() };
    params.ulAdditionalDerivedKeys = 1;
    k.mech.set_param(params);
    expect_err(
        "a NULL phKey",
        t.derive(&k.mech, base, &out(16)),
        CKR_MECHANISM_PARAM_INVALID,
    );
    // Counts beyond any use are refused before the arrays are read.
    for (what, data, keys) in [
        ("2^40 data parameters", 1 << 40, 0),
        ("65 additional keys", 1, 65),
    ] {
        let k = Kdf::new(CTR, CKM_AES_CMAC, &[P::Iter(false, 8)], None, &[]);
        let mut p: CK_SP800_108_KDF_PARAMS = k.mech.param_as();
        p.ulNumberOfDataParams = data;
        p.ulAdditionalDerivedKeys = keys;
        let mut m = Mech::new(CTR);
        m.set_param(p);
        expect_err(
            what,
            t.derive(&m, base, &out(16)),
            CKR_MECHANISM_PARAM_INVALID,
        );
    }
    let k = Kdf::new(
        CKM_SP800_108_FEEDBACK_KDF,
        CKM_AES_CMAC,
        &[P::Chain],
        None,
        &[],
    );
    let mut fb: CK_SP800_108_FEEDBACK_KDF_PARAMS = k.mech.param_as();
    fb.ulIVLen = 16;
    let mut m = Mech::new(CKM_SP800_108_FEEDBACK_KDF);
    m.set_param(fb);
    expect_err(
        "an IV length without a pointer",
        t.derive(&m, base, &out(16)),
        CKR_MECHANISM_PARAM_INVALID,
    );
    for ty in [
        CTR,
        CKM_SP800_108_FEEDBACK_KDF,
        CKM_SP800_108_DOUBLE_PIPELINE_KDF,
    ] {
        let info = t.mechanism_info(ty).ok_or_panic("C_GetMechanismInfo");
        assert_eq!(info.flags, CKF_DERIVE);
    }
}

/// Through the cryptoki crate's own KBKDF types, on a read-only session: the main key and the
/// first additional key are session objects, the second a token object, which only storing it
/// refuses (CKR_SESSION_READ_ONLY). The two stored before it must be gone again.
#[test]
fn a_late_failure_removes_the_keys_already_stored() {
    use cryptoki::mechanism::kbkdf::*;
    use cryptoki::mechanism::{Mechanism, MechanismType};
    use cryptoki::object::{Attribute, KeyType, ObjectClass};
    use std::num::NonZeroUsize;
    let t = token("kbkdf-late");
    let ro = t.ctx.open_ro_session(t.slot).expect("C_OpenSession (R/O)");
    // The base as a cryptoki handle: found by its label.
    t.obj(&aes(&[0x66; 16]).bytes(CKA_LABEL, b"kbkdf-base"));
    let base = t
        .session
        .find_objects(&[Attribute::Label(b"kbkdf-base".to_vec())])
        .expect("C_FindObjects")[0];
    let generic = |len: u64, token: bool| {
        vec![
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::GENERIC_SECRET),
            Attribute::ValueLen(len.into()),
            Attribute::Token(token),
            Attribute::Label(b"kbkdf-late".to_vec()),
        ]
    };
    let counter = KbkdfCounterFormat::new(Endianness::Big, NonZeroUsize::new(32).unwrap());
    let data = [PrfDataParam::new(PrfDataParamType::IterationVariable(
        Some(&counter),
    ))];
    // DerivedKey points into its template, which must outlive the call.
    let (t1, t2, main) = (generic(16, false), generic(8, true), generic(16, false));
    let mut extra = vec![DerivedKey::new(&t1), DerivedKey::new(&t2)];
    let params = KbkdfParams::new(MechanismType::AES_CMAC, &data, Some(&mut extra));
    let r = ro.derive_key(&Mechanism::KbkdfCounter(params), base, &main);
    match r {
        Err(cryptoki::error::Error::Pkcs11(rv, _)) => {
            assert_eq!(rv, cryptoki::error::RvError::SessionReadOnly, "C_DeriveKey")
        }
        other => panic!("expected CKR_SESSION_READ_ONLY, got {other:?}"),
    }
    assert!(
        extra.iter().all(|k| k.handle().is_none()),
        "handles written after a failure"
    );
    let left = t
        .session
        .find_objects(&[Attribute::Label(b"kbkdf-late".to_vec())])
        .expect("C_FindObjects");
    assert!(left.is_empty(), "{} derived keys left behind", left.len());
}
