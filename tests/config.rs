//! PKCS#11 v3.0 §5.4 C_Initialize, where the module reads its configuration: the TOML file named
//! by FERROHSM_CONF (else the XDG location), FERROHSM_TOKEN_DIR overriding the token directory,
//! working defaults without any file, and a refused (not crashing) C_Initialize on a bad file.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use cryptoki_sys::*;

#[test]
fn without_any_configuration_the_xdg_defaults_apply() {
    let env = TestEnv::sqlite();
    std::env::remove_var("FERROHSM_CONF");
    std::env::remove_var("FERROHSM_TOKEN_DIR");
    let ctx = load_module();
    let slot = init_token(&ctx, "defaults");
    let serial = serial_of(&ctx, slot);
    let info = ctx.get_token_info(slot).expect("token info");
    assert_eq!(info.min_pin_length(), 4);
    assert_eq!(info.max_pin_length(), 255);
    ctx.finalize().expect("C_Finalize");
    let file = env
        .root()
        .join("xdg-data")
        .join("ferrohsm")
        .join("tokens")
        .join(format!("{serial}.sqlite"));
    assert!(file.is_file(), "token not at {}", file.display());
    assert!(
        !env.token_file(&serial).exists(),
        "the configured directory was used without a configuration"
    );
}

#[test]
fn the_xdg_configuration_file_is_read_when_no_file_is_named() {
    let env = TestEnv::with_config("min_pin_len = 7");
    std::env::remove_var("FERROHSM_CONF");
    let dir = env.root().join("xdg-config").join("ferrohsm");
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::copy(env.conf(), dir.join("ferrohsm.toml")).expect("copy config");
    let ctx = load_module();
    let slot = free_slot(&ctx);
    assert_eq!(ctx.get_token_info(slot).expect("info").min_pin_length(), 7);
}

#[test]
fn token_dir_variable_overrides_the_file() {
    let env = TestEnv::sqlite();
    let other = env.root().join("override");
    std::fs::create_dir(&other).expect("mkdir");
    std::env::set_var("FERROHSM_TOKEN_DIR", &other);
    let ctx = load_module();
    let slot = init_token(&ctx, "override");
    let serial = serial_of(&ctx, slot);
    ctx.finalize().expect("C_Finalize");
    assert!(other.join(format!("{serial}.sqlite")).is_file());
    assert!(!env.token_file(&serial).exists());
}

#[test]
fn a_named_but_missing_or_invalid_file_makes_initialize_fail_cleanly() {
    let env = TestEnv::new();
    let raw = Raw::load();
    std::env::set_var("FERROHSM_CONF", env.root().join("missing.toml"));
    // A configuration that cannot be used is CKR_FUNCTION_FAILED (the call could not be done,
    // nothing is broken); CKR_GENERAL_ERROR would be the panic guard.
    assert_rv(raw.initialize(), CKR_FUNCTION_FAILED);
    for bad in [
        "this is not toml = = =",
        "no_such_key = 1",
        "min_pin_len = 0",
        "max_login_attempts = 0",
    ] {
        let path = env.root().join("bad.toml");
        std::fs::write(&path, bad).expect("write");
        std::env::set_var("FERROHSM_CONF", &path);
        let rv = raw.initialize();
        assert_eq!(
            rv,
            CKR_FUNCTION_FAILED,
            "C_Initialize with {bad:?}: {}",
            rv_name(rv)
        );
        // Still not initialized, so the next attempt is a fresh one.
        let mut info = CK_INFO::default();
        assert_rv(ck!(raw, C_GetInfo(&mut info)), CKR_CRYPTOKI_NOT_INITIALIZED);
    }
    // A good file afterwards works.
    std::env::set_var("FERROHSM_CONF", env.conf());
    assert_rv(raw.initialize(), CKR_OK);
    assert_rv(raw.finalize(), CKR_OK);
}
