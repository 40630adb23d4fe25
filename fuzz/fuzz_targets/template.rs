//! Template and attribute parsing through the C ABI: fuzzed `CK_ATTRIBUTE` arrays (any type,
//! length, value, nested templates, NULL values) into C_CreateObject, C_CopyObject,
//! C_GetAttributeValue, C_SetAttributeValue, C_FindObjectsInit and C_GenerateKey(Pair), in one
//! logged-in session. Every created object is destroyed again. Any return code is fine; a crash,
//! an abort or a hang is a finding.
#![no_main]

use ferrohsm_fuzz::*;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

/// Objects that exist for the whole run, to read and modify: an AES key, an EC key pair, a data
/// object (all session objects) and a token AES key.
fn fixed_objects() -> &'static [CK_OBJECT_HANDLE] {
    static OBJ: OnceLock<Vec<CK_OBJECT_HANDLE>> = OnceLock::new();
    OBJ.get_or_init(|| {
        let s = session();
        let aes = generate_key(
            s,
            CKM_AES_KEY_GEN,
            Fixed::new()
                .ulong(CKA_VALUE_LEN, 32)
                .bool(CKA_EXTRACTABLE, true)
                .bool(CKA_SENSITIVE, false)
                .bytes(CKA_LABEL, b"aes"),
        );
        let token_aes = generate_key(
            s,
            CKM_AES_KEY_GEN,
            Fixed::new()
                .ulong(CKA_VALUE_LEN, 16)
                .bool(CKA_TOKEN, true)
                .bytes(CKA_ID, b"\x01\x02"),
        );
        let (pubk, privk) = generate_pair(
            s,
            CKM_EC_KEY_PAIR_GEN,
            Fixed::new().bytes(CKA_EC_PARAMS, P256_PARAMS),
            Fixed::new().bool(CKA_SIGN, true).bytes(CKA_LABEL, b"ec"),
        );
        let data = create(
            s,
            Fixed::new()
                .ulong(CKA_CLASS, CKO_DATA)
                .bytes(CKA_APPLICATION, b"fuzz")
                .bytes(CKA_VALUE, b"data"),
        );
        vec![aes, token_aes, pubk, privk, data]
    })
}

fuzz_target!(|data: &[u8]| {
    let s = session();
    let fixed = fixed_objects();
    let mut input = Input(data);
    let mut created: Vec<CK_OBJECT_HANDLE> = Vec::new();
    for _ in 0..8 {
        if input.is_empty() {
            break;
        }
        match input.u8() % 8 {
            0 | 1 => {
                let mut t = Template::decode(&mut input, 12);
                let mut h = 0;
                // SAFETY: the template's pointers are valid for their lengths.
                if unsafe { C_CreateObject(s, t.ptr(), t.len(), &mut h) } == CKR_OK {
                    created.push(h);
                }
            }
            2 => {
                let target = pick_object(&mut input, fixed, &created);
                let mut t = decode_get(&mut input, 12);
                // SAFETY: each value is NULL or a buffer of its stated length (nested
                // templates: arrays of attributes with their own buffers).
                unsafe { C_GetAttributeValue(s, target, t.ptr(), t.len()) };
            }
            3 => {
                // Modify only objects of this input, so the fixed ones stay as they are.
                let Some(&target) = created.get(usize::from(input.u8()) % created.len().max(1))
                else {
                    continue;
                };
                let mut t = Template::decode(&mut input, 6);
                // SAFETY: as for C_CreateObject.
                unsafe { C_SetAttributeValue(s, target, t.ptr(), t.len()) };
            }
            4 => {
                let from = pick_object(&mut input, fixed, &created);
                let mut t = Template::decode(&mut input, 6);
                let mut h = 0;
                // SAFETY: as for C_CreateObject.
                if unsafe { C_CopyObject(s, from, t.ptr(), t.len(), &mut h) } == CKR_OK {
                    created.push(h);
                }
            }
            5 => {
                let mut t = Template::decode(&mut input, 8);
                // SAFETY: as for C_CreateObject.
                if unsafe { C_FindObjectsInit(s, t.ptr(), t.len()) } == CKR_OK {
                    let mut hs = [0 as CK_OBJECT_HANDLE; 16];
                    let mut n = 0;
                    // SAFETY: `hs` holds 16 handles.
                    unsafe { C_FindObjects(s, hs.as_mut_ptr(), 16, &mut n) };
                    C_FindObjectsFinal(s);
                }
            }
            6 => {
                // Key generation templates: AES or generic secret (cheap), never RSA.
                let mech = input.pick(&[CKM_AES_KEY_GEN, CKM_GENERIC_SECRET_KEY_GEN]);
                let mut m = CK_MECHANISM {
                    mechanism: mech,
                    pParameter: std::ptr::null_mut(),
                    ulParameterLen: 0,
                };
                let mut t = Template::decode(&mut input, 8);
                let mut h = 0;
                // SAFETY: valid mechanism, template and output pointer.
                if unsafe { C_GenerateKey(s, &mut m, t.ptr(), t.len(), &mut h) } == CKR_OK {
                    created.push(h);
                }
            }
            _ => {
                let mech = input.pick(&[CKM_EC_KEY_PAIR_GEN, CKM_EC_EDWARDS_KEY_PAIR_GEN]);
                let mut m = CK_MECHANISM {
                    mechanism: mech,
                    pParameter: std::ptr::null_mut(),
                    ulParameterLen: 0,
                };
                let mut public = Template::decode(&mut input, 6);
                if input.bool() {
                    let params = if mech == CKM_EC_KEY_PAIR_GEN {
                        P256_PARAMS
                    } else {
                        ED25519_PARAMS
                    };
                    public.push(CKA_EC_PARAMS, params);
                }
                let mut private = Template::decode(&mut input, 6);
                let (mut hp, mut hq) = (0, 0);
                // SAFETY: valid mechanism, templates and output pointers.
                if unsafe {
                    C_GenerateKeyPair(
                        s,
                        &mut m,
                        public.ptr(),
                        public.len(),
                        private.ptr(),
                        private.len(),
                        &mut hp,
                        &mut hq,
                    )
                } == CKR_OK
                {
                    created.push(hp);
                    created.push(hq);
                }
            }
        }
    }
    for h in created {
        C_DestroyObject(s, h);
    }
});

fn pick_object(
    input: &mut Input<'_>,
    fixed: &[CK_OBJECT_HANDLE],
    created: &[CK_OBJECT_HANDLE],
) -> CK_OBJECT_HANDLE {
    let i = usize::from(input.u8());
    if i == 0xff {
        return 0xdead; // not a handle
    }
    let all: Vec<CK_OBJECT_HANDLE> = fixed.iter().chain(created).copied().collect();
    all[i % all.len()]
}
