//! Shared helpers for the black-box tests of the PKCS#11 v3.0 module (all chapters): locating
//! the built `libferrohsm.so`, a private token store (directory, or PostgreSQL database when
//! FERROHSM_TEST_STORE=postgres) and configuration per test, token and
//! session set-up through the `cryptoki` crate, and raw access to the function lists for the
//! cases the high-level API cannot express (NULL pointers, bad flags, calls before C_Initialize).
//!
//! Tests run under cargo-nextest, one process per test, so each test may point the module at its
//! own configuration through environment variables before the module is initialized.
#![allow(dead_code)] // each test binary uses its own subset of these helpers
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod der;
pub mod keys;
pub mod p11;
pub mod vectors;

/// Call a function of a `Raw` function list: `ck!(raw, C_GetInfo(&mut info))`. Panics if the
/// entry is NULL, which the module promises never to be.
macro_rules! ck {
    ($raw:expr, $func:ident($($arg:expr),* $(,)?)) => {{
        let entry = $raw.f().$func.expect(concat!(stringify!($func), " is NULL in the function list"));
        // SAFETY: a PKCS#11 entry point called with arguments that are either NULL (a case the
        // module must reject) or point to live locals of the caller for the whole call.
        unsafe { entry($($arg),*) }
    }};
}
#[allow(unused_imports)] // not every test binary makes raw calls
pub(crate) use ck;

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error, Rv, RvError};
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;
use cryptoki_sys::*;
use std::fmt::Debug;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Distinctive PINs, so a scan of the token files can look for their bytes.
pub const SO_PIN: &str = "so-pin-5c7e21d8";
pub const USER_PIN: &str = "user-pin-9a4f06b3";
/// CKA_EC_PARAMS of P-256: the DER of its OID, 1.2.840.10045.3.1.7.
pub const P256: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];

/// The environment variable that tells a re-executed test binary which child role to play.
pub const CHILD_ROLE_VAR: &str = "FERROHSM_TEST_CHILD_ROLE";

/// The module under test: `target/<profile>/libferrohsm.so` next to the `deps/` directory that
/// holds the test binary, else the file named by `FERROHSM_MODULE`.
pub fn module_path() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    if let Some(profile_dir) = exe.parent().and_then(Path::parent) {
        let candidate = profile_dir.join("libferrohsm.so");
        if candidate.is_file() {
            return candidate;
        }
    }
    match std::env::var_os("FERROHSM_MODULE") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => panic!(
            "libferrohsm.so not found next to {} and FERROHSM_MODULE is not set; run `cargo build`",
            exe.display()
        ),
    }
}

/// Fast Argon2id parameters: the tests derive many PIN keys and measure behaviour, not cost.
pub const FAST_KDF: &str = "[kdf]\nmemory_kib = 64\niterations = 1\nparallelism = 1\n";

/// The one parameter that picks the token store of every `TestEnv::new`/`with_config`/
/// `with_raw_config`: unset, empty or `sqlite` for a token directory, `postgres` for a fresh
/// database on the cluster named by `FERROHSM_TEST_PG` (scripts/test starts one with
/// scripts/pg-cluster). The same tests then run against either store.
pub const TEST_STORE_VAR: &str = "FERROHSM_TEST_STORE";
/// The base connection string of the PostgreSQL cluster (key=value form, a superuser role).
pub const TEST_PG_VAR: &str = "FERROHSM_TEST_PG";

/// Where the tokens of a `TestEnv` live.
#[derive(Debug)]
enum Store {
    Dir(PathBuf),
    Postgres {
        /// The module's store_url: the base connection string with this env's database.
        url: String,
        base: String,
        dbname: String,
        /// A child's env (`inherited`) uses the parent's database and leaves it alone.
        owned: bool,
    },
}

/// A private token store (a token directory, or a database of its own on the test cluster) and
/// configuration file for one test. Dropping it removes both.
#[derive(Debug)]
pub struct TestEnv {
    dir: tempfile::TempDir,
    store: Store,
    conf: PathBuf,
}

