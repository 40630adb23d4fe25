//! Issue 13, several hosts on one PostgreSQL token store (design guide "Several hosts"): each
//! host is a separate process in its own network namespace with its own copy of the module,
//! reaching a real PostgreSQL server over TCP through a veth pair. The scenarios: concurrent
//! writes lose nothing and one-way attributes stay one-way, concurrent wrong PINs are counted
//! exactly, other hosts' commits are visible on the next call, SIGKILLed writers leave a sound
//! token, a stopped server gives CKR_DEVICE_ERROR within the timeout and is picked up again, and
//! a synchronous standby promoted after the primary dies keeps every acknowledged write.
//!
//! Needs root (`ip netns`), the Debian package `postgresql` and the `postgres` system user; a
//! missing one fails the test naming it. The test binary re-executes itself as the hosts (see
//! tests/hosts/proc.rs), like tests/multiprocess.rs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
#[path = "hosts/net.rs"]
mod net;
#[path = "hosts/pg.rs"]
mod pg;
#[path = "hosts/proc.rs"]
mod proc;
#[path = "hosts/tls.rs"]
mod tls;

use common::*;
use cryptoki::context::Pkcs11;
use cryptoki::error::{Error, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use net::Net;
use pg::Cluster;
use proc::{report, Proc};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::BufRead;
use std::path::PathBuf;
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

const TOKEN: &str = "hosts";
const HOST_VAR: &str = "FERROHSM_HOSTS_HOST";
const ROUNDS_VAR: &str = "FERROHSM_HOSTS_ROUNDS";
const COUNT_VAR: &str = "FERROHSM_HOSTS_COUNT";
const PAUSE_VAR: &str = "FERROHSM_HOSTS_PAUSE_ON_FAIL";
/// The store timeout the scenarios configure, and how much later than it a failing call may
/// return (process scheduling on a loaded 2-core machine, the module's own work).
const TIMEOUT_MS: u64 = 2000;
const MARGIN_MS: u64 = 1500;

// ---------------------------------------------------------------------------------------------
// Set-up shared by the scenarios.

/// A test's world: its server(s), its hosts and their configuration files. Fields drop in
/// order: servers stop before the namespaces go.
#[derive(Debug)]
struct World {
    servers: Vec<Cluster>,
    net: Net,
    dir: tempfile::TempDir,
    /// The configuration file of each host (and of the parent: host 0's address is local).
    confs: Vec<PathBuf>,
    urls: Vec<String>,
}

impl World {
    /// `n` hosts and one server listening on every host's root-side address.
    fn new(n: usize, extra: &str) -> World {
        let net = Net::new(n);
        let server = Cluster::primary(&net.root_addrs());
        let urls = net.hosts.iter().map(|h| server.url(h.root_addr)).collect();
        Self::with(vec![server], net, urls, extra)
    }

    fn with(servers: Vec<Cluster>, net: Net, urls: Vec<String>, extra: &str) -> World {
        let dir = tempfile::Builder::new()
            .prefix("ferrohsm-hosts-")
            .tempdir()
            .expect("temp dir");
        let confs: Vec<PathBuf> = urls
            .iter()
            .enumerate()
            .map(|(i, url)| {
                let path = dir.path().join(format!("host{i}.toml"));
                std::fs::write(
                    &path,
                    format!(
                        "store_url = '{url}'\nstore_timeout_ms = {TIMEOUT_MS}\n{extra}\n{FAST_KDF}"
                    ),
                )
                .expect("write config");
                path
            })
            .collect();
        // The parent is host 0 as far as the module is concerned; children override these.
        std::env::set_var("FERROHSM_CONF", &confs[0]);
        std::env::set_var("FERROHSM_STORE_URL", &urls[0]);
        std::env::remove_var("FERROHSM_TOKEN_DIR");
        std::env::set_var("XDG_CONFIG_HOME", dir.path().join("xdg-config"));
        std::env::set_var("XDG_DATA_HOME", dir.path().join("xdg-data"));
        World {
            servers,
            net,
            dir,
            confs,
            urls,
        }
    }

    /// Start host `i`'s process in its namespace, in `role`, and wait for it to be ready: it
    /// must be a process of its own (the pid the parent started) in a namespace of its own.
    fn host(&self, i: usize, role: &str, env: &[(&str, String)]) -> Proc {
        let mut all = vec![
            ("FERROHSM_CONF", self.confs[i].display().to_string()),
            ("FERROHSM_STORE_URL", self.urls[i].clone()),
            (HOST_VAR, i.to_string()),
        ];
        all.extend(env.iter().cloned());
        let p = Proc::spawn(
            &format!("{role}#{i}"),
            Some(&self.net.hosts[i].netns),
            role,
            &all,
        );
        let ready = p.expect("READY");
        let (pid, ns) = ready.split_once(' ').expect("READY pid netns");
        assert_eq!(
            pid,
            p.pid().to_string(),
            "host {i} is not the process started"
        );
        assert_ne!(
            ns,
            net::own_netns(),
            "host {i} runs in the parent's namespace"
        );
        p
    }

    fn log_of_servers(&self) -> String {
        self.servers
            .iter()
            .map(|s| s.log_text())
            .collect::<Vec<_>>()
            .join("\n---\n")
    }
}

/// Hosts run in distinct namespaces (checked pairwise; `World::host` checks each against the
/// parent).
fn distinct_namespaces(procs: &[&Proc], namespaces: &[String]) {
    let set: BTreeSet<&String> = namespaces.iter().collect();
    assert_eq!(
        set.len(),
        procs.len(),
        "hosts share a network namespace: {namespaces:?}"
    );
}

fn rv_of(e: &Error) -> RvError {
    match e {
        Error::Pkcs11(rv, _) => *rv,
        other => panic!("not a PKCS#11 error: {other:?}"),
    }
}

fn aes_key(label: &str) -> Vec<Attribute> {
    vec![
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::AES),
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Encrypt(true),
        Attribute::Label(label.as_bytes().to_vec()),
        Attribute::Value(vec![0x5a; 16]),
    ]
}

