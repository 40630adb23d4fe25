//! Key and certificate file parsing for `import`: turns PEM or DER files into the components
//! PKCS#11 objects need, without touching any module.
//!
//! Kept free of `cryptoki` so it can be unit-tested on its own; `import.rs` maps the result to
//! attribute templates.

use anyhow::{anyhow, bail, Context, Result};
use der::asn1::{ObjectIdentifier, OctetStringRef};
use der::{Decode, Encode};
use sha1::{Digest, Sha1};
use zeroize::Zeroizing;

/// rsaEncryption (PKCS#1).
const OID_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
/// RSASSA-PSS keys carry the same PKCS#1 structure; PKCS#11 has one key type for both.
const OID_RSA_PSS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.10");
/// id-ecPublicKey (SEC 1 / RFC 5480).
const OID_EC: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
/// id-Ed25519 (RFC 8410).
pub const OID_ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
const OID_P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const OID_P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const OID_P521: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.35");

/// What the user said the file holds (`--type`); `Auto` tries every format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FileType {
    Auto,
    Private,
    Public,
    Cert,
    Aes,
}

/// The NIST curves the tool can import; each needs its own arithmetic to derive the public point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Curve {
    P256,
    P384,
    P521,
}

impl Curve {
    fn from_oid(oid: ObjectIdentifier) -> Result<Curve> {
        match oid {
            OID_P256 => Ok(Curve::P256),
            OID_P384 => Ok(Curve::P384),
            OID_P521 => Ok(Curve::P521),
            other => bail!("unsupported elliptic curve {other} (supported: P-256, P-384, P-521)"),
        }
    }

    pub fn oid(self) -> ObjectIdentifier {
        match self {
            Curve::P256 => OID_P256,
            Curve::P384 => OID_P384,
            Curve::P521 => OID_P521,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Curve::P256 => "P-256",
            Curve::P384 => "P-384",
            Curve::P521 => "P-521",
        }
    }

    /// Size of a scalar / coordinate in bytes: PKCS#11 wants CKA_VALUE at exactly this width.
    pub fn field_len(self) -> usize {
        match self {
            Curve::P256 => 32,
            Curve::P384 => 48,
            Curve::P521 => 66,
        }
    }

    /// CKA_EC_PARAMS: the DER encoding of the named-curve OID.
    pub fn ec_params(self) -> Result<Vec<u8>> {
        Ok(self.oid().to_der()?)
    }

    /// The uncompressed SEC1 point for a private scalar of this curve.
    fn public_point(self, scalar: &[u8]) -> Result<Vec<u8>> {
        use p256::elliptic_curve::sec1::ToSec1Point;
        let bad = |_| anyhow!("the {} private key is not a valid scalar", self.name());
        let point = match self {
            Curve::P256 => p256::SecretKey::from_slice(scalar)
                .map_err(bad)?
                .public_key()
                .to_sec1_point(false)
                .as_bytes()
                .to_vec(),
            Curve::P384 => p384::SecretKey::from_slice(scalar)
                .map_err(bad)?
                .public_key()
                .to_sec1_point(false)
                .as_bytes()
                .to_vec(),
            Curve::P521 => p521::SecretKey::from_slice(scalar)
                .map_err(bad)?
                .public_key()
                .to_sec1_point(false)
                .as_bytes()
                .to_vec(),
        };
        Ok(point)
    }

    /// Checks that `bytes` is a point on the curve and returns it uncompressed, the form
    /// PKCS#11 modules expect inside CKA_EC_POINT.
    fn normalize_point(self, bytes: &[u8]) -> Result<Vec<u8>> {
        use p256::elliptic_curve::sec1::ToSec1Point;
        let bad = |_| anyhow!("the {} public key is not a valid curve point", self.name());
        let point = match self {
            Curve::P256 => p256::PublicKey::from_sec1_bytes(bytes)
                .map_err(bad)?
                .to_sec1_point(false)
                .as_bytes()
                .to_vec(),
            Curve::P384 => p384::PublicKey::from_sec1_bytes(bytes)
                .map_err(bad)?
                .to_sec1_point(false)
                .as_bytes()
                .to_vec(),
            Curve::P521 => p521::PublicKey::from_sec1_bytes(bytes)
                .map_err(bad)?
                .to_sec1_point(false)
                .as_bytes()
                .to_vec(),
        };
        Ok(point)
    }
}

