//! `demo`: the README's first command. Makes (once) a token labelled `ferrohsm-demo`, logs in,
//! stores a private and a public data object, finds and reads them back, uses keys (envelope
//! encryption under a non-extractable master key, an ECDSA signature), shows what login hides,
//! then removes what it created. Safe to run any number of times.

use super::show_slots::{pin_flags, sessions};
use crate::p11::{self, Module, P11Context, TokenRef};
use anyhow::{bail, Context, Result};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::types::AuthPin;

const DEMO_LABEL: &str = "ferrohsm-demo";
/// Fixed, published PINs: this token is for demonstration only.
const DEMO_SO_PIN: &str = "demo-so-pin";
const DEMO_PIN: &str = "demo-pin";
const APPLICATION: &str = "ferrohsm-util demo";
const PRIVATE_LABEL: &str = "ferrohsm-demo private note";
const PUBLIC_LABEL: &str = "ferrohsm-demo public note";
const PRIVATE_VALUE: &[u8] = b"only the logged-in user can read this";
const PUBLIC_VALUE: &[u8] = b"anyone with access to the token can read this";

fn step(n: u32, text: &str) -> Result<()> {
    say!("[{n}] {text}");
    Ok(())
}

fn find_data(session: &Session, label: &str) -> Result<Vec<ObjectHandle>> {
    session
        .find_objects(&[
            Attribute::Class(ObjectClass::DATA),
            Attribute::Label(label.as_bytes().to_vec()),
        ])
        .p11(|| format!("cannot search for \"{label}\""))
}

fn read_value(session: &Session, obj: ObjectHandle, label: &str) -> Result<Vec<u8>> {
    let attrs = session
        .get_attributes(obj, &[AttributeType::Value])
        .p11(|| format!("cannot read the value of \"{label}\""))?;
    match attrs.into_iter().next() {
        Some(Attribute::Value(v)) => Ok(v),
        _ => bail!("the module returned no CKA_VALUE for \"{label}\""),
    }
}

/// Create one data object, find it by label, read it back and compare.
fn round_trip(session: &Session, private: bool, label: &str, value: &[u8]) -> Result<()> {
    session
        .create_object(&[
            Attribute::Class(ObjectClass::DATA),
            Attribute::Token(true),
            Attribute::Private(private),
            Attribute::Label(label.as_bytes().to_vec()),
            Attribute::Application(APPLICATION.as_bytes().to_vec()),
            Attribute::Value(value.to_vec()),
        ])
        .p11(|| format!("cannot create the data object \"{label}\""))?;
    let found = find_data(session, label)?;
    let [obj] = found.as_slice() else {
        bail!(
            "searching for \"{label}\" found {} objects instead of 1",
            found.len()
        );
    };
    let back = read_value(session, *obj, label)?;
    if back != value {
        bail!(
            "\"{label}\" read back {} bytes that differ from what was stored",
            back.len()
        );
    }
    say!(
        "    created, found by label and read back \"{label}\" ({} bytes, match)",
        back.len()
    );
    Ok(())
}

fn destroy_all(session: &Session, label: &str) -> Result<usize> {
    let found = find_data(session, label)?;
    for obj in &found {
        session
            .destroy_object(*obj)
            .p11(|| format!("cannot destroy \"{label}\""))?;
    }
    Ok(found.len())
}

/// The demo token, made in the free slot when missing.
/// A secret key of 32 bytes generated on the token as a session object.
fn aes_key(session: &Session, extractable: bool, usage: &[Attribute]) -> Result<ObjectHandle> {
    let mut t = vec![
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::AES),
        Attribute::ValueLen(32.into()),
        Attribute::Token(false),
        Attribute::Sensitive(true),
        Attribute::Extractable(extractable),
    ];
    t.extend_from_slice(usage);
    session
        .generate_key(&Mechanism::AesKeyGen, &t)
        .context("C_GenerateKey (AES-256)")
}

