//! The benchmarks: token setup on each module, then every row of the table.

use crate::measure::{self, timed, Batch, Plan};
use crate::p11::{Mech, Module, Template};
use crate::report::{self, Row, Scaling, Unit};
use anyhow::{bail, Context, Result};
use cryptoki_sys::*;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub const SO_PIN: &str = "12345678";
pub const USER_PIN: &str = "123456";
pub const TOKEN_LABEL: &str = "ferrohsm-bench";

/// DER OIDs of the curves, as `CKA_EC_PARAMS`.
const P256: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
const P384: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22];

/// The message signed, MACed or digested by the small-input rows.
const MSG: &[u8; 64] = b"ferrohsm-bench: a 64-byte message signed by every signature row.";
/// A SHA-256-sized "digest" for the mechanisms that take a caller's hash.
const HASH32: &[u8; 32] = b"0123456789abcdef0123456789abcdef";
const HASH48: &[u8; 48] = b"0123456789abcdef0123456789abcdef0123456789abcdef";

/// Settings of one run.
#[derive(Debug, Clone)]
pub struct Settings {
    pub quick: bool,
    /// Lower-case substrings; a row runs if its "group: name" contains one of them.
    pub only: Vec<String>,
    /// Object counts of the object rows, ascending.
    pub levels: Vec<u64>,
    pub exe: PathBuf,
}

/// One module with its token, a logged-in session and the keys of the crypto rows.
#[derive(Debug)]
pub struct Hsm {
    pub m: Module,
    pub slot: CK_SLOT_ID,
    /// The main read/write session; the user is logged in (login state is per application,
    /// so every session of the process shares it).
    pub s: CK_SESSION_HANDLE,
    /// One more session per thread of the scaling rows.
    pub thread_sessions: Vec<CK_SESSION_HANDLE>,
    keys: Keys,
    /// Whether the module has `CKM_ECDSA_SHA256` (SoftHSMv2 2.6 has not).
    ecdsa_sha256: bool,
    /// Objects of the object rows created so far.
    objects: u64,
}

#[derive(Debug, Default)]
struct Keys {
    /// (public, private) for RSA-2048 and RSA-3072.
    rsa: [(CK_OBJECT_HANDLE, CK_OBJECT_HANDLE); 2],
    /// (public, private) for P-256 and P-384.
    ec: [(CK_OBJECT_HANDLE, CK_OBJECT_HANDLE); 2],
    /// The peer's P-256 public point (uncompressed) for ECDH.
    peer_point: Vec<u8>,
    aes: CK_OBJECT_HANDLE,
    hmac: CK_OBJECT_HANDLE,
}

fn rsa_templates(bits: CK_ULONG, id: &[u8], token: bool) -> (Template, Template) {
    let public = Template::new()
        .bool(CKA_TOKEN, token)
        .ulong(CKA_MODULUS_BITS, bits)
        .bytes(CKA_PUBLIC_EXPONENT, &[1, 0, 1])
        .bool(CKA_VERIFY, true)
        .bool(CKA_ENCRYPT, true)
        .bytes(CKA_ID, id);
    let private = Template::new()
        .bool(CKA_TOKEN, token)
        .bool(CKA_PRIVATE, true)
        .bool(CKA_SENSITIVE, true)
        .bool(CKA_SIGN, true)
        .bool(CKA_DECRYPT, true)
        .bytes(CKA_ID, id);
    (public, private)
}

fn ec_templates(curve: &[u8], id: &[u8], token: bool) -> (Template, Template) {
    let public = Template::new()
        .bool(CKA_TOKEN, token)
        .bytes(CKA_EC_PARAMS, curve)
        .bool(CKA_VERIFY, true)
        .bytes(CKA_ID, id);
    let private = Template::new()
        .bool(CKA_TOKEN, token)
        .bool(CKA_PRIVATE, true)
        .bool(CKA_SENSITIVE, true)
        .bool(CKA_SIGN, true)
        .bool(CKA_DERIVE, true)
        .bytes(CKA_ID, id);
    (public, private)
}

