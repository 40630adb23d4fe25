//! The built `ferrohsm-util` driven against SoftHSMv2: token setup, PIN changes, listing,
//! the demo and the error messages, all through the PKCS#11 API of another vendor's module.

mod common;
use common::{data, Hsm};

#[test]
fn init_token_uses_free_slot_and_refuses_silent_reinit() {
    let hsm = Hsm::new();
    let out = hsm.init_token("app");
    assert!(out.contains("Initialized token \"app\""), "{out}");
    assert!(out.contains("Serial:"), "{out}");

    let slots = hsm.ok(&["show-slots"]);
    assert!(slots.contains("Token label:      app"), "{slots}");
    assert!(
        slots.contains("initialized, user PIN initialized, login required"),
        "{slots}"
    );
    // SoftHSMv2, like ferrohsm, always offers one more uninitialized token.
    assert!(slots.contains("(uninitialized: free slot)"), "{slots}");

    let err = hsm.fails(&[
        "init-token",
        "--label",
        "app",
        "--so-pin",
        "12345678",
        "--pin",
        "1",
    ]);
    assert!(
        err.contains("already initialized") && err.contains("--force"),
        "{err}"
    );
    // With --force and the wrong SO PIN the module's refusal is shown by name.
    let err = hsm.fails(&[
        "init-token",
        "--label",
        "app",
        "--so-pin",
        "00000000",
        "--pin",
        "1234",
        "--force",
    ]);
    assert!(err.contains("CKR_PIN_INCORRECT"), "{err}");
    assert!(!err.contains("00000000"), "a PIN was echoed: {err}");
    hsm.ok(&[
        "init-token",
        "--label",
        "app",
        "--so-pin",
        "12345678",
        "--pin",
        "4321",
        "--force",
    ]);
    let listed = hsm.ok(&["list-objects", "--label", "app", "--pin", "4321"]);
    assert!(listed.starts_with("0 object(s)"), "{listed}");
}

#[test]
fn labels_longer_than_32_bytes_are_refused_before_the_module_sees_them() {
    let hsm = Hsm::new();
    let long = "x".repeat(33);
    let err = hsm.fails(&[
        "init-token",
        "--label",
        &long,
        "--so-pin",
        "12345678",
        "--pin",
        "1234",
    ]);
    assert!(err.contains("1 to 32 bytes"), "{err}");
}

#[test]
fn set_pin_for_user_and_so() {
    let hsm = Hsm::new();
    hsm.init_token("pins");
    hsm.ok(&[
        "set-pin",
        "--label",
        "pins",
        "--old-pin",
        "1234",
        "--new-pin",
        "5678",
    ]);
    let err = hsm.fails(&[
        "set-pin",
        "--label",
        "pins",
        "--old-pin",
        "1234",
        "--new-pin",
        "9999",
    ]);
    assert!(
        err.contains("token \"pins\"") && err.contains("CKR_PIN_INCORRECT"),
        "{err}"
    );
    // PINs from the environment.
    let out = hsm.run_env(
        &["set-pin", "--label", "pins"],
        &[("FERROHSM_PIN", "5678"), ("FERROHSM_NEW_PIN", "1234")],
    );
    assert!(out.status.success(), "{}", common::describe(&out));
    hsm.ok(&[
        "set-pin",
        "--label",
        "pins",
        "--so",
        "--old-pin",
        "12345678",
        "--new-pin",
        "abcdefgh",
    ]);
    let out = hsm.run_env(
        &["init-token", "--label", "pins", "--pin", "1234", "--force"],
        &[("FERROHSM_SO_PIN", "abcdefgh")],
    );
    assert!(out.status.success(), "{}", common::describe(&out));
}

#[test]
fn missing_pin_without_terminal_is_a_clear_error() {
    let hsm = Hsm::new();
    hsm.init_token("nopin");
    let err = hsm.fails(&["set-pin", "--label", "nopin"]);
    assert!(
        err.contains("no current user PIN given") && err.contains("FERROHSM_PIN"),
        "{err}"
    );
}

#[test]
fn list_objects_hides_private_objects_without_pin() {
    let hsm = Hsm::new();
    hsm.init_token("list");
    hsm.ok(&[
        "import",
        "--token",
        "list",
        "--pin",
        "1234",
        "--file",
        &data("p256-pkcs8.pem"),
    ]);
    let public = hsm.ok(&["list-objects", "--label", "list"]);
    assert!(public.starts_with("1 object(s)"), "{public}");
    assert!(public.contains("Public key (EC P-256)"), "{public}");
    assert!(!public.contains("Private key"), "{public}");
    let all = hsm.ok(&["list-objects", "--label", "list", "--pin", "1234"]);
    assert!(all.starts_with("2 object(s)"), "{all}");
    assert!(all.contains("Private key (EC P-256)"), "{all}");
    assert!(all.contains("sensitive, not extractable"), "{all}");
    assert!(
        all.contains("ID:         1cc56fb08ed27b1180c23858c71624e6d37a056d"),
        "{all}"
    );
}

#[test]
fn unknown_tokens_and_slots_are_named_in_errors() {
    let hsm = Hsm::new();
    hsm.init_token("here");
    let err = hsm.fails(&["list-objects", "--label", "elsewhere"]);
    assert!(
        err.contains("no token with label \"elsewhere\"") && err.contains("\"here\""),
        "{err}"
    );
    let err = hsm.fails(&["list-objects", "--slot", "987654"]);
    assert!(
        err.contains("slot 987654") && err.contains("CKR_SLOT_ID_INVALID"),
        "{err}"
    );
}

#[test]
fn delete_token_refuses_other_modules() {
    let hsm = Hsm::new();
    hsm.init_token("keep");
    let err = hsm.fails(&["delete-token", "--label", "keep", "--yes"]);
    assert!(
        err.contains("only with the ferrohsm module") && err.contains("SoftHSM"),
        "{err}"
    );
    assert!(hsm.ok(&["show-slots"]).contains("Token label:      keep"));
}

#[test]
fn demo_runs_twice_and_cleans_up() {
    let hsm = Hsm::new();
    let first = hsm.ok(&["demo"]);
    assert!(
        first.contains("initialized token \"ferrohsm-demo\""),
        "{first}"
    );
    assert!(
        first.contains("private note visible: 0, public note visible: 1"),
        "{first}"
    );
    let second = hsm.ok(&["demo"]);
    assert!(
        second.contains("using the existing token \"ferrohsm-demo\""),
        "{second}"
    );
    assert!(second.contains("destroyed 2 object(s)"), "{second}");
    let left = hsm.ok(&[
        "list-objects",
        "--label",
        "ferrohsm-demo",
        "--pin",
        "demo-pin",
    ]);
    assert!(left.starts_with("0 object(s)"), "{left}");
}

#[test]
fn missing_module_is_reported() {
    let hsm = Hsm::new();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ferrohsm-util"))
        .args(["--module", "/nonexistent/libnothing.so", "show-slots"])
        .output()
        .unwrap_or_else(|e| panic!("cannot run: {e}"));
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot load PKCS#11 module /nonexistent/libnothing.so"),
        "{err}"
    );
    drop(hsm);
}
