//! PKCS#11 v3.0 §5.7 C_FindObjectsInit, C_FindObjects, C_FindObjectsFinal: matching by class,
//! label, id and their combinations, visibility of private objects, the operation state rules,
//! and an indexed search on a token with 2,000 objects.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use cryptoki::object::{Attribute, CertificateType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki_sys::*;
use std::collections::BTreeSet;
use std::ptr::null_mut;

/// The fixture objects: public data "alpha", private data "beta", public certificate "alpha"
/// with id 01, private sensitive secret key "gamma" with id 03, public secret key "epsilon" with
/// id 01, and the session data object "delta". (Data objects have no CKA_ID.)
struct Fixture {
    alpha_data: ObjectHandle,
    beta_data: ObjectHandle,
    alpha_cert: ObjectHandle,
    gamma_key: ObjectHandle,
    epsilon_key: ObjectHandle,
    delta_session: ObjectHandle,
}

impl Fixture {
    fn all(&self) -> BTreeSet<u64> {
        set(&[
            self.alpha_data,
            self.beta_data,
            self.alpha_cert,
            self.gamma_key,
            self.epsilon_key,
            self.delta_session,
        ])
    }
}

fn fixture(s: &Session) -> Fixture {
    let with_id = |mut t: Vec<Attribute>, id: u8| {
        t.push(Attribute::Id(vec![id]));
        t
    };
    let alpha_data = s
        .create_object(&data_object("alpha", b"a", true, false))
        .expect("alpha data");
    let beta_data = s
        .create_object(&data_object("beta", b"b", true, true))
        .expect("beta data");
    let alpha_cert = s
        .create_object(&[
            Attribute::Class(ObjectClass::CERTIFICATE),
            Attribute::CertificateType(CertificateType::X_509),
            Attribute::Token(true),
            Attribute::Private(false),
            Attribute::Label(b"alpha".to_vec()),
            Attribute::Id(vec![1]),
            Attribute::Subject(common::keys::unhex(common::keys::X509_SUBJECT)),
            Attribute::Value(common::keys::unhex(common::keys::X509_CERT)),
        ])
        .expect("alpha certificate");
    let gamma_key = s
        .create_object(&with_id(generic_secret("gamma", &[3; 32], true, true), 3))
        .expect("gamma key");
    let epsilon_key = s
        .create_object(&with_id(
            generic_secret("epsilon", &[5; 32], false, false),
            1,
        ))
        .expect("epsilon key");
    let delta_session = s
        .create_object(&data_object("delta", b"d", false, false))
        .expect("delta session object");
    Fixture {
        alpha_data,
        beta_data,
        alpha_cert,
        gamma_key,
        epsilon_key,
        delta_session,
    }
}

fn found(s: &Session, template: &[Attribute]) -> BTreeSet<u64> {
    let list = s.find_objects(template).expect("find");
    let set: BTreeSet<u64> = list.iter().map(ObjectHandle::handle).collect();
    assert_eq!(set.len(), list.len(), "an object was returned twice");
    set
}

fn set(handles: &[ObjectHandle]) -> BTreeSet<u64> {
    handles.iter().map(ObjectHandle::handle).collect()
}

