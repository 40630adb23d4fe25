//! Secrets in memory (the reliability issue, "Key material, PINs and derived keys are zeroized"):
//! after a process has imported, used, derived and destroyed keys and called C_Finalize, no copy
//! of the key bytes or the PIN is left anywhere in its readable memory: not in live buffers,
//! and not in freed heap blocks that were never wiped (PKCS#11 v3.0 §4.7 sensitive keys). A
//! second run of the same child under `tests/c/freecheck.c` checks every block the process frees
//! at the moment it is freed, so a copy is found even where later allocations overwrote it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use cryptoki_sys::*;
use std::io::{Read, Seek, SeekFrom};
use std::process::Command;
use zeroize::Zeroize;

const ROLE_VAR: &str = "FERROHSM_SECRETS_CHILD";
const TOKEN: &str = "secrets";
/// The needles are kept XOR-masked so the scanner itself holds no copy of them.
const MASK: u8 = 0xa5;

/// A secret of `n` bytes made from `seed`, written straight into `out` (no intermediate copy).
fn fill_secret(seed: u8, out: &mut [u8]) {
    let mut x = u32::from(seed).wrapping_mul(0x9e37_79b9) | 1;
    for b in out.iter_mut() {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        *b = (x >> 24) as u8;
    }
}

fn masked_secret(seed: u8, n: usize) -> Vec<u8> {
    let mut v = vec![0u8; n];
    fill_secret(seed, &mut v);
    for b in v.iter_mut() {
        *b ^= MASK;
    }
    v
}

/// Where in this process's readable memory the (masked) needle occurs.
fn find_in_own_memory(masked: &[u8]) -> Vec<String> {
    let maps = std::fs::read_to_string("/proc/self/maps").expect("maps");
    let mut mem = std::fs::File::open("/proc/self/mem").expect("mem");
    let mut hits = Vec::new();
    let mut buf = Vec::new();
    for line in maps.lines() {
        let mut parts = line.split_whitespace();
        let (Some(range), Some(perms)) = (parts.next(), parts.next()) else {
            continue;
        };
        let name = parts.nth(3).unwrap_or("");
        // Readable, and not the kernel's special pages or a mapped file's unchanged text.
        if !perms.starts_with('r') || name.starts_with("[v") || !perms.contains('w') {
            continue;
        }
        let Some((a, b)) = range.split_once('-') else {
            continue;
        };
        let (a, b) = (
            u64::from_str_radix(a, 16).unwrap(),
            u64::from_str_radix(b, 16).unwrap(),
        );
        buf.resize((b - a) as usize, 0);
        if mem.seek(SeekFrom::Start(a)).is_err() || mem.read_exact(&mut buf).is_err() {
            continue;
        }
        let first = masked[0] ^ MASK;
        for i in 0..buf.len().saturating_sub(masked.len()) {
            if buf[i] == first
                && buf[i..i + masked.len()]
                    .iter()
                    .zip(masked)
                    .all(|(m, k)| m ^ MASK == *k)
            {
                hits.push(format!("{:#x} in {range} {perms} {name}", a + i as u64));
            }
        }
        buf.iter_mut().for_each(|b| *b = 0);
    }
    hits
}

fn ck(rv: CK_RV, what: &str) {
    assert_eq!(rv, CKR_OK, "{what}: {}", rv_name(rv));
}

fn attr<T>(ty: CK_ATTRIBUTE_TYPE, v: &mut T) -> CK_ATTRIBUTE {
    CK_ATTRIBUTE {
        type_: ty,
        pValue: v as *mut T as *mut std::ffi::c_void,
        ulValueLen: std::mem::size_of::<T>() as CK_ULONG,
    }
}