/// `CKA_EC_POINT` is a DER OCTET STRING around the point; ECDH takes the bare point.
fn unwrap_octet_string(der: &[u8]) -> Result<Vec<u8>> {
    match der {
        [0x04, len, rest @ ..] if usize::from(*len) == rest.len() => Ok(rest.to_vec()),
        [0x04, 0x81, len, rest @ ..] if usize::from(*len) == rest.len() => Ok(rest.to_vec()),
        // Some modules return the bare point.
        [0x04, ..] if der.len() % 2 == 1 => Ok(der.to_vec()),
        _ => bail!("unexpected CKA_EC_POINT encoding ({} bytes)", der.len()),
    }
}

impl Hsm {
    /// `CKM_ECDSA_SHA256` over `data`; where the module lacks it, SHA-256 in the client (as its
    /// users must do) and `CKM_ECDSA`.
    fn sign_ecdsa_sha256(
        &self,
        s: CK_SESSION_HANDLE,
        key: CK_OBJECT_HANDLE,
        data: &[u8],
        out: &mut [u8],
    ) -> Result<usize> {
        if self.ecdsa_sha256 {
            self.m
                .sign(s, &Mech::Plain(CKM_ECDSA_SHA256), key, data, out)
        } else {
            let hash = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data);
            self.m
                .sign(s, &Mech::Plain(CKM_ECDSA), key, hash.as_ref(), out)
        }
    }

    /// The verification counterpart of `sign_ecdsa_sha256`.
    fn verify_ecdsa_sha256(&self, key: CK_OBJECT_HANDLE, data: &[u8], sig: &[u8]) -> Result<()> {
        if self.ecdsa_sha256 {
            self.m
                .verify(self.s, &Mech::Plain(CKM_ECDSA_SHA256), key, data, sig)
        } else {
            let hash = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data);
            self.m
                .verify(self.s, &Mech::Plain(CKM_ECDSA), key, hash.as_ref(), sig)
        }
    }

    /// Loads and initializes the module, creates the token in its free slot, sets the user
    /// PIN, logs in and generates the keys of the crypto rows.
    pub fn setup(name: &'static str, path: &Path, threads: usize) -> Result<Hsm> {
        let start = Instant::now();
        let m = Module::load(name, path)?;
        m.initialize()
            .with_context(|| format!("{name}: C_Initialize"))?;
        let free = m.free_slot()?;
        m.init_token(free, SO_PIN, TOKEN_LABEL)
            .with_context(|| format!("{name}: C_InitToken"))?;
        // SoftHSMv2 moves an initialized token to a new slot id: look it up again.
        let slot = m.find_token(TOKEN_LABEL)?;
        let s = m.open_session(slot, true)?;
        m.login(s, CKU_SO, SO_PIN)?;
        m.init_pin(s, USER_PIN)?;
        m.logout(s)?;
        m.login(s, CKU_USER, USER_PIN)?;
        let thread_sessions = (0..threads)
            .map(|_| m.open_session(slot, false))
            .collect::<Result<Vec<_>>>()?;

        let mut keys = Keys::default();
        for (i, bits) in [2048, 3072].into_iter().enumerate() {
            let id = format!("k-rsa{bits}");
            let (public, private) = rsa_templates(bits, id.as_bytes(), true);
            keys.rsa[i] = m
                .generate_key_pair(s, CKM_RSA_PKCS_KEY_PAIR_GEN, public, private)
                .with_context(|| format!("{name}: RSA-{bits} key pair"))?;
        }
        for (i, curve) in [P256, P384].into_iter().enumerate() {
            let (public, private) = ec_templates(curve, format!("k-ec{i}").as_bytes(), true);
            keys.ec[i] = m
                .generate_key_pair(s, CKM_EC_KEY_PAIR_GEN, public, private)
                .with_context(|| format!("{name}: EC key pair"))?;
        }
        let (public, private) = ec_templates(P256, b"k-peer", false);
        let (peer, _) = m.generate_key_pair(s, CKM_EC_KEY_PAIR_GEN, public, private)?;
        keys.peer_point = unwrap_octet_string(&m.attribute(s, peer, CKA_EC_POINT)?)?;
        keys.aes = m.generate_key(
            s,
            CKM_AES_KEY_GEN,
            Template::new()
                .bool(CKA_TOKEN, true)
                .bool(CKA_PRIVATE, true)
                .bool(CKA_SENSITIVE, true)
                .ulong(CKA_VALUE_LEN, 32)
                .bool(CKA_ENCRYPT, true)
                .bool(CKA_DECRYPT, true)
                .bytes(CKA_ID, b"k-aes"),
        )?;
        keys.hmac = m.generate_key(
            s,
            CKM_GENERIC_SECRET_KEY_GEN,
            Template::new()
                .bool(CKA_TOKEN, true)
                .bool(CKA_PRIVATE, true)
                .bool(CKA_SENSITIVE, true)
                .ulong(CKA_VALUE_LEN, 32)
                .bool(CKA_SIGN, true)
                .bool(CKA_VERIFY, true)
                .bytes(CKA_ID, b"k-hmac"),
        )?;
        eprintln!(
            "{name}: token and keys ready in {:.1} s ({})",
            start.elapsed().as_secs_f64(),
            path.display()
        );
        let ecdsa_sha256 = m.has_mechanism(slot, CKM_ECDSA_SHA256);
        if !ecdsa_sha256 {
            eprintln!("{name}: no CKM_ECDSA_SHA256: its ECDSA_SHA256 rows hash in the client");
        }
        Ok(Hsm {
            m,
            slot,
            s,
            thread_sessions,
            keys,
            ecdsa_sha256,
            objects: 0,
        })
    }
}

