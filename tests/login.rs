//! PKCS#11 v3.0 §5.6 C_Login and §3.2 CK_TOKEN_INFO PIN flags (CKF_USER_PIN_COUNT_LOW,
//! CKF_USER_PIN_FINAL_TRY, CKF_USER_PIN_LOCKED and the SO equivalents): ferrohsm's PIN policy of
//! `max_login_attempts` failures before CKR_PIN_LOCKED, persisted across restarts, with the SO
//! unlocking the user through C_InitPIN.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use cryptoki::error::RvError;
use cryptoki::session::UserType;
use cryptoki_sys::*;

const THREE_TRIES: &str = "max_login_attempts = 3";

/// The three user-PIN flags as (count low, final try, locked).
fn user_flags(raw: &Raw, slot: u64) -> (bool, bool, bool) {
    let f = token_flags(raw, slot);
    (
        f & CKF_USER_PIN_COUNT_LOW != 0,
        f & CKF_USER_PIN_FINAL_TRY != 0,
        f & CKF_USER_PIN_LOCKED != 0,
    )
}

/// The three SO-PIN flags as (count low, final try, locked).
fn so_flags(raw: &Raw, slot: u64) -> (bool, bool, bool) {
    let f = token_flags(raw, slot);
    (
        f & CKF_SO_PIN_COUNT_LOW != 0,
        f & CKF_SO_PIN_FINAL_TRY != 0,
        f & CKF_SO_PIN_LOCKED != 0,
    )
}

#[test]
fn user_pin_locks_after_the_configured_failures_with_flags() {
    let _env = TestEnv::with_config(THREE_TRIES);
    let ctx = load_module();
    let slot = init_token(&ctx, "lockout");
    let raw = Raw::load();
    let s = ctx.open_rw_session(slot).expect("session");
    assert_eq!(user_flags(&raw, slot.id()), (false, false, false));

    expect_rv(
        s.login(UserType::User, Some(&pin("wrong-1"))),
        RvError::PinIncorrect,
    );
    assert_eq!(
        user_flags(&raw, slot.id()),
        (true, false, false),
        "after one failure of three: COUNT_LOW only"
    );
    expect_rv(
        s.login(UserType::User, Some(&pin("wrong-2"))),
        RvError::PinIncorrect,
    );
    let (_, final_try, locked) = user_flags(&raw, slot.id());
    assert!(final_try, "one try left: CKF_USER_PIN_FINAL_TRY");
    assert!(!locked);
    // The failure that uses up the last try is still a wrong PIN (the PIN was checked and was
    // wrong); the lock shows in the flags and in the next attempt.
    expect_rv(
        s.login(UserType::User, Some(&pin("wrong-3"))),
        RvError::PinIncorrect,
    );
    let (_, _, locked) = user_flags(&raw, slot.id());
    assert!(locked, "CKF_USER_PIN_LOCKED after three failures");
    // Locked: even the right PIN is refused.
    expect_rv(
        s.login(UserType::User, Some(&pin(USER_PIN))),
        RvError::PinLocked,
    );
    // The SO is not affected by the user's lock.
    assert_eq!(so_flags(&raw, slot.id()), (false, false, false));
    s.login(UserType::So, Some(&pin(SO_PIN)))
        .expect("SO login while the user PIN is locked");
}

#[test]
fn a_successful_login_resets_the_failure_count() {
    let _env = TestEnv::with_config(THREE_TRIES);
    let ctx = load_module();
    let slot = init_token(&ctx, "reset");
    let raw = Raw::load();
    let s = ctx.open_rw_session(slot).expect("session");
    for _ in 0..2 {
        expect_rv(
            s.login(UserType::User, Some(&pin("wrong"))),
            RvError::PinIncorrect,
        );
    }
    s.login(UserType::User, Some(&pin(USER_PIN)))
        .expect("right PIN on the final try");
    assert_eq!(
        user_flags(&raw, slot.id()),
        (false, false, false),
        "flags cleared by a successful login"
    );
    s.logout().expect("logout");
    for _ in 0..2 {
        expect_rv(
            s.login(UserType::User, Some(&pin("wrong"))),
            RvError::PinIncorrect,
        );
    }
    let (_, _, locked) = user_flags(&raw, slot.id());
    assert!(!locked, "the count restarted from zero after the success");
    s.login(UserType::User, Some(&pin(USER_PIN)))
        .expect("login");
}

