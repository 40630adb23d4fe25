//! DER building and parsing for the crypto tests (X.509 SubjectPublicKeyInfo, PKCS#1
//! RSAPrivateKey, ECDSA-Sig-Value, OCTET STRING wrapping of CKA_EC_POINT per PKCS#11 v3.0
//! Current Mechanisms §2.3.3), and runners for the independent implementations the tests
//! compare against: the `openssl` CLI and, when importable, Python `cryptography`.

use std::path::{Path, PathBuf};
use std::process::Command;

fn len_bytes(n: usize) -> Vec<u8> {
    if n < 0x80 {
        vec![n as u8]
    } else {
        let b = n.to_be_bytes();
        let first = b.iter().position(|x| *x != 0).unwrap_or(b.len() - 1);
        let mut v = vec![0x80 | (b.len() - first) as u8];
        v.extend_from_slice(&b[first..]);
        v
    }
}

/// One TLV.
pub fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut v = vec![tag];
    v.extend(len_bytes(content.len()));
    v.extend_from_slice(content);
    v
}

pub fn seq(parts: &[Vec<u8>]) -> Vec<u8> {
    tlv(0x30, &parts.concat())
}

/// A non-negative INTEGER from big-endian magnitude bytes.
pub fn uint(mag: &[u8]) -> Vec<u8> {
    let first = mag.iter().position(|x| *x != 0).unwrap_or(mag.len());
    let mut m = mag[first..].to_vec();
    if m.is_empty() || m[0] & 0x80 != 0 {
        m.insert(0, 0);
    }
    tlv(0x02, &m)
}

pub fn octet_string(b: &[u8]) -> Vec<u8> {
    tlv(0x04, b)
}

pub fn bit_string(b: &[u8]) -> Vec<u8> {
    let mut c = vec![0u8];
    c.extend_from_slice(b);
    tlv(0x03, &c)
}

pub fn null() -> Vec<u8> {
    vec![0x05, 0x00]
}

/// Parse one TLV at the start of `der`: (tag, content, rest).
#[track_caller]
pub fn parse_tlv(der: &[u8]) -> (u8, &[u8], &[u8]) {
    assert!(der.len() >= 2, "truncated DER: {der:02x?}");
    let tag = der[0];
    let (len, hdr) = if der[1] < 0x80 {
        (der[1] as usize, 2)
    } else {
        let n = (der[1] & 0x7f) as usize;
        assert!(
            (1..=4).contains(&n) && der.len() >= 2 + n,
            "bad DER length: {der:02x?}"
        );
        let mut l = 0usize;
        for b in &der[2..2 + n] {
            l = (l << 8) | *b as usize;
        }
        (l, 2 + n)
    };
    assert!(der.len() >= hdr + len, "DER content truncated: {der:02x?}");
    (tag, &der[hdr..hdr + len], &der[hdr + len..])
}

/// The content of a DER OCTET STRING that is the whole input (CKA_EC_POINT).
#[track_caller]
pub fn unwrap_octet_string(der: &[u8]) -> Vec<u8> {
    let (tag, content, rest) = parse_tlv(der);
    assert_eq!(tag, 0x04, "not an OCTET STRING: {der:02x?}");
    assert!(rest.is_empty(), "trailing bytes after the OCTET STRING");
    content.to_vec()
}

/// OID 1.2.840.113549.1.1.1 rsaEncryption.
pub const OID_RSA_ENCRYPTION: &[u8] = &[
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01,
];
/// OID 1.2.840.10045.2.1 id-ecPublicKey.
pub const OID_EC_PUBLIC_KEY: &[u8] = &[0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];

/// SubjectPublicKeyInfo of an RSA public key.
pub fn rsa_spki(n: &[u8], e: &[u8]) -> Vec<u8> {
    seq(&[
        seq(&[OID_RSA_ENCRYPTION.to_vec(), null()]),
        bit_string(&seq(&[uint(n), uint(e)])),
    ])
}

/// SubjectPublicKeyInfo of an EC public key; `curve` is the DER OID, `point` the raw point.
pub fn ec_spki(curve: &[u8], point: &[u8]) -> Vec<u8> {
    seq(&[
        seq(&[OID_EC_PUBLIC_KEY.to_vec(), curve.to_vec()]),
        bit_string(point),
    ])
}

/// SubjectPublicKeyInfo of an Ed25519 public key (RFC 8410).
pub fn ed25519_spki(public: &[u8]) -> Vec<u8> {
    seq(&[
        seq(&[vec![0x06, 0x03, 0x2b, 0x65, 0x70]]),
        bit_string(public),
    ])
}

/// PKCS#1 RSAPrivateKey.
#[allow(clippy::too_many_arguments)]
pub fn rsa_private_pkcs1(
    n: &[u8],
    e: &[u8],
    d: &[u8],
    p: &[u8],
    q: &[u8],
    dp: &[u8],
    dq: &[u8],
    qi: &[u8],
) -> Vec<u8> {
    seq(&[
        uint(&[0]),
        uint(n),
        uint(e),
        uint(d),
        uint(p),
        uint(q),
        uint(dp),
        uint(dq),
        uint(qi),
    ])
}

/// The PKCS#1 private key of tests/common/keys.rs.
pub fn fixed_rsa_private_der() -> Vec<u8> {
    use super::keys::*;
    rsa_private_pkcs1(
        &unhex(RSA_MODULUS),
        &unhex(RSA_PUBLIC_EXPONENT),
        &unhex(RSA_PRIVATE_EXPONENT),
        &unhex(RSA_PRIME_1),
        &unhex(RSA_PRIME_2),
        &unhex(RSA_EXPONENT_1),
        &unhex(RSA_EXPONENT_2),
        &unhex(RSA_COEFFICIENT),
    )
}