/// Collects the rows and prints each as it is measured.
#[derive(Debug)]
pub struct Runner {
    pub settings: Settings,
    pub rows: Vec<Row>,
    pub scaling: Vec<Scaling>,
    group: String,
}

impl Runner {
    pub fn new(settings: Settings) -> Runner {
        Runner {
            settings,
            rows: Vec::new(),
            scaling: Vec::new(),
            group: String::new(),
        }
    }

    /// The default plan: batches of about 25 ms (quick) or 150 ms, one warm-up batch.
    fn plan(&self) -> Plan {
        if self.settings.quick {
            Plan {
                rounds: 3,
                warmup: 1,
                batch_time: Duration::from_millis(25),
                max_batch: 1_000_000,
                fixed_batch: None,
            }
        } else {
            Plan {
                rounds: 7,
                warmup: 1,
                batch_time: Duration::from_millis(150),
                max_batch: 1_000_000,
                fixed_batch: None,
            }
        }
    }

    /// A plan for slow operations (key pair generation, searches among many objects): single
    /// operations, no warm-up beyond the calibration call, fewer rounds.
    fn slow_plan(&self) -> Plan {
        let mut p = self
            .plan()
            .with_max_batch(if self.settings.quick { 1 } else { 3 });
        p.warmup = 0;
        p.rounds = if self.settings.quick { 2 } else { 5 };
        p
    }

    fn wanted(&self, group: &str, name: &str) -> bool {
        let key = format!("{group}: {name}").to_lowercase();
        self.settings.only.is_empty() || self.settings.only.iter().any(|p| key.contains(p))
    }

    fn push(&mut self, row: Row) -> Result<()> {
        if row.group != self.group {
            self.group = row.group.clone();
            report::say(&format!("-- {}", self.group))?;
        }
        report::say(&report::format_row(&row))?;
        self.rows.push(row);
        Ok(())
    }

    /// One row of ferrohsm against SoftHSMv2, and one against each extra contender (the
    /// crypto library alone): all run interleaved.
    fn bench<'h, F>(
        &mut self,
        hsms: &'h [Hsm; 2],
        plan: Plan,
        (group, name, unit): (&str, &str, Unit),
        make: F,
        extra: Vec<(&'static str, Batch<'h>)>,
    ) -> Result<()>
    where
        F: Fn(&'h Hsm) -> Result<Batch<'h>>,
    {
        if !self.wanted(group, name) {
            return Ok(());
        }
        let started = Instant::now();
        let mut contenders = Vec::new();
        for h in hsms {
            let mut b = make(h).with_context(|| format!("{}: setup", h.m.name))?;
            let who = h.m.name;
            contenders.push(Box::new(move |n| b(n).with_context(|| who)) as Batch);
        }
        let mut names = vec![hsms[1].m.name];
        for (n, b) in extra {
            names.push(n);
            contenders.push(b);
        }
        let mut stats = measure::run(&plan, &mut contenders)
            .with_context(|| format!("benchmark {group}: {name}"))?;
        drop(contenders);
        let ferro = stats.remove(0);
        for (other_name, other) in names.into_iter().zip(stats) {
            self.push(Row {
                group: group.to_string(),
                name: name.to_string(),
                unit,
                ferro: ferro.clone(),
                other_name,
                other,
            })?;
        }
        if started.elapsed() > Duration::from_secs(30) {
            eprintln!(
                "({group}: {name} took {:.0} s)",
                started.elapsed().as_secs_f64()
            );
        }
        Ok(())
    }
}

