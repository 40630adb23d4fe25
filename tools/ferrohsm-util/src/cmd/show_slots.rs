//! `show-slots`: every slot and its token as C_GetSlotInfo / C_GetTokenInfo report them,
//! flags spelled out in words.

use crate::p11::{self, Module, P11Context};
use anyhow::Result;
use cryptoki::slot::{SlotInfo, TokenInfo};

fn words(flags: &[(bool, &'static str)]) -> String {
    let set: Vec<&str> = flags
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, w)| *w)
        .collect();
    if set.is_empty() {
        "none".to_string()
    } else {
        set.join(", ")
    }
}

fn slot_flags(info: &SlotInfo) -> String {
    words(&[
        (info.token_present(), "token present"),
        (info.removable_device(), "removable device"),
        (info.hardware_slot(), "hardware slot"),
    ])
}

/// Token flags in the order the specification lists them.
pub fn token_flags(info: &TokenInfo) -> String {
    words(&[
        (info.token_initialized(), "initialized"),
        (info.user_pin_initialized(), "user PIN initialized"),
        (info.login_required(), "login required"),
        (info.rng(), "has RNG"),
        (info.write_protected(), "write protected"),
        (info.restore_key_not_needed(), "restore key not needed"),
        (info.clock_on_token(), "clock on token"),
        (
            info.protected_authentication_path(),
            "protected authentication path",
        ),
        (info.dual_crypto_operations(), "dual crypto operations"),
        (info.secondary_authentication(), "secondary authentication"),
        (info.error_state(), "error state"),
    ])
}

/// The PIN-count flags: the ones a user should notice before being locked out.
pub fn pin_flags(info: &TokenInfo) -> String {
    words(&[
        (info.user_pin_count_low(), "user PIN count low"),
        (info.user_pin_final_try(), "user PIN final try"),
        (info.user_pin_locked(), "user PIN locked"),
        (info.user_pin_to_be_changed(), "user PIN to be changed"),
        (info.so_pin_count_low(), "SO PIN count low"),
        (info.so_pin_final_try(), "SO PIN final try"),
        (info.so_pin_locked(), "SO PIN locked"),
        (info.so_pin_to_be_changed(), "SO PIN to be changed"),
    ])
}

/// A ferrohsm token's algorithm policy, which its slot description ends with
/// (`… policy=strict`): PKCS#11 has no field for it.
pub fn policy(info: &SlotInfo) -> Option<&str> {
    info.slot_description()
        .split_whitespace()
        .find_map(|w| w.strip_prefix("policy="))
}

/// Open sessions against the token's limits.
pub fn sessions(info: &TokenInfo) -> String {
    let count = |c: Option<u64>| c.map_or_else(|| "unknown".to_string(), |n| n.to_string());
    format!(
        "{} open of {} max, {} read/write of {} max",
        count(info.session_count()),
        p11::limit(info.max_session_count()),
        count(info.rw_session_count()),
        p11::limit(info.max_rw_session_count())
    )
}

pub fn run(module: &Module) -> Result<()> {
    let ctx = module.ctx()?;
    let lib = ctx
        .get_library_info()
        .p11(|| "cannot read module info".to_string())?;
    say!(
        "Module {}: {} {} (library {}.{}, Cryptoki {}.{})",
        module.path.display(),
        lib.manufacturer_id().trim(),
        lib.library_description().trim(),
        lib.library_version().major(),
        lib.library_version().minor(),
        lib.cryptoki_version().major(),
        lib.cryptoki_version().minor()
    );
    let slots = ctx
        .get_all_slots()
        .p11(|| "cannot list slots".to_string())?;
    if slots.is_empty() {
        say!("No slots.");
    }
    for slot in slots {
        let id = slot.id();
        let info = ctx
            .get_slot_info(slot)
            .p11(|| format!("cannot read slot {id}"))?;
        say!();
        say!("Slot {id}");
        say!("    Description:      {}", info.slot_description().trim());
        say!("    Manufacturer:     {}", info.manufacturer_id().trim());
        say!("    Slot flags:       {}", slot_flags(&info));
        if !info.token_present() {
            say!("    Token:            none");
            continue;
        }
        // One unreadable token should not hide the others, so report it in place.
        let token = match ctx
            .get_token_info(slot)
            .p11(|| format!("cannot read the token in slot {id}"))
        {
            Ok(t) => t,
            Err(e) => {
                say!("    Token:            error: {e:#}");
                continue;
            }
        };
        let label = token.label().trim_end();
        let shown = if token.token_initialized() {
            label
        } else {
            "(uninitialized: free slot)"
        };
        say!("    Token label:      {shown}");
        say!("    Serial number:    {}", token.serial_number().trim_end());
        say!(
            "    Manufacturer:     {}",
            token.manufacturer_id().trim_end()
        );
        say!("    Model:            {}", token.model().trim_end());
        if let Some(st) = info
            .slot_description()
            .split_whitespace()
            .find_map(|w| w.strip_prefix("store="))
        {
            say!("    Store:            {st}");
        }
        if let Some(p) = policy(&info) {
            say!("    Policy:           {p}");
        }
        say!("    Token flags:      {}", token_flags(&token));
        say!("    PIN flags:        {}", pin_flags(&token));
        say!("    Sessions:         {}", sessions(&token));
        say!(
            "    PIN length:       {} to {} bytes",
            token.min_pin_length(),
            token.max_pin_length()
        );
        if let Some(time) = token.utc_time() {
            say!("    Token time (UTC): {}", time.as_iso8601_string());
        }
    }
    Ok(())
}