#[test]
fn failure_count_and_lock_survive_restart() {
    let _env = TestEnv::with_config(THREE_TRIES);
    let ctx = load_module();
    let slot = init_token(&ctx, "persist");
    {
        let s = ctx.open_rw_session(slot).expect("session");
        expect_rv(
            s.login(UserType::User, Some(&pin("wrong"))),
            RvError::PinIncorrect,
        );
    }
    let ctx = restart(ctx);
    let raw = Raw::load();
    assert_eq!(
        user_flags(&raw, slot.id()),
        (true, false, false),
        "one failure remembered across restart"
    );
    {
        let s = ctx.open_rw_session(slot).expect("session");
        expect_rv(
            s.login(UserType::User, Some(&pin("wrong"))),
            RvError::PinIncorrect,
        );
        expect_rv(
            s.login(UserType::User, Some(&pin("wrong"))),
            RvError::PinIncorrect,
        );
    }
    let ctx = restart(ctx);
    let (_, _, locked) = user_flags(&raw, slot.id());
    assert!(locked, "lock remembered across restart");
    let s = ctx.open_rw_session(slot).expect("session");
    expect_rv(
        s.login(UserType::User, Some(&pin(USER_PIN))),
        RvError::PinLocked,
    );
}

#[test]
fn so_init_pin_unlocks_the_user() {
    let _env = TestEnv::with_config(THREE_TRIES);
    let ctx = load_module();
    let slot = init_token(&ctx, "unlock");
    let raw = Raw::load();
    let s = ctx.open_rw_session(slot).expect("session");
    s.login(UserType::User, Some(&pin(USER_PIN)))
        .expect("login");
    s.create_object(&data_object("survivor", b"still here", true, true))
        .expect("private object");
    s.logout().expect("logout");
    // Every wrong try is CKR_PIN_INCORRECT, the one that uses up the last try included; the
    // lock shows in the flags and in the next attempt.
    for _ in 0..3 {
        expect_rv(
            s.login(UserType::User, Some(&pin("wrong"))),
            RvError::PinIncorrect,
        );
    }
    expect_rv(
        s.login(UserType::User, Some(&pin("wrong"))),
        RvError::PinLocked,
    );
    assert!(user_flags(&raw, slot.id()).2, "locked");

    s.login(UserType::So, Some(&pin(SO_PIN))).expect("SO login");
    s.init_pin(&pin("fresh-user-pin")).expect("C_InitPIN");
    s.logout().expect("logout");
    assert_eq!(
        user_flags(&raw, slot.id()),
        (false, false, false),
        "C_InitPIN clears the lock and the count"
    );
    expect_rv(
        s.login(UserType::User, Some(&pin(USER_PIN))),
        RvError::PinIncorrect,
    );
    s.login(UserType::User, Some(&pin("fresh-user-pin")))
        .expect("login with the PIN the SO set");
    // The user's private objects survive the reset of the user PIN.
    let found = find_by_label(&s, "survivor");
    assert_eq!(found.len(), 1, "private object lost by C_InitPIN");
    assert_eq!(
        read_bytes(&s, found[0], cryptoki::object::AttributeType::Value).expect("value"),
        b"still here"
    );
}

#[test]
fn so_pin_locks_with_so_flags() {
    let _env = TestEnv::with_config(THREE_TRIES);
    let ctx = load_module();
    let slot = init_token(&ctx, "so-lock");
    let raw = Raw::load();
    let s = ctx.open_rw_session(slot).expect("session");
    expect_rv(
        s.login(UserType::So, Some(&pin("wrong-so"))),
        RvError::PinIncorrect,
    );
    assert_eq!(so_flags(&raw, slot.id()), (true, false, false));
    expect_rv(
        s.login(UserType::So, Some(&pin("wrong-so"))),
        RvError::PinIncorrect,
    );
    let (_, final_try, locked) = so_flags(&raw, slot.id());
    assert!(final_try && !locked, "CKF_SO_PIN_FINAL_TRY");
    expect_rv(
        s.login(UserType::So, Some(&pin("wrong-so"))),
        RvError::PinIncorrect,
    );
    assert!(so_flags(&raw, slot.id()).2, "CKF_SO_PIN_LOCKED");
    assert_eq!(
        user_flags(&raw, slot.id()),
        (false, false, false),
        "the user PIN is not affected"
    );
    expect_rv(
        s.login(UserType::So, Some(&pin(SO_PIN))),
        RvError::PinLocked,
    );
    drop(s);
    // A locked SO PIN cannot authorize re-initialization either.
    expect_rv(
        ctx.init_token(slot, &pin(SO_PIN), "so-lock"),
        RvError::PinLocked,
    );
    // The user still works.
    let s = user_session(&ctx, slot);
    drop(s);
    let ctx = restart(ctx);
    assert!(
        so_flags(&raw, slot.id()).2,
        "SO lock remembered across restart"
    );
    let s = ctx.open_rw_session(slot).expect("session");
    expect_rv(
        s.login(UserType::So, Some(&pin(SO_PIN))),
        RvError::PinLocked,
    );
}