#[test]
fn find_by_class_label_id_and_combinations() {
    let _env = TestEnv::new();
    let ctx = load_module();
    let slot = init_token(&ctx, "find");
    let s = user_session(&ctx, slot);
    let f = fixture(&s);

    assert_eq!(
        found(&s, &[Attribute::Class(ObjectClass::DATA)]),
        set(&[f.alpha_data, f.beta_data, f.delta_session])
    );
    assert_eq!(
        found(&s, &[Attribute::Label(b"alpha".to_vec())]),
        set(&[f.alpha_data, f.alpha_cert])
    );
    assert_eq!(
        found(&s, &[Attribute::Id(vec![1])]),
        set(&[f.alpha_cert, f.epsilon_key])
    );
    assert_eq!(
        found(
            &s,
            &[
                Attribute::Class(ObjectClass::DATA),
                Attribute::Label(b"alpha".to_vec())
            ]
        ),
        set(&[f.alpha_data])
    );
    assert_eq!(
        found(
            &s,
            &[
                Attribute::Class(ObjectClass::CERTIFICATE),
                Attribute::Id(vec![1])
            ]
        ),
        set(&[f.alpha_cert])
    );
    assert_eq!(
        found(&s, &[Attribute::Class(ObjectClass::SECRET_KEY)]),
        set(&[f.gamma_key, f.epsilon_key])
    );
    assert_eq!(
        found(
            &s,
            &[Attribute::Label(b"alpha".to_vec()), Attribute::Id(vec![1])]
        ),
        set(&[f.alpha_cert]),
        "a data object has no CKA_ID, so it cannot match one"
    );
    assert_eq!(
        found(&s, &[Attribute::Token(false)]),
        set(&[f.delta_session])
    );
    assert_eq!(
        found(&s, &[Attribute::Token(true), Attribute::Private(true)]),
        set(&[f.beta_data, f.gamma_key])
    );
    // Matching is exact: a prefix, a different id or a contradiction find nothing.
    assert!(found(&s, &[Attribute::Label(b"alph".to_vec())]).is_empty());
    assert!(found(&s, &[Attribute::Label(b"alpha ".to_vec())]).is_empty());
    assert!(found(&s, &[Attribute::Id(vec![9])]).is_empty());
    assert!(found(
        &s,
        &[Attribute::Label(b"alpha".to_vec()), Attribute::Id(vec![2])]
    )
    .is_empty());
    // Any attribute can be matched, CKA_VALUE included.
    assert_eq!(
        found(&s, &[Attribute::Value(b"a".to_vec())]),
        set(&[f.alpha_data])
    );
}

#[test]
fn empty_template_finds_everything_visible() {
    let _env = TestEnv::new();
    let ctx = load_module();
    let slot = init_token(&ctx, "find-all");
    let s = user_session(&ctx, slot);
    let f = fixture(&s);
    assert_eq!(found(&s, &[]), f.all());
    s.logout().expect("logout");
    assert_eq!(
        found(&s, &[]),
        set(&[f.alpha_data, f.alpha_cert, f.epsilon_key, f.delta_session]),
        "private objects listed without login"
    );
    assert!(found(&s, &[Attribute::Label(b"beta".to_vec())]).is_empty());
    assert!(found(&s, &[Attribute::Private(true)]).is_empty());
    s.login(UserType::User, Some(&pin(USER_PIN)))
        .expect("login");
    assert_eq!(found(&s, &[Attribute::Label(b"beta".to_vec())]).len(), 1);
}

#[test]
fn private_objects_are_found_only_after_login_in_a_fresh_process_state() {
    let _env = TestEnv::new();
    let ctx = load_module();
    let slot = init_token(&ctx, "find-restart");
    {
        let s = user_session(&ctx, slot);
        fixture(&s);
    }
    let ctx = restart(ctx);
    let s = ctx.open_ro_session(slot).expect("R/O");
    let mut labels: Vec<Vec<u8>> = s
        .find_objects(&[])
        .expect("find")
        .into_iter()
        .map(|h| read_bytes(&s, h, cryptoki::object::AttributeType::Label).expect("label"))
        .collect();
    labels.sort();
    assert_eq!(
        labels,
        vec![b"alpha".to_vec(), b"alpha".to_vec(), b"epsilon".to_vec()],
        "the public token objects only (the session object went with the restart)"
    );
    s.login(UserType::User, Some(&pin(USER_PIN)))
        .expect("login");
    assert_eq!(s.find_objects(&[]).expect("find").len(), 5);
}