/// The value each flood/writer object carries: its label, then bytes derived from it.
fn value_for(label: &str) -> Vec<u8> {
    let mut v = label.as_bytes().to_vec();
    v.extend(label.bytes().rev().map(|b| b ^ 0xa5));
    v
}

/// Labels of every data object whose label starts with `prefix`, with their values.
fn objects_with_prefix(s: &Session, prefix: &str) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for h in s
        .find_objects(&[Attribute::Class(ObjectClass::DATA)])
        .expect("C_FindObjects")
    {
        let label = String::from_utf8(read_bytes(s, h, AttributeType::Label).expect("label"))
            .expect("utf8 label");
        if label.starts_with(prefix) {
            let value = read_bytes(s, h, AttributeType::Value).expect("value");
            assert!(
                out.insert(label.clone(), value).is_none(),
                "two objects labelled {label:?}"
            );
        }
    }
    out
}

/// xorshift64*, enough to spread kill delays; the seed is printed so a run can be replayed.
struct Rng(u64);

impl Rng {
    fn from_env() -> Rng {
        let seed = match std::env::var("FERROHSM_HOSTS_SEED") {
            Ok(s) => s.parse().expect("FERROHSM_HOSTS_SEED is a number"),
            Err(_) => {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .expect("clock")
                    .as_nanos() as u64
                    | 1
            }
        };
        eprintln!("FERROHSM_HOSTS_SEED={seed}");
        Rng(seed)
    }
    fn between(&mut self, lo: u64, hi: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        lo + self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % (hi - lo + 1)
    }
}

// ---------------------------------------------------------------------------------------------
// The host side.

/// Lines from the parent, read on a thread so a looping host can poll for "stop".
fn commands() -> Receiver<String> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

fn env_num(name: &str) -> u64 {
    std::env::var(name)
        .unwrap_or_else(|_| panic!("{name} not set"))
        .parse()
        .expect("a number")
}

/// The child side: does nothing unless started by a parent test with a role. Not `#[ignore]`d,
/// so a normal run shows no skipped test; run by itself it passes at once.
#[test]
fn child() {
    let Ok(role) = std::env::var(proc::ROLE_VAR) else {
        return;
    };
    let ctx = load_module();
    let slot = slot_by_label(&ctx, TOKEN);
    report(&format!(
        "READY {} {}",
        std::process::id(),
        net::own_netns()
    ));
    let host = env_num(HOST_VAR);
    let cmds = commands();
    match role.as_str() {
        "repl" => repl(&user_session(&ctx, slot), &cmds),
        "writes" => writes(&ctx, &user_session(&ctx, slot), host, &cmds),
        "guess" => {
            let s = ctx.open_rw_session(slot).expect("session");
            let n = env_num(COUNT_VAR);
            assert_eq!(cmds.recv().expect("go"), "go");
            for _ in 0..n {
                match s.login(UserType::User, Some(&pin("wrong-pin"))) {
                    Err(Error::Pkcs11(rv @ (RvError::PinIncorrect | RvError::PinLocked), _)) => {
                        report(&format!("RV {rv:?}"))
                    }
                    other => panic!("wrong PIN answered {other:?}"),
                }
            }
        }
        "flood" => flood(&user_session(&ctx, slot), host, &cmds),
        other => panic!("unknown host role {other}"),
    }
    report("DONE");
    ctx.finalize().expect("C_Finalize");
}