/// Whether `FERROHSM_TEST_STORE` asks for PostgreSQL; any other value than the known ones is a
/// mistake that must not quietly mean SQLite.
pub fn postgres_requested() -> bool {
    match std::env::var(TEST_STORE_VAR).as_deref() {
        Err(_) | Ok("") | Ok("sqlite") => false,
        Ok("postgres") => true,
        Ok(other) => panic!("{TEST_STORE_VAR}={other:?}: expected \"sqlite\" or \"postgres\""),
    }
}

impl TestEnv {
    /// Default settings except the fast KDF.
    pub fn new() -> Self {
        Self::with_config("")
    }

    /// `top` holds extra top-level TOML keys (for example `max_login_attempts = 3`); the fast
    /// KDF section is appended.
    pub fn with_config(top: &str) -> Self {
        Self::with_raw_config(&format!("{top}\n{FAST_KDF}"))
    }

    /// The configuration file is the store line (`token_dir = …` or `store_url = …`) followed by
    /// `body` verbatim.
    pub fn with_raw_config(body: &str) -> Self {
        if postgres_requested() {
            let dir = temp_root();
            let store = new_database();
            Self::finish(dir, store, body)
        } else {
            Self::sqlite_with_raw_config(body)
        }
    }

    /// `new` on a token directory whatever `FERROHSM_TEST_STORE` says: for the tests that read,
    /// edit, damage or count the SQLite files themselves, which mean nothing on PostgreSQL.
    pub fn sqlite() -> Self {
        Self::sqlite_with_config("")
    }

    /// `with_config` on a token directory (see `sqlite`).
    pub fn sqlite_with_config(top: &str) -> Self {
        Self::sqlite_with_raw_config(&format!("{top}\n{FAST_KDF}"))
    }