#[test]
fn operation_state_rules() {
    let _env = TestEnv::new();
    let ctx = load_module();
    let slot = init_token(&ctx, "find-state");
    let s = user_session(&ctx, slot);
    let f = fixture(&s);
    let raw = Raw::load();
    let h = s.handle();
    let mut out = [CK_INVALID_HANDLE; 4];
    let mut n: CK_ULONG = 0;

    assert_rv(
        ck!(raw, C_FindObjects(h, out.as_mut_ptr(), 4, &mut n)),
        CKR_OPERATION_NOT_INITIALIZED,
    );
    assert_rv(
        ck!(raw, C_FindObjectsFinal(h)),
        CKR_OPERATION_NOT_INITIALIZED,
    );

    assert_rv(ck!(raw, C_FindObjectsInit(h, null_mut(), 0)), CKR_OK);
    assert_rv(
        ck!(raw, C_FindObjectsInit(h, null_mut(), 0)),
        CKR_OPERATION_ACTIVE,
    );
    // Results one at a time, then an empty batch.
    let mut all = BTreeSet::new();
    loop {
        let mut one = [CK_INVALID_HANDLE; 1];
        assert_rv(
            ck!(raw, C_FindObjects(h, one.as_mut_ptr(), 1, &mut n)),
            CKR_OK,
        );
        assert!(n <= 1);
        if n == 0 {
            break;
        }
        assert!(all.insert(one[0]), "handle returned twice");
    }
    assert_eq!(all, f.all());
    assert_rv(ck!(raw, C_FindObjectsFinal(h)), CKR_OK);
    assert_rv(
        ck!(raw, C_FindObjectsFinal(h)),
        CKR_OPERATION_NOT_INITIALIZED,
    );

    // Argument checks.
    assert_rv(
        ck!(raw, C_FindObjectsInit(h, null_mut(), 1)),
        CKR_ARGUMENTS_BAD,
    );
    assert_rv(ck!(raw, C_FindObjectsInit(h, null_mut(), 0)), CKR_OK);
    assert_rv(
        ck!(raw, C_FindObjects(h, out.as_mut_ptr(), 4, null_mut())),
        CKR_ARGUMENTS_BAD,
    );
    assert_rv(ck!(raw, C_FindObjectsFinal(h)), CKR_OK);

    // A search in one session does not block another session.
    let other = ctx.open_ro_session(slot).expect("R/O");
    assert_rv(ck!(raw, C_FindObjectsInit(h, null_mut(), 0)), CKR_OK);
    assert_eq!(found(&other, &[]), f.all());
    assert_rv(ck!(raw, C_FindObjectsFinal(h)), CKR_OK);
}

#[test]
fn search_by_id_and_label_among_two_thousand_objects() {
    let _env = TestEnv::new();
    let ctx = load_module();
    let slot = init_token(&ctx, "many");
    {
        let s = user_session(&ctx, slot);
        for i in 0..2000u32 {
            // Keys, because data objects have no CKA_ID.
            let mut value = [0u8; 16];
            value[..4].copy_from_slice(&i.to_be_bytes());
            let mut t = generic_secret(&format!("obj-{i:04}"), &value, i % 2 == 0, false);
            t.push(Attribute::Id(format!("id-{i:04}").into_bytes()));
            s.create_object(&t).expect("create");
        }
        let hit = s
            .find_objects(&[Attribute::Id(b"id-1234".to_vec())])
            .expect("find by id");
        assert_eq!(hit.len(), 1);
        assert_eq!(
            read_bytes(&s, hit[0], cryptoki::object::AttributeType::Label).expect("label"),
            b"obj-1234"
        );
    }
    // Again from a fresh start, where nothing is cached.
    let ctx = restart(ctx);
    let s = user_session(&ctx, slot);
    for i in [0u32, 777, 1234, 1999] {
        let hit = s
            .find_objects(&[Attribute::Id(format!("id-{i:04}").into_bytes())])
            .expect("find by id");
        assert_eq!(hit.len(), 1, "id-{i:04}");
        assert_eq!(
            read_bytes(&s, hit[0], cryptoki::object::AttributeType::Value).expect("value")[..4],
            i.to_be_bytes()
        );
        let by_label = s
            .find_objects(&[Attribute::Label(format!("obj-{i:04}").into_bytes())])
            .expect("find by label");
        assert_eq!(by_label, hit, "label and id find the same object");
    }
    assert_eq!(
        s.find_objects(&[Attribute::Class(ObjectClass::SECRET_KEY)])
            .expect("all")
            .len(),
        2000
    );
    s.logout().expect("logout");
    assert_eq!(
        s.find_objects(&[]).expect("public").len(),
        1000,
        "only the public half without login"
    );
    assert!(s
        .find_objects(&[Attribute::Id(b"id-1234".to_vec())])
        .expect("find")
        .is_empty());
}
