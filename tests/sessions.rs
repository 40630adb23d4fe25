//! PKCS#11 v3.0 §5.6 (session management: C_OpenSession, C_CloseSession, C_CloseAllSessions,
//! C_GetSessionInfo, C_Login, C_Logout) and the session states of §2.6 (figures 3-5): R/O and
//! R/W sessions, the SO/read-only rules, and login shared by all sessions of an application.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use cryptoki::error::RvError;
use cryptoki::session::{SessionState, UserType};
use cryptoki_sys::*;
use std::ptr::null_mut;

fn state(session: &cryptoki::session::Session) -> SessionState {
    session
        .get_session_info()
        .expect("C_GetSessionInfo")
        .session_state()
}

#[test]
fn ro_and_rw_sessions_report_their_state_and_slot() {
    let _env = TestEnv::new();
    let ctx = load_module();
    let slot = init_token(&ctx, "states");
    let ro = ctx.open_ro_session(slot).expect("R/O session");
    let rw = ctx.open_rw_session(slot).expect("R/W session");
    let ro_info = ro.get_session_info().expect("info");
    assert_eq!(ro_info.session_state(), SessionState::RoPublic);
    assert!(!ro_info.read_write());
    assert_eq!(ro_info.slot_id(), slot);
    let rw_info = rw.get_session_info().expect("info");
    assert_eq!(rw_info.session_state(), SessionState::RwPublic);
    assert!(rw_info.read_write());
    assert_ne!(ro.handle(), rw.handle(), "distinct session handles");

    // CKF_SERIAL_SESSION is always set in CK_SESSION_INFO.flags.
    let raw = Raw::load();
    let mut info = CK_SESSION_INFO::default();
    assert_rv(ck!(raw, C_GetSessionInfo(ro.handle(), &mut info)), CKR_OK);
    assert_ne!(info.flags & CKF_SERIAL_SESSION, 0);
    assert_eq!(info.flags & CKF_RW_SESSION, 0);
    assert_eq!(info.state, CKS_RO_PUBLIC_SESSION);
    assert_rv(
        ck!(raw, C_GetSessionInfo(ro.handle(), null_mut())),
        CKR_ARGUMENTS_BAD,
    );
}

#[test]
fn states_follow_user_login_and_logout() {
    let _env = TestEnv::new();
    let ctx = load_module();
    let slot = init_token(&ctx, "user-states");
    let ro = ctx.open_ro_session(slot).expect("R/O");
    let rw = ctx.open_rw_session(slot).expect("R/W");
    ro.login(UserType::User, Some(&pin(USER_PIN)))
        .expect("user login in a R/O session");
    assert_eq!(state(&ro), SessionState::RoUser);
    assert_eq!(state(&rw), SessionState::RwUser);
    // A session opened while logged in starts logged in.
    let late = ctx.open_ro_session(slot).expect("R/O");
    assert_eq!(state(&late), SessionState::RoUser);
    rw.logout().expect("logout from another session");
    assert_eq!(state(&ro), SessionState::RoPublic);
    assert_eq!(state(&rw), SessionState::RwPublic);
    assert_eq!(state(&late), SessionState::RoPublic);
}

#[test]
fn so_login_gives_rw_so_functions() {
    let _env = TestEnv::new();
    let ctx = load_module();
    let slot = init_token(&ctx, "so-state");
    let rw = ctx.open_rw_session(slot).expect("R/W");
    rw.login(UserType::So, Some(&pin(SO_PIN)))
        .expect("SO login");
    assert_eq!(state(&rw), SessionState::RwSecurityOfficer);
    let second = ctx.open_rw_session(slot).expect("another R/W");
    assert_eq!(state(&second), SessionState::RwSecurityOfficer);
    rw.logout().expect("logout");
    assert_eq!(state(&second), SessionState::RwPublic);
}

#[test]
fn so_login_with_a_read_only_session_open_is_refused() {
    let _env = TestEnv::new();
    let ctx = load_module();
    let slot = init_token(&ctx, "so-ro");
    let ro = ctx.open_ro_session(slot).expect("R/O");
    let rw = ctx.open_rw_session(slot).expect("R/W");
    expect_rv(
        rw.login(UserType::So, Some(&pin(SO_PIN))),
        RvError::SessionReadOnlyExists,
    );
    expect_rv(
        ro.login(UserType::So, Some(&pin(SO_PIN))),
        RvError::SessionReadOnlyExists,
    );
    drop(ro);
    rw.login(UserType::So, Some(&pin(SO_PIN)))
        .expect("no R/O session any more");
}

