//! PKCS#11 v3.0 §5.5 (slot and token management: C_GetSlotList, C_GetSlotInfo, C_GetTokenInfo,
//! C_WaitForSlotEvent, C_InitToken, C_InitPIN, C_SetPIN) against ferrohsm's slot model: one slot
//! per token plus one free slot whose uninitialized token C_InitToken turns into a new token.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use cryptoki::error::RvError;
use cryptoki::session::UserType;
use cryptoki_sys::*;
use std::collections::BTreeMap;
use std::ptr::null_mut;

/// Slot id of every initialized token, by label.
fn slots_by_label(ctx: &cryptoki::context::Pkcs11) -> BTreeMap<String, u64> {
    ctx.get_all_slots()
        .expect("C_GetSlotList")
        .into_iter()
        .filter_map(|s| {
            let info = ctx.get_token_info(s).expect("C_GetTokenInfo");
            info.token_initialized()
                .then(|| (info.label().to_owned(), s.id()))
        })
        .collect()
}

#[test]
fn empty_token_dir_offers_one_free_slot() {
    let _env = TestEnv::new();
    let ctx = load_module();
    let all = ctx.get_all_slots().expect("C_GetSlotList");
    assert_eq!(all.len(), 1, "one free slot and no token: {all:?}");
    // The free slot holds a (blank) token.
    let with_token = ctx.get_slots_with_token().expect("C_GetSlotList(TRUE)");
    assert_eq!(with_token, all);
    let slot_info = ctx.get_slot_info(all[0]).expect("C_GetSlotInfo");
    assert!(slot_info.token_present(), "CKF_TOKEN_PRESENT");
    let info = ctx.get_token_info(all[0]).expect("C_GetTokenInfo");
    assert!(
        !info.token_initialized(),
        "free slot's token is not initialized"
    );
    assert!(!info.user_pin_initialized());
}

#[test]
fn get_slot_list_size_query_and_short_buffer() {
    let _env = TestEnv::new();
    let ctx = load_module();
    init_token(&ctx, "one");
    init_token(&ctx, "two");
    let raw = Raw::load();
    let mut count: CK_ULONG = 0;
    assert_rv(
        ck!(raw, C_GetSlotList(CK_FALSE, null_mut(), &mut count)),
        CKR_OK,
    );
    assert_eq!(count, 3, "two tokens and the free slot");
    let mut slots = vec![0 as CK_SLOT_ID; 3];
    let mut short: CK_ULONG = 1;
    assert_rv(
        ck!(raw, C_GetSlotList(CK_FALSE, slots.as_mut_ptr(), &mut short)),
        CKR_BUFFER_TOO_SMALL,
    );
    assert_eq!(short, 3, "BUFFER_TOO_SMALL reports the count needed");
    let mut n: CK_ULONG = 3;
    assert_rv(
        ck!(raw, C_GetSlotList(CK_FALSE, slots.as_mut_ptr(), &mut n)),
        CKR_OK,
    );
    assert_eq!(n, 3);
    slots.sort_unstable();
    slots.dedup();
    assert_eq!(slots.len(), 3, "slot ids are distinct");
    assert_rv(
        ck!(raw, C_GetSlotList(CK_FALSE, null_mut(), null_mut())),
        CKR_ARGUMENTS_BAD,
    );
}

#[test]
fn init_token_in_free_slot_creates_a_token_and_a_new_free_slot() {
    let env = TestEnv::sqlite();
    let ctx = load_module();
    let free = free_slot(&ctx);
    ctx.init_token(free, &pin(SO_PIN), "first")
        .expect("C_InitToken");
    let info = ctx.get_token_info(free).expect("C_GetTokenInfo");
    assert!(
        info.token_initialized(),
        "the free slot now holds the token"
    );
    assert_eq!(info.label(), "first");
    assert!(!info.user_pin_initialized(), "no user PIN yet");

    let all = ctx.get_all_slots().expect("C_GetSlotList");
    assert_eq!(all.len(), 2, "token plus a new free slot: {all:?}");
    let new_free = free_slot(&ctx);
    assert_ne!(new_free, free, "a new free slot with another id");

    let serial = info.serial_number().trim().to_owned();
    assert!(
        env.token_file(&serial).is_file(),
        "token file {serial}.sqlite missing"
    );
}