/// `n` operations of `op` on a fresh buffer, timed.
fn batch<'a>(mut op: impl FnMut() -> Result<()> + 'a) -> Batch<'a> {
    Box::new(move |n| timed(n, &mut op))
}

pub fn crypto(r: &mut Runner, hsms: &[Hsm; 2]) -> Result<()> {
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{self as sig, EcdsaKeyPair, RsaKeyPair};
    let plan = r.plan();
    let g = "crypto";

    // RSA.
    for (i, bits) in [2048u32, 3072].into_iter().enumerate() {
        let size = if bits == 2048 {
            aws_lc_rs::rsa::KeySize::Rsa2048
        } else {
            aws_lc_rs::rsa::KeySize::Rsa3072
        };
        let lib = RsaKeyPair::generate(size)
            .map_err(|_| anyhow::anyhow!("aws-lc-rs: RSA-{bits} key generation failed"))?;
        for (mech, label, lib_alg) in [
            (
                Mech::Plain(CKM_SHA256_RSA_PKCS),
                "SHA256_RSA_PKCS",
                &sig::RSA_PKCS1_SHA256,
            ),
            (
                Mech::PssSha256(CKM_RSA_PKCS_PSS),
                "RSA_PKCS_PSS",
                &sig::RSA_PSS_SHA256,
            ),
        ] {
            let data: &[u8] = if label == "RSA_PKCS_PSS" { HASH32 } else { MSG };
            let rng = SystemRandom::new();
            let mut out = vec![0u8; lib.public_modulus_len()];
            let lib = &lib;
            let baseline: Batch = batch(move || {
                lib.sign(lib_alg, &rng, MSG, &mut out)
                    .map_err(|_| anyhow::anyhow!("aws-lc-rs: RSA sign failed"))
            });
            r.bench(
                hsms,
                plan,
                (g, &format!("RSA-{bits} sign {label}"), Unit::Ops),
                |h| {
                    let key = h.keys.rsa[i].1;
                    let mut out = vec![0u8; 512];
                    Ok(batch(move || {
                        h.m.sign(h.s, &mech, key, data, &mut out).map(drop)
                    }))
                },
                vec![("aws-lc-rs", baseline)],
            )?;
        }
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
            vec![],
        )?;
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
            vec![],
        )?;
    }

    // ECDSA.
    for (i, curve) in ["P-256", "P-384"].into_iter().enumerate() {
        let hash: &[u8] = if i == 0 { HASH32 } else { HASH48 };
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
            vec![],
        )?;
        let lib_alg = if i == 0 {
            &sig::ECDSA_P256_SHA256_FIXED_SIGNING
        } else {
            // aws-lc-rs pairs P-384 with SHA-384 only; hashing 64 bytes costs next to nothing.
            &sig::ECDSA_P384_SHA384_FIXED_SIGNING
        };
        let lib = EcdsaKeyPair::generate(lib_alg)
            .map_err(|_| anyhow::anyhow!("aws-lc-rs: EC key generation failed"))?;
        let rng = SystemRandom::new();
        let lib = &lib;
        let baseline: Batch = batch(move || {
            lib.sign(&rng, MSG)
                .map(drop)
                .map_err(|_| anyhow::anyhow!("aws-lc-rs: ECDSA sign failed"))
        });
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
            vec![("aws-lc-rs", baseline)],
        )?;
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
            vec![],
        )?;
    }
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
        vec![],
    )?;

    // Key generation (session objects, destroyed at once).
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
        vec![],
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
            vec![],
        )?;
    }

    // Symmetric ciphers, digests, MACs, random.
    let sizes: [(usize, &str); 3] = [(64, "64 B"), (4096, "4 KiB"), (1 << 20, "1 MiB")];
    let unit = |n: usize| {
        if n >= 4096 {
            Unit::Bytes(n as u64)
        } else {
            Unit::Ops
        }
    };
    for (n, size) in sizes {
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
            vec![],
        )?;
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
            vec![],
        )?;
    }
    for (n, size) in &sizes[..2] {
        let n = *n;
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
            vec![],
        )?;
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
            vec![],
        )?;
    }
    for (n, size) in [(32usize, "32 B"), (1 << 20, "1 MiB")] {
        r.bench(
            hsms,
            plan,
            (g, &format!("C_GenerateRandom {size}"), unit(n)),
            |h| {
                let mut out = vec![0u8; n];
                Ok(batch(move || h.m.random(h.s, &mut out)))
            },
            vec![],
        )?;
    }
    Ok(())
}

