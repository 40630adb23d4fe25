//! The independent implementation the capability test checks the module against: one long-lived
//! `python3` process with the `cryptography` package (OpenSSL underneath) and `hashlib`, driven
//! over a line protocol so hundreds of cross-checks cost one interpreter start.
//!
//! A request is `op arg…` on one line; byte strings travel as hex (`-` for the empty string),
//! names and numbers as plain words. The answer is `ok value…` or `err message`.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

const SCRIPT: &str = r#"
import sys, hashlib, hmac as hmaclib
try:
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM, AESCCM
    from cryptography.hazmat.primitives import keywrap, cmac, hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa, ec, ed25519, ed448, x25519, x448, padding, utils
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF, HKDFExpand
    from cryptography.hazmat.primitives.kdf.x963kdf import X963KDF
except ImportError as e:
    print("missing the Python package `cryptography`: " + str(e), flush=True)
    sys.exit(3)

H = {"sha1": hashes.SHA1, "sha224": hashes.SHA224, "sha256": hashes.SHA256,
     "sha384": hashes.SHA384, "sha512": hashes.SHA512, "sha3_224": hashes.SHA3_224,
     "sha3_256": hashes.SHA3_256, "sha3_384": hashes.SHA3_384, "sha3_512": hashes.SHA3_512,
     "md5": hashes.MD5}
CURVES = {"p192": ec.SECP192R1, "p256": ec.SECP256R1, "p384": ec.SECP384R1, "p521": ec.SECP521R1}

def b(x): return b"" if x == "-" else bytes.fromhex(x)
def n(x): return int.from_bytes(b(x), "big")
def h(x): return x.hex() if x else "-"

def enc(c, d):
    e = c.encryptor()
    return e.update(d) + e.finalize()
def ecb(k, d): return enc(Cipher(algorithms.AES(b(k)), modes.ECB()), b(d))
def cbc(k, iv, d): return enc(Cipher(algorithms.AES(b(k)), modes.CBC(b(iv))), b(d))
def cbc_pad(k, iv, d):
    d = b(d); p = 16 - len(d) % 16
    return cbc(k, iv, (d + bytes([p]) * p).hex())
def ctr(k, cb, d): return enc(Cipher(algorithms.AES(b(k)), modes.CTR(b(cb))), b(d))
def cts(k, iv, d):
    # CBC-CS1 (NIST SP 800-38A addendum), written out from plain CBC: the module's variant.
    d = b(d); r = len(d) % 16
    if r == 0: return cbc(k, iv, d.hex())
    c = cbc(k, iv, (d + bytes(16 - r)).hex())
    return c[:-32] + c[-32:-32 + r] + c[-16:]
def gcm(k, iv, aad, d): return AESGCM(b(k)).encrypt(b(iv), b(d), b(aad) or None)
def ccm(k, nonce, aad, d, t): return AESCCM(b(k), tag_length=int(t)).encrypt(b(nonce), b(d), b(aad) or None)
def kw(k, d): return keywrap.aes_key_wrap(b(k), b(d))
def kwp(k, d): return keywrap.aes_key_wrap_with_padding(b(k), b(d))
def aes_cmac(k, d):
    c = cmac.CMAC(algorithms.AES(b(k))); c.update(b(d)); return c.finalize()
def hmac(hn, k, d): return hmaclib.new(b(k), b(d), hn).digest()
# Issue 12: Triple DES (8-, 16- or 24-byte keys: K1K1K1, K1K2K1, K1K2K3), from the decrepit module.
def tdes(k):
    import warnings
    warnings.simplefilter("ignore")
    from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
    return TripleDES(b(k))
def tdes_ecb(k, d): return enc(Cipher(tdes(k), modes.ECB()), b(d))
def tdes_cbc(k, iv, d): return enc(Cipher(tdes(k), modes.CBC(b(iv))), b(d))
def tdes_cbc_pad(k, iv, d):
    p = 8 - len(b(d)) % 8
    return enc(Cipher(tdes(k), modes.CBC(b(iv))), b(d) + bytes([p]) * p)
def tdes_cmac(k, d):
    c = cmac.CMAC(tdes(k)); c.update(b(d)); return c.finalize()