#[test]
fn read_only_session_while_so_is_logged_in_is_refused() {
    let _env = TestEnv::new();
    let ctx = load_module();
    let slot = init_token(&ctx, "ro-so");
    let rw = ctx.open_rw_session(slot).expect("R/W");
    rw.login(UserType::So, Some(&pin(SO_PIN)))
        .expect("SO login");
    expect_rv(ctx.open_ro_session(slot), RvError::SessionReadWriteSoExists);
    // R/W sessions are still fine.
    ctx.open_rw_session(slot).expect("R/W while SO logged in");
    rw.logout().expect("logout");
    ctx.open_ro_session(slot).expect("R/O after SO logout");
}

#[test]
fn serial_session_flag_is_required() {
    let _env = TestEnv::new();
    let ctx = load_module();
    let slot = init_token(&ctx, "serial");
    let raw = Raw::load();
    let (rv, _) = raw.open_session(slot.id(), 0);
    assert_rv(rv, CKR_SESSION_PARALLEL_NOT_SUPPORTED);
    let (rv, _) = raw.open_session(slot.id(), CKF_RW_SESSION);
    assert_rv(rv, CKR_SESSION_PARALLEL_NOT_SUPPORTED);
    let (_, info) = raw_token_info(&raw, slot.id());
    assert_eq!(info.ulSessionCount, 0, "a refused open left a session");
}

#[test]
fn open_session_bad_arguments() {
    let _env = TestEnv::new();
    let ctx = load_module();
    let slot = init_token(&ctx, "open-args");
    let raw = Raw::load();
    let (rv, _) = raw.open_session(0xdead_beef, CKF_SERIAL_SESSION);
    assert_rv(rv, CKR_SLOT_ID_INVALID);
    assert_rv(
        ck!(
            raw,
            C_OpenSession(slot.id(), CKF_SERIAL_SESSION, null_mut(), None, null_mut())
        ),
        CKR_ARGUMENTS_BAD,
    );
}

#[test]
fn invalid_and_closed_session_handles() {
    let _env = TestEnv::new();
    let ctx = load_module();
    let slot = init_token(&ctx, "handles");
    let raw = Raw::load();
    let mut info = CK_SESSION_INFO::default();
    assert_rv(
        ck!(raw, C_GetSessionInfo(0x00ba_d5e5, &mut info)),
        CKR_SESSION_HANDLE_INVALID,
    );
    assert_rv(
        ck!(raw, C_GetSessionInfo(CK_INVALID_HANDLE, &mut info)),
        CKR_SESSION_HANDLE_INVALID,
    );
    let (rv, h) = raw.open_session(slot.id(), CKF_SERIAL_SESSION);
    assert_rv(rv, CKR_OK);
    assert_ne!(h, CK_INVALID_HANDLE, "0 is never a valid session handle");
    assert_rv(ck!(raw, C_CloseSession(h)), CKR_OK);
    assert_rv(ck!(raw, C_CloseSession(h)), CKR_SESSION_HANDLE_INVALID);
    assert_rv(
        ck!(raw, C_GetSessionInfo(h, &mut info)),
        CKR_SESSION_HANDLE_INVALID,
    );
    assert_rv(raw.login(h, CKU_USER, USER_PIN), CKR_SESSION_HANDLE_INVALID);
    assert_rv(ck!(raw, C_Logout(h)), CKR_SESSION_HANDLE_INVALID);
}

#[test]
fn close_all_sessions_closes_only_that_slot() {
    let _env = TestEnv::new();
    let ctx = load_module();
    let a = init_token(&ctx, "close-a");
    let b = init_token(&ctx, "close-b");
    let raw = Raw::load();
    let on_a: Vec<CK_SESSION_HANDLE> = (0..3)
        .map(|i| {
            let flags = CKF_SERIAL_SESSION | if i % 2 == 0 { CKF_RW_SESSION } else { 0 };
            let (rv, h) = raw.open_session(a.id(), flags);
            assert_rv(rv, CKR_OK);
            h
        })
        .collect();
    let (rv, on_b) = raw.open_session(b.id(), CKF_SERIAL_SESSION);
    assert_rv(rv, CKR_OK);
    assert_rv(raw.login(on_a[0], CKU_USER, USER_PIN), CKR_OK);

    assert_rv(ck!(raw, C_CloseAllSessions(a.id())), CKR_OK);
    let mut info = CK_SESSION_INFO::default();
    for h in &on_a {
        assert_rv(
            ck!(raw, C_GetSessionInfo(*h, &mut info)),
            CKR_SESSION_HANDLE_INVALID,
        );
    }
    assert_rv(ck!(raw, C_GetSessionInfo(on_b, &mut info)), CKR_OK);
    let (_, tinfo) = raw_token_info(&raw, a.id());
    assert_eq!(tinfo.ulSessionCount, 0);

    // Closing every session logged the user out of token a.
    let (rv, again) = raw.open_session(a.id(), CKF_SERIAL_SESSION);
    assert_rv(rv, CKR_OK);
    assert_rv(ck!(raw, C_GetSessionInfo(again, &mut info)), CKR_OK);
    assert_eq!(info.state, CKS_RO_PUBLIC_SESSION);
    assert_rv(
        ck!(raw, C_CloseAllSessions(0xdead_beef)),
        CKR_SLOT_ID_INVALID,
    );
}

