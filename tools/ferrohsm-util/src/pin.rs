//! PIN input: from a flag, else an environment variable, else a no-echo prompt on a terminal.
//! PINs live in `AuthPin` (zeroized on drop) and are never printed, not even in errors.

use anyhow::{bail, Context, Result};
use cryptoki::types::AuthPin;
use std::io::IsTerminal;

/// Environment variable for the SO PIN.
pub const ENV_SO_PIN: &str = "FERROHSM_SO_PIN";
/// Environment variable for the user PIN (or the old PIN of `set-pin`).
pub const ENV_PIN: &str = "FERROHSM_PIN";
/// Environment variable for the new PIN of `set-pin`.
pub const ENV_NEW_PIN: &str = "FERROHSM_NEW_PIN";

/// Which PIN is asked for: its name in prompts and messages, and its variable.
#[derive(Debug, Clone, Copy)]
pub struct PinSpec {
    pub what: &'static str,
    pub flag: &'static str,
    pub env: &'static str,
    /// Ask twice on a terminal, for PINs being set.
    pub confirm: bool,
}

pub const SO_PIN: PinSpec = PinSpec {
    what: "SO PIN",
    flag: "--so-pin",
    env: ENV_SO_PIN,
    confirm: false,
};
pub const USER_PIN: PinSpec = PinSpec {
    what: "user PIN",
    flag: "--pin",
    env: ENV_PIN,
    confirm: false,
};

/// Resolve a PIN. `flag` is the value given on the command line, if any.
pub fn get(spec: PinSpec, flag: Option<String>) -> Result<AuthPin> {
    match lookup(spec, flag)? {
        Some(pin) => Ok(pin),
        None => bail!(
            "no {} given: pass {}, set {}, or run on a terminal to be asked",
            spec.what,
            spec.flag,
            spec.env
        ),
    }
}

/// Like [`get`], but `None` when no PIN was given and there is no terminal to ask on.
pub fn optional(spec: PinSpec, flag: Option<String>, prompt: bool) -> Result<Option<AuthPin>> {
    if flag.is_some() || env(spec.env).is_some() || prompt {
        return lookup(spec, flag);
    }
    Ok(None)
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn lookup(spec: PinSpec, flag: Option<String>) -> Result<Option<AuthPin>> {
    if let Some(pin) = flag.or_else(|| env(spec.env)) {
        return Ok(Some(checked(spec, pin)?));
    }
    if !std::io::stdin().is_terminal() {
        return Ok(None);
    }
    let prompt = capitalized(spec.what);
    let first = rpassword::prompt_password(format!("{prompt}: "))
        .with_context(|| format!("cannot read the {}", spec.what))?;
    if spec.confirm {
        let again = zeroize::Zeroizing::new(
            rpassword::prompt_password(format!("{prompt} again: "))
                .with_context(|| format!("cannot read the {}", spec.what))?,
        );
        if *again != first {
            bail!("the two {}s differ", spec.what);
        }
    }
    Ok(Some(checked(spec, first)?))
}

fn capitalized(what: &str) -> String {
    let mut chars = what.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn checked(spec: PinSpec, pin: String) -> Result<AuthPin> {
    // A trailing newline from `echo pin | …` or a file would silently become part of the PIN.
    let pin = zeroize::Zeroizing::new(pin);
    let trimmed = pin.trim_end_matches(['\r', '\n']);
    if trimmed.is_empty() {
        bail!("the {} is empty", spec.what);
    }
    Ok(AuthPin::from(trimmed.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn flag_wins_and_newline_is_dropped() -> Result<()> {
        let pin = get(USER_PIN, Some("1234\n".to_string()))?;
        assert_eq!(pin.expose_secret(), "1234");
        Ok(())
    }

    #[test]
    fn empty_pin_is_refused_without_echoing() {
        let err = get(SO_PIN, Some(String::new()))
            .err()
            .map(|e| e.to_string());
        assert_eq!(err.as_deref(), Some("the SO PIN is empty"));
    }
}