def digest(hn, d): return hashlib.new(hn, b(d)).digest()
def hkdf(hn, salt, ikm, info, l):
    return HKDF(algorithm=H[hn](), length=int(l), salt=b(salt) or None, info=b(info)).derive(b(ikm))
def hkdf_expand(hn, prk, info, l):
    return HKDFExpand(algorithm=H[hn](), length=int(l), info=b(info)).derive(b(prk))
def pbkdf2(hn, pw, salt, it, l): return hashlib.pbkdf2_hmac(hn, b(pw), b(salt), int(it), int(l))

def rsa_pub(nn, e): return rsa.RSAPublicNumbers(n(e), n(nn)).public_key()
PRIV = {}
def rsa_priv(nn, e, d, p, q):
    # OpenSSL's key check of a 4096-bit key takes seconds: once per key.
    key = (nn, e, d, p, q)
    if key not in PRIV:
        p, q, d = n(p), n(q), n(d)
        PRIV[key] = rsa.RSAPrivateNumbers(p, q, d, rsa.rsa_crt_dmp1(d, p), rsa.rsa_crt_dmq1(d, q),
            rsa.rsa_crt_iqmp(p, q), rsa.RSAPublicNumbers(n(e), n(nn))).private_key()
    return PRIV[key]
def rsa_pad(spec):
    f = spec.split(":")
    if f[0] == "pkcs1": return padding.PKCS1v15()
    if f[0] == "oaep": return padding.OAEP(padding.MGF1(H[f[1]]()), H[f[1]](), b(f[2]) or None)
    if f[0] == "pss": return padding.PSS(padding.MGF1(H[f[1]]()), int(f[2]))
    raise ValueError("padding " + spec)
def alg(hn, pre): return utils.Prehashed(H[hn]()) if pre == "1" else H[hn]()
def rsa_encrypt(nn, e, pad, d): return rsa_pub(nn, e).encrypt(b(d), rsa_pad(pad))
def rsa_decrypt(nn, e, d, p, q, pad, c): return rsa_priv(nn, e, d, p, q).decrypt(b(c), rsa_pad(pad))
def rsa_sign(nn, e, d, p, q, pad, hn, pre, m): return rsa_priv(nn, e, d, p, q).sign(b(m), rsa_pad(pad), alg(hn, pre))
def rsa_verify(nn, e, pad, hn, pre, s, m):
    rsa_pub(nn, e).verify(b(s), b(m), rsa_pad(pad), alg(hn, pre)); return b""
def rsa_recover(nn, e, s): return rsa_pub(nn, e).recover_data_from_signature(b(s), padding.PKCS1v15(), None)
def rsa_raw(nn, x, m):
    k = (n(nn).bit_length() + 7) // 8
    return pow(n(m), n(x), n(nn)).to_bytes(k, "big")
def rsa_check(nn, e, d, p, q):
    rsa_priv(nn, e, d, p, q); return b""

def ec_flen(cv): return (CURVES[cv]().key_size + 7) // 8
def ec_pubkey(cv, pt): return ec.EllipticCurvePublicKey.from_encoded_point(CURVES[cv](), b(pt))
def ec_gen(cv):
    k = ec.generate_private_key(CURVES[cv]())
    pt = k.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return k.private_numbers().private_value.to_bytes(ec_flen(cv), "big").hex() + " " + pt.hex()
def ec_compress(cv, pt):
    return ec_pubkey(cv, pt).public_bytes(serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint)
def ec_sign(cv, d, hn, pre, m):
    k = ec.derive_private_key(n(d), CURVES[cv]())
    r, s = utils.decode_dss_signature(k.sign(b(m), ec.ECDSA(alg(hn, pre))))
    l = ec_flen(cv)
    return r.to_bytes(l, "big") + s.to_bytes(l, "big")
def ec_verify(cv, pt, hn, pre, sig, m):
    sig = b(sig); l = len(sig) // 2
    if len(sig) != 2 * ec_flen(cv): raise ValueError("signature of %d bytes" % len(sig))
    der = utils.encode_dss_signature(int.from_bytes(sig[:l], "big"), int.from_bytes(sig[l:], "big"))
    ec_pubkey(cv, pt).verify(der, b(m), ec.ECDSA(alg(hn, pre))); return b""
