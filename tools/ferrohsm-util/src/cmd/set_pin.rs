//! `set-pin`: C_Login with the old PIN, then C_SetPIN, for the user or (with --so) the SO.

use crate::p11::{find_token, Module, P11Context, TokenSel};
use crate::pin::{self, PinSpec};
use anyhow::Result;
use cryptoki::session::UserType;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub token: TokenSel,
    /// Change the SO PIN instead of the user PIN
    #[arg(long)]
    pub so: bool,
    /// Current PIN [env: FERROHSM_PIN, or FERROHSM_SO_PIN with --so]
    #[arg(long, value_name = "PIN")]
    pub old_pin: Option<String>,
    /// New PIN [env: FERROHSM_NEW_PIN]
    #[arg(long, value_name = "PIN")]
    pub new_pin: Option<String>,
}

pub fn run(module: &Module, args: Args) -> Result<()> {
    let token = find_token(module, &args.token)?;
    let (user, who, env) = if args.so {
        (UserType::So, "SO", pin::ENV_SO_PIN)
    } else {
        (UserType::User, "user", pin::ENV_PIN)
    };
    let old_spec = PinSpec {
        what: if args.so {
            "current SO PIN"
        } else {
            "current user PIN"
        },
        flag: "--old-pin",
        env,
        confirm: false,
    };
    let new_spec = PinSpec {
        what: if args.so {
            "new SO PIN"
        } else {
            "new user PIN"
        },
        flag: "--new-pin",
        env: pin::ENV_NEW_PIN,
        confirm: true,
    };
    let old_pin = pin::get(old_spec, args.old_pin)?;
    let new_pin = pin::get(new_spec, args.new_pin)?;
    // C_SetPIN needs a read/write session, and the PIN it changes is that of the logged-in user.
    let session = token.open_rw(module)?;
    token.login(&session, user, &old_pin)?;
    session
        .set_pin(&old_pin, &new_pin)
        .p11(|| format!("cannot change the {who} PIN of {token}"))?;
    session
        .logout()
        .p11(|| format!("cannot log out of {token}"))?;
    say!("Changed the {who} PIN of {token}");
    Ok(())
}
