//! The one guard every entry point runs in: it refuses calls before `C_Initialize` and in a forked
//! child (PKCS#11 v3.0 §5.4, §6.7.7 "fork"), honours application-supplied mutexes, catches panics
//! so none crosses the C boundary, and logs each call with its return code.

use crate::config::Config;
use crate::error::{rv_name, Error, Result};
use crate::log;
use crate::module::Module;
use cryptoki_sys::*;
use parking_lot::RwLock;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

/// Locking callbacks an application passed to `C_Initialize` without `CKF_OS_LOCKING_OK`: the
/// specification then asks the library to use them, so every call runs under one such mutex.
pub struct AppMutex {
    pub mutex: *mut std::ffi::c_void,
    pub lock: unsafe extern "C" fn(*mut std::ffi::c_void) -> CK_RV,
    pub unlock: unsafe extern "C" fn(*mut std::ffi::c_void) -> CK_RV,
    pub destroy: unsafe extern "C" fn(*mut std::ffi::c_void) -> CK_RV,
}

// SAFETY: the application promises (by passing the callbacks to C_Initialize) that its mutex may
// be locked and unlocked from any thread; the pointer is only handed back to its own callbacks.
unsafe impl Send for AppMutex {}
// SAFETY: as above; the struct itself is immutable after creation.
unsafe impl Sync for AppMutex {}

impl std::fmt::Debug for AppMutex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AppMutex")
    }
}

#[derive(Debug)]
pub struct Global {
    pub module: Arc<Module>,
    pub pid: u32,
    pub app_mutex: Option<AppMutex>,
}

pub static STATE: RwLock<Option<Arc<Global>>> = RwLock::new(None);

/// Held shared by every entry point for the whole call, and exclusively across `fork()` (by the
/// handlers `install_fork_handlers` registers): no thread is inside the module, or inside
/// SQLite, when the process forks, so the child inherits no lock held by a thread it does not
/// have. A `std` lock, not a `parking_lot` one: the child releases it, and releasing a
/// `parking_lot` lock with waiters goes through that crate's global table of waiting threads,
/// whose bucket locks a parent thread may have held at the fork (seen as a child hanging).
static FORK: std::sync::RwLock<()> = std::sync::RwLock::new(());

thread_local! {
    /// The exclusive hold on FORK taken by `prepare` in the forking thread, released by `after`
    /// (in the parent, and in the child, whose only thread is the same one).
    static FORK_HELD: std::cell::RefCell<Option<std::sync::RwLockWriteGuard<'static, ()>>> =
        const { std::cell::RefCell::new(None) };
}

/// This process's id, looked up once and again after each fork (`install_fork_handlers`),
/// instead of a system call on every entry point.
static PID: AtomicU32 = AtomicU32::new(0);

fn this_pid() -> u32 {
    match PID.load(Ordering::Relaxed) {
        0 => {
            let p = std::process::id();
            PID.store(p, Ordering::Relaxed);
            p
        }
        p => p,
    }
}

fn fork_shared() -> std::sync::RwLockReadGuard<'static, ()> {
    FORK.read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Register the `pthread_atfork` handlers once per process.
fn install_fork_handlers() {
    extern "C" fn prepare() {
        // Waits for the calls in progress to end; new calls wait until after the fork.
        let held = FORK
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        FORK_HELD.with(|h| *h.borrow_mut() = Some(held));
    }
    extern "C" fn after() {
        FORK_HELD.with(|h| drop(h.borrow_mut().take()));
    }
    extern "C" fn child() {
        // The child has a new process id: the next call looks it up again.
        PID.store(0, Ordering::Relaxed);
        after();
    }
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: the handlers are plain functions of this library, which is never unloaded
        // once it has run (glibc keeps a library with thread-locals, such as FORK_HELD, mapped).
        unsafe { libc::pthread_atfork(Some(prepare), Some(after), Some(child)) };
    });
}

/// Run an entry point's body. `f` gets the initialized module. `call` describes the call (its
/// name and the shape of its arguments, never secrets) and is formatted only when logging.
pub fn run(call: std::fmt::Arguments<'_>, f: impl FnOnce(&Module) -> Result<()>) -> CK_RV {
    let name = call;
    let _fork = fork_shared();
    let rv = match catch_unwind(AssertUnwindSafe(|| {
        let g = current()?;
        let _held = AppLock::take(&g)?;
        f(&g.module)
    })) {
        Ok(Ok(())) => CKR_OK,
        Ok(Err(e)) => e.rv(),
        Err(_) => {
            log::warn(format_args!(
                "{name}: internal panic caught; returning CKR_GENERAL_ERROR"
            ));
            CKR_GENERAL_ERROR
        }
    };
    trace(name, rv);
    rv
}

/// [`run`] for entry points that handle key material or PINs: afterwards the stack below this
/// frame, where the call's temporaries lived (key schedules, parsed keys, PIN buffers moved
/// through the engine), is overwritten, so no copy outlives the call in memory that is reused
/// later. Values that outlive calls are wiped by their types on drop.
pub fn run_secret(call: std::fmt::Arguments<'_>, f: impl FnOnce(&Module) -> Result<()>) -> CK_RV {
    let rv = run(call, f);
    crate::wipe::take();
    scrub_stack();
    rv
}