/// RSA public components, big-endian without leading zeros.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RsaPublic {
    pub modulus: Vec<u8>,
    pub public_exponent: Vec<u8>,
}

/// RSA private components; secret parts are wiped when dropped.
pub struct RsaPrivate {
    pub public: RsaPublic,
    pub private_exponent: Zeroizing<Vec<u8>>,
    pub prime1: Zeroizing<Vec<u8>>,
    pub prime2: Zeroizing<Vec<u8>>,
    pub exponent1: Zeroizing<Vec<u8>>,
    pub exponent2: Zeroizing<Vec<u8>>,
    pub coefficient: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for RsaPrivate {
    // Never print secret components, even in debug output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RsaPrivate")
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}

/// A public key, as found on its own or beside a private key or in a certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublicKey {
    Rsa(RsaPublic),
    /// `point` is the uncompressed SEC1 point.
    Ec {
        curve: Curve,
        point: Vec<u8>,
    },
    Ed25519([u8; 32]),
}

impl PublicKey {
    /// The bits many tools hash for CKA_ID: the modulus for RSA, the point for EC and EdDSA.
    fn id_bits(&self) -> &[u8] {
        match self {
            PublicKey::Rsa(rsa) => &rsa.modulus,
            PublicKey::Ec { point, .. } => point,
            PublicKey::Ed25519(key) => key,
        }
    }

    /// Default CKA_ID: SHA-1 of the public key bits, so a key pair and its certificate pair up.
    pub fn key_id(&self) -> Vec<u8> {
        Sha1::digest(self.id_bits()).to_vec()
    }

    pub fn describe(&self) -> String {
        match self {
            PublicKey::Rsa(rsa) => format!("RSA {} bits", bit_len(&rsa.modulus)),
            PublicKey::Ec { curve, .. } => format!("EC {}", curve.name()),
            PublicKey::Ed25519(_) => "Ed25519".to_string(),
        }
    }
}

/// A private key with its public half (derived when the file lacks it).
pub enum PrivateKey {
    Rsa(RsaPrivate),
    /// `scalar` is big-endian at the curve's full field width.
    Ec {
        curve: Curve,
        scalar: Zeroizing<Vec<u8>>,
        point: Vec<u8>,
    },
    Ed25519 {
        seed: Zeroizing<Vec<u8>>,
        public: [u8; 32],
    },
}

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PrivateKey({})", self.public().describe())
    }
}

impl PrivateKey {
    pub fn public(&self) -> PublicKey {
        match self {
            PrivateKey::Rsa(rsa) => PublicKey::Rsa(rsa.public.clone()),
            PrivateKey::Ec { curve, point, .. } => PublicKey::Ec {
                curve: *curve,
                point: point.clone(),
            },
            PrivateKey::Ed25519 { public, .. } => PublicKey::Ed25519(*public),
        }
    }
}

/// The parts of an X.509 certificate that PKCS#11 stores as attributes.
#[derive(Debug, Clone)]
pub struct Certificate {
    /// The whole certificate (CKA_VALUE).
    pub der: Vec<u8>,
    /// DER of the subject Name (CKA_SUBJECT).
    pub subject: Vec<u8>,
    /// DER of the issuer Name (CKA_ISSUER).
    pub issuer: Vec<u8>,
    /// DER INTEGER of the serial number (CKA_SERIAL_NUMBER).
    pub serial: Vec<u8>,
    /// RFC 4514 text of the subject, for messages.
    pub subject_text: String,
    /// Default CKA_ID, computed as for the matching key.
    pub key_id: Vec<u8>,
}

/// Everything `import` can store.
#[derive(Debug)]
pub enum Material {
    Private(PrivateKey),
    Public(PublicKey),
    Certificate(Certificate),
    Aes(Zeroizing<Vec<u8>>),
}

impl Material {
    pub fn describe(&self) -> String {
        match self {
            Material::Private(k) => format!("{} private key", k.public().describe()),
            Material::Public(k) => format!("{} public key", k.describe()),
            Material::Certificate(c) => format!("X.509 certificate ({})", c.subject_text),
            Material::Aes(k) => format!("AES-{} key", k.len() * 8),
        }
    }

