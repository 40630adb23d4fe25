//! `import`: stores a key or certificate file as token objects with C_CreateObject. Private
//! keys also get their public-key object, with the same CKA_ID and label, as other tools expect.

use super::hex;
use crate::keyfile::{self, FileType, Material, PrivateKey, PublicKey};
use crate::p11::{self, Module, P11Context, TokenRef, TokenSel};
use crate::pin;
use anyhow::{bail, Context, Result};
use cryptoki::object::{Attribute, CertificateType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use der::Encode;
use std::path::PathBuf;

/// The token to import into. `--label` names the new object here (as in pkcs11-tool and
/// softhsm2-util), so the token's label is `--token`.
#[derive(Debug, Clone, clap::Args)]
#[group(required = true, multiple = false)]
pub struct ImportSel {
    /// Slot ID of the token
    #[arg(long)]
    pub slot: Option<u64>,
    /// Serial number of the token
    #[arg(long)]
    pub serial: Option<String>,
    /// Label of the token
    #[arg(long, value_name = "LABEL")]
    pub token: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub sel: ImportSel,
    /// User PIN
    #[arg(long, value_name = "PIN")]
    pub pin: Option<String>,
    /// Key or certificate file (PEM or DER; raw bytes with --type aes)
    #[arg(long, value_name = "FILE")]
    pub file: PathBuf,
    /// CKA_LABEL of the new object(s) [default: the file name without extension]
    #[arg(long)]
    pub label: Option<String>,
    /// CKA_ID in hex [default: SHA-1 of the public key, so keys and certificates pair up]
    #[arg(long, value_name = "HEX")]
    pub id: Option<String>,
    /// What the file holds
    #[arg(long = "type", value_enum, default_value_t = FileType::Auto)]
    pub file_type: FileType,
    /// Make imported private and secret keys extractable (default: sensitive, not extractable)
    #[arg(long)]
    pub extractable: bool,
}

/// Hex with optional `:` or space separators, as tools print ids.
pub fn parse_hex(s: &str) -> Result<Vec<u8>> {
    let digits: Vec<u8> = s
        .bytes()
        .filter(|b| !matches!(b, b':' | b' '))
        .collect::<Vec<u8>>();
    if digits.is_empty() || digits.len() % 2 != 0 {
        bail!("--id must be an even number of hex digits, got \"{s}\"");
    }
    digits
        .chunks(2)
        .map(|pair| {
            let pair = std::str::from_utf8(pair).ok();
            pair.and_then(|p| u8::from_str_radix(p, 16).ok())
                .with_context(|| format!("--id is not hex: \"{s}\""))
        })
        .collect()
}

/// Attributes common to every imported object.
fn common(class: ObjectClass, label: &str, id: &[u8]) -> Vec<Attribute> {
    vec![
        Attribute::Class(class),
        Attribute::Token(true),
        Attribute::Label(label.as_bytes().to_vec()),
        Attribute::Id(id.to_vec()),
    ]
}

// Usage flags are all stated explicitly: their defaults are left to each module, and SoftHSMv2,
// for one, would otherwise mark an EC public key for encryption and wrapping.

/// Protection of imported private and secret keys: private, sensitive, non-extractable unless
/// asked otherwise.
fn secret_flags(extractable: bool) -> [Attribute; 3] {
    [
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Extractable(extractable),
    ]
}

pub fn private_template(
    key: &PrivateKey,
    label: &str,
    id: &[u8],
    extractable: bool,
) -> Result<Vec<Attribute>> {
    let mut t = common(ObjectClass::PRIVATE_KEY, label, id);
    t.extend(secret_flags(extractable));
    match key {
        PrivateKey::Rsa(rsa) => t.extend([
            Attribute::KeyType(KeyType::RSA),
            Attribute::Sign(true),
            Attribute::Decrypt(true),
            Attribute::Unwrap(true),
            Attribute::Derive(false),
            Attribute::Modulus(rsa.public.modulus.clone()),
            Attribute::PublicExponent(rsa.public.public_exponent.clone()),
            Attribute::PrivateExponent(rsa.private_exponent.to_vec()),
            Attribute::Prime1(rsa.prime1.to_vec()),
            Attribute::Prime2(rsa.prime2.to_vec()),
            Attribute::Exponent1(rsa.exponent1.to_vec()),
            Attribute::Exponent2(rsa.exponent2.to_vec()),
            Attribute::Coefficient(rsa.coefficient.to_vec()),
        ]),
        PrivateKey::Ec { curve, scalar, .. } => t.extend([
            Attribute::KeyType(KeyType::EC),
            Attribute::Sign(true),
            Attribute::Derive(true),
            Attribute::Decrypt(false),
            Attribute::Unwrap(false),
            Attribute::EcParams(curve.ec_params()?),
            Attribute::Value(scalar.to_vec()),
        ]),
        PrivateKey::Ed25519 { seed, .. } => t.extend([
            Attribute::KeyType(KeyType::EC_EDWARDS),
            Attribute::Sign(true),
            Attribute::Derive(false),
            Attribute::Decrypt(false),
            Attribute::Unwrap(false),
            Attribute::EcParams(keyfile::OID_ED25519.to_der()?),
            Attribute::Value(seed.to_vec()),
        ]),
    }
    Ok(t)
}

pub fn public_template(key: &PublicKey, label: &str, id: &[u8]) -> Result<Vec<Attribute>> {
    let mut t = common(ObjectClass::PUBLIC_KEY, label, id);
    t.push(Attribute::Private(false));
    t.push(Attribute::Verify(true));
    t.push(Attribute::Derive(false));
    match key {
        PublicKey::Rsa(rsa) => t.extend([
            Attribute::KeyType(KeyType::RSA),
            Attribute::Encrypt(true),
            Attribute::Wrap(true),
            Attribute::Modulus(rsa.modulus.clone()),
            Attribute::PublicExponent(rsa.public_exponent.clone()),
        ]),
        PublicKey::Ec { curve, point } => t.extend([
            Attribute::KeyType(KeyType::EC),
            Attribute::Encrypt(false),
            Attribute::Wrap(false),
            Attribute::EcParams(curve.ec_params()?),
            Attribute::EcPoint(keyfile::ec_point_attr(point)?),
        ]),
        PublicKey::Ed25519(key) => t.extend([
            Attribute::KeyType(KeyType::EC_EDWARDS),
            Attribute::Encrypt(false),
            Attribute::Wrap(false),
            Attribute::EcParams(keyfile::OID_ED25519.to_der()?),
            Attribute::EcPoint(keyfile::ec_point_attr(key)?),
        ]),
    }
    Ok(t)
}

fn certificate_template(cert: &keyfile::Certificate, label: &str, id: &[u8]) -> Vec<Attribute> {
    let mut t = common(ObjectClass::CERTIFICATE, label, id);
    t.extend([
        Attribute::Private(false),
        Attribute::CertificateType(CertificateType::X_509),
        Attribute::Subject(cert.subject.clone()),
        Attribute::Issuer(cert.issuer.clone()),
        Attribute::SerialNumber(cert.serial.clone()),
        Attribute::Value(cert.der.clone()),
    ]);
    t
}

fn aes_template(key: &[u8], label: &str, id: &[u8], extractable: bool) -> Vec<Attribute> {
    let mut t = common(ObjectClass::SECRET_KEY, label, id);
    t.extend(secret_flags(extractable));
    t.extend([
        Attribute::KeyType(KeyType::AES),
        Attribute::Encrypt(true),
        Attribute::Decrypt(true),
        Attribute::Wrap(true),
        Attribute::Unwrap(true),
        Attribute::Sign(false),
        Attribute::Verify(false),
        Attribute::Derive(false),
        Attribute::Value(key.to_vec()),
    ]);
    t
}

/// A fresh id for a secret key: hashing the key itself would leak a fingerprint of it.
fn random_id(session: &Session) -> Vec<u8> {
    match session.generate_random_vec(8) {
        Ok(id) => id,
        Err(_) => {
            // Module without C_GenerateRandom: time and process make an id that is unique
            // enough for telling keys apart, and it reveals nothing about the key.
            use sha1::Digest;
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default();
            let seed = format!("{now}-{}", std::process::id());
            sha1::Sha1::digest(seed.as_bytes())[..8].to_vec()
        }
    }
}

fn create(
    session: &Session,
    token: &TokenRef,
    what: &str,
    t: &[Attribute],
) -> Result<ObjectHandle> {
    session
        .create_object(t)
        .p11(|| format!("cannot create the {what} on {token}"))
}

/// Warn about an object of the same class and id: two keys under one id confuse applications.
fn warn_duplicate(session: &Session, class: ObjectClass, id: &[u8], what: &str) {
    let found = session.find_objects(&[Attribute::Class(class), Attribute::Id(id.to_vec())]);
    if let Ok(found) = found {
        if !found.is_empty() {
            eprintln!(
                "warning: the token already holds a {what} with id {}",
                hex(id)
            );
        }
    }
}

pub fn run(module: &Module, args: Args) -> Result<()> {
    let sel = TokenSel {
        slot: args.sel.slot,
        serial: args.sel.serial,
        label: args.sel.token,
    };
    let token = p11::find_token(module, &sel)?;
    let bytes = zeroize::Zeroizing::new(
        std::fs::read(&args.file)
            .with_context(|| format!("cannot read {}", args.file.display()))?,
    );
    let parsed = keyfile::parse(&bytes, args.file_type)
        .with_context(|| format!("cannot import {}", args.file.display()))?;
    for note in &parsed.notes {
        eprintln!("note: {note}");
    }
    let label = match args.label {
        Some(l) => l,
        None => args
            .file
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .context("cannot derive a label from the file name: pass --label")?,
    };
    let given_id = args.id.as_deref().map(parse_hex).transpose()?;
    let user_pin = pin::get(pin::USER_PIN, args.pin)?;
    let session = token.open_rw(module)?;
    token.login(&session, UserType::User, &user_pin)?;

    let what = parsed.material.describe();
    let (id, created) = match &parsed.material {
        Material::Private(key) => {
            let public = key.public();
            let id = given_id.unwrap_or_else(|| public.key_id());
            warn_duplicate(&session, ObjectClass::PRIVATE_KEY, &id, "private key");
            let priv_t = private_template(key, &label, &id, args.extractable)?;
            let handle = create(&session, &token, "private key", &priv_t)?;
            let pub_t = public_template(&public, &label, &id)?;
            if let Err(e) = create(&session, &token, "matching public key", &pub_t) {
                // Leave no half pair behind: the import either happens whole or not at all.
                let _ = session.destroy_object(handle);
                return Err(e);
            }
            (id, "private key and public key objects")
        }
        Material::Public(key) => {
            let id = given_id.unwrap_or_else(|| key.key_id());
            warn_duplicate(&session, ObjectClass::PUBLIC_KEY, &id, "public key");
            create(
                &session,
                &token,
                "public key",
                &public_template(key, &label, &id)?,
            )?;
            (id, "public key object")
        }
        Material::Certificate(cert) => {
            let id = given_id.unwrap_or_else(|| cert.key_id.clone());
            warn_duplicate(&session, ObjectClass::CERTIFICATE, &id, "certificate");
            create(
                &session,
                &token,
                "certificate",
                &certificate_template(cert, &label, &id),
            )?;
            (id, "certificate object")
        }
        Material::Aes(key) => {
            let id = given_id.unwrap_or_else(|| random_id(&session));
            let t = aes_template(key, &label, &id, args.extractable);
            create(&session, &token, "secret key", &t)?;
            (id, "secret key object")
        }
    };
    session
        .logout()
        .p11(|| format!("cannot log out of {token}"))?;
    say!("Imported {what} from {} into {token}", args.file.display());
    say!(
        "  created {created} with label \"{label}\" and id {}",
        hex(&id)
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_ids_accept_separators() -> Result<()> {
        assert_eq!(parse_hex("0a:FF 10")?, vec![0x0a, 0xff, 0x10]);
        assert!(parse_hex("abc").is_err());
        assert!(parse_hex("zz").is_err());
        assert!(parse_hex("").is_err());
        Ok(())
    }

    #[test]
    fn private_keys_default_to_sensitive_and_non_extractable() -> Result<()> {
        let pem = include_bytes!("../../tests/data/p256-pkcs8.pem");
        let Material::Private(key) = keyfile::parse(pem, FileType::Auto)?.material else {
            bail!("expected a private key");
        };
        let t = private_template(&key, "k", &[1], false)?;
        assert!(t.contains(&Attribute::Sensitive(true)));
        assert!(t.contains(&Attribute::Extractable(false)));
        assert!(t.contains(&Attribute::Private(true)));
        assert!(t.contains(&Attribute::Token(true)));
        let t = private_template(&key, "k", &[1], true)?;
        assert!(t.contains(&Attribute::Extractable(true)));
        Ok(())
    }
}
