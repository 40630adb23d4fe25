//! `list-objects`: what a token holds, described from its attributes. Secret values are never
//! requested, so nothing sensitive can be printed even by a module that would return it.

use super::{hex, text};
use crate::p11::{find_token, rv_of, Module, P11Context, TokenSel};
use crate::pin::{self};
use anyhow::Result;
use cryptoki::error::RvError;
use cryptoki::object::{
    Attribute, AttributeInfo, AttributeType, KeyType, ObjectClass, ObjectHandle,
};
use cryptoki::session::{Session, UserType};
use der::Decode;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub token: TokenSel,
    /// User PIN; without it (or FERROHSM_PIN, or --login) only public objects are listed
    #[arg(long, value_name = "PIN")]
    pub pin: Option<String>,
    /// Ask for the user PIN on the terminal
    #[arg(long)]
    pub login: bool,
}

/// One attribute, or `None` when the object does not have it or will not reveal it.
/// Asked one at a time so that one refused attribute cannot hide the others.
pub fn attr(session: &Session, obj: ObjectHandle, t: AttributeType) -> Result<Option<Attribute>> {
    match session
        .get_attributes(obj, &[t])
        .p11(|| format!("cannot read {t} of object {obj}"))
    {
        Ok(attrs) => Ok(attrs.into_iter().next()),
        Err(e) => match rv_of(&e) {
            Some(RvError::AttributeSensitive | RvError::AttributeTypeInvalid) => Ok(None),
            _ => Err(e),
        },
    }
}

fn bytes(session: &Session, obj: ObjectHandle, t: AttributeType) -> Result<Option<Vec<u8>>> {
    Ok(attr(session, obj, t)?.and_then(|a| match a {
        Attribute::Label(v)
        | Attribute::Id(v)
        | Attribute::Application(v)
        | Attribute::Subject(v)
        | Attribute::Modulus(v)
        | Attribute::EcParams(v)
        | Attribute::ObjectId(v)
        | Attribute::UniqueId(v) => Some(v),
        _ => None,
    }))
}

fn flag(session: &Session, obj: ObjectHandle, t: AttributeType) -> Result<Option<bool>> {
    Ok(attr(session, obj, t)?.and_then(|a| match a {
        Attribute::Token(b)
        | Attribute::Private(b)
        | Attribute::Modifiable(b)
        | Attribute::Sensitive(b)
        | Attribute::Extractable(b)
        | Attribute::AlwaysSensitive(b)
        | Attribute::NeverExtractable(b)
        | Attribute::Local(b)
        | Attribute::Encrypt(b)
        | Attribute::Decrypt(b)
        | Attribute::Sign(b)
        | Attribute::Verify(b)
        | Attribute::SignRecover(b)
        | Attribute::VerifyRecover(b)
        | Attribute::Wrap(b)
        | Attribute::Unwrap(b)
        | Attribute::Derive(b)
        | Attribute::Trusted(b) => Some(b),
        _ => None,
    }))
}

/// Length of an attribute without reading it (for values we must not print).
fn value_len(session: &Session, obj: ObjectHandle) -> Result<Option<usize>> {
    let info = session
        .get_attribute_info(obj, &[AttributeType::Value])
        .p11(|| format!("cannot read the size of object {obj}"))?;
    Ok(match info.first() {
        Some(AttributeInfo::Available(n)) => Some(*n),
        _ => None,
    })
}

fn class_name(class: ObjectClass) -> String {
    match class {
        ObjectClass::DATA => "Data object".to_string(),
        ObjectClass::CERTIFICATE => "Certificate".to_string(),
        ObjectClass::PUBLIC_KEY => "Public key".to_string(),
        ObjectClass::PRIVATE_KEY => "Private key".to_string(),
        ObjectClass::SECRET_KEY => "Secret key".to_string(),
        other => other.to_string(),
    }
}

fn key_type_name(kt: KeyType) -> String {
    match kt {
        KeyType::EC_EDWARDS => "EdDSA".to_string(),
        other => other.to_string().trim_start_matches("CKK_").to_string(),
    }
}

/// Curve name from CKA_EC_PARAMS (a named-curve OID, or the PrintableString form of RFC 8410
/// curves some modules use).
pub fn curve_name(params: &[u8]) -> String {
    if let Ok(oid) = <der::asn1::ObjectIdentifier>::from_der(params) {
        return match oid.to_string().as_str() {
            "1.2.840.10045.3.1.7" => "P-256".to_string(),
            "1.3.132.0.34" => "P-384".to_string(),
            "1.3.132.0.35" => "P-521".to_string(),
            "1.3.132.0.10" => "secp256k1".to_string(),
            "1.3.101.112" => "Ed25519".to_string(),
            "1.3.101.113" => "Ed448".to_string(),
            "1.3.101.110" => "X25519".to_string(),
            "1.3.101.111" => "X448".to_string(),
            other => format!("curve {other}"),
        };
    }
    if let Ok(name) = der::asn1::PrintableStringRef::from_der(params) {
        return name.to_string();
    }
    format!("EC parameters 0x{}", hex(params))
}

fn key_size(session: &Session, obj: ObjectHandle, kt: KeyType) -> Result<Option<String>> {
    Ok(match kt {
        KeyType::RSA => {
            let bits = match attr(session, obj, AttributeType::ModulusBits)? {
                Some(Attribute::ModulusBits(b)) => Some(u64::from(b)),
                // Private keys need not carry CKA_MODULUS_BITS; their modulus is public.
                _ => bytes(session, obj, AttributeType::Modulus)?.map(|m| {
                    let lead = m.iter().position(|&b| b != 0).unwrap_or(m.len());
                    ((m.len() - lead) * 8) as u64
                }),
            };
            bits.map(|b| format!("{b} bits"))
        }
        KeyType::EC | KeyType::EC_EDWARDS | KeyType::EC_MONTGOMERY => {
            bytes(session, obj, AttributeType::EcParams)?.map(|p| curve_name(&p))
        }
        _ => match attr(session, obj, AttributeType::ValueLen)? {
            Some(Attribute::ValueLen(n)) => Some(format!("{} bits", u64::from(n) * 8)),
            _ => None,
        },
    })
}