    /// `with_raw_config` on a token directory (see `sqlite`).
    pub fn sqlite_with_raw_config(body: &str) -> Self {
        let dir = temp_root();
        let token_dir = dir.path().join("tokens");
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&token_dir)
            .expect("token dir");
        Self::finish(dir, Store::Dir(token_dir), body)
    }

    /// Like `with_config`, but the token directory does not exist yet: the module must create it.
    /// Always SQLite: the directory is what it tests.
    pub fn with_missing_token_dir(top: &str) -> Self {
        let dir = temp_root();
        let token_dir = dir.path().join("not-yet").join("tokens");
        Self::finish(dir, Store::Dir(token_dir), &format!("{top}\n{FAST_KDF}"))
    }

    fn finish(dir: tempfile::TempDir, store: Store, body: &str) -> Self {
        let conf = dir.path().join("ferrohsm.toml");
        let line = match &store {
            Store::Dir(token_dir) => format!("token_dir = '{}'", token_dir.display()),
            Store::Postgres { url, .. } => format!("store_url = '{url}'"),
        };
        std::fs::write(&conf, format!("{line}\n{body}")).expect("write config");
        // Before the module is loaded: it reads its configuration in C_Initialize. The XDG
        // variables keep a module that ignored the others away from the real home directory.
        std::env::set_var("FERROHSM_CONF", &conf);
        match &store {
            Store::Dir(token_dir) => {
                std::env::set_var("FERROHSM_TOKEN_DIR", token_dir);
                std::env::remove_var("FERROHSM_STORE_URL");
            }
            Store::Postgres { url, .. } => {
                // An earlier env of this process may have left a token directory here.
                std::env::remove_var("FERROHSM_TOKEN_DIR");
                std::env::set_var("FERROHSM_STORE_URL", url);
            }
        }
        std::env::set_var("XDG_CONFIG_HOME", dir.path().join("xdg-config"));
        std::env::set_var("XDG_DATA_HOME", dir.path().join("xdg-data"));
        TestEnv { dir, store, conf }
    }

    /// A scratch directory of the test's own (it also holds the configuration file).
    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// Whether this env's tokens live in PostgreSQL.
    pub fn is_postgres(&self) -> bool {
        matches!(self.store, Store::Postgres { .. })
    }

    /// The module's store_url on PostgreSQL, None on SQLite.
    pub fn store_url(&self) -> Option<&str> {
        match &self.store {
            Store::Postgres { url, .. } => Some(url),
            Store::Dir(_) => None,
        }
    }

    /// The environment variables that point another process (ferrohsm-util, a re-executed test
    /// binary) at this env's store and configuration.
    pub fn store_vars(&self) -> Vec<(&'static str, std::ffi::OsString)> {
        let store = match &self.store {
            Store::Dir(d) => ("FERROHSM_TOKEN_DIR", d.clone().into_os_string()),
            Store::Postgres { url, .. } => ("FERROHSM_STORE_URL", url.into()),
        };
        vec![store, ("FERROHSM_CONF", self.conf.clone().into_os_string())]
    }

    /// The token directory. A test calling it inspects the SQLite store itself and must say so
    /// by constructing its env with `TestEnv::sqlite*`.
    #[track_caller]
    pub fn token_dir(&self) -> &Path {
        match &self.store {
            Store::Dir(d) => d,
            Store::Postgres { .. } => panic!(
                "this test looks at the token directory, which a PostgreSQL store has not: \
                 construct its env with TestEnv::sqlite*() (it then runs on SQLite in the \
                 {TEST_STORE_VAR}=postgres run too)"
            ),
        }
    }

    pub fn conf(&self) -> &Path {
        &self.conf
    }

    /// The database file of the token with this serial number (CK_TOKEN_INFO.serialNumber).
    #[track_caller]
    pub fn token_file(&self, serial: &str) -> PathBuf {
        self.token_dir().join(format!("{}.sqlite", serial.trim()))
    }

    /// Load and initialize the module (see `load_module`).
    pub fn load(&self) -> Pkcs11 {
        load_module()
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        let Store::Postgres {
            base,
            dbname,
            owned,
            ..
        } = &self.store
        else {
            return;
        };
        if !*owned {
            return;
        }
        // Best effort: a failed drop only leaves a database on a throwaway cluster. FORCE ends
        // connections a module that was not finalized still holds.
        if let Err(e) = psql(
            base,
            &format!("DROP DATABASE IF EXISTS \"{dbname}\" WITH (FORCE)"),
        ) {
            eprintln!("TestEnv: could not drop database {dbname}: {e}");
        }
        // The module fell back to its default token directory although store_url was set: the
        // test would have passed on SQLite, which must not count as a PostgreSQL pass.
        let fallback = self.dir.path().join("xdg-data");
        if fallback.exists() && !std::thread::panicking() {
            let files = files_under(&fallback);
            assert!(
                files.is_empty(),
                "store_url was set but the module wrote files under its default token \
                 directory: {files:?}"
            );
        }
    }
}

fn temp_root() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("ferrohsm-test-")
        .tempdir()
        .expect("temp dir")
}

/// psql from PATH, else from the highest /usr/lib/postgresql/*/bin.
fn psql_path() -> PathBuf {
    if let Some(path) = std::env::var_os("PATH") {
        for d in std::env::split_paths(&path) {
            if d.join("psql").is_file() {
                return d.join("psql");
            }
        }
    }
    let mut found: Vec<(Vec<u32>, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_string_lossy().to_string();
            let version = v
                .split('.')
                .map(|p| p.parse().ok())
                .collect::<Option<Vec<u32>>>()?;
            let p = e.path().join("bin/psql");
            p.is_file().then_some((version, p))
        })
        .collect();
    found.sort();
    match found.pop() {
        Some((_, p)) => p,
        None => panic!(
            "psql not found on PATH or under /usr/lib/postgresql/*/bin: the PostgreSQL tests \
             need it (Debian package postgresql-client; scripts/test installs postgresql)"
        ),
    }
}