pub fn sessions(r: &mut Runner, hsms: &[Hsm; 2]) -> Result<()> {
    let plan = r.plan();
    let g = "sessions";
    r.bench(
        hsms,
        plan,
        (g, "C_GetSessionInfo (per-call overhead)", Unit::Ops),
        |h| Ok(batch(move || h.m.session_info(h.s).map(drop))),
        vec![],
    )?;
    r.bench(
        hsms,
        plan,
        (g, "C_OpenSession+C_CloseSession", Unit::Ops),
        |h| {
            Ok(batch(move || {
                let s = h.m.open_session(h.slot, false)?;
                h.m.close_session(s)
            }))
        },
        vec![],
    )?;
    Ok(())
}

/// The login row. Run last: SoftHSMv2 drops the handles of private objects at C_Logout.
pub fn login(r: &mut Runner, hsms: &[Hsm; 2]) -> Result<()> {
    let g = "login";
    // Login derives the PIN key (ferrohsm: Argon2id with the default parameters).
    let mut plan = r.plan();
    if !r.settings.quick {
        plan = plan.with_batch_time(Duration::from_millis(500));
    }
    r.bench(
        hsms,
        plan,
        (g, "C_Logout+C_Login (user)", Unit::Ops),
        |h| {
            Ok(batch(move || {
                h.m.logout(h.s)?;
                h.m.login(h.s, CKU_USER, USER_PIN)
            }))
        },
        vec![],
    )?;
    Ok(())
}

fn object_id(i: u64) -> Vec<u8> {
    format!("obj-{i:06}").into_bytes()
}

fn object_label(i: u64) -> String {
    format!("object {i:06}")
}

/// Creates one token object of the object rows: a private AES-256 key with an id and a label.
fn create_object(h: &Hsm, i: u64) -> Result<()> {
    let mut value = [0u8; 32];
    value[..8].copy_from_slice(&i.to_le_bytes());
    let t = Template::new()
        .ulong(CKA_CLASS, CKO_SECRET_KEY)
        .ulong(CKA_KEY_TYPE, CKK_AES)
        .bool(CKA_TOKEN, true)
        .bool(CKA_PRIVATE, true)
        .bool(CKA_SENSITIVE, true)
        .bool(CKA_ENCRYPT, true)
        .bytes(CKA_VALUE, &value)
        .bytes(CKA_ID, &object_id(i))
        .bytes(CKA_LABEL, object_label(i).as_bytes());
    h.m.create_object(h.s, t).map(drop)
}

/// A small deterministic generator, to search for objects in no particular order.
fn lcg(state: &mut u64) -> u64 {
    *state = state
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    *state >> 33
}

