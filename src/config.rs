//! Module configuration: a TOML file named by `FERROHSM_CONF`, else
//! `$XDG_CONFIG_HOME/ferrohsm/ferrohsm.toml`; `FERROHSM_TOKEN_DIR` overrides the token directory.
//! Read once per `C_Initialize` (PKCS#11 leaves configuration to the module).

use crate::mechanism::policy::Policy;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// Argon2id cost for deriving PIN keys. Stored beside every wrap, so changing it only affects
/// PINs set afterwards.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct KdfConfig {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl Default for KdfConfig {
    fn default() -> Self {
        // About 40 ms on one core of the reference machine: C_Login stays well under 100 ms.
        KdfConfig {
            memory_kib: 19 * 1024,
            iterations: 2,
            parallelism: 1,
        }
    }
}

/// The largest Argon2id memory cost accepted (256 MiB), from the configuration or a token file.
pub const KDF_MAX_MEMORY_KIB: u32 = 256 * 1024;
/// The most Argon2id passes accepted.
pub const KDF_MAX_ITERATIONS: u32 = 16;
/// The most Argon2id lanes accepted.
pub const KDF_MAX_PARALLELISM: u32 = 16;
/// The most work one PIN check may cost: memory times passes, in KiB (256 MiB for one pass,
/// 128 MiB for two, ...: about a quarter of a second on one core). A token file is not trusted
/// to choose its own cost: the same limits apply to the parameters it carries, so a file asking
/// for more is refused at once instead of holding C_Login for minutes.
pub const KDF_MAX_WORK_KIB: u64 = 256 * 1024;

/// Whether Argon2id costs are within the limits, and why not.
pub fn kdf_allowed(memory_kib: u32, iterations: u32, parallelism: u32) -> Result<(), String> {
    let ok = (1..=KDF_MAX_ITERATIONS).contains(&iterations)
        && (1..=KDF_MAX_PARALLELISM).contains(&parallelism)
        && memory_kib <= KDF_MAX_MEMORY_KIB
        && memory_kib >= 8 * parallelism
        && u64::from(memory_kib) * u64::from(iterations) <= KDF_MAX_WORK_KIB;
    if ok {
        Ok(())
    } else {
        Err(format!(
            "need 1 <= iterations <= {KDF_MAX_ITERATIONS}, 1 <= parallelism <= {KDF_MAX_PARALLELISM}, \
             8 * parallelism <= memory_kib <= {KDF_MAX_MEMORY_KIB} and memory_kib * iterations <= \
             {KDF_MAX_WORK_KIB} (got memory_kib {memory_kib}, iterations {iterations}, parallelism \
             {parallelism})"
        ))
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Directory holding one `<serial>.sqlite` file per token.
    pub token_dir: PathBuf,
    /// A PostgreSQL database holding the tokens instead (`postgresql://...` or libpq's
    /// key=value form); `FERROHSM_STORE_URL` overrides it. Either one overrides `token_dir`.
    pub store_url: Option<String>,
    /// How long a round trip to the PostgreSQL server may take before the call fails with
    /// CKR_DEVICE_ERROR.
    pub store_timeout_ms: u64,
    /// Failed logins after which a PIN is locked.
    pub max_login_attempts: u32,
    pub min_pin_len: u32,
    pub max_pin_len: u32,
    /// `off`, `warn`, `info` or `debug`; `FERROHSM_LOG` overrides it.
    pub log_level: String,
    /// Log to this file instead of stderr.
    pub log_file: Option<PathBuf>,
    pub kdf: KdfConfig,
    /// The algorithm policy C_InitToken gives a token (`compat` or `strict`);
    /// `FERROHSM_DEFAULT_POLICY` overrides it (`ferrohsm-util init-token --policy` sets that).
    #[serde(deserialize_with = "policy_name")]
    pub default_policy: Policy,
}

/// The environment variable that overrides `store_url`.
pub const STORE_URL_VAR: &str = "FERROHSM_STORE_URL";

/// The environment variable that overrides `default_policy`.
pub const POLICY_VAR: &str = "FERROHSM_DEFAULT_POLICY";

fn policy_name<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Policy, D::Error> {
    let s = String::deserialize(d)?;
    Policy::from_name(&s).ok_or_else(|| {
        serde::de::Error::custom(format!(
            "default_policy must be \"compat\" or \"strict\", not {s:?}"
        ))
    })
}

impl Default for Config {
    fn default() -> Self {
        Config {
            token_dir: default_token_dir(),
            store_url: None,
            store_timeout_ms: 5000,
            max_login_attempts: 10,
            min_pin_len: 4,
            max_pin_len: 255,
            log_level: "off".into(),
            log_file: None,
            kdf: KdfConfig::default(),
            default_policy: Policy::default(),
        }
    }
}

/// Why a configuration could not be used; reported by `C_Initialize` as `CKR_FUNCTION_FAILED`.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid configuration in {path}: {source}")]
    Parse {
        path: PathBuf,
        source: toml::de::Error,
    },
    #[error("invalid configuration in {path}: {why}")]
    Invalid { path: PathBuf, why: String },
}

fn home() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/tmp"))
}

fn xdg(var: &str, fallback: &str) -> PathBuf {
    match std::env::var_os(var) {
        Some(v) if !v.is_empty() && Path::new(&v).is_absolute() => PathBuf::from(v),
        _ => home().join(fallback),
    }
}