#[test]
fn token_info_fields() {
    let _env = TestEnv::new();
    let ctx = load_module();
    let slot = init_token(&ctx, "fields");
    let raw = Raw::load();
    let before = utc_now_compact();
    let (rv, info) = raw_token_info(&raw, slot.id());
    let after = utc_now_compact();
    assert_rv(rv, CKR_OK);

    let mut label = [b' '; 32];
    label[..6].copy_from_slice(b"fields");
    assert_eq!(info.label, label, "label is blank padded to 32 bytes");
    assert_eq!(&info.manufacturerID[..8], b"ferrohsm");
    assert!(info.manufacturerID[8..].iter().all(|&b| b == b' '));
    assert!(
        !info.model.contains(&0) && info.model.iter().any(|&b| b != b' '),
        "model is a blank-padded non-empty string"
    );
    let serial = std::str::from_utf8(&info.serialNumber).expect("ASCII serial");
    assert_eq!(serial.len(), 16);
    assert!(
        serial.bytes().all(|b| b.is_ascii_hexdigit()),
        "serial {serial:?} is 16 hex characters"
    );

    let f = info.flags;
    assert_ne!(f & CKF_TOKEN_INITIALIZED, 0, "CKF_TOKEN_INITIALIZED");
    assert_ne!(f & CKF_LOGIN_REQUIRED, 0, "CKF_LOGIN_REQUIRED");
    assert_ne!(f & CKF_USER_PIN_INITIALIZED, 0, "CKF_USER_PIN_INITIALIZED");
    assert_eq!(f & CKF_WRITE_PROTECTED, 0, "not write protected");
    assert_eq!(
        f & CKF_PROTECTED_AUTHENTICATION_PATH,
        0,
        "PINs come from the API"
    );
    for (bit, name) in [
        (CKF_USER_PIN_COUNT_LOW, "USER_PIN_COUNT_LOW"),
        (CKF_USER_PIN_FINAL_TRY, "USER_PIN_FINAL_TRY"),
        (CKF_USER_PIN_LOCKED, "USER_PIN_LOCKED"),
        (CKF_SO_PIN_COUNT_LOW, "SO_PIN_COUNT_LOW"),
        (CKF_SO_PIN_FINAL_TRY, "SO_PIN_FINAL_TRY"),
        (CKF_SO_PIN_LOCKED, "SO_PIN_LOCKED"),
    ] {
        assert_eq!(f & bit, 0, "{name} set on a fresh token");
    }

    assert_eq!(info.ulMinPinLen, 4, "default min_pin_len");
    assert_eq!(info.ulMaxPinLen, 255, "default max_pin_len");
    assert_eq!(info.ulSessionCount, 0);
    assert_eq!(info.ulRwSessionCount, 0);
    for (max, name) in [
        (info.ulMaxSessionCount, "ulMaxSessionCount"),
        (info.ulMaxRwSessionCount, "ulMaxRwSessionCount"),
    ] {
        assert!(
            max == CK_EFFECTIVELY_INFINITE || (max != CK_UNAVAILABLE_INFORMATION && max >= 1),
            "{name} = {max}"
        );
    }

    // utcTime is "YYYYMMDDhhmmss00" and close to now when the token has a clock.
    assert_ne!(f & CKF_CLOCK_ON_TOKEN, 0, "CKF_CLOCK_ON_TOKEN");
    let utc = std::str::from_utf8(&info.utcTime).expect("ASCII utcTime");
    assert_eq!(utc.len(), 16);
    assert!(utc.bytes().all(|b| b.is_ascii_digit()), "utcTime {utc:?}");
    assert_eq!(&utc[14..], "00", "utcTime ends in 00");
    // Same date and hour as the system clock around the call.
    assert!(
        utc[..10] == before[..10] || utc[..10] == after[..10],
        "utcTime {utc} is not the current UTC time ({before}..{after})"
    );

    // Session counts follow open sessions.
    let ro = ctx.open_ro_session(slot).expect("R/O session");
    let rw = ctx.open_rw_session(slot).expect("R/W session");
    let (_, info) = raw_token_info(&raw, slot.id());
    assert_eq!(info.ulSessionCount, 2, "ulSessionCount counts all sessions");
    assert_eq!(
        info.ulRwSessionCount, 1,
        "ulRwSessionCount counts R/W sessions"
    );
    drop(ro);
    drop(rw);
    let (_, info) = raw_token_info(&raw, slot.id());
    assert_eq!(info.ulSessionCount, 0);
    assert_eq!(info.ulRwSessionCount, 0);

    // Bad slot ids and NULL output pointers.
    let (rv, _) = raw_token_info(&raw, 0xdead_beef);
    assert_rv(rv, CKR_SLOT_ID_INVALID);
    assert_rv(
        ck!(raw, C_GetTokenInfo(slot.id(), null_mut())),
        CKR_ARGUMENTS_BAD,
    );
    let mut slot_info = CK_SLOT_INFO::default();
    assert_rv(
        ck!(raw, C_GetSlotInfo(0xdead_beef, &mut slot_info)),
        CKR_SLOT_ID_INVALID,
    );
}

