//! Loading a PKCS#11 module and finding its tokens; turns `cryptoki` errors into messages that
//! carry the C_ function and CKR_ name, since the crate's own texts are long spec quotations.

use anyhow::{anyhow, bail, Context, Result};
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::{Limit, Slot, TokenInfo};
use cryptoki::types::AuthPin;
use std::fmt;
use std::path::{Path, PathBuf};

/// File name of the ferrohsm module, looked for beside this executable.
const DEFAULT_MODULE: &str = "libferrohsm.so";

/// `--module`, else `FERROHSM_MODULE`, else `libferrohsm.so` next to the executable (cargo puts
/// both in the same target directory).
pub fn module_path(flag: Option<PathBuf>) -> Result<PathBuf> {
    if let Some(path) = flag {
        return Ok(path);
    }
    if let Some(path) = std::env::var_os("FERROHSM_MODULE").filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(path));
    }
    let exe = std::env::current_exe().context("cannot find this program's own path")?;
    let beside = exe.parent().map(|dir| dir.join(DEFAULT_MODULE));
    match beside {
        Some(path) if path.is_file() => Ok(path),
        _ => bail!(
            "no PKCS#11 module given and no {DEFAULT_MODULE} beside {}: \
             pass --module PATH or set FERROHSM_MODULE",
            exe.display()
        ),
    }
}

/// A loaded and initialized module; finalized when dropped so the module can flush its state.
#[derive(Debug)]
pub struct Module {
    ctx: Option<Pkcs11>,
    pub path: PathBuf,
}

impl Module {
    pub fn load(path: &Path) -> Result<Module> {
        let ctx = Pkcs11::new(path)
            .map_err(|e| anyhow!("cannot load PKCS#11 module {}: {e}", path.display()))?;
        match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
            // Harmless when something in this process initialized it already.
            Ok(()) | Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
            Err(e) => {
                return Err(P11Error(e))
                    .with_context(|| format!("cannot initialize module {}", path.display()))
            }
        }
        Ok(Module {
            ctx: Some(ctx),
            path: path.to_owned(),
        })
    }

    pub fn ctx(&self) -> Result<&Pkcs11> {
        self.ctx
            .as_ref()
            .ok_or_else(|| anyhow!("the module was already finalized"))
    }

    /// Finalize now (before touching the module's files); errors are reported, not hidden.
    pub fn finalize(mut self) -> Result<()> {
        match self.ctx.take() {
            Some(ctx) => ctx
                .finalize()
                .p11(|| "cannot finalize the module".to_string()),
            None => Ok(()),
        }
    }

    /// Manufacturer from C_GetInfo, blank padding removed.
    pub fn manufacturer(&self) -> Result<String> {
        let info = self
            .ctx()?
            .get_library_info()
            .p11(|| "cannot read module info".to_string())?;
        Ok(info.manufacturer_id().trim().to_string())
    }
}

impl Drop for Module {
    fn drop(&mut self) {
        if let Some(ctx) = self.ctx.take() {
            // Nothing useful can be done about a failure at exit.
            let _ = ctx.finalize();
        }
    }
}

/// A cryptoki error shown as `C_Function returned CKR_NAME (hint)`.
#[derive(Debug)]
pub struct P11Error(pub CkError);

impl P11Error {
    pub fn rv(&self) -> Option<RvError> {
        match &self.0 {
            CkError::Pkcs11(rv, _) => Some(*rv),
            _ => None,
        }
    }
}

impl fmt::Display for P11Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            CkError::Pkcs11(rv, func) => {
                write!(f, "C_{func:?} returned {}", ckr_name(rv))?;
                if let Some(hint) = hint(rv) {
                    write!(f, " ({hint})")?;
                }
                Ok(())
            }
            other => write!(f, "{other}"),
        }
    }
}

impl std::error::Error for P11Error {}

/// The specification's CKR_ name: cryptoki's variant names are the CKR_ names in CamelCase.
pub fn ckr_name(rv: &RvError) -> String {
    match rv {
        RvError::VendorDefined(code) => format!("CKR_VENDOR_DEFINED+{code:#x}"),
        RvError::UnknownErrorCode(code) => format!("unknown return code {code:#x}"),
        other => {
            let camel = format!("{other:?}");
            let mut out = String::from("CKR_");
            for (i, c) in camel.chars().enumerate() {
                if c.is_ascii_uppercase() && i > 0 {
                    out.push('_');
                }
                out.push(c.to_ascii_uppercase());
            }
            out
        }
    }
}