#[test]
fn default_limit_is_ten_failures() {
    let _env = TestEnv::new();
    let ctx = load_module();
    let slot = init_token(&ctx, "ten");
    let raw = Raw::load();
    let s = ctx.open_rw_session(slot).expect("session");
    for i in 1..=9 {
        expect_rv(
            s.login(UserType::User, Some(&pin("wrong"))),
            RvError::PinIncorrect,
        );
        let (low, final_try, locked) = user_flags(&raw, slot.id());
        assert!(low, "COUNT_LOW after {i} failures");
        assert_eq!(
            final_try,
            i == 9,
            "FINAL_TRY exactly when one try is left ({i})"
        );
        assert!(!locked, "locked after only {i} failures");
    }
    expect_rv(
        s.login(UserType::User, Some(&pin("wrong"))),
        RvError::PinIncorrect,
    );
    assert!(user_flags(&raw, slot.id()).2, "locked after ten failures");
}

#[test]
fn default_kdf_parameters_work() {
    // No [kdf] section: the production Argon2id cost.
    let _env = TestEnv::with_raw_config("");
    let ctx = load_module();
    let slot = init_token(&ctx, "default-kdf");
    let s = ctx.open_rw_session(slot).expect("session");
    let start = std::time::Instant::now();
    s.login(UserType::User, Some(&pin(USER_PIN)))
        .expect("login");
    eprintln!("C_Login with the default KDF took {:?}", start.elapsed());
    s.create_object(&data_object("default-kdf", b"value", true, true))
        .expect("private object");
    s.logout().expect("logout");
    expect_rv(
        s.login(UserType::User, Some(&pin("wrong"))),
        RvError::PinIncorrect,
    );
    drop(s);
    let ctx = restart(ctx);
    let s = user_session(&ctx, slot);
    let found = find_by_label(&s, "default-kdf");
    assert_eq!(found.len(), 1);
    assert_eq!(
        read_bytes(&s, found[0], cryptoki::object::AttributeType::Value).expect("value"),
        b"value"
    );
}

/// C_LoginUser (v3.0 §5.6.7): the token has one user and one SO, so the only user name it knows
/// is the empty one. An empty name logs in like C_Login; any other name is refused with
/// CKR_USER_TYPE_INVALID before the PIN is looked at, so it counts no failure.
#[test]
fn login_user_takes_the_empty_user_name_only() {
    let _env = TestEnv::new();
    let ctx = load_module();
    let slot = init_token(&ctx, "login-user");
    let raw = Raw::load();
    let (rv, h) = raw.open_session(slot.id(), CKF_SERIAL_SESSION | CKF_RW_SESSION);
    assert_rv(rv, CKR_OK);
    let login_user = |user: CK_USER_TYPE, pin: &str, name: &str| {
        let mut pin = pin.as_bytes().to_vec();
        let mut name = name.as_bytes().to_vec();
        ck!(
            raw,
            C_LoginUser(
                h,
                user,
                pin.as_mut_ptr(),
                pin.len() as CK_ULONG,
                name.as_mut_ptr(),
                name.len() as CK_ULONG
            )
        )
    };
    let state = || {
        let mut info = CK_SESSION_INFO::default();
        assert_rv(ck!(raw, C_GetSessionInfo(h, &mut info)), CKR_OK);
        info.state
    };
    for name in ["alice", " ", "user"] {
        assert_rv(login_user(CKU_USER, USER_PIN, name), CKR_USER_TYPE_INVALID);
        assert_rv(
            login_user(CKU_USER, "wrong-pin", name),
            CKR_USER_TYPE_INVALID,
        );
        assert_eq!(state(), CKS_RW_PUBLIC_SESSION, "name {name:?} logged in");
    }
    assert_eq!(
        user_flags(&raw, slot.id()),
        (false, false, false),
        "a refused user name counted as a wrong PIN"
    );
    assert_rv(login_user(CKU_USER, "wrong-pin", ""), CKR_PIN_INCORRECT);
    assert!(user_flags(&raw, slot.id()).0, "wrong PIN counted");
    assert_rv(login_user(CKU_USER, USER_PIN, ""), CKR_OK);
    assert_eq!(state(), CKS_RW_USER_FUNCTIONS);
    assert_eq!(user_flags(&raw, slot.id()), (false, false, false));
    assert_rv(
        login_user(CKU_USER, USER_PIN, ""),
        CKR_USER_ALREADY_LOGGED_IN,
    );
    assert_rv(ck!(raw, C_Logout(h)), CKR_OK);
    assert_rv(login_user(CKU_SO, SO_PIN, ""), CKR_OK);
    assert_eq!(state(), CKS_RW_SO_FUNCTIONS);
    assert_rv(ck!(raw, C_Logout(h)), CKR_OK);
    assert_rv(ck!(raw, C_CloseSession(h)), CKR_OK);
}