    fn matches(&self, ty: FileType) -> bool {
        matches!(
            (ty, self),
            (FileType::Auto, _)
                | (FileType::Private, Material::Private(_))
                | (FileType::Public, Material::Public(_))
                | (FileType::Cert, Material::Certificate(_))
                | (FileType::Aes, Material::Aes(_))
        )
    }
}

/// The parsed file, plus remarks for the user (for example, ignored extra PEM blocks).
#[derive(Debug)]
pub struct Parsed {
    pub material: Material,
    pub notes: Vec<String>,
}

/// Parse `bytes` as the kind `ty` says (or any supported kind for `Auto`).
pub fn parse(bytes: &[u8], ty: FileType) -> Result<Parsed> {
    if ty == FileType::Aes {
        // Raw keys have no structure to check beyond their length.
        return match bytes.len() {
            16 | 24 | 32 => Ok(Parsed {
                material: Material::Aes(Zeroizing::new(bytes.to_vec())),
                notes: Vec::new(),
            }),
            n => {
                bail!("an AES key file must hold exactly 16, 24 or 32 raw bytes, this one has {n}")
            }
        };
    }
    let parsed = if looks_like_pem(bytes) {
        parse_pem(bytes)?
    } else {
        parse_der(bytes, ty)?
    };
    if !parsed.material.matches(ty) {
        bail!(
            "the file holds a {}, not what --type {} asks for",
            parsed.material.describe(),
            type_name(ty)
        );
    }
    Ok(parsed)
}

fn type_name(ty: FileType) -> &'static str {
    match ty {
        FileType::Auto => "auto",
        FileType::Private => "private",
        FileType::Public => "public",
        FileType::Cert => "cert",
        FileType::Aes => "aes",
    }
}

fn looks_like_pem(bytes: &[u8]) -> bool {
    bytes.windows(11).any(|w| w == b"-----BEGIN ")
}

/// One `-----BEGIN X-----` … `-----END X-----` block, sliced out of a file that may hold
/// several (a key after its `EC PARAMETERS`, a certificate chain) and text around them.
fn pem_blocks(text: &str) -> Vec<&str> {
    let mut blocks = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("-----BEGIN ") {
        let after = &rest[start + 11..];
        let Some(label_end) = after.find("-----") else {
            break;
        };
        let label = &after[..label_end];
        let end_marker = format!("-----END {label}-----");
        let Some(end) = rest[start..].find(&end_marker) else {
            break;
        };
        let stop = start + end + end_marker.len();
        blocks.push(&rest[start..stop]);
        rest = &rest[stop..];
    }
    blocks
}

fn parse_pem(bytes: &[u8]) -> Result<Parsed> {
    let text = std::str::from_utf8(bytes).context("the PEM file is not valid text")?;
    let mut notes = Vec::new();
    let mut found: Option<Material> = None;
    let mut seen = Vec::new();
    for block in pem_blocks(text) {
        if block.contains("Proc-Type:") {
            bail!(
                "the PEM key is encrypted; decrypt it first (openssl pkey -in FILE -out plain.pem)"
            );
        }
        let (label, der) =
            pem_rfc7468::decode_vec(block.as_bytes()).map_err(|e| anyhow!("bad PEM block: {e}"))?;
        let der = Zeroizing::new(der);
        let material = match label {
            "PRIVATE KEY" => Material::Private(parse_pkcs8(&der)?),
            "RSA PRIVATE KEY" => Material::Private(parse_pkcs1_private(&der)?),
            "EC PRIVATE KEY" => Material::Private(parse_sec1(&der, None)?),
            "PUBLIC KEY" => Material::Public(parse_spki(&der)?),
            "RSA PUBLIC KEY" => Material::Public(parse_pkcs1_public(&der)?),
            "CERTIFICATE" | "X509 CERTIFICATE" => Material::Certificate(parse_certificate(&der)?),
            "ENCRYPTED PRIVATE KEY" => bail!(
                "the PKCS#8 key is encrypted; decrypt it first \
                 (openssl pkey -in FILE -out plain.pem)"
            ),
            // Written by `openssl ecparam -genkey` before the key; the key repeats the curve.
            "EC PARAMETERS" => continue,
            other => {
                seen.push(other.to_string());
                continue;
            }
        };
        if found.is_some() {
            notes.push(format!(
                "ignored a further PEM block \"{label}\" (one object per import)"
            ));
        } else {
            found = Some(material);
        }
    }
    match found {
        Some(material) => Ok(Parsed { material, notes }),
        None if seen.is_empty() => bail!("no PEM block found"),
        None => bail!("no supported PEM block (found: {})", seen.join(", ")),
    }
}