#[test]
fn slot_info_fields() {
    let _env = TestEnv::new();
    let ctx = load_module();
    let slot = init_token(&ctx, "slotinfo");
    let raw = Raw::load();
    let mut info = CK_SLOT_INFO::default();
    assert_rv(ck!(raw, C_GetSlotInfo(slot.id(), &mut info)), CKR_OK);
    assert_ne!(info.flags & CKF_TOKEN_PRESENT, 0);
    assert_eq!(&info.manufacturerID[..8], b"ferrohsm");
    assert!(info.manufacturerID[8..].iter().all(|&b| b == b' '));
    assert!(
        !info.slotDescription.contains(&0),
        "slotDescription is blank padded"
    );
    assert_rv(
        ck!(raw, C_GetSlotInfo(slot.id(), null_mut())),
        CKR_ARGUMENTS_BAD,
    );
}

#[test]
fn pin_length_range_comes_from_the_configuration() {
    let _env = TestEnv::with_config("min_pin_len = 6\nmax_pin_len = 15");
    let ctx = load_module();
    let slot = init_token_so_only(&ctx, "lengths");
    let info = ctx.get_token_info(slot).expect("C_GetTokenInfo");
    assert_eq!(info.min_pin_length(), 6);
    assert_eq!(info.max_pin_length(), 15);

    let session = ctx.open_rw_session(slot).expect("R/W session");
    session
        .login(UserType::So, Some(&pin(SO_PIN)))
        .expect("SO login");
    expect_rv(session.init_pin(&pin("12345")), RvError::PinLenRange);
    expect_rv(
        session.init_pin(&pin("1234567890123456")),
        RvError::PinLenRange,
    );
    session
        .init_pin(&pin("123456"))
        .expect("six characters fit");
    session.logout().expect("logout");
    session
        .login(UserType::User, Some(&pin("123456")))
        .expect("user login");
    expect_rv(
        session.set_pin(&pin("123456"), &pin("12345")),
        RvError::PinLenRange,
    );
    expect_rv(
        session.set_pin(&pin("123456"), &pin("1234567890123456")),
        RvError::PinLenRange,
    );
    session
        .set_pin(&pin("123456"), &pin("123456789012345"))
        .expect("fifteen characters fit");
}