#[test]
fn closing_the_last_session_logs_out() {
    let _env = TestEnv::new();
    let ctx = load_module();
    let slot = init_token(&ctx, "last-close");
    let first = ctx.open_rw_session(slot).expect("R/W");
    let second = ctx.open_ro_session(slot).expect("R/O");
    first
        .login(UserType::User, Some(&pin(USER_PIN)))
        .expect("login");
    first
        .create_object(&data_object("hidden", b"x", true, true))
        .expect("private object");
    // Closing one session keeps the login of the others.
    first.close().expect("close");
    assert_eq!(state(&second), SessionState::RoUser);
    assert_eq!(find_by_label(&second, "hidden").len(), 1);
    second.close().expect("close the last one");

    let fresh = ctx.open_ro_session(slot).expect("R/O");
    assert_eq!(state(&fresh), SessionState::RoPublic);
    assert!(
        find_by_label(&fresh, "hidden").is_empty(),
        "private object visible after the last session closed"
    );
}

#[test]
fn login_is_shared_by_all_sessions_and_not_repeated() {
    let _env = TestEnv::new();
    let ctx = load_module();
    let slot = init_token(&ctx, "shared");
    let one = ctx.open_rw_session(slot).expect("R/W");
    let two = ctx.open_ro_session(slot).expect("R/O");
    one.login(UserType::User, Some(&pin(USER_PIN)))
        .expect("login");
    expect_rv(
        two.login(UserType::User, Some(&pin(USER_PIN))),
        RvError::UserAlreadyLoggedIn,
    );
    expect_rv(
        one.login(UserType::User, Some(&pin(USER_PIN))),
        RvError::UserAlreadyLoggedIn,
    );
    // A private object made in one session is visible from the other.
    one.create_object(&data_object("shared-private", b"x", true, true))
        .expect("create");
    assert_eq!(find_by_label(&two, "shared-private").len(), 1);
}

#[test]
fn another_user_already_logged_in() {
    let _env = TestEnv::new();
    let ctx = load_module();
    let slot = init_token(&ctx, "another");
    let rw = ctx.open_rw_session(slot).expect("R/W");
    rw.login(UserType::User, Some(&pin(USER_PIN)))
        .expect("user login");
    expect_rv(
        rw.login(UserType::So, Some(&pin(SO_PIN))),
        RvError::UserAnotherAlreadyLoggedIn,
    );
    rw.logout().expect("logout");
    rw.login(UserType::So, Some(&pin(SO_PIN)))
        .expect("SO login");
    expect_rv(
        rw.login(UserType::User, Some(&pin(USER_PIN))),
        RvError::UserAnotherAlreadyLoggedIn,
    );
    expect_rv(
        rw.login(UserType::So, Some(&pin(SO_PIN))),
        RvError::UserAlreadyLoggedIn,
    );
}

#[test]
fn wrong_pins_are_pin_incorrect() {
    let _env = TestEnv::new();
    let ctx = load_module();
    let slot = init_token(&ctx, "wrong");
    let rw = ctx.open_rw_session(slot).expect("R/W");
    expect_rv(
        rw.login(UserType::User, Some(&pin("wrong-user-pin"))),
        RvError::PinIncorrect,
    );
    expect_rv(
        rw.login(UserType::So, Some(&pin("wrong-so-pin"))),
        RvError::PinIncorrect,
    );
    // The user PIN is not the SO PIN and vice versa.
    expect_rv(
        rw.login(UserType::User, Some(&pin(SO_PIN))),
        RvError::PinIncorrect,
    );
    expect_rv(
        rw.login(UserType::So, Some(&pin(USER_PIN))),
        RvError::PinIncorrect,
    );
    assert_eq!(state(&rw), SessionState::RwPublic);
}

#[test]
fn logout_without_login_is_user_not_logged_in() {
    let _env = TestEnv::new();
    let ctx = load_module();
    let slot = init_token(&ctx, "logout");
    let ro = ctx.open_ro_session(slot).expect("R/O");
    expect_rv(ro.logout(), RvError::UserNotLoggedIn);
    ro.login(UserType::User, Some(&pin(USER_PIN)))
        .expect("login");
    ro.logout().expect("logout");
    expect_rv(ro.logout(), RvError::UserNotLoggedIn);
}