fn parse_der(der: &[u8], ty: FileType) -> Result<Parsed> {
    // Each parser checks the whole structure, so trying them in turn cannot mistake one kind for
    // another; the first error of the expected kind is the one worth showing.
    let mut errors: Vec<String> = Vec::new();
    if matches!(ty, FileType::Auto | FileType::Cert) {
        match parse_certificate(der) {
            Ok(c) => return Ok(done(Material::Certificate(c))),
            Err(e) => errors.push(format!("X.509: {e:#}")),
        }
    }
    if matches!(ty, FileType::Auto | FileType::Private) {
        match parse_pkcs8(der) {
            Ok(k) => return Ok(done(Material::Private(k))),
            Err(e) => errors.push(format!("PKCS#8: {e:#}")),
        }
        match parse_pkcs1_private(der) {
            Ok(k) => return Ok(done(Material::Private(k))),
            Err(e) => errors.push(format!("PKCS#1: {e:#}")),
        }
        match parse_sec1(der, None) {
            Ok(k) => return Ok(done(Material::Private(k))),
            Err(e) => errors.push(format!("SEC1: {e:#}")),
        }
    }
    if matches!(ty, FileType::Auto | FileType::Public) {
        match parse_spki(der) {
            Ok(k) => return Ok(done(Material::Public(k))),
            Err(e) => errors.push(format!("SubjectPublicKeyInfo: {e:#}")),
        }
        match parse_pkcs1_public(der) {
            Ok(k) => return Ok(done(Material::Public(k))),
            Err(e) => errors.push(format!("PKCS#1 public key: {e:#}")),
        }
    }
    let hint = if matches!(der.len(), 16 | 24 | 32) {
        " (for a raw AES key, pass --type aes)"
    } else {
        ""
    };
    bail!(
        "not a supported PEM or DER file{hint}; tried {}",
        errors.join("; ")
    )
}

fn done(material: Material) -> Parsed {
    Parsed {
        material,
        notes: Vec::new(),
    }
}

fn secret(bytes: &[u8]) -> Zeroizing<Vec<u8>> {
    Zeroizing::new(bytes.to_vec())
}

fn rsa_private(key: &pkcs1::RsaPrivateKeyRef<'_>) -> Result<PrivateKey> {
    if key.other_prime_infos.is_some() {
        bail!("multi-prime RSA keys cannot be stored through PKCS#11");
    }
    Ok(PrivateKey::Rsa(RsaPrivate {
        public: RsaPublic {
            modulus: key.modulus.as_bytes().to_vec(),
            public_exponent: key.public_exponent.as_bytes().to_vec(),
        },
        private_exponent: secret(key.private_exponent.as_bytes()),
        prime1: secret(key.prime1.as_bytes()),
        prime2: secret(key.prime2.as_bytes()),
        exponent1: secret(key.exponent1.as_bytes()),
        exponent2: secret(key.exponent2.as_bytes()),
        coefficient: secret(key.coefficient.as_bytes()),
    }))
}

/// Traditional OpenSSL RSA key (`RSA PRIVATE KEY`).
pub fn parse_pkcs1_private(der: &[u8]) -> Result<PrivateKey> {
    let key = pkcs1::RsaPrivateKeyRef::try_from(der)?;
    rsa_private(&key)
}

pub fn parse_pkcs1_public(der: &[u8]) -> Result<PublicKey> {
    let key = pkcs1::RsaPublicKeyRef::try_from(der)?;
    Ok(PublicKey::Rsa(RsaPublic {
        modulus: key.modulus.as_bytes().to_vec(),
        public_exponent: key.public_exponent.as_bytes().to_vec(),
    }))
}