/// [`run`] for the cryptographic operations (§5.8-5.13): the stack is overwritten only when
/// the call marked it ([`crate::wipe::mark`]: a key parsed or unsealed, a private-key
/// operation). An operation on a prepared key leaves no secret on the stack in the aws-lc
/// build; the RustCrypto build computes on the stack, so there every call is overwritten.
pub fn run_keyed(call: std::fmt::Arguments<'_>, f: impl FnOnce(&Module) -> Result<()>) -> CK_RV {
    let rv = run(call, f);
    if crate::wipe::take() || cfg!(not(feature = "aws-lc")) {
        scrub_stack();
    }
    rv
}

/// Overwrite the stack the finished call used ([`crate::wipe::scrub`]).
pub fn scrub_stack() {
    crate::wipe::scrub();
}

/// Run a body that needs no initialized module (`C_GetFunctionList`, `C_Initialize`, …), still
/// catching panics.
pub fn run_bare(name: std::fmt::Arguments<'_>, f: impl FnOnce() -> Result<()>) -> CK_RV {
    let _fork = fork_shared();
    let rv = match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => CKR_OK,
        Ok(Err(e)) => e.rv(),
        Err(_) => {
            log::warn(format_args!(
                "{name}: internal panic caught; returning CKR_GENERAL_ERROR"
            ));
            CKR_GENERAL_ERROR
        }
    };
    trace(name, rv);
    rv
}

fn trace(name: std::fmt::Arguments<'_>, rv: CK_RV) {
    if rv == CKR_OK {
        log::debug(format_args!("{name} -> CKR_OK"));
    } else {
        log::info(format_args!("{name} -> {}", rv_name(rv)));
    }
}

/// An entry point that is not implemented yet.
pub fn not_supported(name: &str) -> CK_RV {
    run(format_args!("{name}"), |_| {
        Err(Error::new(CKR_FUNCTION_NOT_SUPPORTED))
    })
}

/// The module, if initialized in this process. A forked child sees its parent's state as
/// uninitialized until it calls `C_Initialize` itself.
pub fn current() -> Result<Arc<Global>> {
    match &*STATE.read() {
        Some(g) if g.pid == this_pid() => Ok(g.clone()),
        _ => Err(Error::new(CKR_CRYPTOKI_NOT_INITIALIZED)),
    }
}

struct AppLock<'a>(Option<&'a AppMutex>);

impl<'a> AppLock<'a> {
    fn take(g: &'a Global) -> Result<Self> {
        if let Some(m) = &g.app_mutex {
            // SAFETY: `mutex` was created by the application's own CreateMutex callback and is
            // destroyed only in C_Finalize, after the last reference to `g` is gone.
            let rv = unsafe { (m.lock)(m.mutex) };
            if rv != CKR_OK {
                return Err(Error::new(CKR_CANT_LOCK));
            }
        }
        Ok(AppLock(g.app_mutex.as_ref()))
    }
}

impl Drop for AppLock<'_> {
    fn drop(&mut self) {
        if let Some(m) = self.0 {
            // SAFETY: we locked this mutex in `take`; unlocking it once is what the callback expects.
            unsafe { (m.unlock)(m.mutex) };
        }
    }
}

/// The mutex is destroyed when its owner goes: the module at `C_Finalize`, or the
/// `C_Initialize` that created it and then failed (on any path, a panic included), so the
/// application never loses one to an error.
impl Drop for AppMutex {
    fn drop(&mut self) {
        // SAFETY: `mutex` came from the application's CreateMutex and this is its last use:
        // an AppMutex is never cloned, and its lock guards borrow the Global that owns it.
        unsafe { (self.destroy)(self.mutex) };
    }
}

/// Set up the module from the configuration; `C_Initialize` calls this after checking its
/// arguments.
pub fn initialize(app_mutex: Option<AppMutex>) -> Result<()> {
    let mut state = STATE.write();
    if let Some(g) = state.as_ref() {
        if g.pid == std::process::id() {
            return Err(Error::new(CKR_CRYPTOKI_ALREADY_INITIALIZED));
        }
        // A forked child: close its copy of the parent's state. Its SQLite connections must
        // not stay open: SQLite keeps one record of locks per file and process, which a new
        // connection would share, believing it holds the locks the parent holds; the parent
        // closing its last connection would then checkpoint and delete the WAL under the
        // child's writes. Closing is safe: no thread was inside SQLite at the fork (see
        // FORK), the kernel's locks belong to the parent and are untouched, and a close that
        // cannot get the exclusive lock (the parent holds its shared one) does not checkpoint.
        drop(state.take());
    }
    install_fork_handlers();
    let cfg = Config::load().map_err(|e| {
        log::configure(log::Level::Warn, None);
        log::warn(format_args!("C_Initialize: {e}"));
        // Not CKR_GENERAL_ERROR: nothing is broken beyond repair (a fixed file makes the next
        // C_Initialize work), and that code is the panic guard's.
        Error::new(CKR_FUNCTION_FAILED)
    })?;
    log::configure(log::Level::parse(&cfg.log_level), cfg.log_file.as_deref());
    let module = Module::new(cfg)?;
    *state = Some(Arc::new(Global {
        module: Arc::new(module),
        pid: std::process::id(),
        app_mutex,
    }));
    Ok(())
}

pub fn finalize() -> Result<()> {
    let mut state = STATE.write();
    match state.as_ref() {
        Some(g) if g.pid == std::process::id() => {
            *state = None;
            crate::audit::record::forget_origin();
            Ok(())
        }
        _ => Err(Error::new(CKR_CRYPTOKI_NOT_INITIALIZED)),
    }
}
