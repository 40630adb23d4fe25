//! `init-token`: C_InitToken on the free slot (or, with --force, an existing token), then
//! C_InitPIN as the SO so the token is usable at once.

use crate::p11::{self, Module, P11Context, TokenRef};
use crate::pin::{self, PinSpec};
use anyhow::{bail, Result};
use cryptoki::session::UserType;
use cryptoki::slot::Slot;

/// PKCS#11 token labels are 32 bytes, blank padded.
const MAX_LABEL: usize = 32;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Label of the new token (at most 32 bytes)
    #[arg(long)]
    pub label: String,
    /// Slot to initialize [default: the free slot, or the token already carrying --label]
    #[arg(long, conflicts_with = "serial")]
    pub slot: Option<u64>,
    /// Serial number of an existing token to re-initialize
    #[arg(long)]
    pub serial: Option<String>,
    /// SO PIN (for an existing token: its current SO PIN)
    #[arg(long, value_name = "PIN")]
    pub so_pin: Option<String>,
    /// User PIN to set
    #[arg(long, value_name = "PIN")]
    pub pin: Option<String>,
    /// Allow re-initializing an existing token: this destroys every object on it
    #[arg(long)]
    pub force: bool,
    /// Algorithm policy of the token (ferrohsm only) [default: the module's default_policy,
    /// compat unless configured]
    #[arg(long, value_parser = ["compat", "strict"])]
    pub policy: Option<String>,
}

/// The variable through which ferrohsm's C_InitToken takes a policy: PKCS#11 has no argument
/// for it. Read by the module at C_Initialize, so it is set before the module is loaded.
const POLICY_VAR: &str = "FERROHSM_DEFAULT_POLICY";

/// Before the module is loaded: hand it the policy asked for.
pub fn before_load(args: &Args) {
    if let Some(p) = &args.policy {
        std::env::set_var(POLICY_VAR, p);
    }
}

/// The slot to initialize, and the token it holds now if that one is initialized.
fn target(module: &Module, args: &Args) -> Result<(Slot, Option<TokenRef>)> {
    let ctx = module.ctx()?;
    if let Some(id) = args.slot {
        let slot = p11::slot_from_id(id)?;
        let info = ctx
            .get_token_info(slot)
            .p11(|| format!("no usable token in slot {id} (see show-slots)"))?;
        let existing = info.token_initialized().then(|| TokenRef::new(slot, &info));
        return Ok((slot, existing));
    }
    let all = p11::tokens(module)?;
    let initialized = || all.iter().filter(|(_, i)| i.token_initialized());
    if let Some(serial) = &args.serial {
        return match initialized().find(|(_, i)| i.serial_number().trim_end() == serial) {
            Some((slot, info)) => Ok((*slot, Some(TokenRef::new(*slot, info)))),
            None => bail!("no initialized token has serial {serial} (see show-slots)"),
        };
    }
    // The same label again most likely means the user wants to start that token afresh;
    // initializing a second token of the same name would make --label ambiguous later.
    let same: Vec<_> = initialized()
        .filter(|(_, i)| i.label().trim_end() == args.label)
        .collect();
    match same.as_slice() {
        [] => {}
        [(slot, info)] => return Ok((*slot, Some(TokenRef::new(*slot, info)))),
        many => {
            let serials: Vec<&str> = many.iter().map(|(_, i)| i.serial_number().trim()).collect();
            bail!(
                "several tokens are labelled \"{}\" (serials {}); choose one with --serial",
                args.label,
                serials.join(", ")
            )
        }
    }
    match all.iter().find(|(_, i)| !i.token_initialized()) {
        Some((slot, _)) => Ok((*slot, None)),
        None => bail!(
            "the module offers no slot with an uninitialized token; \
             re-initialize an existing one with --slot or --serial and --force"
        ),
    }
}

/// Initialize a token and set its user PIN; returns the token as it now is.
pub fn init(
    module: &Module,
    slot: Slot,
    label: &str,
    so_pin: &cryptoki::types::AuthPin,
    user_pin: &cryptoki::types::AuthPin,
) -> Result<TokenRef> {
    let ctx = module.ctx()?;
    ctx.init_token(slot, so_pin, label).p11(|| {
        format!(
            "cannot initialize the token in slot {} as \"{label}\"",
            slot.id()
        )
    })?;
    // The token keeps this slot ID for the rest of this process, so we can go on using it.
    let info = ctx.get_token_info(slot).p11(|| {
        format!(
            "cannot read the new token \"{label}\" in slot {}",
            slot.id()
        )
    })?;
    let token = TokenRef::new(slot, &info);
    let session = token.open_rw(module)?;
    token.login(&session, UserType::So, so_pin)?;
    session
        .init_pin(user_pin)
        .p11(|| format!("cannot set the user PIN of {token}"))?;
    session
        .logout()
        .p11(|| format!("cannot log out of {token}"))?;
    drop(session);
    // Some modules (SoftHSMv2) give a newly initialized token a new slot ID on the next slot
    // scan; report the ID the token will have from now on, found by its serial.
    let now = p11::tokens(module)?
        .into_iter()
        .find(|(_, i)| i.token_initialized() && i.serial_number().trim_end() == token.serial)
        .map(|(slot, info)| TokenRef::new(slot, &info));
    Ok(now.unwrap_or(token))
}

pub fn run(module: &Module, args: Args) -> Result<()> {
    if args.label.is_empty() || args.label.len() > MAX_LABEL {
        bail!(
            "the token label must be 1 to {MAX_LABEL} bytes long, \"{}\" has {}",
            args.label,
            args.label.len()
        );
    }
    if args.policy.is_some() && module.manufacturer()? != "ferrohsm" {
        bail!(
            "--policy is for ferrohsm tokens; {} is another module",
            module.path.display()
        );
    }
    let (slot, existing) = target(module, &args)?;
    if let Some(token) = &existing {
        if !args.force {
            bail!(
                "{token} is already initialized; re-initializing destroys every object on it: \
                 pass --force and its current SO PIN"
            );
        }
    }
    // A new SO PIN is typed twice; an existing one is checked by the token itself.
    let so_spec = PinSpec {
        confirm: existing.is_none(),
        ..pin::SO_PIN
    };
    let so_pin = pin::get(so_spec, args.so_pin)?;
    let user_pin = pin::get(
        PinSpec {
            confirm: true,
            ..pin::USER_PIN
        },
        args.pin,
    )?;
    let token = match init(module, slot, &args.label, &so_pin, &user_pin) {
        Ok(t) => t,
        Err(e) => match &existing {
            Some(old) => return Err(e.context(format!("re-initializing {old} failed"))),
            None => return Err(e),
        },
    };
    let verb = if existing.is_some() {
        "Re-initialized"
    } else {
        "Initialized"
    };
    say!(
        "{verb} token \"{}\" in slot {}",
        token.label,
        token.slot.id()
    );
    say!("Slot ID: {}", token.slot.id());
    say!("Serial:  {}", token.serial);
    let info = module
        .ctx()?
        .get_slot_info(token.slot)
        .p11(|| format!("cannot read slot {}", token.slot.id()))?;
    let policy = crate::cmd::show_slots::policy(&info);
    if let Some(p) = policy {
        say!("Policy:  {p}");
    }
    if let Some(want) = &args.policy {
        if policy != Some(want.as_str()) {
            bail!(
                "{token} was initialized, but the module reports policy {} instead of {want}",
                policy.unwrap_or("(none)")
            );
        }
    }
    Ok(())
}
