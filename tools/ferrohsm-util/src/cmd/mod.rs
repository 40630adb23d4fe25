//! One module per subcommand; each takes the loaded module and its parsed arguments.

pub mod audit;
pub mod delete_token;
pub mod demo;
pub mod import;
pub mod init_token;
pub mod list_objects;
pub mod migrate;
pub mod set_pin;
pub mod show_slots;

/// A store error for the commands that read the stores directly (migrate, audit).
pub fn store_err(e: ferrohsm::error::Error) -> anyhow::Error {
    anyhow::anyhow!("{e:?}")
}

/// The one token among `keys` (a store's tokens, as `Location::list` names them) that has
/// `serial`, or the only one when no serial is given; otherwise an error naming the choices.
pub fn one_token(
    loc: &ferrohsm::store::location::Location,
    keys: Vec<String>,
    serial: Option<&str>,
) -> anyhow::Result<String> {
    let keys: Vec<String> = match serial {
        Some(s) => keys.into_iter().filter(|k| loc.name_of(k) == s).collect(),
        None => keys,
    };
    match keys.as_slice() {
        [k] => Ok(k.clone()),
        [] => anyhow::bail!(
            "no token{} in {}",
            serial
                .map(|s| format!(" with serial {s}"))
                .unwrap_or_default(),
            loc.describe()
        ),
        _ => anyhow::bail!(
            "{} holds {} tokens: name one with --serial ({})",
            loc.describe(),
            keys.len(),
            keys.iter()
                .map(|k| loc.name_of(k))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Lowercase hex, for CKA_ID and similar binary attributes.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Attribute bytes shown as text when they are printable UTF-8 (labels usually are).
pub fn text(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) if !s.chars().any(char::is_control) => format!("\"{s}\""),
        _ => format!("0x{}", hex(bytes)),
    }
}