def ecdh(cv, d, peer):
    return ec.derive_private_key(n(d), CURVES[cv]()).exchange(ec.ECDH(), ec_pubkey(cv, peer))
def ecdh_x963(cv, d, peer, hn, shared, l):
    z = ecdh(cv, d, peer)
    return X963KDF(algorithm=H[hn](), length=int(l), sharedinfo=b(shared) or None).derive(z)
def ed_gen():
    k = ed25519.Ed25519PrivateKey.generate()
    raw = (serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    seed = k.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
    return seed.hex() + " " + k.public_key().public_bytes(*raw).hex()
def ed_sign(seed, m): return ed25519.Ed25519PrivateKey.from_private_bytes(b(seed)).sign(b(m))
# issue 12: OFB/CFB (the decrepit module from cryptography 48 on), CFB64 from its SP 800-38A
# definition over ECB, XTS, KWP unwrapping, CBC-MAC (zero padding, zero IV) and GMAC.
try:
    from cryptography.hazmat.decrepit.ciphers.modes import OFB, CFB, CFB8
except ImportError:
    OFB, CFB, CFB8 = modes.OFB, modes.CFB, modes.CFB8
def ofb(k, iv, d): return enc(Cipher(algorithms.AES(b(k)), OFB(b(iv))), b(d))
def cfb128(k, iv, d): return enc(Cipher(algorithms.AES(b(k)), CFB(b(iv))), b(d))
def cfb8(k, iv, d): return enc(Cipher(algorithms.AES(b(k)), CFB8(b(iv))), b(d))
def cfb64(k, iv, d):
    r, d, out = b(iv), b(d), b""
    for i in range(0, len(d), 8):
        o = bytes.fromhex(h(ecb(k, r.hex())))
        c = bytes(x ^ y for x, y in zip(d[i:i + 8], o)); out += c; r = r[8:] + c
    return out
def xts(k, tw, d): return enc(Cipher(algorithms.AES(b(k)), modes.XTS(b(tw))), b(d))
def kwp_unwrap(k, d): return keywrap.aes_key_unwrap_with_padding(b(k), b(d))
def cbc_mac(k, d, l):
    d = b(d); d += bytes(-len(d) % 16)
    return cbc(k, "00" * 16, d.hex())[-16:][:int(l)] if d else bytes(int(l))
def gmac(k, iv, d): return AESGCM(b(k)).encrypt(b(iv), b"", b(d) or None)
def ed_verify(pub, sig, m):
    ed25519.Ed25519PublicKey.from_public_bytes(b(pub)).verify(b(sig), b(m)); return b""

# Issue 12, derivation: SP 800-108 (NIST's pseudocode, over hmac) and RSA key generation.
def kbkdf_hmac(mode, hn, k, fixed, iv, l):
    # PRF input: [chain] || [i]_32 || fixed; counter mode has no chain, double pipeline
    # chains A(i) = PRF(A(i-1)) from A(0) = fixed.
    k, fixed, chain, l = b(k), b(fixed), b(iv), int(l)
    out, i, a = b"", 1, fixed
    while len(out) < l:
        ctr = i.to_bytes(4, "big")
        if mode == "counter": blk = hmaclib.new(k, ctr + fixed, hn).digest()
        elif mode == "feedback": blk = chain = hmaclib.new(k, chain + ctr + fixed, hn).digest()
        else:
            a = hmaclib.new(k, a, hn).digest()
            blk = hmaclib.new(k, a + ctr + fixed, hn).digest()
        out += blk; i += 1
    return out[:l]
def rsa_gen(bits):
    k = rsa.generate_private_key(65537, int(bits)).private_numbers()
    f = lambda x: "%x" % x if len("%x" % x) % 2 == 0 else "0%x" % x
    return " ".join(f(x) for x in (k.public_numbers.n, k.public_numbers.e, k.d, k.p, k.q,
                                    k.dmp1, k.dmq1, k.iqmp))
def ed448_gen():
    k = ed448.Ed448PrivateKey.generate()
    raw = (serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    seed = k.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
    return seed.hex() + " " + k.public_key().public_bytes(*raw).hex()
def ed448_sign(seed, m): return ed448.Ed448PrivateKey.from_private_bytes(b(seed)).sign(b(m))
def ed448_verify(pub, sig, m):
    ed448.Ed448PublicKey.from_public_bytes(b(pub)).verify(b(sig), b(m)); return b""
XDH = {"x25519": (x25519.X25519PrivateKey, x25519.X25519PublicKey),
       "x448": (x448.X448PrivateKey, x448.X448PublicKey)}
def x_gen(cv):
    k = XDH[cv][0].generate()
    raw = (serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    priv = k.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
    return priv.hex() + " " + k.public_key().public_bytes(*raw).hex()
def x_derive(cv, k, peer): return XDH[cv][0].from_private_bytes(b(k)).exchange(XDH[cv][1].from_public_bytes(b(peer)))

print("ready", flush=True)
for line in sys.stdin:
    w = line.split()
    try:
        r = globals()[w[0]](*w[1:])
        print("ok " + (r if isinstance(r, str) else h(r)), flush=True)
    except Exception as e:
        print("err " + type(e).__name__ + ": " + str(e).replace("\n", " "), flush=True)
"#;

/// The running Python process. Dropping it closes its input, which ends it.
pub struct Oracle {
    child: Child,
    input: Option<ChildStdin>,
    output: BufReader<ChildStdout>,
}

impl Oracle {
    /// Start the interpreter; a missing `python3` or `cryptography` fails the test, by name.
    pub fn start() -> Oracle {
        let mut child = Command::new("python3")
            .arg("-c")
            .arg(SCRIPT)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("run python3 (the capability test cross-checks with Python `cryptography`)");
        let input = child.stdin.take();
        let mut output = BufReader::new(child.stdout.take().expect("python3 stdout"));
        let mut first = String::new();
        output.read_line(&mut first).expect("read from python3");
        assert_eq!(
            first.trim(),
            "ready",
            "python3 cannot run the cross-checks (install the Python package `cryptography`)"
        );
        Oracle {
            child,
            input,
            output,
        }
    }

    /// One request; the words of an `ok` answer, or the error text.
    pub fn ask(&mut self, op: &str, args: &[String]) -> Result<Vec<String>, String> {
        let line = format!("{op} {}\n", args.join(" "));
        let input = self.input.as_mut().expect("python3 stdin");
        input
            .write_all(line.as_bytes())
            .and_then(|_| input.flush())
            .expect("write to python3");
        let mut answer = String::new();
        self.output
            .read_line(&mut answer)
            .expect("read from python3");
        let mut words = answer.split_whitespace();
        match words.next() {
            Some("ok") => Ok(words.map(str::to_owned).collect()),
            Some("err") => Err(format!(
                "Python `cryptography` {op}: {}",
                words.collect::<Vec<_>>().join(" ")
            )),
            _ => panic!("python3 ended or answered {answer:?} to {op}"),
        }
    }

    /// A request whose answer is one byte string.
    pub fn bytes(&mut self, op: &str, args: &[String]) -> Result<Vec<u8>, String> {
        let w = self.ask(op, args)?;
        Ok(unhex_word(w.first().map(String::as_str).unwrap_or("-")))
    }

    /// A request that answers nothing but success (a verification).
    pub fn check(&mut self, op: &str, args: &[String]) -> Result<(), String> {
        self.ask(op, args).map(|_| ())
    }
}

impl std::fmt::Debug for Oracle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Oracle(python3 pid {})", self.child.id())
    }
}

impl Drop for Oracle {
    fn drop(&mut self) {
        drop(self.input.take());
        let _ = self.child.wait();
    }
}

/// Hex of bytes as a protocol word (`-` for none).
pub fn w(b: &[u8]) -> String {
    if b.is_empty() {
        "-".into()
    } else {
        crate::common::p11::hex(b)
    }
}

/// A protocol word back to bytes.
pub fn unhex_word(s: &str) -> Vec<u8> {
    if s == "-" {
        Vec::new()
    } else {
        crate::common::p11::hx(s)
    }
}