/// `$XDG_DATA_HOME/ferrohsm/tokens`, with the XDG fallback `~/.local/share`.
pub fn default_token_dir() -> PathBuf {
    xdg("XDG_DATA_HOME", ".local/share")
        .join("ferrohsm")
        .join("tokens")
}

/// The configuration file that applies: `FERROHSM_CONF`, else the XDG location.
pub fn config_path() -> PathBuf {
    match std::env::var_os("FERROHSM_CONF") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => xdg("XDG_CONFIG_HOME", ".config")
            .join("ferrohsm")
            .join("ferrohsm.toml"),
    }
}

impl Config {
    /// Load the configuration from the environment. A missing file at the default location means
    /// the defaults; a file named by `FERROHSM_CONF` must exist.
    pub fn load() -> Result<Config, ConfigError> {
        let path = config_path();
        let explicit = std::env::var_os("FERROHSM_CONF").is_some_and(|p| !p.is_empty());
        let mut cfg = match std::fs::read_to_string(&path) {
            Ok(text) => Config::parse(&text, &path)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => Config::default(),
            Err(source) => return Err(ConfigError::Read { path, source }),
        };
        if let Some(dir) = std::env::var_os("FERROHSM_TOKEN_DIR").filter(|d| !d.is_empty()) {
            cfg.token_dir = PathBuf::from(dir);
        }
        if let Some(url) = std::env::var_os(STORE_URL_VAR).filter(|u| !u.is_empty()) {
            cfg.store_url =
                Some(
                    url.to_str()
                        .map(str::to_owned)
                        .ok_or_else(|| ConfigError::Invalid {
                            path: path.clone(),
                            why: format!("{STORE_URL_VAR} is not UTF-8"),
                        })?,
                );
        }
        if let Ok(level) = std::env::var("FERROHSM_LOG") {
            cfg.log_level = level;
        }
        if let Some(v) = std::env::var_os(POLICY_VAR).filter(|v| !v.is_empty()) {
            cfg.default_policy =
                v.to_str()
                    .and_then(Policy::from_name)
                    .ok_or_else(|| ConfigError::Invalid {
                        path: path.clone(),
                        why: format!("{POLICY_VAR} must be \"compat\" or \"strict\", not {v:?}"),
                    })?;
        }
        Ok(cfg)
    }

    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let cfg: Config = toml::from_str(text).map_err(|source| ConfigError::Parse {
            path: path.to_owned(),
            source,
        })?;
        let invalid = |why: &str| ConfigError::Invalid {
            path: path.to_owned(),
            why: why.into(),
        };
        if cfg.min_pin_len == 0 || cfg.min_pin_len > cfg.max_pin_len {
            return Err(invalid("need 1 <= min_pin_len <= max_pin_len"));
        }
        if cfg.store_timeout_ms == 0 || cfg.store_timeout_ms > 600_000 {
            return Err(invalid("store_timeout_ms must be between 1 and 600000"));
        }
        if cfg.max_login_attempts == 0 {
            return Err(invalid("max_login_attempts must be at least 1"));
        }
        if let Err(why) = kdf_allowed(cfg.kdf.memory_kib, cfg.kdf.iterations, cfg.kdf.parallelism) {
            return Err(invalid(&format!("kdf: {why}")));
        }
        Ok(cfg)
    }

    /// The file of the token with this serial number.
    pub fn token_file(&self, serial: &str) -> PathBuf {
        self.token_dir.join(format!("{serial}.sqlite"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_partial_file_with_defaults() {
        let c = Config::parse(
            "max_login_attempts = 3\n[kdf]\nmemory_kib = 64\n",
            Path::new("x"),
        )
        .unwrap_or_default();
        assert_eq!(c.max_login_attempts, 3);
        assert_eq!(c.kdf.memory_kib, 64);
        assert_eq!(c.kdf.iterations, 2);
    }

    #[test]
    fn rejects_unknown_keys_and_bad_values() {
        assert!(Config::parse("bogus = 1", Path::new("x")).is_err());
        assert!(Config::parse("min_pin_len = 0", Path::new("x")).is_err());
    }

    #[test]
    fn default_policy_is_compat_or_strict() {
        assert_eq!(Config::default().default_policy, Policy::Compat);
        let strict = Config::parse("default_policy = \"strict\"", Path::new("x"));
        assert_eq!(strict.map(|c| c.default_policy).ok(), Some(Policy::Strict));
        assert!(Config::parse("default_policy = \"fips\"", Path::new("x")).is_err());
        assert!(Config::parse("default_policy = 1", Path::new("x")).is_err());
    }

    #[test]
    fn kdf_costs_are_bounded() {
        assert!(Config::parse(
            "[kdf]\nmemory_kib = 262144\niterations = 1\n",
            Path::new("x")
        )
        .is_ok());
        for bad in [
            "[kdf]\nmemory_kib = 262144\niterations = 2\n",
            "[kdf]\nmemory_kib = 1048576\niterations = 1\n",
            "[kdf]\niterations = 17\nmemory_kib = 64\n",
            "[kdf]\nparallelism = 17\n",
            "[kdf]\nmemory_kib = 8\nparallelism = 2\n",
        ] {
            assert!(Config::parse(bad, Path::new("x")).is_err(), "{bad}");
        }
    }
}
