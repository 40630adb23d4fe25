//! A host application that calls the module from inside an async runtime (PKCS#11 v3.0 §5.4
//! C_Initialize/C_Finalize, §5.6 sessions, §5.7 objects, §5.13 signing), as a Rust service on
//! tokio calls Cryptoki from its tasks. The PostgreSQL store drives its connections on tokio
//! runtimes of its own, and tokio refuses to start one inside another; the module's copy of
//! tokio is its own (a cdylib links it in, with its own thread-local context), so the host's
//! runtime must not be seen from inside the module. These tests hold that on either store.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use cryptoki::context::Pkcs11;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::Attribute;
use cryptoki::slot::Slot;

/// Run `f` inside a runtime on this thread, as a task of the host would.
fn in_runtime<T>(f: impl FnOnce() -> T) -> T {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async { f() })
}

/// Every kind of store round trip after login (the application's login, so held by whoever
/// logged in): key generation, signing from the cache, a search, object creation and
/// destruction.
fn key_work(ctx: &Pkcs11, slot: Slot, tag: &str) {
    let s = ctx
        .open_rw_session(slot)
        .expect("C_OpenSession inside the runtime");
    let label = format!("async-key-{tag}");
    let (public, private) = s
        .generate_key_pair(
            &Mechanism::EccKeyPairGen,
            &[
                Attribute::EcParams(P256.to_vec()),
                Attribute::Token(true),
                Attribute::Verify(true),
            ],
            &[
                Attribute::Token(true),
                Attribute::Private(true),
                Attribute::Sign(true),
                Attribute::Label(label.clone().into_bytes()),
            ],
        )
        .expect("C_GenerateKeyPair inside the runtime");
    for _ in 0..3 {
        let sig = s
            .sign(&Mechanism::EcdsaSha256, private, b"message")
            .expect("C_Sign inside the runtime");
        s.verify(&Mechanism::EcdsaSha256, public, b"message", &sig)
            .expect("C_Verify inside the runtime");
    }
    assert_eq!(find_by_label(&s, &label), vec![private]);
    let data_label = format!("async-data-{tag}");
    let data = s
        .create_object(&data_object(&data_label, b"value", true, true))
        .expect("C_CreateObject inside the runtime");
    s.destroy_object(data)
        .expect("C_DestroyObject inside the runtime");
    assert!(find_by_label(&s, &data_label).is_empty());
}

#[test]
fn calls_from_inside_a_runtime_succeed() {
    let env = TestEnv::new();
    in_runtime(|| {
        // C_Initialize, C_InitToken and C_InitPIN, the work, then C_Finalize, which drops the
        // store's connections inside the host's runtime.
        let ctx = env.load();
        let slot = init_token(&ctx, "async-one");
        let login = user_session(&ctx, slot);
        key_work(&ctx, slot, "one");
        login.logout().expect("C_Logout inside the runtime");
        drop(login);
        ctx.finalize().expect("C_Finalize inside the runtime");
    });
}

/// As a multi-threaded service does: several threads, each inside a runtime, one module.
#[test]
fn calls_from_several_runtime_threads_at_once_succeed() {
    let env = TestEnv::new();
    let ctx = env.load();
    let slot = init_token(&ctx, "async-many");
    let login = in_runtime(|| user_session(&ctx, slot));
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..3)
            .map(|i| {
                let ctx = &ctx;
                scope.spawn(move || in_runtime(|| key_work(ctx, slot, &i.to_string())))
            })
            .collect();
        for w in workers {
            w.join().expect("a runtime thread panicked");
        }
    });
    drop(login);
    in_runtime(|| ctx.finalize().expect("C_Finalize inside the runtime"));
}