/// Commands naming objects by a name local to this host: `create NAME LABEL`, `key NAME
/// LABEL`, `find NAME LABEL` (keeps the first handle found), `label NAME`, `setlabel NAME
/// LABEL`, `destroy NAME`, `encrypt NAME`, `quit`. Each answers `OK …` or `ERR <rv>`.
fn repl(s: &Session, cmds: &Receiver<String>) {
    let mut names: HashMap<String, ObjectHandle> = HashMap::new();
    while let Ok(line) = cmds.recv() {
        let w: Vec<&str> = line.split_whitespace().collect();
        let h = |n: &str| {
            *names
                .get(n)
                .unwrap_or_else(|| panic!("no object named {n}"))
        };
        let answer: Result<String, Error> = match w.as_slice() {
            ["quit"] => break,
            ["create", name, label] => s
                .create_object(&data_object(label, &value_for(label), true, false))
                .map(|o| {
                    names.insert(name.to_string(), o);
                    String::new()
                }),
            ["key", name, label] => s.create_object(&aes_key(label)).map(|o| {
                names.insert(name.to_string(), o);
                String::new()
            }),
            ["find", name, label] => s
                .find_objects(&[Attribute::Label(label.as_bytes().to_vec())])
                .map(|found| {
                    if let Some(o) = found.first() {
                        names.insert(name.to_string(), *o);
                    }
                    found.len().to_string()
                }),
            ["label", name] => read_bytes(s, h(name), AttributeType::Label)
                .map(|l| String::from_utf8_lossy(&l).into_owned()),
            ["setlabel", name, label] => s
                .update_attributes(h(name), &[Attribute::Label(label.as_bytes().to_vec())])
                .map(|_| String::new()),
            ["destroy", name] => s.destroy_object(h(name)).map(|_| String::new()),
            ["encrypt", name] => s
                .encrypt(&Mechanism::AesEcb, h(name), &[0u8; 16])
                .map(|c| c.len().to_string()),
            other => panic!("unknown command {other:?}"),
        };
        match answer {
            Ok(text) => report(&format!("OK {text}")),
            Err(e) => report(&format!("ERR {:?}", rv_of(&e))),
        }
    }
}

/// Scenario "concurrent writes", one host's part; see `concurrent_writes_lose_nothing`.
fn writes(ctx: &Pkcs11, s: &Session, host: u64, cmds: &Receiver<String>) {
    let _ = ctx;
    let rounds = env_num(ROUNDS_VAR);
    let shared = s
        .find_objects(&[
            Attribute::Class(ObjectClass::DATA),
            Attribute::Application(b"shared-target".to_vec()),
        ])
        .expect("find shared");
    assert_eq!(shared.len(), 1, "the shared object");
    let shared = shared[0];
    let keys: Vec<ObjectHandle> = (0..ONE_WAY_KEYS)
        .map(|k| one_by_label(s, &format!("ow-{k}")))
        .collect();
    assert_eq!(cmds.recv().expect("go"), "go");
    for i in 0..rounds {
        let label = format!("h{host}-obj-{i:03}");
        s.create_object(&data_object(&label, &value_for(&label), true, i % 2 == 0))
            .unwrap_or_else(|e| panic!("create {label}: {e}"));
        report(&format!("CREATED {label}"));
        if i % 3 == 2 {
            let victim = format!("h{host}-obj-{:03}", i - 1);
            s.destroy_object(one_by_label(s, &victim))
                .unwrap_or_else(|e| panic!("destroy {victim}: {e}"));
            report(&format!("DESTROYED {victim}"));
        }
        match host {
            // Hosts 0 and 1 change different attributes of one shared object and the same
            // attribute of the one-way keys; a write of a whole stale object would revert the
            // others' changes.
            0 | 1 => {
                let attr = if host == 0 {
                    Attribute::Value(format!("h0-{i:03}").into_bytes())
                } else {
                    Attribute::Label(format!("shared-h1-{i:03}").into_bytes())
                };
                s.update_attributes(shared, &[attr])
                    .unwrap_or_else(|e| panic!("host {host}: change the shared object: {e}"));
                for k in &keys {
                    s.update_attributes(
                        *k,
                        &[Attribute::Id(format!("h{host}-{i:03}").into_bytes())],
                    )
                    .unwrap_or_else(|e| panic!("host {host}: set CKA_ID: {e}"));
                }
            }
            _ => {
                // The one-way changes, spread over the rounds the others write in.
                if i % 3 == 0 && ((i / 3) as usize) < keys.len() {
                    let k = (i / 3) as usize;
                    let attr = if k % 2 == 0 {
                        Attribute::Sensitive(true)
                    } else {
                        Attribute::Extractable(false)
                    };
                    s.update_attributes(keys[k], &[attr])
                        .unwrap_or_else(|e| panic!("one-way change of ow-{k}: {e}"));
                    report(&format!("ONEWAY {k}"));
                }
            }
        }
    }
}