/// SEC1 `ECPrivateKey`; `outer_curve` is the curve named by an enclosing PKCS#8 structure.
pub fn parse_sec1(der: &[u8], outer_curve: Option<Curve>) -> Result<PrivateKey> {
    let key = sec1::EcPrivateKey::try_from(der)?;
    let inner_curve = match key.parameters.and_then(|p| p.named_curve()) {
        Some(oid) => Some(Curve::from_oid(oid)?),
        None => None,
    };
    let curve = match (outer_curve, inner_curve) {
        (Some(a), Some(b)) if a != b => {
            bail!(
                "the key names two different curves ({} and {})",
                a.name(),
                b.name()
            )
        }
        (Some(c), _) | (None, Some(c)) => c,
        (None, None) => bail!("the EC key does not name its curve"),
    };
    let scalar = left_pad(key.private_key, curve.field_len())
        .with_context(|| format!("the {} private key is too long", curve.name()))?;
    let point = curve.public_point(&scalar)?;
    if let Some(file_point) = key.public_key {
        // A file whose public half does not belong to its private half would give a key pair
        // that silently fails to verify; refuse it instead.
        if curve.normalize_point(file_point)? != point {
            bail!("the public key in the file does not match its private key");
        }
    }
    Ok(PrivateKey::Ec {
        curve,
        scalar,
        point,
    })
}

/// PKCS#8 `PrivateKeyInfo` (`PRIVATE KEY`) holding an RSA, EC or Ed25519 key.
pub fn parse_pkcs8(der: &[u8]) -> Result<PrivateKey> {
    let info = pkcs8::PrivateKeyInfoRef::try_from(der)?;
    let inner = info.private_key.as_bytes();
    match info.algorithm.oid {
        OID_RSA | OID_RSA_PSS => parse_pkcs1_private(inner),
        OID_EC => {
            let curve = Curve::from_oid(
                info.algorithm
                    .parameters_oid()
                    .context("the EC key does not name its curve")?,
            )?;
            parse_sec1(inner, Some(curve))
        }
        OID_ED25519 => {
            // RFC 8410: the private key is itself an OCTET STRING holding the 32-byte seed.
            let seed = <&OctetStringRef>::from_der(inner)?.as_bytes();
            let seed: &[u8; 32] = seed.try_into().map_err(|_| {
                anyhow!(
                    "an Ed25519 private key must be 32 bytes, this one has {}",
                    seed.len()
                )
            })?;
            let public = ed25519_dalek::SigningKey::from_bytes(seed)
                .verifying_key()
                .to_bytes();
            if let Some(bits) = info.public_key.as_ref().and_then(|b| b.as_bytes()) {
                if bits != public {
                    bail!("the public key in the file does not match its private key");
                }
            }
            Ok(PrivateKey::Ed25519 {
                seed: secret(seed),
                public,
            })
        }
        other => bail!(
            "unsupported key algorithm {other} (supported: RSA, EC P-256/P-384/P-521, Ed25519)"
        ),
    }
}

/// `SubjectPublicKeyInfo` (`PUBLIC KEY`), also the key inside a certificate.
pub fn parse_spki(der: &[u8]) -> Result<PublicKey> {
    let spki = spki::SubjectPublicKeyInfoRef::try_from(der)?;
    public_from_spki(&spki)
}

fn public_from_spki(spki: &spki::SubjectPublicKeyInfoRef<'_>) -> Result<PublicKey> {
    let bits = spki
        .subject_public_key
        .as_bytes()
        .context("the public key BIT STRING is not a whole number of bytes")?;
    match spki.algorithm.oid {
        OID_RSA | OID_RSA_PSS => parse_pkcs1_public(bits),
        OID_EC => {
            let curve = Curve::from_oid(
                spki.algorithm
                    .parameters_oid()
                    .context("the EC key does not name its curve")?,
            )?;
            Ok(PublicKey::Ec {
                curve,
                point: curve.normalize_point(bits)?,
            })
        }
        OID_ED25519 => {
            let key: [u8; 32] = bits.try_into().map_err(|_| {
                anyhow!(
                    "an Ed25519 public key must be 32 bytes, this one has {}",
                    bits.len()
                )
            })?;
            // Reject bytes that are not a curve point, as for the NIST curves.
            ed25519_dalek::VerifyingKey::from_bytes(&key)
                .map_err(|_| anyhow!("the Ed25519 public key is not a valid curve point"))?;
            Ok(PublicKey::Ed25519(key))
        }
        other => bail!(
            "unsupported key algorithm {other} (supported: RSA, EC P-256/P-384/P-521, Ed25519)"
        ),
    }
}