fn describe(session: &Session, obj: ObjectHandle) -> Result<Vec<String>> {
    let mut lines = Vec::new();
    let class = match attr(session, obj, AttributeType::Class)? {
        Some(Attribute::Class(c)) => Some(c),
        _ => None,
    };
    let key_type = match attr(session, obj, AttributeType::KeyType)? {
        Some(Attribute::KeyType(k)) => Some(k),
        _ => None,
    };
    let mut title = class.map_or_else(|| "Object of unknown class".to_string(), class_name);
    if let Some(kt) = key_type {
        let size = key_size(session, obj, kt)?;
        let size = size.map(|s| format!(" {s}")).unwrap_or_default();
        title = format!("{title} ({}{size})", key_type_name(kt));
    }
    lines.push(title);
    let show = |lines: &mut Vec<String>, name: &str, value: String| {
        lines.push(format!("    {name:<12}{value}"));
    };
    if let Some(label) = bytes(session, obj, AttributeType::Label)? {
        show(&mut lines, "Label:", text(&label));
    }
    if let Some(id) = bytes(session, obj, AttributeType::Id)? {
        if !id.is_empty() {
            show(&mut lines, "ID:", hex(&id));
        }
    }
    match class {
        Some(ObjectClass::DATA) => {
            if let Some(app) = bytes(session, obj, AttributeType::Application)? {
                show(&mut lines, "Application:", text(&app));
            }
            if let Some(n) = value_len(session, obj)? {
                show(&mut lines, "Value:", format!("{n} bytes"));
            }
        }
        Some(ObjectClass::CERTIFICATE) => {
            if let Some(subject) = bytes(session, obj, AttributeType::Subject)? {
                let name = x509_cert::name::Name::from_der(&subject)
                    .map(|n| n.to_string())
                    .unwrap_or_else(|_| format!("0x{}", hex(&subject)));
                show(&mut lines, "Subject:", name);
            }
            if let Some(n) = value_len(session, obj)? {
                show(&mut lines, "Value:", format!("{n} bytes (DER)"));
            }
        }
        _ => {}
    }
    if key_type.is_some() {
        let usage_attrs = [
            (AttributeType::Encrypt, "encrypt"),
            (AttributeType::Decrypt, "decrypt"),
            (AttributeType::Sign, "sign"),
            (AttributeType::Verify, "verify"),
            (AttributeType::SignRecover, "sign-recover"),
            (AttributeType::VerifyRecover, "verify-recover"),
            (AttributeType::Wrap, "wrap"),
            (AttributeType::Unwrap, "unwrap"),
            (AttributeType::Derive, "derive"),
        ];
        let mut usage = Vec::new();
        for (t, word) in usage_attrs {
            if flag(session, obj, t)? == Some(true) {
                usage.push(word);
            }
        }
        let usage = if usage.is_empty() {
            "none".to_string()
        } else {
            usage.join(", ")
        };
        show(&mut lines, "Usage:", usage);
    }
    let mut access = Vec::new();
    let yes_no = [
        (AttributeType::Token, "token", "session"),
        (AttributeType::Private, "private", "public"),
        (AttributeType::Sensitive, "sensitive", "not sensitive"),
        (AttributeType::Extractable, "extractable", "not extractable"),
        (AttributeType::AlwaysSensitive, "always sensitive", ""),
        (AttributeType::NeverExtractable, "never extractable", ""),
        (AttributeType::Modifiable, "modifiable", "read-only"),
        (AttributeType::Local, "generated on token", ""),
    ];
    for (t, on, off) in yes_no {
        match flag(session, obj, t)? {
            Some(true) => access.push(on),
            Some(false) if !off.is_empty() => access.push(off),
            _ => {}
        }
    }
    show(&mut lines, "Attributes:", access.join(", "));
    Ok(lines)
}

pub fn run(module: &Module, args: Args) -> Result<()> {
    let token = find_token(module, &args.token)?;
    let user_pin = pin::optional(pin::USER_PIN, args.pin, args.login)?;
    let session = token.open_ro(module)?;
    let logged_in = match &user_pin {
        Some(p) => {
            token.login(&session, UserType::User, p)?;
            true
        }
        None => false,
    };
    let objects = session
        .find_objects(&[])
        .p11(|| format!("cannot search the objects of {token}"))?;
    let scope = if logged_in {
        ""
    } else {
        " (public objects only: log in with --pin to see all)"
    };
    say!("{} object(s) on {token}{scope}", objects.len());
    for obj in objects {
        say!();
        // One unreadable object (damaged storage) is reported in place; the rest still list.
        match describe(&session, obj) {
            Ok(lines) => {
                for l in &lines {
                    say!("{l}");
                }
            }
            Err(e) => say!("Object {obj}: error: {e:#}"),
        }
    }
    if logged_in {
        session
            .logout()
            .p11(|| format!("cannot log out of {token}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curve_names_from_ec_params() {
        let p256 = [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
        assert_eq!(curve_name(&p256), "P-256");
        assert_eq!(curve_name(&[0x06, 0x03, 0x2b, 0x65, 0x70]), "Ed25519");
        let printable = b"\x13\x0cedwards25519";
        assert_eq!(curve_name(printable), "edwards25519");
        assert_eq!(curve_name(&[0xff]), "EC parameters 0xff");
    }
}