/// Envelope encryption as a key store does it, then an ECDSA P-256 signature.
fn keys(session: &Session) -> Result<()> {
    let master = aes_key(
        session,
        false,
        &[Attribute::Wrap(true), Attribute::Unwrap(true)],
    )?;
    let data_key = aes_key(
        session,
        true,
        &[Attribute::Encrypt(true), Attribute::Decrypt(true)],
    )?;
    let message = b"a message sealed under a data key";
    let iv = [0x24u8; 16];
    let sealed = session
        .encrypt(&Mechanism::AesCbcPad(iv), data_key, message)
        .context("C_Encrypt (AES-CBC-PAD)")?;
    let wrapped = session
        .wrap_key(&Mechanism::AesKeyWrap, master, data_key)
        .context("C_WrapKey (AES key wrap, RFC 3394)")?;
    say!(
        "    data key wrapped under the master key: {} bytes; message sealed: {} bytes",
        wrapped.len(),
        sealed.len()
    );
    let unwrapped = session
        .unwrap_key(
            &Mechanism::AesKeyWrap,
            master,
            &wrapped,
            &[
                Attribute::Class(ObjectClass::SECRET_KEY),
                Attribute::KeyType(KeyType::AES),
                Attribute::Token(false),
                Attribute::Decrypt(true),
            ],
        )
        .context("C_UnwrapKey")?;
    let opened = session
        .decrypt(&Mechanism::AesCbcPad(iv), unwrapped, &sealed)
        .context("C_Decrypt with the unwrapped key")?;
    if opened != message {
        bail!("the unwrapped data key did not decrypt the message");
    }
    say!("    unwrapped the data key and decrypted the message: ok");
    match session.get_attributes(master, &[AttributeType::Value]) {
        Ok(v) if v.is_empty() => say!("    the master key's value cannot be read: ok"),
        Ok(_) => bail!("the master key's value was readable"),
        Err(_) => say!("    the master key's value cannot be read: ok"),
    }
    if session
        .wrap_key(&Mechanism::AesKeyWrap, data_key, master)
        .is_ok()
    {
        bail!("the non-extractable master key was wrapped");
    }
    say!("    the master key cannot be wrapped out: ok");

    // P-256: the named-curve OID 1.2.840.10045.3.1.7 as DER.
    let p256 = vec![0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
    let (public, private) = session
        .generate_key_pair(
            &Mechanism::EccKeyPairGen,
            &[
                Attribute::Token(false),
                Attribute::Verify(true),
                Attribute::EcParams(p256),
            ],
            &[
                Attribute::Token(false),
                Attribute::Sign(true),
                Attribute::Sensitive(true),
            ],
        )
        .context("C_GenerateKeyPair (EC P-256)")?;
    // Hash on the token, sign the digest with CKM_ECDSA (every module has it; SoftHSMv2 2.6
    // lacks CKM_ECDSA_SHA256).
    let digest = session
        .digest(&Mechanism::Sha256, message)
        .context("C_Digest (SHA-256)")?;
    let signature = session
        .sign(&Mechanism::Ecdsa, private, &digest)
        .context("C_Sign (ECDSA)")?;
    session
        .verify(&Mechanism::Ecdsa, public, &digest, &signature)
        .context("C_Verify")?;
    say!(
        "    ECDSA P-256 signature of {} bytes verified: ok",
        signature.len()
    );
    for h in [master, data_key, unwrapped, public, private] {
        session.destroy_object(h).context("C_DestroyObject")?;
    }
    Ok(())
}

fn demo_token(module: &Module) -> Result<TokenRef> {
    let all = p11::tokens(module)?;
    if let Some((slot, info)) = all
        .iter()
        .find(|(_, i)| i.token_initialized() && i.label().trim_end() == DEMO_LABEL)
    {
        let token = TokenRef::new(*slot, info);
        say!("    using the existing {token}");
        return Ok(token);
    }
    let Some((slot, _)) = all.iter().find(|(_, i)| !i.token_initialized()) else {
        bail!("there is no \"{DEMO_LABEL}\" token and the module offers no free slot to make one");
    };
    let so_pin = AuthPin::from(DEMO_SO_PIN.to_string());
    let pin = AuthPin::from(DEMO_PIN.to_string());
    let token = super::init_token::init(module, *slot, DEMO_LABEL, &so_pin, &pin)
        .context("cannot create the demo token")?;
    say!("    initialized {token}");
    say!(
        "    with the fixed demo PINs (SO PIN \"{DEMO_SO_PIN}\", user PIN \"{DEMO_PIN}\"): \
         anyone can read them here, so never keep real keys on this token"
    );
    Ok(token)
}

fn show_info(module: &Module, token: &TokenRef) -> Result<()> {
    let info = token.info(module)?;
    say!("    sessions:   {}", sessions(&info));
    say!("    PIN flags:  {}", pin_flags(&info));
    say!(
        "    user PIN:   {}, {} to {} bytes",
        if info.user_pin_initialized() {
            "initialized"
        } else {
            "not initialized"
        },
        info.min_pin_length(),
        info.max_pin_length()
    );
    Ok(())
}

pub fn run(module: &Module) -> Result<()> {
    let lib = module
        .ctx()?
        .get_library_info()
        .p11(|| "cannot read module info".to_string())?;
    step(
        1,
        &format!(
            "Loaded {} ({})",
            module.path.display(),
            lib.manufacturer_id().trim()
        ),
    )?;

    step(2, &format!("Finding the token labelled \"{DEMO_LABEL}\""))?;
    let token = demo_token(module)?;

    step(3, "Opening a read/write session and logging in as the user")?;
    let session = token.open_rw(module)?;
    let pin = AuthPin::from(DEMO_PIN.to_string());
    token
        .login(&session, UserType::User, &pin)
        .with_context(|| {
            format!(
                "the demo user PIN does not open {token}; remove it with \
             `ferrohsm-util delete-token --label {DEMO_LABEL}` and run the demo again"
            )
        })?;
    // A run stopped half way may have left its objects; start clean so reruns behave the same.
    let stale = destroy_all(&session, PRIVATE_LABEL)? + destroy_all(&session, PUBLIC_LABEL)?;
    if stale > 0 {
        say!("    removed {stale} object(s) left by an earlier run");
    }

    step(4, "Storing a private and a public data object")?;
    round_trip(&session, true, PRIVATE_LABEL, PRIVATE_VALUE)?;
    round_trip(&session, false, PUBLIC_LABEL, PUBLIC_VALUE)?;

    step(
        5,
        "Keys: envelope encryption and a signature (session keys, gone at logout)",
    )?;
    keys(&session)?;

    step(6, "Token information")?;
    show_info(module, &token)?;

    step(7, "Logging out: private objects must disappear from view")?;
    session
        .logout()
        .p11(|| format!("cannot log out of {token}"))?;
    let private_seen = find_data(&session, PRIVATE_LABEL)?.len();
    let public_seen = find_data(&session, PUBLIC_LABEL)?.len();
    say!(
        "    private note visible: {}, public note visible: {}",
        private_seen,
        public_seen
    );
    if private_seen != 0 || public_seen != 1 {
        bail!("after logout the private note should be hidden and the public note visible");
    }

    step(8, "Logging in again and destroying what the demo created")?;
    token.login(&session, UserType::User, &pin)?;
    let destroyed = destroy_all(&session, PRIVATE_LABEL)? + destroy_all(&session, PUBLIC_LABEL)?;
    say!("    destroyed {destroyed} object(s)");
    session
        .logout()
        .p11(|| format!("cannot log out of {token}"))?;
    drop(session);

    say!("Demo finished: {token} is left in place for the next run.");
    Ok(())
}