pub fn objects(r: &mut Runner, hsms: &mut [Hsm; 2]) -> Result<()> {
    let levels = r.settings.levels.clone();
    for level in levels {
        let g = format!("objects {level}");
        let g = g.as_str();
        // Create: up to `level` objects, in interleaved chunks.
        let have = hsms[0].objects.max(hsms[1].objects);
        if level > have && r.wanted(g, "create") {
            let rounds = if r.settings.quick || level <= 100 {
                4
            } else {
                6
            };
            let chunk = (level - have).div_ceil(rounds as u64);
            let a = &hsms[0];
            let counters = [
                std::cell::Cell::new(a.objects),
                std::cell::Cell::new(hsms[1].objects),
            ];
            r.bench(
                &*hsms,
                Plan::fixed(rounds, chunk),
                (g, "create (C_CreateObject, private AES key)", Unit::Ops),
                |h| {
                    let c = if std::ptr::eq(h, a) {
                        &counters[0]
                    } else {
                        &counters[1]
                    };
                    Ok(Box::new(move |n| {
                        let start = c.get();
                        let t = timed(n, || {
                            let i = c.get();
                            c.set(i + 1);
                            create_object(h, i)
                        })?;
                        debug_assert_eq!(c.get(), start + n);
                        Ok(t)
                    }))
                },
                vec![],
            )?;
            hsms[0].objects = counters[0].get();
            hsms[1].objects = counters[1].get();
        }
        let count = hsms[0].objects.min(hsms[1].objects);
        if count == 0 {
            continue;
        }
        let mut plan = r.plan();
        if level >= 1000 {
            // SoftHSMv2 takes long per search with many objects.
            plan = plan.with_rounds(if r.settings.quick { 3 } else { 5 });
        }
        for (by, what) in [(CKA_ID, "CKA_ID"), (CKA_LABEL, "CKA_LABEL")] {
            r.bench(
                &*hsms,
                plan,
                (g, &format!("C_FindObjects by {what}"), Unit::Ops),
                |h| {
                    let mut state = 42u64;
                    let mut found = [0 as CK_OBJECT_HANDLE; 4];
                    Ok(batch(move || {
                        let i = lcg(&mut state) % count;
                        let value = if by == CKA_ID {
                            object_id(i)
                        } else {
                            object_label(i).into_bytes()
                        };
                        let mut t = Template::new().bytes(by, &value);
                        let n = h.m.find(h.s, &mut t, &mut found)?;
                        if n != 1 {
                            bail!("{}: search by {what} found {n} objects, not 1", h.m.name);
                        }
                        Ok(())
                    }))
                },
                vec![],
            )?;
        }
        r.bench(
            &*hsms,
            plan,
            (g, "C_GetAttributeValue CKA_LABEL", Unit::Ops),
            |h| {
                let mut t = Template::new().bytes(CKA_LABEL, object_label(count / 2).as_bytes());
                let mut found = [0 as CK_OBJECT_HANDLE; 2];
                if h.m.find(h.s, &mut t, &mut found)? != 1 {
                    bail!("{}: object not found", h.m.name);
                }
                let obj = found[0];
                let mut out = [0u8; 64];
                Ok(batch(move || {
                    h.m.get_attribute(h.s, obj, CKA_LABEL, &mut out).map(drop)
                }))
            },
            vec![],
        )?;
        let exe = r.settings.exe.clone();
        let rounds = if r.settings.quick { 2 } else { 5 };
        r.bench(
            &*hsms,
            Plan::fixed(rounds, 1),
            (
                g,
                "new process: C_Initialize..first C_FindObjects",
                Unit::Ops,
            ),
            |h| {
                let exe = exe.clone();
                let label = object_label(count - 1);
                Ok(Box::new(move |n| {
                    let mut total = Duration::ZERO;
                    for _ in 0..n {
                        total += first_find_child(&exe, h, &label)?;
                    }
                    Ok(total)
                }))
            },
            vec![],
        )?;
    }
    Ok(())
}