/// The child: uses keys through the raw C ABI, finalizes, then scans its own memory.
#[test]
fn child() {
    if std::env::var(ROLE_VAR).is_err() {
        return;
    }
    let raw = Raw::load();
    let f = raw.f();
    // SAFETY: plain C calls into the module with buffers that live across each call.
    unsafe {
        ck(
            (f.C_Initialize.unwrap())(std::ptr::null_mut()),
            "C_Initialize",
        );
        let mut slots = [0 as CK_SLOT_ID; 8];
        let mut n = slots.len() as CK_ULONG;
        ck(
            (f.C_GetSlotList.unwrap())(CK_TRUE, slots.as_mut_ptr(), &mut n),
            "C_GetSlotList",
        );
        let mut slot = None;
        for s in &slots[..n as usize] {
            let mut info = CK_TOKEN_INFO::default();
            if (f.C_GetTokenInfo.unwrap())(*s, &mut info) == CKR_OK
                && info.label.starts_with(TOKEN.as_bytes())
            {
                slot = Some(*s);
            }
        }
        let slot = slot.expect("the test token");
        let mut h: CK_SESSION_HANDLE = 0;
        ck(
            (f.C_OpenSession.unwrap())(
                slot,
                CKF_SERIAL_SESSION | CKF_RW_SESSION,
                std::ptr::null_mut(),
                None,
                &mut h,
            ),
            "C_OpenSession",
        );
        let mut pin = USER_PIN.as_bytes().to_vec();
        ck(
            (f.C_Login.unwrap())(h, CKU_USER, pin.as_mut_ptr(), pin.len() as CK_ULONG),
            "C_Login",
        );
        pin.zeroize();

        // A token AES key and a session AES key with known values.
        let mut handles = Vec::new();
        for (seed, token) in [(1u8, CK_TRUE), (2u8, CK_FALSE)] {
            let mut value = vec![0u8; 32];
            fill_secret(seed, &mut value);
            let (mut class, mut kt, mut t, mut tr, mut sens, mut enc, mut der) = (
                CKO_SECRET_KEY,
                CKK_AES,
                token,
                CK_TRUE,
                CK_TRUE,
                CK_TRUE,
                CK_TRUE,
            );
            let mut tmpl = vec![
                attr(CKA_CLASS, &mut class),
                attr(CKA_KEY_TYPE, &mut kt),
                attr(CKA_TOKEN, &mut t),
                attr(CKA_PRIVATE, &mut tr),
                attr(CKA_SENSITIVE, &mut sens),
                attr(CKA_ENCRYPT, &mut enc),
                attr(CKA_DERIVE, &mut der),
                CK_ATTRIBUTE {
                    type_: CKA_VALUE,
                    pValue: value.as_mut_ptr() as *mut std::ffi::c_void,
                    ulValueLen: 32,
                },
            ];
            let mut k: CK_OBJECT_HANDLE = 0;
            ck(
                (f.C_CreateObject.unwrap())(h, tmpl.as_mut_ptr(), tmpl.len() as CK_ULONG, &mut k),
                "C_CreateObject",
            );
            value.zeroize();
            handles.push(k);
        }
        // Use them: AES-GCM encryption (multi-part) and ECB with each key.
        for &k in &handles {
            let mut iv = [7u8; 12];
            let mut p = CK_GCM_PARAMS {
                pIv: iv.as_mut_ptr(),
                ulIvLen: 12,
                ulIvBits: 96,
                pAAD: std::ptr::null_mut(),
                ulAADLen: 0,
                ulTagBits: 128,
            };
            let mut m = CK_MECHANISM {
                mechanism: CKM_AES_GCM,
                pParameter: &mut p as *mut CK_GCM_PARAMS as *mut std::ffi::c_void,
                ulParameterLen: std::mem::size_of::<CK_GCM_PARAMS>() as CK_ULONG,
            };
            ck((f.C_EncryptInit.unwrap())(h, &mut m, k), "C_EncryptInit");
            let mut data = [0x42u8; 100];
            let mut out = [0u8; 200];
            let mut len = out.len() as CK_ULONG;
            ck(
                (f.C_Encrypt.unwrap())(h, data.as_mut_ptr(), 100, out.as_mut_ptr(), &mut len),
                "C_Encrypt",
            );
            let mut ecb = CK_MECHANISM {
                mechanism: CKM_AES_ECB,
                pParameter: std::ptr::null_mut(),
                ulParameterLen: 0,
            };
            ck(
                (f.C_EncryptInit.unwrap())(h, &mut ecb, k),
                "C_EncryptInit ECB",
            );
            let mut len = out.len() as CK_ULONG;
            ck(
                (f.C_Encrypt.unwrap())(h, data.as_mut_ptr(), 32, out.as_mut_ptr(), &mut len),
                "C_Encrypt ECB",
            );
        }
        // Destroy the session key, log out, close, finalize.
        ck(
            (f.C_DestroyObject.unwrap())(h, handles[1]),
            "C_DestroyObject",
        );
        ck((f.C_Logout.unwrap())(h), "C_Logout");
        ck((f.C_CloseAllSessions.unwrap())(slot), "C_CloseAllSessions");
        ck((f.C_Finalize.unwrap())(std::ptr::null_mut()), "C_Finalize");
    }
    let mut report = Vec::new();
    for (what, masked) in [
        ("token AES key", masked_secret(1, 32)),
        ("session AES key", masked_secret(2, 32)),
        ("user PIN", USER_PIN.bytes().map(|b| b ^ MASK).collect()),
    ] {
        for hit in find_in_own_memory(&masked) {
            report.push(format!("{what} at {hit}"));
        }
    }
    // The scan works: a value deliberately kept is found.
    let mut control = vec![0u8; 32];
    fill_secret(9, &mut control);
    let found = find_in_own_memory(&masked_secret(9, 32));
    std::hint::black_box(&control);
    assert!(
        !found.is_empty(),
        "the scan did not find a live control value"
    );
    // Freed unwiped on purpose: the free check must see it.
    drop(std::hint::black_box(control));
    assert!(
        report.is_empty(),
        "secrets left in memory after C_Finalize:\n  {}",
        report.join("\n  ")
    );
}

