//! The benchmarks: token setup on each module, the runner, and the session, thread and login
//! rows; the crypto rows are in `crypto`, the object rows in `objects`, the PostgreSQL rows in
//! `store`.

mod crypto;
mod objects;
mod store;

pub use crypto::crypto;
pub use objects::{big_objects, first_find, objects};
pub use store::{load_pg_instance, postgresql, STORE_URL_VAR};

use crate::measure::Stats;
use crate::measure::{self, timed, Batch, Plan};
use crate::p11::{Mech, Module, Template};
use crate::report::{self, Row, Scaling, StoreRow, Unit};
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
    /// Object count of the large level that only ferrohsm runs (0: none).
    pub big: u64,
    /// Objects on each token of the PostgreSQL rows' searches.
    pub store_objects: u64,
    pub exe: PathBuf,
}

/// One module with its token, a logged-in session and the keys of the crypto rows.
#[derive(Debug)]
pub struct Hsm {
    pub m: Module,
    pub slot: CK_SLOT_ID,
    /// The token's label, which the "new process" rows' child looks for.
    pub label: String,
    /// The PostgreSQL database of the token (None: a token directory), for those children.
    pub store_url: Option<String>,
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

    /// Loads and initializes the module, then sets up a token as `on_new_token` does.
    pub fn setup(name: &'static str, path: &Path, threads: usize) -> Result<Hsm> {
        let m = Module::load(name, path)?;
        m.initialize()
            .with_context(|| format!("{name}: C_Initialize"))?;
        Hsm::on_new_token(m, TOKEN_LABEL, None, threads)
    }

    /// On an initialized module: creates a token labelled `label` in its free slot, sets the
    /// user PIN, logs in and generates the keys of the crypto rows.
    pub fn on_new_token(
        m: Module,
        label: &str,
        store_url: Option<String>,
        threads: usize,
    ) -> Result<Hsm> {
        let start = Instant::now();
        let name = m.name;
        let path = m.path.clone();
        let free = m.free_slot()?;
        m.init_token(free, SO_PIN, label)
            .with_context(|| format!("{name}: C_InitToken"))?;
        // SoftHSMv2 moves an initialized token to a new slot id: look it up again.
        let slot = m.find_token(label)?;
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
            label: label.to_string(),
            store_url,
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
    /// The PostgreSQL rows (`--store-url`).
    pub store: Vec<StoreRow>,
    group: String,
}

impl Runner {
    pub fn new(settings: Settings) -> Runner {
        Runner {
            settings,
            rows: Vec::new(),
            scaling: Vec::new(),
            store: Vec::new(),
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

    /// One row: each module of `hsms` (ferrohsm, then SoftHSMv2 unless it is left out) and
    /// the crypto library alone (`lib`), all run interleaved.
    fn bench<'h, F>(
        &mut self,
        hsms: &'h [Hsm],
        plan: Plan,
        (group, name, unit): (&str, &str, Unit),
        make: F,
        lib: Option<Batch<'h>>,
    ) -> Result<()>
    where
        F: Fn(&'h Hsm) -> Result<Batch<'h>>,
    {
        let has_lib = lib.is_some();
        let Some(stats) = self.contend(hsms, plan, (group, name), make, lib)? else {
            return Ok(());
        };
        let mut stats = stats.into_iter();
        let ferro = stats.next().context("no ferrohsm result")?;
        let soft = if hsms.len() > 1 { stats.next() } else { None };
        let lib = if has_lib { stats.next() } else { None };
        self.push(Row {
            group: group.to_string(),
            name: name.to_string(),
            unit,
            ferro,
            soft,
            lib,
        })
    }

    /// Measures one row, if it is wanted: each module of `hsms`, then `lib`, interleaved;
    /// their statistics in that order.
    fn contend<'h, F>(
        &self,
        hsms: &'h [Hsm],
        plan: Plan,
        (group, name): (&str, &str),
        make: F,
        lib: Option<Batch<'h>>,
    ) -> Result<Option<Vec<Stats>>>
    where
        F: Fn(&'h Hsm) -> Result<Batch<'h>>,
    {
        if !self.wanted(group, name) {
            return Ok(None);
        }
        let started = Instant::now();
        let mut contenders = Vec::new();
        for h in hsms {
            let mut b = make(h).with_context(|| format!("{}: setup", h.m.name))?;
            let who = h.m.name;
            contenders.push(Box::new(move |n| b(n).with_context(|| who)) as Batch);
        }
        if let Some(b) = lib {
            contenders.push(Box::new(b));
        }
        let stats = measure::run(&plan, &mut contenders)
            .with_context(|| format!("benchmark {group}: {name}"))?;
        if started.elapsed() > Duration::from_secs(30) {
            eprintln!(
                "({group}: {name} took {:.0} s)",
                started.elapsed().as_secs_f64()
            );
        }
        Ok(Some(stats))
    }
}

/// `n` operations of `op` on a fresh buffer, timed.
pub(crate) fn batch<'a>(mut op: impl FnMut() -> Result<()> + 'a) -> Batch<'a> {
    Box::new(move |n| timed(n, &mut op))
}

pub fn sessions(r: &mut Runner, hsms: &[Hsm; 2]) -> Result<()> {
    let plan = r.plan();
    let g = "sessions";
    r.bench(
        hsms,
        plan,
        (g, "C_GetSessionInfo (per-call overhead)", Unit::Ops),
        |h| Ok(batch(move || h.m.session_info(h.s).map(drop))),
        None,
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
        None,
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
        None,
    )?;
    Ok(())
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
                None,
            )?;
            if let Some(row) = r.rows.get(before) {
                let soft = row.soft.as_ref().map_or(f64::NAN, |s| s.median);
                medians.push((row.ferro.median, soft));
            }
        }
        if let [(f1, o1), (f2, o2)] = medians[..] {
            let s = Scaling {
                name: what.to_string(),
                ferro: f2 / f1,
                other: o2 / o1,
            };
            report::say(&report::format_scaling(&s))?;
            r.scaling.push(s);
        }
    }
    Ok(())
}