/// X.509 certificate, parsed leniently (the `Raw` profile) because a token may well hold
/// certificates that bend RFC 5280, such as long serial numbers.
pub fn parse_certificate(der: &[u8]) -> Result<Certificate> {
    use x509_cert::certificate::{CertificateInner, Raw};
    let cert = CertificateInner::<Raw>::from_der(der)?;
    let tbs = cert.tbs_certificate();
    let spki = tbs.subject_public_key_info();
    // A certificate for a key type we cannot import still imports; its id then hashes the raw
    // key bits, which is what other tools fall back to as well.
    let parsed_key = spki
        .to_der()
        .map_err(anyhow::Error::from)
        .and_then(|d: Vec<u8>| parse_spki(&d));
    let key_id = match parsed_key {
        Ok(key) => key.key_id(),
        Err(_) => Sha1::digest(spki.subject_public_key.raw_bytes()).to_vec(),
    };
    Ok(Certificate {
        der: der.to_vec(),
        subject: tbs.subject().to_der()?,
        issuer: tbs.issuer().to_der()?,
        serial: tbs.serial_number().to_der()?,
        subject_text: tbs.subject().to_string(),
        key_id,
    })
}

/// Big-endian integer widened to `len` bytes; encoders may drop leading zero bytes.
fn left_pad(bytes: &[u8], len: usize) -> Result<Zeroizing<Vec<u8>>> {
    let trimmed = match bytes.iter().position(|&b| b != 0) {
        Some(i) => &bytes[i..],
        None => &[][..],
    };
    if trimmed.len() > len {
        bail!("{} bytes where at most {len} fit", trimmed.len());
    }
    let mut out = Zeroizing::new(vec![0u8; len]);
    out[len - trimmed.len()..].copy_from_slice(trimmed);
    Ok(out)
}

fn bit_len(be: &[u8]) -> usize {
    match be.iter().position(|&b| b != 0) {
        Some(i) => (be.len() - i) * 8 - be[i].leading_zeros() as usize,
        None => 0,
    }
}

