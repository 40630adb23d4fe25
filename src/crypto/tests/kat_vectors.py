#!/usr/bin/env python3
"""Writes src/crypto/tests/rsa_kat.rs and src/crypto/tests/ec_kat.rs: known answers for the unit
tests of src/crypto/rsa.rs and src/crypto/ec.rs, computed independently of the module with Python
`cryptography` (its bundled OpenSSL, which must be 3.2 or later for PKCS#1 v1.5 implicit
rejection) and Python integers. Run from the repository root:

    python3 src/crypto/tests/kat_vectors.py

The RSA key is the OpenSSL-made key of tests/common/keys.rs; the EC scalars below were drawn
once by `cryptography`. Signatures with random salts or nonces (PSS, ECDSA) differ on every run
and are verification vectors; everything else is deterministic."""
import hashlib
import re
import sys
import textwrap

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

KEYS = open("tests/common/keys.rs").read()


def const(name):
    m = re.search(r"pub const %s: &str = (?:concat!\()?(.*?)\)?;" % name, KEYS, re.S)
    return int("".join(re.findall(r'"([0-9a-f]*)"', m.group(1))), 16)


n, e, d = const("RSA_MODULUS"), const("RSA_PUBLIC_EXPONENT"), const("RSA_PRIVATE_EXPONENT")
p, q = const("RSA_PRIME_1"), const("RSA_PRIME_2")
dp, dq, qi = const("RSA_EXPONENT_1"), const("RSA_EXPONENT_2"), const("RSA_COEFFICIENT")
assert p * q == n and dp == d % (p - 1) and dq == d % (q - 1) and qi == pow(q, -1, p)
key = rsa.RSAPrivateNumbers(p, q, d, dp, dq, qi, rsa.RSAPublicNumbers(e, n)).private_key()
pub = key.public_key()
K = 256


def i2b(x, length=K):
    return x.to_bytes(length, "big")


