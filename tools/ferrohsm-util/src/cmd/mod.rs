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