#[test]
fn init_token_with_a_bad_so_pin_length_creates_nothing() {
    let env = TestEnv::sqlite();
    let ctx = load_module();
    let free = free_slot(&ctx);
    // C_InitToken does not list CKR_PIN_LEN_RANGE; modules answer PIN_INCORRECT or it.
    expect_rv_in(
        ctx.init_token(free, &pin("123"), "short"),
        &[RvError::PinIncorrect, RvError::PinLenRange],
    );
    let info = ctx.get_token_info(free).expect("C_GetTokenInfo");
    assert!(!info.token_initialized(), "no token from a refused init");
    assert_eq!(ctx.get_all_slots().expect("slots").len(), 1);
    let token_files: Vec<_> = files_under(env.token_dir())
        .into_iter()
        .filter(|p| p.to_string_lossy().contains(".sqlite"))
        .collect();
    assert!(
        token_files.is_empty(),
        "a refused C_InitToken left token files behind: {token_files:?}"
    );
}

#[test]
fn init_token_bad_arguments() {
    let _env = TestEnv::new();
    let ctx = load_module();
    let free = free_slot(&ctx);
    let raw = Raw::load();
    let mut so = SO_PIN.as_bytes().to_vec();
    let mut label = [b' '; 32];
    assert_rv(
        ck!(
            raw,
            C_InitToken(free.id(), so.as_mut_ptr(), so.len() as CK_ULONG, null_mut())
        ),
        CKR_ARGUMENTS_BAD,
    );
    assert_rv(
        ck!(
            raw,
            C_InitToken(
                0xdead_beef,
                so.as_mut_ptr(),
                so.len() as CK_ULONG,
                label.as_mut_ptr()
            )
        ),
        CKR_SLOT_ID_INVALID,
    );
    assert!(!ctx
        .get_token_info(free)
        .expect("token info")
        .token_initialized());
}

#[test]
fn reinit_needs_the_so_pin_and_wipes_objects() {
    let _env = TestEnv::new();
    let ctx = load_module();
    let slot = init_token(&ctx, "before");
    {
        let session = user_session(&ctx, slot);
        session
            .create_object(&data_object("keep-me?", b"v", true, false))
            .expect("public token object");
        session
            .create_object(&data_object("private", b"v", true, true))
            .expect("private token object");
    }

    expect_rv(
        ctx.init_token(slot, &pin("wrong-so-pin"), "after"),
        RvError::PinIncorrect,
    );
    assert_eq!(
        ctx.get_token_info(slot).expect("info").label(),
        "before",
        "a refused re-init changes nothing"
    );

    ctx.init_token(slot, &pin(SO_PIN), "after")
        .expect("re-init with the SO PIN");
    let info = ctx.get_token_info(slot).expect("info");
    assert_eq!(info.label(), "after");
    assert!(
        !info.user_pin_initialized(),
        "§5.6 C_InitToken: the user cannot log in until the SO sets the user PIN again"
    );
    // Re-initializing keeps the slot and does not add one.
    assert_eq!(slot_by_label(&ctx, "after"), slot);
    assert_eq!(ctx.get_all_slots().expect("slots").len(), 2);

    let session = ctx.open_rw_session(slot).expect("session");
    expect_rv(
        session.login(UserType::User, Some(&pin(USER_PIN))),
        RvError::UserPinNotInitialized,
    );
    assert!(
        session.find_objects(&[]).expect("find").is_empty(),
        "public objects survived re-init"
    );
    session
        .login(UserType::So, Some(&pin(SO_PIN)))
        .expect("the SO PIN stays");
    session.init_pin(&pin(USER_PIN)).expect("C_InitPIN");
    session.logout().expect("logout");
    session
        .login(UserType::User, Some(&pin(USER_PIN)))
        .expect("user login");
    assert!(
        session.find_objects(&[]).expect("find").is_empty(),
        "private objects survived re-init"
    );
    drop(session);

    // And after a restart.
    let ctx = restart(ctx);
    let slot = slot_by_label(&ctx, "after");
    let session = user_session(&ctx, slot);
    assert!(session.find_objects(&[]).expect("find").is_empty());
}