/// ECDSA r||s (PKCS#11 format) to a DER ECDSA-Sig-Value.
#[track_caller]
pub fn ecdsa_raw_to_der(rs: &[u8]) -> Vec<u8> {
    assert!(
        rs.len() % 2 == 0 && !rs.is_empty(),
        "r||s of odd length {}",
        rs.len()
    );
    let (r, s) = rs.split_at(rs.len() / 2);
    seq(&[uint(r), uint(s)])
}

/// A DER ECDSA-Sig-Value to r||s with each half `half` bytes long.
#[track_caller]
pub fn ecdsa_der_to_raw(der: &[u8], half: usize) -> Vec<u8> {
    let (tag, body, _) = parse_tlv(der);
    assert_eq!(tag, 0x30);
    let (t1, r, rest) = parse_tlv(body);
    let (t2, s, _) = parse_tlv(rest);
    assert_eq!((t1, t2), (0x02, 0x02));
    let mut out = Vec::new();
    for x in [r, s] {
        let x: Vec<u8> = x.iter().copied().skip_while(|b| *b == 0).collect();
        assert!(x.len() <= half);
        out.extend(std::iter::repeat_n(0u8, half - x.len()));
        out.extend(x);
    }
    out
}

/// The BIT STRING content (without the unused-bits byte) of a SubjectPublicKeyInfo: the raw EC
/// point or the RSAPublicKey.
#[track_caller]
pub fn spki_key_bits(spki: &[u8]) -> Vec<u8> {
    let (tag, body, _) = parse_tlv(spki);
    assert_eq!(tag, 0x30);
    let (_, _, rest) = parse_tlv(body); // AlgorithmIdentifier
    let (t, bits, _) = parse_tlv(rest);
    assert_eq!(t, 0x03, "no BIT STRING in SPKI");
    assert_eq!(bits[0], 0, "unused bits in the SPKI key");
    bits[1..].to_vec()
}

// ---------------------------------------------------------------------------------------------
// OpenSSL

/// A scratch directory for files handed to the openssl CLI.
#[derive(Debug)]
pub struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    pub fn new() -> Scratch {
        Scratch {
            dir: tempfile::Builder::new()
                .prefix("ferrohsm-ossl-")
                .tempdir()
                .expect("temp dir"),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Write a file and return its path as a string.
    pub fn write(&self, name: &str, data: &[u8]) -> String {
        let p = self.path(name);
        std::fs::write(&p, data).expect("write scratch file");
        p.display().to_string()
    }

    pub fn read(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.path(name)).expect("read scratch file")
    }

    pub fn p(&self, name: &str) -> String {
        self.path(name).display().to_string()
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Default for Scratch {
    fn default() -> Self {
        Self::new()
    }
}

/// Run `openssl` with these arguments; returns (success, stdout, stderr).
pub fn openssl_run(args: &[&str]) -> (bool, Vec<u8>, String) {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .expect("run the openssl CLI (is it installed?)");
    (
        out.status.success(),
        out.stdout,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Run `openssl`, failing the test if it fails; returns stdout.
#[track_caller]
pub fn openssl(args: &[&str]) -> Vec<u8> {
    let (ok, stdout, stderr) = openssl_run(args);
    assert!(ok, "openssl {args:?} failed:\n{stderr}");
    stdout
}

/// AES-ECB of whole blocks with the openssl CLI (an independent AES for CKA_CHECK_VALUE).
pub fn openssl_aes_ecb(key: &[u8], data: &[u8]) -> Vec<u8> {
    let s = Scratch::new();
    let input = s.write("in.bin", data);
    let cipher = format!("-aes-{}-ecb", key.len() * 8);
    let k = super::p11::hex(key);
    openssl(&[
        "enc",
        &cipher,
        "-nopad",
        "-K",
        &k,
        "-in",
        &input,
        "-out",
        &s.p("out.bin"),
    ]);
    s.read("out.bin")
}

/// SHA-2 with the openssl CLI.
pub fn openssl_digest(alg: &str, data: &[u8]) -> Vec<u8> {
    let s = Scratch::new();
    let input = s.write("in.bin", data);
    openssl(&[
        "dgst",
        &format!("-{alg}"),
        "-binary",
        "-out",
        &s.p("out.bin"),
        &input,
    ]);
    s.read("out.bin")
}

// ---------------------------------------------------------------------------------------------
// Python `cryptography`

/// Fails the test unless `python3 -c "import cryptography"` works.
pub fn require_python_cryptography() {
    let ok = Command::new("python3")
        .args(["-c", "import cryptography.hazmat.primitives.ciphers.aead"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    // The cross-checks are the independent half of these tests: without the package they would
    // pass on the module's word alone, so a missing package fails the test instead of skipping.
    assert!(
        ok,
        "python3 with the `cryptography` package is required (pip install cryptography; \
         scripts/test installs it)"
    );
}

/// Run a Python snippet with hex arguments in `sys.argv[1:]`; returns stdout trimmed, failing
/// the test if Python fails.
#[track_caller]
pub fn python(code: &str, args: &[String]) -> String {
    let out = Command::new("python3")
        .arg("-c")
        .arg(code)
        .args(args)
        .output()
        .expect("run python3");
    assert!(
        out.status.success(),
        "python3 failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}