def short(x):
    return x.to_bytes((x.bit_length() + 7) // 8, "big")


rsa_out = [
    ("RSA_N", short(n), "The key of tests/common/keys.rs (made by OpenSSL): n, e, d, p, q, dp, dq, qinv."),
    ("RSA_E", short(e), None),
    ("RSA_D", short(d), None),
    ("RSA_P", short(p), None),
    ("RSA_Q", short(q), None),
    ("RSA_DP", short(dp), None),
    ("RSA_DQ", short(dq), None),
    ("RSA_QINV", short(qi), None),
]
MSG = b"ferrohsm RSA PKCS#1 v1.5 known-answer test"
rsa_out += [
    ("RSA_MSG", MSG, "The message of the signature vectors (ASCII)."),
    ("RSA_PKCS1_SHA256_SIG", key.sign(MSG, padding.PKCS1v15(), hashes.SHA256()),
     "RSASSA-PKCS1-v1_5 signatures of RSA_MSG by OpenSSL (deterministic)."),
    ("RSA_PKCS1_SHA384_SIG", key.sign(MSG, padding.PKCS1v15(), hashes.SHA384()), None),
]
raw = i2b(int.from_bytes(b"ferrohsm raw RSA test block", "big"))
rsa_out += [
    ("RSA_RAW_IN", raw, "Raw RSA: a block below n, its x^d mod n and x^e mod n (Python pow)."),
    ("RSA_RAW_PRIVATE", i2b(pow(int.from_bytes(raw, "big"), d, n)), None),
    ("RSA_RAW_PUBLIC", i2b(pow(int.from_bytes(raw, "big"), e, n)), None),
]
pss_a = key.sign(MSG, padding.PSS(padding.MGF1(hashes.SHA256()), 32), hashes.SHA256())
pss_b = key.sign(MSG, padding.PSS(padding.MGF1(hashes.SHA1()), 48), hashes.SHA384())
rsa_out += [
    ("RSA_PSS_SHA256_MGF1_SHA256_SALT32_SIG", pss_a,
     "RSASSA-PSS signatures of RSA_MSG by OpenSSL (random salt): hash, MGF1 hash, salt length."),
    ("RSA_PSS_SHA384_MGF1_SHA1_SALT48_SIG", pss_b, None),
]


def mgf1(h, seed, length):
    out, c = b"", 0
    while len(out) < length:
        out += hashlib.new(h, seed + c.to_bytes(4, "big")).digest()
        c += 1
    return out[:length]


def pss_sign(h, mgf, salt, m):
    """RFC 8017 9.1.1 with a given salt (no library takes one), checked by OpenSSL below."""
    mh = hashlib.new(h, m).digest()
    em_bits = n.bit_length() - 1
    em_len = (em_bits + 7) // 8
    hh = hashlib.new(h, b"\0" * 8 + mh + salt).digest()
    db = b"\0" * (em_len - len(salt) - len(hh) - 2) + b"\1" + salt
    masked = bytes(a ^ b for a, b in zip(db, mgf1(mgf, hh, len(db))))
    masked = bytes([masked[0] & (0xFF >> (8 * em_len - em_bits))]) + masked[1:]
    return i2b(pow(int.from_bytes(masked + hh + b"\xbc", "big"), d, n))


salt32, salt20 = bytes(range(32)), bytes(range(100, 120))
fixed_a = pss_sign("sha256", "sha256", salt32, MSG)
pub.verify(fixed_a, MSG, padding.PSS(padding.MGF1(hashes.SHA256()), 32), hashes.SHA256())
fixed_b = pss_sign("sha512", "sha1", salt20, MSG)
pub.verify(fixed_b, MSG, padding.PSS(padding.MGF1(hashes.SHA1()), 20), hashes.SHA512())
rsa_out += [
    ("RSA_PSS_SALT32", salt32, "RSASSA-PSS with fixed salts (00..1f; 100..119), deterministic."),
    ("RSA_PSS_SHA256_MGF1_SHA256_FIXED_SALT32_SIG", fixed_a, None),
    ("RSA_PSS_SALT20", salt20, None),
    ("RSA_PSS_SHA512_MGF1_SHA1_FIXED_SALT20_SIG", fixed_b, None),
]
oaep_lbl = padding.OAEP(padding.MGF1(hashes.SHA1()), hashes.SHA256(), b"lbl")
oaep_sha1 = padding.OAEP(padding.MGF1(hashes.SHA1()), hashes.SHA1(), None)
rsa_out += [
    ("RSA_PKCS1_PLAIN", b"key material", "RSAES-PKCS1-v1_5 and RSAES-OAEP ciphertexts by OpenSSL."),
    ("RSA_PKCS1_CT", pub.encrypt(b"key material", padding.PKCS1v15()), None),
    ("RSA_OAEP_PLAIN", b"from OpenSSL", None),
    ("RSA_OAEP_SHA256_MGF1_SHA1_LABEL_LBL_CT", pub.encrypt(b"from OpenSSL", oaep_lbl), None),
    ("RSA_OAEP_SHA1_CT", pub.encrypt(b"from OpenSSL", oaep_sha1), None),
]


def enc_raw(em):
    return i2b(pow(int.from_bytes(em, "big"), e, n))


decoys = [
    ("SHORT_PS", bytes([0, 2, 1, 1, 1, 0]) + b"\7" * 250),
    ("NO_SEPARATOR", bytes([0, 2]) + b"\x09" * 254),
    ("EMPTY", bytes([0, 2]) + b"\x09" * 253 + b"\0"),
    ("NOT_PADDED", b"\0" + b"\x42" * 255),
]
first = True
for name, em in decoys:
    c = enc_raw(em)
    rsa_out.append(("RSA_DECOY_%s_CT" % name, c,
                    "PKCS#1 v1.5 blocks with a short PS, no separator, an empty message, no padding, "
                    "encrypted, and what OpenSSL's implicit rejection decrypts them to." if first else None))
    rsa_out.append(("RSA_DECOY_%s_PLAIN" % name, key.decrypt(c, padding.PKCS1v15()), None))
    first = False
assert dict((k, v) for k, v, _ in rsa_out)["RSA_DECOY_EMPTY_PLAIN"] == b""

SCALARS = {
    "P256": (0xea5c921c3d849e27323e7f4e2aea83516b357bbf289cef543d625737bccf08b0,
             0x853279317f249cee033472ebc7c9e0e6d4c392a949de9dd5d9d7442c108b61f6),
    "P384": (0xa6bcaac390c2e22e6a375d2fc6ea7cb57508bf4910139bc31bbc08896c0a7b290ee037d62b7b8652e27cb5b27b86628b,
             0x75370f7bbec26a46723baef7587f53fb26b3abd2345b86ef9e5b4fe2ea958905c2dc51556dee5b62bf52f385980b378),
    "P521": (0x1e88353fadf65f61621661dff95bd7ac9aa3f3514a14cca8d117e8b3a84cbc8ec37c7b4430a4d792aaf2f5cc3d9c04dbe5bac72f77a87b31d6f1cbe3d05b81bf360,
             0x6c5b8084645b0c55b0a37caa043520052a653bb13b8ec406f3bf4423555fbcc9cb45d36943513b20c593a44393661e120970d51cbeee5544df1bd2dbf2395d21c4),
}
ECMSG = b"ferrohsm ECDSA known-answer test"
ec_out = [("EC_MSG", ECMSG, "The message of the signature vectors (ASCII).")]
for cname, curve, fl in [("P256", ec.SECP256R1(), 32), ("P384", ec.SECP384R1(), 48), ("P521", ec.SECP521R1(), 66)]:
    da, db = SCALARS[cname]
    a, b = ec.derive_private_key(da, curve), ec.derive_private_key(db, curve)
    fmt = (serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    shared = a.exchange(ec.ECDH(), b.public_key())
    assert shared == b.exchange(ec.ECDH(), a.public_key())
    ec_out += [
        ("EC_%s_D" % cname, i2b(da, fl),
         "%s: a scalar and its point, a peer's, their ECDH secret, and OpenSSL's ECDSA signatures "
         "(r || s, random nonces) of EC_MSG hashed with SHA-1, SHA-256 and SHA-512." % cname),
        ("EC_%s_POINT" % cname, a.public_key().public_bytes(*fmt), None),
        ("EC_%s_PEER_D" % cname, i2b(db, fl), None),
        ("EC_%s_PEER_POINT" % cname, b.public_key().public_bytes(*fmt), None),
        ("EC_%s_SHARED" % cname, shared, None),
    ]
    for hn, hh in [("SHA1", hashes.SHA1()), ("SHA256", hashes.SHA256()), ("SHA512", hashes.SHA512())]:
        r, s = utils.decode_dss_signature(a.sign(ECMSG, ec.ECDSA(hh)))
        ec_out.append(("EC_%s_%s_SIG" % (cname, hn), i2b(r, fl) + i2b(s, fl), None))


def write(path, header, items):
    with open(path, "w") as f:
        f.write(header)
        for name, value, doc in items:
            if doc:
                f.write("\n" + "".join("/// %s\n" % l for l in textwrap.wrap(doc, 96)))
            h = value.hex()
            if len(h) <= 60:
                f.write('pub const %s: &str = "%s";\n' % (name, h))
            elif len(h) <= 88:
                f.write('pub const %s: &str =\n    "%s";\n' % (name, h))
            else:
                f.write("pub const %s: &str = concat!(\n" % name)
                for i in range(0, len(h), 88):
                    f.write('    "%s",\n' % h[i:i + 88])
                f.write(");\n")


note = ("// Written by src/crypto/tests/kat_vectors.py with Python `cryptography` (OpenSSL) and Python\n"
        "// integers, independently of the module; hex strings.\n")
write("src/crypto/tests/rsa_kat.rs",
      "// Known answers for the RSA unit tests (src/crypto/rsa.rs; Current Mechanisms v3.0 §2.1), so\n"
      "// the `--no-default-features` build, where the backend is the `rsa` crate itself, is checked\n"
      "// against something other than itself.\n" + note, rsa_out)
write("src/crypto/tests/ec_kat.rs",
      "// Known answers for the EC unit tests (src/crypto/ec.rs; Current Mechanisms v3.0 §2.3), so\n"
      "// the `--no-default-features` build, where the engine is RustCrypto itself, is checked\n"
      "// against something other than itself.\n" + note, ec_out)
print("wrote src/crypto/tests/rsa_kat.rs and src/crypto/tests/ec_kat.rs", file=sys.stderr)