#[test]
fn user_login_before_the_user_pin_is_set() {
    let _env = TestEnv::new();
    let ctx = load_module();
    let slot = init_token_so_only(&ctx, "no-user-pin");
    let ro = ctx.open_ro_session(slot).expect("R/O");
    expect_rv(
        ro.login(UserType::User, Some(&pin(USER_PIN))),
        RvError::UserPinNotInitialized,
    );
}

#[test]
fn invalid_user_type_and_context_specific_without_operation() {
    let _env = TestEnv::new();
    let ctx = load_module();
    let slot = init_token(&ctx, "user-type");
    let raw = Raw::load();
    let (rv, h) = raw.open_session(slot.id(), CKF_SERIAL_SESSION | CKF_RW_SESSION);
    assert_rv(rv, CKR_OK);
    assert_rv(raw.login(h, 7, USER_PIN), CKR_USER_TYPE_INVALID);
    assert_rv(raw.login(h, CKU_USER, USER_PIN), CKR_OK);
    // §5.6 C_Login: CKU_CONTEXT_SPECIFIC outside an operation that needs it.
    assert_rv(
        raw.login(h, CKU_CONTEXT_SPECIFIC, USER_PIN),
        CKR_OPERATION_NOT_INITIALIZED,
    );
    let mut pin_bytes = USER_PIN.as_bytes().to_vec();
    assert_rv(ck!(raw, C_Logout(h)), CKR_OK);
    // NULL PIN with a non-zero length is a bad pointer, not a login attempt.
    assert_rv(
        ck!(
            raw,
            C_Login(h, CKU_USER, null_mut(), pin_bytes.len() as CK_ULONG)
        ),
        CKR_ARGUMENTS_BAD,
    );
    assert_rv(
        ck!(
            raw,
            C_Login(
                h,
                CKU_USER,
                pin_bytes.as_mut_ptr(),
                pin_bytes.len() as CK_ULONG
            )
        ),
        CKR_OK,
    );
    assert_rv(ck!(raw, C_CloseSession(h)), CKR_OK);
}

#[test]
fn sessions_on_the_free_slot_cannot_log_in() {
    let _env = TestEnv::new();
    let ctx = load_module();
    let free = free_slot(&ctx);
    let raw = Raw::load();
    // An uninitialized token refuses sessions: it has no PINs to log in with and no objects, and
    // CKR_TOKEN_NOT_RECOGNIZED is the code for a token the module cannot use.
    let (rv, _) = raw.open_session(free.id(), CKF_SERIAL_SESSION | CKF_RW_SESSION);
    assert_rv(rv, CKR_TOKEN_NOT_RECOGNIZED);
    let (rv, _) = raw.open_session(free.id(), CKF_SERIAL_SESSION);
    assert_rv(rv, CKR_TOKEN_NOT_RECOGNIZED);
}

#[test]
fn many_threads_share_one_token_after_initialize_with_null_args() {
    let _env = TestEnv::new();
    // C_Initialize(NULL): the module must still be safe to call from several threads.
    let raw = Raw::load();
    assert_rv(raw.initialize(), CKR_OK);
    let ctx = cryptoki::context::Pkcs11::new(module_path()).expect("load");
    let slot = init_token(&ctx, "threads");
    let main = user_session(&ctx, slot);
    let workers: Vec<_> = (0..8)
        .map(|t| {
            let ctx = ctx.clone();
            std::thread::spawn(move || {
                let s = ctx.open_rw_session(slot).expect("session");
                assert_eq!(state(&s), SessionState::RwUser, "login is shared");
                for i in 0..50 {
                    let label = format!("t{t}-{i}");
                    s.create_object(&data_object(&label, label.as_bytes(), true, i % 2 == 0))
                        .expect("create token object");
                    let session_obj = s
                        .create_object(&data_object(&format!("s{t}-{i}"), b"x", false, true))
                        .expect("create session object");
                    let found = find_by_label(&s, &label);
                    assert_eq!(found.len(), 1, "{label}");
                    assert_eq!(
                        read_bytes(&s, found[0], cryptoki::object::AttributeType::Value)
                            .expect("value"),
                        label.as_bytes()
                    );
                    s.destroy_object(session_obj).expect("destroy");
                }
            })
        })
        .collect();
    for w in workers {
        w.join().expect("worker thread panicked");
    }
    let all = main
        .find_objects(&[cryptoki::object::Attribute::Token(true)])
        .expect("find");
    assert_eq!(all.len(), 8 * 50, "objects lost between threads");
    assert!(main
        .find_objects(&[cryptoki::object::Attribute::Token(false)])
        .expect("find")
        .is_empty());
}