/// Run one SQL command on the cluster as the base connection string's role.
fn psql(conn: &str, sql: &str) -> Result<(), String> {
    let out = std::process::Command::new(psql_path())
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", conn, "-c", sql])
        .output()
        .map_err(|e| format!("running psql: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "psql -d '{conn}' -c '{sql}': {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// `conn` (key=value form, or a postgresql:// URL) with its database replaced by `dbname`.
pub fn with_dbname(conn: &str, dbname: &str) -> String {
    let conn = conn.trim();
    if conn.starts_with("postgresql://") || conn.starts_with("postgres://") {
        let (head, query) = match conn.split_once('?') {
            Some((h, q)) => (h, Some(q)),
            None => (conn, None),
        };
        let scheme_end = head.find("://").map(|i| i + 3).unwrap_or(0);
        let authority_end = head[scheme_end..]
            .find('/')
            .map(|i| scheme_end + i)
            .unwrap_or(head.len());
        let mut url = format!("{}/{dbname}", &head[..authority_end]);
        if let Some(q) = query {
            url.push('?');
            url.push_str(q);
        }
        url
    } else {
        let mut parts: Vec<&str> = conn
            .split_whitespace()
            .filter(|kv| !kv.starts_with("dbname="))
            .collect();
        let db = format!("dbname={dbname}");
        parts.push(&db);
        parts.join(" ")
    }
}

/// A fresh database on the cluster of `FERROHSM_TEST_PG`, with a name no other test (process,
/// run) uses.
#[track_caller]
fn new_database() -> Store {
    let base = match std::env::var(TEST_PG_VAR) {
        Ok(b) if !b.trim().is_empty() => b,
        _ => panic!(
            "{TEST_STORE_VAR}=postgres but {TEST_PG_VAR} is not set: it must hold the base \
             connection string of a PostgreSQL cluster with a superuser role (scripts/test \
             starts one: scripts/pg-cluster start DIR prints it)"
        ),
    };
    static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let dbname = format!(
        "ferrohsm_test_{}_{}_{nanos:09}",
        std::process::id(),
        COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    if let Err(e) = psql(&base, &format!("CREATE DATABASE \"{dbname}\"")) {
        panic!("{TEST_STORE_VAR}=postgres: could not create the test database: {e}");
    }
    Store::Postgres {
        url: with_dbname(&base, &dbname),
        base,
        dbname,
        owned: true,
    }
}

impl Default for TestEnv {
    fn default() -> Self {
        Self::new()
    }
}

/// Load the module and call C_Initialize with CKF_OS_LOCKING_OK, as multi-threaded clients do.
pub fn load_module() -> Pkcs11 {
    let ctx = Pkcs11::new(module_path()).expect("load libferrohsm.so");
    ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
        .expect("C_Initialize");
    ctx
}

/// C_Finalize, then a fresh C_Initialize: what a restarted application sees. Every `Session`
/// of the old context must have been dropped before, or its drop would close a session of the
/// new one.
pub fn restart(ctx: Pkcs11) -> Pkcs11 {
    ctx.finalize().expect("C_Finalize");
    load_module()
}

pub fn pin(s: &str) -> AuthPin {
    AuthPin::from(s)
}

/// The one slot whose token lacks CKF_TOKEN_INITIALIZED. Slots whose token cannot be read (a
/// damaged token reports CKR_TOKEN_NOT_RECOGNIZED) are not free.
#[track_caller]
pub fn free_slot(ctx: &Pkcs11) -> Slot {
    let free: Vec<Slot> = ctx
        .get_all_slots()
        .expect("C_GetSlotList")
        .into_iter()
        .filter(|s| {
            ctx.get_token_info(*s)
                .map(|i| !i.token_initialized())
                .unwrap_or(false)
        })
        .collect();
    assert_eq!(
        free.len(),
        1,
        "exactly one free slot expected, got {free:?}"
    );
    free[0]
}

/// Initialize a token in the free slot with `SO_PIN` and the label, without a user PIN.
#[track_caller]
pub fn init_token_so_only(ctx: &Pkcs11, label: &str) -> Slot {
    let slot = free_slot(ctx);
    ctx.init_token(slot, &pin(SO_PIN), label)
        .expect("C_InitToken on the free slot");
    slot
}

/// Initialize a token in the free slot with `SO_PIN`, the label and the user PIN `USER_PIN`.
#[track_caller]
pub fn init_token(ctx: &Pkcs11, label: &str) -> Slot {
    let slot = init_token_so_only(ctx, label);
    let session = ctx.open_rw_session(slot).expect("C_OpenSession R/W");
    session
        .login(UserType::So, Some(&pin(SO_PIN)))
        .expect("C_Login SO");
    session.init_pin(&pin(USER_PIN)).expect("C_InitPIN");
    session.logout().expect("C_Logout SO");
    session.close().expect("C_CloseSession");
    slot
}

/// The slot of the initialized token with this label.
#[track_caller]
pub fn slot_by_label(ctx: &Pkcs11, label: &str) -> Slot {
    let found: Vec<Slot> = ctx
        .get_all_slots()
        .expect("C_GetSlotList")
        .into_iter()
        .filter(|s| {
            ctx.get_token_info(*s)
                .map(|i| i.token_initialized() && i.label() == label)
                .unwrap_or(false)
        })
        .collect();
    assert_eq!(
        found.len(),
        1,
        "one token labelled {label:?} expected, got {found:?}"
    );
    found[0]
}

/// A R/W session logged in as the normal user.
#[track_caller]
pub fn user_session(ctx: &Pkcs11, slot: Slot) -> Session {
    let session = ctx.open_rw_session(slot).expect("C_OpenSession R/W");
    session
        .login(UserType::User, Some(&pin(USER_PIN)))
        .expect("C_Login user");
    session
}

/// The serial number of the token in this slot, trimmed.
#[track_caller]
pub fn serial_of(ctx: &Pkcs11, slot: Slot) -> String {
    ctx.get_token_info(slot)
        .expect("C_GetTokenInfo")
        .serial_number()
        .trim()
        .to_owned()
}

/// Assert that a call failed with exactly this return value.
#[track_caller]
pub fn expect_rv<T: Debug>(result: cryptoki::error::Result<T>, want: RvError) {
    match result {
        Err(Error::Pkcs11(got, _)) if got == want => {}
        other => panic!("expected CKR {want:?}, got {other:?}"),
    }
}

/// `expect_rv` with a description of the case, for loops over many cases.
#[track_caller]
pub fn expect_rv_for<T: Debug>(what: &str, result: cryptoki::error::Result<T>, want: RvError) {
    match result {
        Err(Error::Pkcs11(got, _)) if got == want => {}
        other => panic!("{what}: expected CKR {want:?}, got {other:?}"),
    }
}

/// Assert that a call failed with one of these return values; returns the one seen.
#[track_caller]
pub fn expect_rv_in<T: Debug>(result: cryptoki::error::Result<T>, want: &[RvError]) -> RvError {
    match result {
        Err(Error::Pkcs11(got, _)) if want.contains(&got) => got,
        other => panic!("expected one of {want:?}, got {other:?}"),
    }
}

/// The readable name of a raw return value, for assertion messages.
pub fn rv_name(rv: CK_RV) -> String {
    match Rv::from(rv) {
        Rv::Ok => "CKR_OK".to_owned(),
        Rv::Error(e) => format!("{e:?} (0x{rv:x})"),
    }
}

#[track_caller]
pub fn assert_rv(got: CK_RV, want: CK_RV) {
    assert!(
        got == want,
        "expected {}, got {}",
        rv_name(want),
        rv_name(got)
    );
}

#[track_caller]
pub fn assert_rv_in(got: CK_RV, want: &[CK_RV]) {
    assert!(
        want.contains(&got),
        "expected one of {:?}, got {}",
        want.iter().map(|r| rv_name(*r)).collect::<Vec<_>>(),
        rv_name(got)
    );
}

/// Template of a data object.
pub fn data_object(label: &str, value: &[u8], token: bool, private: bool) -> Vec<Attribute> {
    vec![
        Attribute::Class(ObjectClass::DATA),
        Attribute::Token(token),
        Attribute::Private(private),
        Attribute::Label(label.as_bytes().to_vec()),
        Attribute::Application(b"ferrohsm tests".to_vec()),
        Attribute::Value(value.to_vec()),
    ]
}

/// Template of a generic secret key with a known value, readable unless `sensitive`.
pub fn generic_secret(label: &str, value: &[u8], private: bool, sensitive: bool) -> Vec<Attribute> {
    vec![
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::GENERIC_SECRET),
        Attribute::Token(true),
        Attribute::Private(private),
        Attribute::Sensitive(sensitive),
        Attribute::Extractable(true),
        Attribute::Label(label.as_bytes().to_vec()),
        Attribute::Value(value.to_vec()),
    ]
}

/// Handles of the objects whose label is exactly `label`.
#[track_caller]
pub fn find_by_label(session: &Session, label: &str) -> Vec<ObjectHandle> {
    session
        .find_objects(&[Attribute::Label(label.as_bytes().to_vec())])
        .expect("C_FindObjects by label")
}

/// The single object with this label.
#[track_caller]
pub fn one_by_label(session: &Session, label: &str) -> ObjectHandle {
    let found = find_by_label(session, label);
    assert_eq!(found.len(), 1, "one object labelled {label:?} expected");
    found[0]
}

/// Read one variable-length attribute (label, value, id, unique id, …) as bytes.
pub fn read_bytes(
    session: &Session,
    object: ObjectHandle,
    kind: AttributeType,
) -> cryptoki::error::Result<Vec<u8>> {
    let attrs = session.get_attributes(object, &[kind])?;
    match attrs.into_iter().next() {
        Some(Attribute::Label(v))
        | Some(Attribute::Value(v))
        | Some(Attribute::Id(v))
        | Some(Attribute::UniqueId(v))
        | Some(Attribute::Application(v))
        | Some(Attribute::Subject(v))
        | Some(Attribute::Issuer(v))
        | Some(Attribute::SerialNumber(v))
        | Some(Attribute::Modulus(v))
        | Some(Attribute::PublicExponent(v))
        | Some(Attribute::PrivateExponent(v))
        | Some(Attribute::EcParams(v))
        | Some(Attribute::EcPoint(v)) => Ok(v),
        other => panic!("{kind:?} not returned as bytes: {other:?}"),
    }
}

/// Read one CK_BBOOL attribute.
pub fn read_bool(
    session: &Session,
    object: ObjectHandle,
    kind: AttributeType,
) -> cryptoki::error::Result<bool> {
    let attrs = session.get_attributes(object, &[kind])?;
    match attrs.into_iter().next() {
        Some(Attribute::Token(b))
        | Some(Attribute::Private(b))
        | Some(Attribute::Modifiable(b))
        | Some(Attribute::Copyable(b))
        | Some(Attribute::Destroyable(b))
        | Some(Attribute::Sensitive(b))
        | Some(Attribute::Extractable(b))
        | Some(Attribute::Local(b))
        | Some(Attribute::AlwaysSensitive(b))
        | Some(Attribute::NeverExtractable(b))
        | Some(Attribute::Trusted(b)) => Ok(b),
        other => panic!("{kind:?} not returned as a boolean: {other:?}"),
    }
}

/// C_GetTokenInfo through the raw ABI, to see the padded fields as the module wrote them.
pub fn raw_token_info(raw: &Raw, slot: CK_SLOT_ID) -> (CK_RV, CK_TOKEN_INFO) {
    let mut info = CK_TOKEN_INFO::default();
    let rv = ck!(raw, C_GetTokenInfo(slot, &mut info));
    (rv, info)
}

/// Token flags, read raw so that a test sees every bit.
#[track_caller]
pub fn token_flags(raw: &Raw, slot: CK_SLOT_ID) -> CK_FLAGS {
    let (rv, info) = raw_token_info(raw, slot);
    assert_rv(rv, CKR_OK);
    info.flags
}

/// The current UTC time as `YYYYMMDDhhmmss`, the first 14 characters of CK_TOKEN_INFO.utcTime.
pub fn utc_now_compact() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs();
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}{month:02}{day:02}{:02}{:02}{:02}",
        rem / 3_600,
        (rem / 60) % 60,
        rem % 60
    )
}

/// Every regular file in a directory, recursively.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read_dir").flatten() {
            let path = entry.path();
            let meta = std::fs::symlink_metadata(&path).expect("metadata");
            if meta.is_dir() {
                stack.push(path);
            } else if meta.is_file() {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// Permission bits of a path.
pub fn mode_of(path: &Path) -> u32 {
    std::fs::metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777
}

/// Whether `needle` occurs in `haystack`.
/// Wait (at most two minutes) until another process has created `path`: the tests' way for
/// processes to tell each other they reached a step.
#[track_caller]
pub fn wait_for(path: &Path, what: &str) {
    let start = std::time::Instant::now();
    while !path.exists() {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(120),
            "timed out waiting for {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// Raw access to the module's PKCS#11 3.0 function list, loaded from the same file as the
/// `cryptoki` context (so both share the module's state in one process).
pub struct Raw {
    lib: cryptoki_sys::Pkcs11,
    list: *const CK_FUNCTION_LIST_3_0,
}

impl Debug for Raw {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Raw").field("list", &self.list).finish()
    }
}

impl Raw {
    /// dlopen the module and fetch the "PKCS 11" 3.0 interface with C_GetInterface. Does not call
    /// C_Initialize.
    pub fn load() -> Raw {
        // SAFETY: loading a shared library runs its initializers; the module is ours and built
        // for this purpose.
        let lib = unsafe { cryptoki_sys::Pkcs11::new(module_path()) }.expect("dlopen module");
        let mut name = *b"PKCS 11\0";
        let mut version = CK_VERSION { major: 3, minor: 0 };
        let mut iface: *mut CK_INTERFACE = std::ptr::null_mut();
        // SAFETY: name is NUL-terminated, version and iface are valid for writes; the symbol is
        // required of every PKCS#11 3.0 module.
        let rv = unsafe { lib.C_GetInterface(name.as_mut_ptr(), &mut version, &mut iface, 0) };
        assert_rv(rv, CKR_OK);
        assert!(!iface.is_null(), "C_GetInterface returned a NULL interface");
        // SAFETY: the module returned a non-NULL pointer to a CK_INTERFACE it owns for as long
        // as the library is loaded.
        let list = unsafe { (*iface).pFunctionList } as *const CK_FUNCTION_LIST_3_0;
        assert!(!list.is_null(), "interface without a function list");
        Raw { lib, list }
    }

    /// The symbols exported by the library (C_GetFunctionList, C_GetInterface, …).
    pub fn lib(&self) -> &cryptoki_sys::Pkcs11 {
        &self.lib
    }

    pub fn f(&self) -> &CK_FUNCTION_LIST_3_0 {
        // SAFETY: `list` was checked non-NULL in `load` and stays valid while `lib` is loaded,
        // which `self` guarantees.
        unsafe { &*self.list }
    }

    /// C_Initialize(NULL).
    pub fn initialize(&self) -> CK_RV {
        ck!(self, C_Initialize(std::ptr::null_mut()))
    }

    /// C_Finalize(NULL).
    pub fn finalize(&self) -> CK_RV {
        ck!(self, C_Finalize(std::ptr::null_mut()))
    }

    pub fn open_session(&self, slot: CK_SLOT_ID, flags: CK_FLAGS) -> (CK_RV, CK_SESSION_HANDLE) {
        let mut h: CK_SESSION_HANDLE = CK_INVALID_HANDLE;
        let rv = ck!(
            self,
            C_OpenSession(slot, flags, std::ptr::null_mut(), None, &mut h)
        );
        (rv, h)
    }

    pub fn login(&self, session: CK_SESSION_HANDLE, user: CK_USER_TYPE, pin: &str) -> CK_RV {
        let mut pin = pin.as_bytes().to_vec();
        ck!(
            self,
            C_Login(session, user, pin.as_mut_ptr(), pin.len() as CK_ULONG)
        )
    }

    /// C_FindObjectsInit / C_FindObjects / C_FindObjectsFinal with a raw template.
    pub fn find_all(
        &self,
        session: CK_SESSION_HANDLE,
        template: &mut [CK_ATTRIBUTE],
    ) -> Vec<CK_OBJECT_HANDLE> {
        let rv = ck!(
            self,
            C_FindObjectsInit(session, template.as_mut_ptr(), template.len() as CK_ULONG)
        );
        assert_rv(rv, CKR_OK);
        let mut out = Vec::new();
        loop {
            let mut buf = [CK_INVALID_HANDLE; 16];
            let mut n: CK_ULONG = 0;
            let rv = ck!(
                self,
                C_FindObjects(session, buf.as_mut_ptr(), buf.len() as CK_ULONG, &mut n)
            );
            assert_rv(rv, CKR_OK);
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n as usize]);
        }
        assert_rv(ck!(self, C_FindObjectsFinal(session)), CKR_OK);
        out
    }
}

/// A raw CK_ATTRIBUTE pointing into `buf` (or NULL with length `len` when `buf` is None).
pub fn raw_attr(kind: CK_ATTRIBUTE_TYPE, buf: Option<&mut [u8]>, len: usize) -> CK_ATTRIBUTE {
    match buf {
        Some(b) => CK_ATTRIBUTE {
            type_: kind,
            ulValueLen: b.len() as CK_ULONG,
            pValue: b.as_mut_ptr().cast(),
        },
        None => CK_ATTRIBUTE {
            type_: kind,
            pValue: std::ptr::null_mut(),
            ulValueLen: len as CK_ULONG,
        },
    }
}

/// Spawn this test binary again to run only the test `name` in the role `role`, with extra
/// environment variables. The child inherits FERROHSM_CONF and FERROHSM_TOKEN_DIR or
/// FERROHSM_STORE_URL.
pub fn spawn_child(name: &str, role: &str, env: &[(&str, &str)]) -> std::process::Child {
    let exe = std::env::current_exe().expect("current_exe");
    let mut cmd = std::process::Command::new(exe);
    cmd.args(["--exact", name, "--nocapture", "--test-threads=1"])
        .env(CHILD_ROLE_VAR, role)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.spawn().expect("spawn child test process")
}

/// Wait for a child started by `spawn_child` and fail with its output if it failed.
#[track_caller]
pub fn wait_child(child: std::process::Child, what: &str) {
    let out = child.wait_with_output().expect("wait for child");
    assert!(
        out.status.success(),
        "child {what} failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // libtest exits 0 when the filter matched nothing; make sure the child really ran.
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("1 passed"),
        "child {what} did not run its test:\n{stdout}"
    );
}

impl TestEnv {
    /// The environment a parent test set up, for a child process started by `spawn_child`:
    /// the inherited FERROHSM_CONF and FERROHSM_STORE_URL or FERROHSM_TOKEN_DIR, left as they are
    /// (the parent removes them); `root` is a scratch directory of the child's own.
    pub fn inherited() -> Self {
        let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
        let store = match (var("FERROHSM_STORE_URL"), var("FERROHSM_TOKEN_DIR")) {
            (Some(url), _) => {
                let url = url.into_string().expect("FERROHSM_STORE_URL is UTF-8");
                Store::Postgres {
                    base: url.clone(),
                    dbname: String::new(),
                    url,
                    owned: false,
                }
            }
            (None, Some(dir)) => Store::Dir(PathBuf::from(dir)),
            (None, None) => {
                panic!("neither FERROHSM_STORE_URL nor FERROHSM_TOKEN_DIR set by the parent test")
            }
        };
        TestEnv {
            dir: tempfile::Builder::new()
                .prefix("ferrohsm-child-")
                .tempdir()
                .expect("temp dir"),
            store,
            conf: PathBuf::from(
                var("FERROHSM_CONF").expect("FERROHSM_CONF set by the parent test"),
            ),
        }
    }
}