/// Create objects until told to stop, reporting each acknowledged creation (after
/// C_CreateObject returned) and each failed call with its duration; every fourth round destroys
/// an earlier object of its own. With FERROHSM_HOSTS_PAUSE_ON_FAIL a failure waits for "resume".
fn flood(s: &Session, host: u64, cmds: &Receiver<String>) {
    let pause_on_fail = std::env::var_os(PAUSE_VAR).is_some();
    let tag = format!("flood-{}-{}", host, std::process::id());
    let mut created: Vec<(String, ObjectHandle)> = Vec::new();
    for i in 0u64.. {
        match cmds.try_recv() {
            Ok(c) if c == "stop" => break,
            _ => {}
        }
        let label = format!("{tag}-{i:05}");
        let t = Instant::now();
        let r = s.create_object(&data_object(&label, &value_for(&label), true, i % 2 == 0));
        let ms = t.elapsed().as_millis();
        match r {
            Ok(h) => {
                report(&format!("CREATED {label} {ms}"));
                created.push((label, h));
            }
            Err(e) => {
                report(&format!("FAIL {:?} {ms}", rv_of(&e)));
                if pause_on_fail {
                    while cmds.recv().expect("resume") != "resume" {}
                } else {
                    // A refused connection fails at once: do not spin on it.
                    std::thread::sleep(Duration::from_millis(50));
                }
                continue;
            }
        }
        if i % 4 == 3 && created.len() >= 3 {
            let (victim, h) = created.remove(created.len() - 3);
            // A SIGKILL between the commit and the DESTROYED report leaves it gone though
            // never reported destroyed: the parent counts it as unsure until that report.
            report(&format!("DESTROYING {victim}"));
            let t = Instant::now();
            match s.destroy_object(h) {
                Ok(()) => report(&format!("DESTROYED {victim} {}", t.elapsed().as_millis())),
                Err(e) => {
                    report(&format!("FAIL {:?} {}", rv_of(&e), t.elapsed().as_millis()));
                    // Not known whether it went: not a destroyed object, not one to keep either.
                    report(&format!("UNSURE {victim}"));
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The scenarios.

const ONE_WAY_KEYS: usize = 6;

/// Init the token through host 0's configuration; returns the parent's context (finalize it
/// before the hosts run if the scenario needs the parent out of the way).
fn init(world: &World) -> Pkcs11 {
    let ctx = load_module();
    init_token(&ctx, TOKEN);
    // A module that ignored store_url would keep the token in a SQLite file under XDG_DATA_HOME,
    // which every host shares here: the scenarios would pass without PostgreSQL.
    let tables = world.servers[0].sql(
        "SELECT count(*) FROM information_schema.tables \
         WHERE table_schema NOT IN ('pg_catalog', 'information_schema')",
    );
    assert_ne!(tables, "0", "the token was not created in PostgreSQL");
    let sqlite: Vec<PathBuf> = files_under_if_exists(&world.dir.path().join("xdg-data"));
    assert!(
        sqlite.is_empty(),
        "token files outside PostgreSQL: {sqlite:?}"
    );
    ctx
}

fn files_under_if_exists(dir: &std::path::Path) -> Vec<PathBuf> {
    if dir.exists() {
        files_under(dir)
    } else {
        Vec::new()
    }
}

#[test]
fn concurrent_writes_lose_nothing() {
    const ROUNDS: u64 = 30;
    let world = World::new(3, "");
    let ctx = init(&world);
    let slot = slot_by_label(&ctx, TOKEN);
    let s = user_session(&ctx, slot);
    let mut shared = data_object("shared-start", b"start", true, false);
    shared.retain(|a| !matches!(a, Attribute::Application(_)));
    shared.push(Attribute::Application(b"shared-target".to_vec()));
    let shared = s.create_object(&shared).expect("shared object");
    let keys: Vec<ObjectHandle> = (0..ONE_WAY_KEYS)
        .map(|k| {
            s.create_object(&generic_secret(
                &format!("ow-{k}"),
                &[k as u8; 32],
                true,
                false,
            ))
            .expect("one-way key")
        })
        .collect();

    let mut hosts: Vec<Proc> = (0..3)
        .map(|i| world.host(i, "writes", &[(ROUNDS_VAR, ROUNDS.to_string())]))
        .collect();
    let namespaces: Vec<String> = world.net.hosts.iter().map(|h| h.netns.clone()).collect();
    distinct_namespaces(&hosts.iter().collect::<Vec<_>>(), &namespaces);
    for h in &mut hosts {
        h.send("go");
    }
    let mut created = BTreeSet::new();
    let mut destroyed = BTreeSet::new();
    let mut one_way = BTreeSet::new();
    for h in &mut hosts {
        for ev in h.finish() {
            let (word, rest) = ev.split_once(' ').unwrap_or((&ev, ""));
            match word {
                "CREATED" => assert!(created.insert(rest.to_owned()), "created twice: {rest}"),
                "DESTROYED" => assert!(destroyed.insert(rest.to_owned())),
                "ONEWAY" => assert!(one_way.insert(rest.parse::<usize>().expect("key"))),
                "DONE" => {}
                other => panic!("unexpected report {other}"),
            }
        }
    }
    assert_eq!(
        created.len(),
        3 * ROUNDS as usize,
        "every creation reported"
    );
    assert_eq!(one_way.len(), ONE_WAY_KEYS, "every one-way change reported");

    // What the parent's own module reads now, through its own connection.
    let found = objects_with_prefix(&s, "h");
    let expected: BTreeSet<String> = created.difference(&destroyed).cloned().collect();
    let got: BTreeSet<String> = found.keys().cloned().collect();
    assert_eq!(
        got.difference(&expected).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "objects present that were destroyed or never created"
    );
    assert_eq!(
        expected.difference(&got).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "objects lost"
    );
    for (label, value) in &found {
        assert_eq!(value, &value_for(label), "value of {label}");
    }
    let last = ROUNDS - 1;
    assert_eq!(
        read_bytes(&s, shared, AttributeType::Value).expect("value"),
        format!("h0-{last:03}").into_bytes(),
        "host 0's last change of the shared object lost"
    );
    assert_eq!(
        read_bytes(&s, shared, AttributeType::Label).expect("label"),
        format!("shared-h1-{last:03}").into_bytes(),
        "host 1's last change of the shared object lost"
    );
    for (k, key) in keys.iter().enumerate() {
        let sensitive = read_bool(&s, *key, AttributeType::Sensitive).expect("sensitive");
        let extractable = read_bool(&s, *key, AttributeType::Extractable).expect("extractable");
        if k % 2 == 0 {
            assert!(
                sensitive,
                "ow-{k}: CKA_SENSITIVE reverted to false by another host"
            );
            assert!(
                extractable,
                "ow-{k}: CKA_EXTRACTABLE changed though nobody set it"
            );
            expect_rv(
                s.update_attributes(*key, &[Attribute::Sensitive(false)]),
                RvError::AttributeReadOnly,
            );
        } else {
            assert!(
                !extractable,
                "ow-{k}: CKA_EXTRACTABLE reverted to true by another host"
            );
            assert!(
                !sensitive,
                "ow-{k}: CKA_SENSITIVE changed though nobody set it"
            );
            expect_rv(
                s.update_attributes(*key, &[Attribute::Extractable(true)]),
                RvError::AttributeReadOnly,
            );
        }
        let id = read_bytes(&s, *key, AttributeType::Id).expect("id");
        assert!(
            id == format!("h0-{last:03}").into_bytes()
                || id == format!("h1-{last:03}").into_bytes(),
            "ow-{k}: CKA_ID {:?} is not a last write",
            String::from_utf8_lossy(&id)
        );
    }
    drop(s);
    ctx.finalize().expect("C_Finalize");
}

/// Three hosts send `per_host` wrong PINs at once; returns how many were CKR_PIN_INCORRECT
/// and how many CKR_PIN_LOCKED.
fn guess_at_once(world: &World, per_host: usize) -> (usize, usize) {
    let mut hosts: Vec<Proc> = (0..3)
        .map(|i| world.host(i, "guess", &[(COUNT_VAR, per_host.to_string())]))
        .collect();
    for h in &mut hosts {
        h.send("go");
    }
    let (mut incorrect, mut locked) = (0, 0);
    for h in &mut hosts {
        for ev in h.finish() {
            match ev.as_str() {
                "RV PinIncorrect" => incorrect += 1,
                "RV PinLocked" => locked += 1,
                "DONE" => {}
                other => panic!("unexpected report {other}"),
            }
        }
    }
    assert_eq!(incorrect + locked, 3 * per_host, "every attempt answered");
    (incorrect, locked)
}

#[test]
fn concurrent_wrong_pins_are_counted_exactly() {
    const LIMIT: usize = 60;
    const PER_HOST: usize = 15;
    let world = World::new(3, &format!("max_login_attempts = {LIMIT}"));
    let ctx = init(&world);
    let slot = slot_by_label(&ctx, TOKEN);
    let raw = Raw::load();

    let (incorrect, locked) = guess_at_once(&world, PER_HOST);
    assert_eq!(
        (incorrect, locked),
        (3 * PER_HOST, 0),
        "below the limit every wrong PIN is CKR_PIN_INCORRECT"
    );
    // The count left: wrong PINs from here until the lock. A lost update leaves more, a
    // double count fewer.
    let s = ctx.open_rw_session(slot).expect("session");
    let mut more = 0;
    loop {
        assert!(more <= LIMIT, "no lock after {more} further wrong PINs");
        match s.login(UserType::User, Some(&pin("wrong-pin"))) {
            Err(Error::Pkcs11(RvError::PinIncorrect, _)) => more += 1,
            Err(Error::Pkcs11(RvError::PinLocked, _)) => break,
            other => panic!("wrong PIN answered {other:?}"),
        }
        let flags = token_flags(&raw, slot.id());
        if more + incorrect == LIMIT - 1 {
            assert_ne!(flags & cryptoki_sys::CKF_USER_PIN_FINAL_TRY, 0, "FINAL_TRY");
        }
    }
    assert_eq!(
        incorrect + more,
        LIMIT,
        "the token counted {} of the {incorrect} concurrent wrong PINs",
        LIMIT - more
    );
    assert_ne!(
        token_flags(&raw, slot.id()) & cryptoki_sys::CKF_USER_PIN_LOCKED,
        0
    );
    drop(s);
    ctx.finalize().expect("C_Finalize");
}

#[test]
fn concurrent_wrong_pins_stop_at_the_limit() {
    const LIMIT: usize = 5;
    let world = World::new(3, &format!("max_login_attempts = {LIMIT}"));
    let ctx = init(&world);
    let slot = slot_by_label(&ctx, TOKEN);
    ctx.finalize().expect("C_Finalize");

    let (incorrect, locked) = guess_at_once(&world, 8);
    assert_eq!(
        incorrect, LIMIT,
        "wrong PINs answered CKR_PIN_INCORRECT across the hosts (then {locked} CKR_PIN_LOCKED)"
    );
    let ctx = load_module();
    let raw = Raw::load();
    assert_ne!(
        token_flags(&raw, slot.id()) & cryptoki_sys::CKF_USER_PIN_LOCKED,
        0,
        "CKF_USER_PIN_LOCKED"
    );
    let s = ctx.open_rw_session(slot).expect("session");
    expect_rv(
        s.login(UserType::User, Some(&pin(USER_PIN))),
        RvError::PinLocked,
    );
    drop(s);
    ctx.finalize().expect("C_Finalize");
}

#[test]
fn other_hosts_changes_are_seen_on_the_next_call() {
    let world = World::new(2, "");
    init(&world).finalize().expect("C_Finalize");
    let mut a = world.host(0, "repl", &[]);
    let mut b = world.host(1, "repl", &[]);
    let ok = |got: String, want: &str, what: &str| {
        // An empty answer is "OK " on the wire.
        assert_eq!(got.trim_end(), format!("OK {want}").trim_end(), "{what}");
    };
    for round in 0..3 {
        let l = format!("vis-{round}");
        let l2 = format!("vis-{round}-renamed");
        let k = format!("vis-key-{round}");
        ok(
            b.call(&format!("find o {l}")),
            "0",
            "not there before A creates it",
        );
        ok(a.call(&format!("create o {l}")), "", "A creates");
        ok(
            b.call(&format!("find o {l}")),
            "1",
            "B's next C_FindObjects finds A's object",
        );
        ok(b.call("label o"), &l, "B reads it");
        ok(a.call(&format!("setlabel o {l2}")), "", "A renames");
        ok(
            b.call("label o"),
            &l2,
            "B's next read through its handle sees the rename",
        );
        ok(
            b.call(&format!("find x {l}")),
            "0",
            "the old label is gone for B",
        );
        ok(a.call(&format!("key k {k}")), "", "A creates a key");
        ok(b.call(&format!("find k {k}")), "1", "B finds the key");
        ok(b.call("encrypt k"), "16", "B uses the key");
        ok(a.call("destroy o"), "", "A destroys the object");
        assert_eq!(
            b.call("label o"),
            "ERR ObjectHandleInvalid",
            "B's cached handle after A destroyed the object"
        );
        ok(
            b.call(&format!("find o {l2}")),
            "0",
            "B's search after A destroyed it",
        );
        ok(a.call("destroy k"), "", "A destroys the key");
        assert_eq!(
            b.call("encrypt k"),
            "ERR KeyHandleInvalid",
            "B's C_EncryptInit with its cached handle of the destroyed key"
        );
    }
    a.send("quit");
    b.send("quit");
    a.finish();
    b.finish();
}

/// Classify flood reports: acknowledged creations, acknowledged destructions, unsure ones.
#[derive(Debug, Default)]
struct Flood {
    created: BTreeSet<String>,
    destroyed: BTreeSet<String>,
    unsure: BTreeSet<String>,
    /// (rv, milliseconds) of each failed call.
    fails: Vec<(String, u64)>,
    /// Milliseconds of each successful call.
    oks: Vec<u64>,
    done: bool,
}

impl Flood {
    fn take(&mut self, ev: &str) {
        let w: Vec<&str> = ev.split_whitespace().collect();
        match w.as_slice() {
            ["CREATED", label, ms] => {
                assert!(self.created.insert(label.to_string()));
                self.oks.push(ms.parse().expect("ms"));
            }
            ["DESTROYING", label] => {
                self.unsure.insert(label.to_string());
            }
            ["DESTROYED", label, ms] => {
                self.unsure.remove(*label);
                assert!(self.destroyed.insert(label.to_string()));
                self.oks.push(ms.parse().expect("ms"));
            }
            ["UNSURE", label] => {
                self.unsure.insert(label.to_string());
            }
            ["FAIL", rv, ms] => self.fails.push((rv.to_string(), ms.parse().expect("ms"))),
            ["DONE"] => self.done = true,
            other => panic!("unexpected report {other:?}"),
        }
    }

    /// Check the token holds every acknowledged object and none acknowledged destroyed.
    fn check_against(&self, found: &BTreeMap<String, Vec<u8>>, killed_in_flight: usize) {
        for label in &self.created {
            if self.destroyed.contains(label) || self.unsure.contains(label) {
                continue;
            }
            let value = found
                .get(label)
                .unwrap_or_else(|| panic!("acknowledged object {label} lost"));
            assert_eq!(value, &value_for(label), "value of {label}");
        }
        for label in &self.destroyed {
            assert!(
                !found.contains_key(label),
                "destroyed object {label} is back"
            );
        }
        let unknown: Vec<&String> = found
            .keys()
            .filter(|l| !self.created.contains(*l))
            .collect();
        // Each killed process may have had one creation in flight, committed but not reported.
        assert!(
            unknown.len() <= killed_in_flight,
            "objects nobody reported creating: {unknown:?}"
        );
    }
}

#[test]
fn sigkilled_writers_leave_a_sound_token() {
    const ROUNDS: usize = 3;
    let world = World::new(3, "");
    init(&world).finalize().expect("C_Finalize");
    let mut rng = Rng::from_env();
    let mut flood = Flood::default();
    let mut kills = 0;
    for _ in 0..ROUNDS {
        let mut hosts: Vec<Proc> = (0..3).map(|i| world.host(i, "flood", &[])).collect();
        for h in &mut hosts {
            // Killed at a random moment of its writing, not before it wrote anything.
            let first = h.next();
            assert!(first.starts_with("CREATED "), "{}: {first}", h.name);
            flood.take(&first);
            std::thread::sleep(Duration::from_millis(rng.between(10, 250)));
            h.kill();
            kills += 1;
        }
        for h in &hosts {
            for ev in h.drain() {
                flood.take(&ev);
            }
        }
        assert!(flood.fails.is_empty(), "failed calls: {:?}", flood.fails);
        assert!(!flood.done, "a writer finished before it was killed");
    }
    let ctx = load_module();
    // Login runs the whole-token integrity check.
    let s = user_session(&ctx, slot_by_label(&ctx, TOKEN));
    let found = objects_with_prefix(&s, "flood-");
    flood.check_against(&found, kills);
    assert!(
        flood.created.len() >= 3 * ROUNDS,
        "the writers wrote almost nothing before being killed"
    );
    drop(s);
    ctx.finalize().expect("C_Finalize");
}

/// Feed every report the hosts made so far into their `Flood`s until `done` holds (at most
/// `PATIENCE`).
fn pump_until(hosts: &[Proc], floods: &mut [Flood], what: &str, done: impl Fn(&[Flood]) -> bool) {
    let start = Instant::now();
    loop {
        for (h, f) in hosts.iter().zip(floods.iter_mut()) {
            for ev in h.poll() {
                f.take(&ev);
            }
        }
        if done(floods) {
            return;
        }
        assert!(
            start.elapsed() < proc::PATIENCE,
            "timed out waiting for {what}; reports so far: {floods:?}\n{}",
            hosts
                .iter()
                .map(|h| h.output())
                .collect::<Vec<_>>()
                .join("\n---\n")
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Each call took at most the store timeout plus the margin; each failure is
/// CKR_DEVICE_ERROR.
fn check_timing(name: &str, f: &Flood) {
    let limit = TIMEOUT_MS + MARGIN_MS;
    for (rv, ms) in &f.fails {
        assert_eq!(rv, "DeviceError", "{name}: a call failed with {rv}");
        assert!(
            *ms <= limit,
            "{name}: a failing call took {ms} ms (limit {limit})"
        );
    }
    if let Some(ms) = f.oks.iter().max() {
        assert!(*ms <= limit, "{name}: a call took {ms} ms (limit {limit})");
    }
}

#[test]
fn a_stopped_server_fails_calls_in_time_and_is_picked_up_again() {
    let world = World::new(3, "");
    init(&world).finalize().expect("C_Finalize");
    let mut hosts: Vec<Proc> = (0..3).map(|i| world.host(i, "flood", &[])).collect();
    let mut floods: Vec<Flood> = (0..3).map(|_| Flood::default()).collect();
    pump_until(&hosts, &mut floods, "writes before the stop", |f| {
        f.iter().all(|f| f.created.len() >= 5)
    });

    world.servers[0].stop_fast();
    pump_until(
        &hosts,
        &mut floods,
        "failures while the server is down",
        |f| f.iter().all(|f| !f.fails.is_empty()),
    );
    // Down for longer than the timeout, so calls waiting on it would have to give up.
    let down = Instant::now();
    while down.elapsed() < Duration::from_millis(TIMEOUT_MS + 500) {
        pump_until(&hosts, &mut floods, "", |_| true);
        std::thread::sleep(Duration::from_millis(50));
    }
    world.servers[0].start();
    let marks: Vec<usize> = floods.iter().map(|f| f.created.len()).collect();
    pump_until(&hosts, &mut floods, "writes after the restart", |f| {
        f.iter().zip(&marks).all(|(f, m)| f.created.len() >= m + 5)
    });
    for (h, f) in hosts.iter_mut().zip(floods.iter_mut()) {
        h.send("stop");
        for ev in h.finish() {
            f.take(&ev);
        }
        check_timing(&h.name, f);
    }
    drop(hosts);

    let ctx = load_module();
    let s = user_session(&ctx, slot_by_label(&ctx, TOKEN));
    let found = objects_with_prefix(&s, "flood-");
    for f in &floods {
        let mine: BTreeMap<String, Vec<u8>> = found
            .iter()
            .filter(|(l, _)| f.created.iter().next().is_some_and(|c| same_writer(c, l)))
            .map(|(l, v)| (l.clone(), v.clone()))
            .collect();
        // The call in flight at the stop may have committed without its answer arriving.
        f.check_against(&mine, 1);
    }
    drop(s);
    ctx.finalize().expect("C_Finalize");
}

/// Whether two flood labels come from the same process (`flood-HOST-PID-N`).
fn same_writer(a: &str, b: &str) -> bool {
    a.rsplit_once('-').map(|x| x.0) == b.rsplit_once('-').map(|x| x.0)
}

#[test]
fn failover_to_a_promoted_synchronous_standby_keeps_every_acknowledged_write() {
    let net = Net::new(1);
    let (a, b) = (net.hosts[0].root_addr, net.hosts[0].root_addr2);
    let primary = Cluster::primary(&[a]);
    let standby = Cluster::standby_of(&primary, &[b]);
    primary.sql("ALTER SYSTEM SET synchronous_standby_names = '*'");
    primary.sql("SELECT pg_reload_conf()");
    let start = Instant::now();
    while primary.sql("SELECT string_agg(sync_state, ',') FROM pg_stat_replication") != "sync" {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the standby never became synchronous:\n{}",
            standby.log_text()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let url = format!(
        "host={a},{b} port={},{} user={} dbname=postgres target_session_attrs=read-write",
        primary.port,
        standby.port,
        pg::DB_USER
    );
    let world = World::with(vec![primary, standby], net, vec![url], "");
    init(&world).finalize().expect("C_Finalize");

    let mut client = vec![world.host(0, "flood", &[(PAUSE_VAR, "1".to_owned())])];
    let mut f = vec![Flood::default()];
    pump_until(&client, &mut f, "writes on the primary", |f| {
        f[0].created.len() >= 20
    });
    world.servers[0].kill();
    world.servers[1].promote();
    assert_eq!(
        world.servers[1].sql("SELECT pg_is_in_recovery()"),
        "f",
        "promoted"
    );
    client[0].send("resume");
    let mark = f[0].created.len();
    pump_until(&client, &mut f, "writes on the promoted standby", |f| {
        f[0].created.len() >= mark + 20
    });
    client[0].send("stop");
    for ev in client[0].finish() {
        f[0].take(&ev);
    }
    drop(client);
    let f = &f[0];
    assert!(
        f.fails.len() <= 1,
        "more than one failed call across the failover: {:?}\n{}",
        f.fails,
        world.log_of_servers()
    );
    check_timing("client", f);

    // The primary is gone: the multi-host URL can only reach the promoted server.
    let ctx = load_module();
    let s = user_session(&ctx, slot_by_label(&ctx, TOKEN));
    let found = objects_with_prefix(&s, "flood-");
    f.check_against(&found, 1);
    drop(s);
    ctx.finalize().expect("C_Finalize");
}
