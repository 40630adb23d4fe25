//! Interoperability with OpenSC `pkcs11-tool` (PKCS#11 v3.0 as a real client drives it): the
//! issue 3 acceptance check `pkcs11-tool --test --login --allow-sw` against a token holding
//! RSA-2048, EC P-256 and AES-256 keys generated through the module, run by
//! tests/interop/pkcs11-tool-test.sh on the module these tests built.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;

#[test]
fn pkcs11_tool_test_passes_with_rsa_ec_and_aes_keys() {
    if Command::new("pkcs11-tool").arg("--help").output().is_err() {
        panic!("pkcs11-tool (OpenSC) is not installed; scripts/test installs it");
    }
    let module = common::p11::crypto_module_path();
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/pkcs11-tool-test.sh");
    let out = Command::new("bash")
        .arg(&script)
        .arg(&module)
        .env_remove("SOFTHSM2_CONF")
        .output()
        .expect("run tests/interop/pkcs11-tool-test.sh");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("PASS pkcs11-tool --test"),
        "pkcs11-tool --test against {} failed ({}):\n{stdout}\n{}",
        module.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}