/// A token with the test's PIN, and the child run on it with `extra` in its environment: its
/// output, after checking that it passed.
fn run_child(extra: &[(&str, String)]) -> String {
    let env = TestEnv::new();
    {
        let ctx = env.load();
        init_token(&ctx, TOKEN);
        ctx.finalize().expect("C_Finalize");
    }
    let exe = std::env::current_exe().expect("current_exe");
    let out = Command::new(exe)
        .args(["--exact", "child", "--nocapture"])
        .env(ROLE_VAR, "1")
        .envs(env.store_vars())
        .envs(extra.iter().map(|(k, v)| (k, v)))
        .output()
        .expect("run the child");
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "child failed:\n{text}");
    assert!(
        text.contains("1 passed"),
        "the child test did not run:\n{text}"
    );
    text
}

#[test]
fn no_key_or_pin_bytes_remain_in_memory_after_finalize() {
    run_child(&[]);
}

#[test]
fn no_freed_block_holds_a_key_or_the_pin() {
    let dir = tempfile::tempdir().expect("tempdir");
    let shim = dir.path().join("freecheck.so");
    let src = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/c/freecheck.c");
    let built = Command::new("gcc")
        .args([
            "-O1", "-Wall", "-Wextra", "-Werror", "-shared", "-fPIC", "-o",
        ])
        .arg(&shim)
        .arg(src)
        .arg("-ldl")
        .output()
        .expect("gcc, to build tests/c/freecheck.c (scripts/test installs it)");
    assert!(
        built.status.success(),
        "gcc failed on freecheck.c:\n{}",
        String::from_utf8_lossy(&built.stderr)
    );
    let hex = |v: Vec<u8>| v.iter().map(|b| format!("{b:02x}")).collect::<String>();
    let needles = [
        ("token-key", hex(masked_secret(1, 32))),
        ("session-key", hex(masked_secret(2, 32))),
        ("pin", hex(USER_PIN.bytes().map(|b| b ^ MASK).collect())),
        ("control", hex(masked_secret(9, 32))),
    ]
    .map(|(n, h)| format!("{n}={h}"))
    .join(",");
    let log = dir.path().join("freed.log");
    run_child(&[
        ("LD_PRELOAD", shim.display().to_string()),
        ("FREECHECK_NEEDLES", needles),
        ("FREECHECK_LOG", log.display().to_string()),
    ]);
    let hits = std::fs::read_to_string(&log).unwrap_or_default();
    let (control, leaks): (Vec<&str>, Vec<&str>) =
        hits.lines().partition(|l| l.starts_with("control "));
    assert!(
        !control.is_empty(),
        "the free check did not see the control value freed unwiped:\n{hits}"
    );
    assert!(
        leaks.is_empty(),
        "freed blocks still held secrets (name, block size, offset):\n  {}",
        leaks.join("\n  ")
    );
}