/// Plain words for the codes a user of this tool is likely to meet.
fn hint(rv: &RvError) -> Option<&'static str> {
    Some(match rv {
        RvError::PinIncorrect => "wrong PIN",
        RvError::PinLocked => "the PIN is locked after too many wrong tries",
        RvError::PinLenRange => "PIN length outside the token's range, see show-slots",
        RvError::PinInvalid => "the PIN contains characters the token does not accept",
        RvError::UserPinNotInitialized => "the user PIN was never set",
        RvError::TokenNotRecognized => "the module cannot read this token",
        RvError::DeviceError => "the token's storage reported an error",
        RvError::FunctionNotSupported => "the module does not implement this function",
        RvError::SlotIdInvalid => "no such slot",
        RvError::TokenWriteProtected => "the token is write-protected",
        RvError::SessionReadOnlyExists => "a read-only session is open on this token",
        RvError::SessionExists => "sessions are open on this token",
        RvError::UserAnotherAlreadyLoggedIn => "another user type is logged in",
        RvError::TemplateIncomplete | RvError::TemplateInconsistent => {
            "the module rejected the attribute set"
        }
        RvError::AttributeValueInvalid => "the module rejected an attribute value",
        RvError::AttributeTypeInvalid => "the module does not know an attribute",
        _ => return None,
    })
}

/// `.p11(|| "what was being done")` on cryptoki results.
pub trait P11Context<T> {
    fn p11(self, what: impl FnOnce() -> String) -> Result<T>;
}

impl<T> P11Context<T> for cryptoki::error::Result<T> {
    fn p11(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| anyhow::Error::new(P11Error(e)).context(what()))
    }
}

/// The return code behind an error, if it came from the module.
pub fn rv_of(err: &anyhow::Error) -> Option<RvError> {
    err.chain()
        .find_map(|e| e.downcast_ref::<P11Error>())
        .and_then(P11Error::rv)
}

/// An initialized token, named the way every message names it.
#[derive(Debug, Clone)]
pub struct TokenRef {
    pub slot: Slot,
    pub label: String,
    pub serial: String,
}

impl fmt::Display for TokenRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "token \"{}\" (serial {}, slot {})",
            self.label,
            self.serial,
            self.slot.id()
        )
    }
}

impl TokenRef {
    pub fn new(slot: Slot, info: &TokenInfo) -> TokenRef {
        TokenRef {
            slot,
            label: info.label().trim_end().to_string(),
            serial: info.serial_number().trim_end().to_string(),
        }
    }

    pub fn info(&self, module: &Module) -> Result<TokenInfo> {
        module
            .ctx()?
            .get_token_info(self.slot)
            .p11(|| format!("cannot read {self}"))
    }

    pub fn open_ro(&self, module: &Module) -> Result<Session> {
        module
            .ctx()?
            .open_ro_session(self.slot)
            .p11(|| format!("cannot open a session on {self}"))
    }

    pub fn open_rw(&self, module: &Module) -> Result<Session> {
        module
            .ctx()?
            .open_rw_session(self.slot)
            .p11(|| format!("cannot open a read/write session on {self}"))
    }

    /// C_Login; "already logged in" counts as success since login is shared per application.
    pub fn login(&self, session: &Session, user: UserType, pin: &AuthPin) -> Result<()> {
        match session.login(user, Some(pin)) {
            Ok(()) | Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => Ok(()),
            Err(e) => Err(P11Error(e)).with_context(|| {
                let who = if matches!(user, UserType::So) {
                    "SO"
                } else {
                    "user"
                };
                format!("cannot log in as {who} to {self}")
            }),
        }
    }
}

/// How a command names an existing token.
#[derive(Debug, Clone, clap::Args)]
#[group(required = true, multiple = false)]
pub struct TokenSel {
    /// Slot ID of the token (see show-slots)
    #[arg(long)]
    pub slot: Option<u64>,
    /// Serial number of the token
    #[arg(long)]
    pub serial: Option<String>,
    /// Label of the token
    #[arg(long, visible_alias = "token")]
    pub label: Option<String>,
}