#[test]
fn init_token_with_an_open_session_is_session_exists() {
    let _env = TestEnv::new();
    let ctx = load_module();
    let slot = init_token(&ctx, "busy");
    let session = ctx.open_ro_session(slot).expect("session");
    expect_rv(
        ctx.init_token(slot, &pin(SO_PIN), "busy"),
        RvError::SessionExists,
    );
    drop(session);
    ctx.init_token(slot, &pin(SO_PIN), "busy")
        .expect("no session open any more");
}

#[test]
fn slot_ids_are_stable_across_restarts_and_new_tokens() {
    let _env = TestEnv::new();
    let ctx = load_module();
    init_token(&ctx, "alpha");
    init_token(&ctx, "beta");
    let first = slots_by_label(&ctx);
    assert_eq!(first.len(), 2);

    let ctx = restart(ctx);
    assert_eq!(slots_by_label(&ctx), first, "ids changed across restart");
    let free = free_slot(&ctx);
    assert!(
        !first.values().any(|id| *id == free.id()),
        "the free slot reuses a token's id"
    );

    // Adding a token keeps the others' ids; the new one keeps the free slot's id.
    let gamma = init_token(&ctx, "gamma");
    assert_eq!(gamma, free);
    let mut second = slots_by_label(&ctx);
    assert_eq!(second.remove("gamma"), Some(gamma.id()));
    assert_eq!(second, first, "adding a token moved the others");

    let all = slots_by_label(&ctx);
    let ctx = restart(ctx);
    assert_eq!(
        slots_by_label(&ctx),
        all,
        "ids changed across the second restart"
    );
    let free = free_slot(&ctx);
    assert!(!all.values().any(|id| *id == free.id()));
}

#[test]
fn wait_for_slot_event_without_blocking_is_no_event() {
    let _env = TestEnv::new();
    let ctx = load_module();
    init_token(&ctx, "events");
    let raw = Raw::load();
    let mut slot: CK_SLOT_ID = 0;
    assert_rv(
        ck!(
            raw,
            C_WaitForSlotEvent(CKF_DONT_BLOCK, &mut slot, null_mut())
        ),
        CKR_NO_EVENT,
    );
    assert_eq!(ctx.get_slot_event().expect("C_WaitForSlotEvent"), None);
}

#[test]
fn init_pin_needs_the_so_in_a_rw_session() {
    let _env = TestEnv::new();
    let ctx = load_module();
    let slot = init_token_so_only(&ctx, "initpin");
    let session = ctx.open_rw_session(slot).expect("session");
    // §5.6 C_InitPIN: only in the "R/W SO Functions" state, else CKR_USER_NOT_LOGGED_IN.
    expect_rv(session.init_pin(&pin(USER_PIN)), RvError::UserNotLoggedIn);
    session
        .login(UserType::So, Some(&pin(SO_PIN)))
        .expect("SO login");
    session.init_pin(&pin(USER_PIN)).expect("C_InitPIN");
    assert!(ctx
        .get_token_info(slot)
        .expect("info")
        .user_pin_initialized());
    session.logout().expect("logout");
    session
        .login(UserType::User, Some(&pin(USER_PIN)))
        .expect("user login");
    expect_rv(
        session.init_pin(&pin("another-pin")),
        RvError::UserNotLoggedIn,
    );
}

