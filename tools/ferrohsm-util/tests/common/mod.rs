//! Shared helpers for the integration tests: a private SoftHSMv2 token directory per test and a
//! way to run the built `ferrohsm-util` against it.

#![allow(dead_code)] // each test binary uses its own subset

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// SoftHSMv2's module: `SOFTHSM2_MODULE`, else the Debian locations.
pub fn softhsm_module() -> PathBuf {
    if let Some(p) = std::env::var_os("SOFTHSM2_MODULE") {
        return PathBuf::from(p);
    }
    let candidates = [
        "/usr/lib/softhsm/libsofthsm2.so",
        "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    ];
    for c in candidates {
        if Path::new(c).is_file() {
            return PathBuf::from(c);
        }
    }
    // Fail loudly rather than skip: these tests must run in CI.
    panic!("SoftHSMv2 is not installed (apt-get install softhsm2) or set SOFTHSM2_MODULE");
}

/// A SoftHSMv2 configuration whose token directory lives and dies with the test.
pub struct Hsm {
    pub dir: tempfile::TempDir,
    pub conf: PathBuf,
    pub module: PathBuf,
}

impl Hsm {
    pub fn new() -> Hsm {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let tokens = dir.path().join("tokens");
        std::fs::create_dir(&tokens).unwrap_or_else(|e| panic!("mkdir: {e}"));
        let conf = dir.path().join("softhsm2.conf");
        let text = format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
            tokens.display()
        );
        std::fs::write(&conf, text).unwrap_or_else(|e| panic!("write conf: {e}"));
        Hsm {
            dir,
            conf,
            module: softhsm_module(),
        }
    }

    /// Run the tool with `--module` SoftHSMv2 and no PIN variables from the caller's
    /// environment, so each test says exactly which PINs it gives.
    pub fn run(&self, args: &[&str]) -> Output {
        self.run_env(args, &[])
    }

    pub fn run_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ferrohsm-util"));
        cmd.arg("--module").arg(&self.module).args(args);
        cmd.env("SOFTHSM2_CONF", &self.conf);
        for var in [
            "FERROHSM_PIN",
            "FERROHSM_SO_PIN",
            "FERROHSM_NEW_PIN",
            "FERROHSM_MODULE",
        ] {
            cmd.env_remove(var);
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        // No terminal: the tool must never wait for a prompt in tests.
        cmd.stdin(std::process::Stdio::null());
        cmd.output()
            .unwrap_or_else(|e| panic!("cannot run ferrohsm-util: {e}"))
    }

    /// Run and require success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "ferrohsm-util {args:?} failed: {}",
            describe(&out)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Run and require failure with exit code 1; returns stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert_eq!(
            out.status.code(),
            Some(1),
            "ferrohsm-util {args:?}: {}",
            describe(&out)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    /// A token labelled `label` with SO PIN 12345678 and user PIN 1234.
    pub fn init_token(&self, label: &str) -> String {
        self.ok(&[
            "init-token",
            "--label",
            label,
            "--so-pin",
            "12345678",
            "--pin",
            "1234",
        ])
    }
}

pub fn describe(out: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A fixture from tests/data.
pub fn data(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
        .display()
        .to_string()
}