/// Every slot with a token present, with that token's info.
pub fn tokens(module: &Module) -> Result<Vec<(Slot, TokenInfo)>> {
    let ctx = module.ctx()?;
    let slots = ctx
        .get_slots_with_token()
        .p11(|| "cannot list slots".to_string())?;
    let mut out = Vec::with_capacity(slots.len());
    for slot in slots {
        let info = ctx
            .get_token_info(slot)
            .p11(|| format!("cannot read the token in slot {}", slot.id()))?;
        out.push((slot, info));
    }
    Ok(out)
}

pub fn slot_from_id(id: u64) -> Result<Slot> {
    Slot::try_from(id).map_err(|e| anyhow!("slot ID {id} does not fit this platform: {e}"))
}

/// Find the initialized token named by `--slot`, `--serial` or `--label`.
pub fn find_token(module: &Module, sel: &TokenSel) -> Result<TokenRef> {
    if let Some(id) = sel.slot {
        let slot = slot_from_id(id)?;
        let info = module
            .ctx()?
            .get_token_info(slot)
            .p11(|| format!("no usable token in slot {id} (see show-slots)"))?;
        if !info.token_initialized() {
            bail!("the token in slot {id} is not initialized (use init-token)");
        }
        return Ok(TokenRef::new(slot, &info));
    }
    let all = tokens(module)?;
    let (what, matches): (String, Vec<TokenRef>) = if let Some(serial) = &sel.serial {
        (
            format!("serial {serial}"),
            all.iter()
                .filter(|(_, i)| i.token_initialized() && i.serial_number().trim_end() == serial)
                .map(|(s, i)| TokenRef::new(*s, i))
                .collect(),
        )
    } else if let Some(label) = &sel.label {
        (
            format!("label \"{label}\""),
            all.iter()
                .filter(|(_, i)| i.token_initialized() && i.label().trim_end() == label)
                .map(|(s, i)| TokenRef::new(*s, i))
                .collect(),
        )
    } else {
        bail!("name the token with --slot, --serial or --label");
    };
    match matches.as_slice() {
        [one] => Ok(one.clone()),
        [] => {
            let known: Vec<String> = all
                .iter()
                .filter(|(_, i)| i.token_initialized())
                .map(|(s, i)| TokenRef::new(*s, i).to_string())
                .collect();
            if known.is_empty() {
                bail!("no token with {what}: the module has no initialized token (use init-token)")
            }
            bail!("no token with {what}; the module has: {}", known.join(", "))
        }
        many => {
            let serials: Vec<&str> = many.iter().map(|t| t.serial.as_str()).collect();
            bail!(
                "several tokens have {what} (serials {}); choose one with --serial",
                serials.join(", ")
            )
        }
    }
}

/// Readable form of a session limit from C_GetTokenInfo.
pub fn limit(l: Limit) -> String {
    match l {
        Limit::Max(n) => n.to_string(),
        Limit::Infinite => "unlimited".to_string(),
        Limit::Unavailable => "unknown".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ckr_names_follow_the_specification() {
        assert_eq!(ckr_name(&RvError::PinIncorrect), "CKR_PIN_INCORRECT");
        assert_eq!(ckr_name(&RvError::SlotIdInvalid), "CKR_SLOT_ID_INVALID");
        assert_eq!(
            ckr_name(&RvError::CryptokiNotInitialized),
            "CKR_CRYPTOKI_NOT_INITIALIZED"
        );
        assert_eq!(ckr_name(&RvError::Cancel), "CKR_CANCEL");
    }

    #[test]
    fn error_text_names_function_and_code() {
        let err = P11Error(CkError::Pkcs11(
            RvError::PinIncorrect,
            cryptoki::context::Function::Login,
        ));
        assert_eq!(
            err.to_string(),
            "C_Login returned CKR_PIN_INCORRECT (wrong PIN)"
        );
        let wrapped: Result<()> = Err(err.0).p11(|| "cannot log in to token \"x\"".to_string());
        let text = wrapped.err().map(|e| format!("{e:#}")).unwrap_or_default();
        assert!(
            text.starts_with("cannot log in to token \"x\": C_Login"),
            "{text}"
        );
    }
}