#[test]
fn set_pin_for_the_user() {
    let _env = TestEnv::new();
    let ctx = load_module();
    let slot = init_token(&ctx, "setpin");
    let session = user_session(&ctx, slot);
    session
        .create_object(&data_object("secret", b"private value", true, true))
        .expect("private object");

    expect_rv(
        session.set_pin(&pin("not-the-pin"), &pin("new-user-pin")),
        RvError::PinIncorrect,
    );
    expect_rv(
        session.set_pin(&pin(USER_PIN), &pin("123")),
        RvError::PinLenRange,
    );
    expect_rv(
        session.set_pin(&pin(USER_PIN), &pin(&"x".repeat(256))),
        RvError::PinLenRange,
    );
    session
        .set_pin(&pin(USER_PIN), &pin("new-user-pin"))
        .expect("C_SetPIN");
    session.logout().expect("logout");
    expect_rv(
        session.login(UserType::User, Some(&pin(USER_PIN))),
        RvError::PinIncorrect,
    );
    session
        .login(UserType::User, Some(&pin("new-user-pin")))
        .expect("login with the new PIN");
    // The master key was re-wrapped, not lost: private objects still read.
    let found = find_by_label(&session, "secret");
    assert_eq!(found.len(), 1);
    assert_eq!(
        read_bytes(&session, found[0], cryptoki::object::AttributeType::Value).expect("value"),
        b"private value"
    );
    drop(session);

    // Not logged in, in a R/W session: C_SetPIN changes the user PIN.
    let public = ctx.open_rw_session(slot).expect("session");
    public
        .set_pin(&pin("new-user-pin"), &pin("third-user-pin"))
        .expect("C_SetPIN in R/W public state");
    public
        .login(UserType::User, Some(&pin("third-user-pin")))
        .expect("login");
    drop(public);

    // In a R/O session: CKR_SESSION_READ_ONLY.
    let ro = ctx.open_ro_session(slot).expect("session");
    expect_rv(
        ro.set_pin(&pin("third-user-pin"), &pin("fourth-user-pin")),
        RvError::SessionReadOnly,
    );
    drop(ro);

    // Survives a restart.
    let ctx = restart(ctx);
    let slot = slot_by_label(&ctx, "setpin");
    let session = ctx.open_rw_session(slot).expect("session");
    session
        .login(UserType::User, Some(&pin("third-user-pin")))
        .expect("login after restart");
    let found = find_by_label(&session, "secret");
    assert_eq!(
        read_bytes(&session, found[0], cryptoki::object::AttributeType::Value).expect("value"),
        b"private value"
    );
}

#[test]
fn set_pin_for_the_so() {
    let _env = TestEnv::new();
    let ctx = load_module();
    let slot = init_token(&ctx, "sopin");
    let session = ctx.open_rw_session(slot).expect("session");
    session
        .login(UserType::So, Some(&pin(SO_PIN)))
        .expect("SO login");
    expect_rv(
        session.set_pin(&pin("not-the-so-pin"), &pin("new-so-pin")),
        RvError::PinIncorrect,
    );
    expect_rv(
        session.set_pin(&pin(SO_PIN), &pin("12")),
        RvError::PinLenRange,
    );
    session
        .set_pin(&pin(SO_PIN), &pin("new-so-pin"))
        .expect("C_SetPIN as SO");
    session.logout().expect("logout");
    expect_rv(
        session.login(UserType::So, Some(&pin(SO_PIN))),
        RvError::PinIncorrect,
    );
    session
        .login(UserType::So, Some(&pin("new-so-pin")))
        .expect("SO login with the new PIN");
    session.logout().expect("logout");
    // The user PIN is unaffected.
    session
        .login(UserType::User, Some(&pin(USER_PIN)))
        .expect("user login");
    drop(session);
    // The new SO PIN is the one re-initialization needs.
    expect_rv(
        ctx.init_token(slot, &pin(SO_PIN), "sopin"),
        RvError::PinIncorrect,
    );
    ctx.init_token(slot, &pin("new-so-pin"), "sopin")
        .expect("re-init with the new SO PIN");
}

#[test]
fn objects_on_one_token_are_not_visible_on_another() {
    let _env = TestEnv::new();
    let ctx = load_module();
    let a = init_token(&ctx, "token-a");
    let b = init_token(&ctx, "token-b");
    let sa = user_session(&ctx, a);
    sa.create_object(&data_object("only-on-a", b"a", true, false))
        .expect("create");
    let sb = user_session(&ctx, b);
    assert!(find_by_label(&sb, "only-on-a").is_empty());
    assert_eq!(find_by_label(&sa, "only-on-a").len(), 1);
    // Logins are per token: logging out of b leaves a logged in.
    sb.logout().expect("logout b");
    assert_eq!(
        sa.get_session_info().expect("info").session_state(),
        cryptoki::session::SessionState::RwUser
    );
}