/// Runs this program's hidden `first-find` command against the module's token, in a new
/// process; returns the time it measured (see `first_find`).
fn first_find_child(exe: &Path, h: &Hsm, label: &str) -> Result<Duration> {
    let out = std::process::Command::new(exe)
        .arg("first-find")
        .arg("--module")
        .arg(&h.m.path)
        .arg("--label")
        .arg(label)
        .stdin(std::process::Stdio::null())
        .output()
        .with_context(|| format!("cannot run {}", exe.display()))?;
    if !out.status.success() {
        bail!(
            "{} first-find on {} failed ({}): {}",
            exe.display(),
            h.m.name,
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let ns: u64 = text
        .split_whitespace()
        .next()
        .and_then(|w| w.parse().ok())
        .with_context(|| format!("first-find printed {text:?}"))?;
    Ok(Duration::from_nanos(ns))
}

/// The child's side: load the module, then time C_Initialize, finding the token's slot,
/// C_OpenSession and the first C_FindObjects by label (C_Login, which derives the PIN key, is
/// left out: it has its own row). Prints the nanoseconds measured, then the login's.
pub fn first_find(module: &Path, label: &str) -> Result<()> {
    let m = Module::load("module", module)?;
    let start = Instant::now();
    m.initialize()?;
    let slot = m.find_token(TOKEN_LABEL)?;
    let s = m.open_session(slot, false)?;
    let opened = start.elapsed();
    let login_start = Instant::now();
    m.login(s, CKU_USER, USER_PIN)?;
    let login = login_start.elapsed();
    let find_start = Instant::now();
    let mut t = Template::new().bytes(CKA_LABEL, label.as_bytes());
    let mut found = [0 as CK_OBJECT_HANDLE; 2];
    let n = m.find(s, &mut t, &mut found)?;
    let total = opened + find_start.elapsed();
    if n != 1 {
        bail!("the search by label found {n} objects, not 1");
    }
    report::say(&format!("{} {}", total.as_nanos(), login.as_nanos()))?;
    m.close_session(s)?;
    m.finalize()
}

pub fn threads(r: &mut Runner, hsms: &[Hsm; 2]) -> Result<()> {
    let plan = r.plan();
    let g = "threads";
    for (what, mech, key) in [
        ("RSA-2048 sign SHA256_RSA_PKCS", CKM_SHA256_RSA_PKCS, 0usize),
        ("ECDSA P-256 sign ECDSA_SHA256*", CKM_ECDSA_SHA256, 1),
    ] {
        let mut medians = Vec::new();
        for threads in [1usize, 2] {
            let name = format!(
                "{what}, {threads} thread{}",
                if threads > 1 { "s" } else { "" }
            );
            let before = r.rows.len();
            r.bench(
                hsms,
                plan,
                (g, &name, Unit::Ops),
                |h| {
                    let k = if key == 0 {
                        h.keys.rsa[0].1
                    } else {
                        h.keys.ec[0].1
                    };
                    let sessions = h.thread_sessions.get(..threads).with_context(|| {
                        format!(
                            "{}: only {} thread sessions",
                            h.m.name,
                            h.thread_sessions.len()
                        )
                    })?;
                    // A batch of n operations per thread; the rate counts all threads.
                    Ok(Box::new(move |n| {
                        let per_thread = n.div_ceil(threads as u64).max(1);
                        let start = Instant::now();
                        std::thread::scope(|scope| {
                            let handles: Vec<_> = sessions
                                .iter()
                                .map(|&s| {
                                    scope.spawn(move || {
                                        let mut out = [0u8; 512];
                                        timed(per_thread, || {
                                            if mech == CKM_ECDSA_SHA256 {
                                                h.sign_ecdsa_sha256(s, k, MSG, &mut out)
                                            } else {
                                                h.m.sign(s, &Mech::Plain(mech), k, MSG, &mut out)
                                            }
                                            .map(drop)
                                        })
                                    })
                                })
                                .collect();
                            for handle in handles {
                                handle
                                    .join()
                                    .map_err(|_| anyhow::anyhow!("a signing thread panicked"))??;
                            }
                            Ok::<(), anyhow::Error>(())
                        })?;
                        // Report the time per n operations in all.
                        let total = per_thread * threads as u64;
                        Ok(start.elapsed().mul_f64(n as f64 / total as f64))
                    }))
                },
                vec![],
            )?;
            if let Some(row) = r.rows.get(before) {
                medians.push((row.ferro.median, row.other.median));
            }
        }
        if let [(f1, o1), (f2, o2)] = medians[..] {
            let s = Scaling {
                name: format!("{what}: 2 threads / 1 thread"),
                ferro: f2 / f1,
                other: o2 / o1,
            };
            report::say(&report::format_scaling(&s))?;
            r.scaling.push(s);
        }
    }
    Ok(())
}