/// CKA_EC_POINT: the point wrapped in a DER OCTET STRING, as PKCS#11 specifies.
pub fn ec_point_attr(point: &[u8]) -> Result<Vec<u8>> {
    Ok(OctetStringRef::new(point)?.to_der()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Test keys generated once with openssl (tests/data); they protect nothing.
    const RSA_PKCS8_PEM: &[u8] = include_bytes!("../tests/data/rsa1024-pkcs8.pem");
    const RSA_PKCS8_DER: &[u8] = include_bytes!("../tests/data/rsa1024-pkcs8.der");
    const RSA_PKCS1_PEM: &[u8] = include_bytes!("../tests/data/rsa1024-pkcs1.pem");
    const RSA_PUB_PEM: &[u8] = include_bytes!("../tests/data/rsa1024-pub.pem");
    const P256_WITH_PARAMS: &[u8] = include_bytes!("../tests/data/p256-with-params.pem");
    const P256_PKCS8: &[u8] = include_bytes!("../tests/data/p256-pkcs8.pem");
    const P256_CERT_PEM: &[u8] = include_bytes!("../tests/data/p256-cert.pem");
    const P256_CERT_DER: &[u8] = include_bytes!("../tests/data/p256-cert.der");
    const P384_PKCS8: &[u8] = include_bytes!("../tests/data/p384-pkcs8.pem");
    const P521_NOPUB_DER: &[u8] = include_bytes!("../tests/data/p521-nopub-sec1.der");
    const P521_PEM: &[u8] = include_bytes!("../tests/data/p521.pem");
    const ED25519_PKCS8: &[u8] = include_bytes!("../tests/data/ed25519-pkcs8.pem");
    const ED25519_PUB: &[u8] = include_bytes!("../tests/data/ed25519-pub.pem");

    /// Uncompressed P-256 point of the fixture, as printed by `openssl ec -pubout`.
    const P256_POINT_HEX: &str = "04f74098f14ae2234f7e41449f17bb451c04857d85e89494868af7c7b2719cbdce6eeb91a18e0d7e6f8313ad0d19819b7320365310ba427fed96e44635c4cba3d6";
    /// SHA-1 of that point (`xxd -r -p | sha1sum`).
    const P256_ID_HEX: &str = "1cc56fb08ed27b1180c23858c71624e6d37a056d";
    /// SHA-1 of the RSA fixture's modulus.
    const RSA_ID_HEX: &str = "44f8d3099862f290b31bd35f2c6723ae07448f31";
    const ED25519_PUB_HEX: &str =
        "503bede8b40361f91f8d74aa8014e974b0a89d914da6049d6c277cf8f88bc3e9";

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn private(bytes: &[u8]) -> Result<PrivateKey> {
        match parse(bytes, FileType::Auto)?.material {
            Material::Private(k) => Ok(k),
            other => bail!("expected a private key, got {}", other.describe()),
        }
    }

    fn public(bytes: &[u8]) -> Result<PublicKey> {
        match parse(bytes, FileType::Auto)?.material {
            Material::Public(k) => Ok(k),
            other => bail!("expected a public key, got {}", other.describe()),
        }
    }

    #[test]
    fn rsa_formats_agree() -> Result<()> {
        let from_pkcs8 = private(RSA_PKCS8_PEM)?;
        let PrivateKey::Rsa(rsa) = &from_pkcs8 else {
            bail!("expected RSA")
        };
        assert_eq!(bit_len(&rsa.public.modulus), 1024);
        assert_eq!(rsa.public.public_exponent, vec![1, 0, 1]);
        assert_eq!(rsa.prime1.len(), 64);
        assert_eq!(hex(&from_pkcs8.public().key_id()), RSA_ID_HEX);
        for other in [RSA_PKCS8_DER, RSA_PKCS1_PEM] {
            assert_eq!(private(other)?.public(), from_pkcs8.public());
        }
        assert_eq!(public(RSA_PUB_PEM)?, from_pkcs8.public());
        Ok(())
    }

    #[test]
    fn sec1_with_ec_parameters_block() -> Result<()> {
        let parsed = parse(P256_WITH_PARAMS, FileType::Auto)?;
        // The leading EC PARAMETERS block is expected, not worth a remark.
        assert!(parsed.notes.is_empty());
        let Material::Private(PrivateKey::Ec {
            curve,
            scalar,
            point,
        }) = parsed.material
        else {
            bail!("expected an EC private key");
        };
        assert_eq!(curve, Curve::P256);
        assert_eq!(scalar.len(), 32);
        assert_eq!(hex(&point), P256_POINT_HEX);
        Ok(())
    }

    #[test]
    fn pkcs8_ec_and_key_id() -> Result<()> {
        let key = private(P256_PKCS8)?;
        assert_eq!(hex(&key.public().key_id()), P256_ID_HEX);
        let PrivateKey::Ec { curve, scalar, .. } = private(P384_PKCS8)? else {
            bail!("expected EC")
        };
        assert_eq!((curve, scalar.len()), (Curve::P384, 48));
        Ok(())
    }

    #[test]
    fn p521_point_is_derived_when_missing() -> Result<()> {
        let PrivateKey::Ec {
            curve,
            scalar,
            point,
        } = private(P521_NOPUB_DER)?
        else {
            bail!("expected EC")
        };
        assert_eq!((curve, scalar.len(), point.len()), (Curve::P521, 66, 133));
        // Same key with its public half present: the derived point must equal the stored one.
        assert_eq!(private(P521_PEM)?.public(), PublicKey::Ec { curve, point });
        Ok(())
    }

    #[test]
    fn ed25519_seed_and_public() -> Result<()> {
        let key = private(ED25519_PKCS8)?;
        let PrivateKey::Ed25519 { seed, public: pk } = &key else {
            bail!("expected Ed25519")
        };
        assert_eq!(seed.len(), 32);
        assert_eq!(hex(pk), ED25519_PUB_HEX);
        assert_eq!(public(ED25519_PUB)?, key.public());
        Ok(())
    }

    #[test]
    fn certificate_pairs_with_its_key() -> Result<()> {
        for bytes in [P256_CERT_PEM, P256_CERT_DER] {
            let Material::Certificate(cert) = parse(bytes, FileType::Cert)?.material else {
                bail!("expected a certificate");
            };
            assert_eq!(hex(&cert.key_id), P256_ID_HEX);
            assert_eq!(cert.der, P256_CERT_DER);
            assert_eq!(&cert.serial[..2], &[0x02, 0x14]);
            assert_eq!(cert.serial[2], 0x7a);
            assert!(
                cert.subject_text.contains("CN=ferrohsm test"),
                "{}",
                cert.subject_text
            );
            assert_eq!(cert.subject[0], 0x30);
        }
        Ok(())
    }

    #[test]
    fn chain_keeps_first_and_notes_the_rest() -> Result<()> {
        let mut two = P256_CERT_PEM.to_vec();
        two.extend_from_slice(P256_CERT_PEM);
        let parsed = parse(&two, FileType::Auto)?;
        assert!(matches!(parsed.material, Material::Certificate(_)));
        assert_eq!(parsed.notes.len(), 1);
        Ok(())
    }

    #[test]
    fn mismatched_public_half_is_refused() -> Result<()> {
        // Pair the fixture's private scalar with another valid P-256 point.
        let PrivateKey::Ec { scalar, .. } = private(P256_PKCS8)? else {
            bail!("expected EC")
        };
        let other = Curve::P256.public_point(&[1u8; 32])?;
        let forged = sec1::EcPrivateKey {
            private_key: &scalar,
            parameters: Some(sec1::EcParameters::NamedCurve(OID_P256)),
            public_key: Some(&other),
        }
        .to_der()?;
        let err = parse_sec1(&forged, None)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("does not match"), "{err}");
        Ok(())
    }

    #[test]
    fn type_filter_rejects_other_kinds() -> Result<()> {
        let err = parse(P256_PKCS8, FileType::Cert)
            .err()
            .map(|e| e.to_string());
        assert!(err
            .unwrap_or_default()
            .contains("not what --type cert asks for"));
        assert!(parse(P256_PKCS8, FileType::Private).is_ok());
        assert!(parse(P256_CERT_DER, FileType::Private).is_err());
        Ok(())
    }

    #[test]
    fn encrypted_and_garbage_inputs_fail_clearly() {
        let enc =
            b"-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n";
        let msg = parse(enc, FileType::Auto)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(msg.contains("encrypted"), "{msg}");
        let msg = parse(b"hello", FileType::Auto)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(msg.contains("not a supported"), "{msg}");
        let msg = parse(&[9u8; 16], FileType::Auto)
            .err()
            .map(|e| e.to_string());
        assert!(msg.unwrap_or_default().contains("--type aes"));
    }

    #[test]
    fn left_pad_widens_and_rejects_overflow() -> Result<()> {
        assert_eq!(left_pad(&[1, 2], 4)?.as_slice(), &[0, 0, 1, 2]);
        assert_eq!(left_pad(&[0, 0, 0, 7], 2)?.as_slice(), &[0, 7]);
        assert!(left_pad(&[1, 2, 3], 2).is_err());
        Ok(())
    }

    #[test]
    fn bit_len_counts_significant_bits() {
        assert_eq!(bit_len(&[0x00, 0x80, 0x00]), 16);
        assert_eq!(bit_len(&[0x01]), 1);
        assert_eq!(bit_len(&[]), 0);
    }

    #[test]
    fn aes_requires_exact_lengths() {
        assert!(parse(&[7u8; 16], FileType::Aes).is_ok());
        assert!(parse(&[7u8; 24], FileType::Aes).is_ok());
        assert!(parse(&[7u8; 32], FileType::Aes).is_ok());
        assert!(parse(&[7u8; 20], FileType::Aes).is_err());
        // A raw key under auto is not guessed: that would take any 16-byte file for a key.
        assert!(parse(&[7u8; 16], FileType::Auto).is_err());
    }

    #[test]
    fn pem_blocks_skip_surrounding_text() {
        let text = "junk\n-----BEGIN A-----\nQUFB\n-----END A-----\nmid\n-----BEGIN B-----\nQkJC\n-----END B-----\n";
        let blocks = pem_blocks(text);
        assert_eq!(blocks.len(), 2);
        assert!(blocks[0].starts_with("-----BEGIN A-----"));
        assert!(blocks[1].ends_with("-----END B-----"));
    }

    #[test]
    fn ec_params_is_der_oid() -> Result<()> {
        assert_eq!(
            Curve::P256.ec_params()?,
            vec![0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07]
        );
        assert_eq!(OID_ED25519.to_der()?, vec![0x06, 0x03, 0x2b, 0x65, 0x70]);
        Ok(())
    }

    #[test]
    fn ec_point_attr_wraps_in_octet_string() -> Result<()> {
        let point = [4u8; 65];
        let attr = ec_point_attr(&point)?;
        assert_eq!(&attr[..2], &[0x04, 0x41]);
        assert_eq!(&attr[2..], &point[..]);
        Ok(())
    }
}
