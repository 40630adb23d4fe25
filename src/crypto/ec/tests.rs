//! Tests of the elliptic-curve engine: known answers from OpenSSL, RFC 6979, agreement of
//! the two backends, and the encodings.
#![allow(clippy::unwrap_used)]
use super::rustcrypto::*;
use super::*;
use crate::crypto::digest::{digest, hex, HashAlg};

// Known answers from an independent implementation (OpenSSL through Python `cryptography`),
// so that the `--no-default-features` build, whose engine is the RustCrypto code the other
// tests compare with, is checked against something else too;
// src/crypto/tests/kat_vectors.py writes them.
mod kat {
    include!("../tests/ec_kat.rs");
}

/// Per curve: the scalar, its point, the peer's scalar and point, the ECDH secret, and
/// OpenSSL's signatures of `kat::EC_MSG` with SHA-1, SHA-256 and SHA-512.
struct Kat {
    curve: Curve,
    d: &'static str,
    point: &'static str,
    peer_d: &'static str,
    peer_point: &'static str,
    shared: &'static str,
    sigs: [(HashAlg, &'static str); 3],
}

const KATS: [Kat; 3] = [
    Kat {
        curve: Curve::P256,
        d: kat::EC_P256_D,
        point: kat::EC_P256_POINT,
        peer_d: kat::EC_P256_PEER_D,
        peer_point: kat::EC_P256_PEER_POINT,
        shared: kat::EC_P256_SHARED,
        sigs: [
            (HashAlg::Sha1, kat::EC_P256_SHA1_SIG),
            (HashAlg::Sha256, kat::EC_P256_SHA256_SIG),
            (HashAlg::Sha512, kat::EC_P256_SHA512_SIG),
        ],
    },
    Kat {
        curve: Curve::P384,
        d: kat::EC_P384_D,
        point: kat::EC_P384_POINT,
        peer_d: kat::EC_P384_PEER_D,
        peer_point: kat::EC_P384_PEER_POINT,
        shared: kat::EC_P384_SHARED,
        sigs: [
            (HashAlg::Sha1, kat::EC_P384_SHA1_SIG),
            (HashAlg::Sha256, kat::EC_P384_SHA256_SIG),
            (HashAlg::Sha512, kat::EC_P384_SHA512_SIG),
        ],
    },
    Kat {
        curve: Curve::P521,
        d: kat::EC_P521_D,
        point: kat::EC_P521_POINT,
        peer_d: kat::EC_P521_PEER_D,
        peer_point: kat::EC_P521_PEER_POINT,
        shared: kat::EC_P521_SHARED,
        sigs: [
            (HashAlg::Sha1, kat::EC_P521_SHA1_SIG),
            (HashAlg::Sha256, kat::EC_P521_SHA256_SIG),
            (HashAlg::Sha512, kat::EC_P521_SHA512_SIG),
        ],
    },
];

#[test]
fn params_and_point_encodings() {
    assert_eq!(
        Curve::from_oid_der(&hex("06082a8648ce3d030107")).unwrap(),
        Curve::P256
    );
    assert_eq!(
        Curve::from_oid_der(&hex("06052b81040022")).unwrap(),
        Curve::P384
    );
    assert_eq!(
        Curve::from_oid_der(&hex("06052b81040023")).unwrap(),
        Curve::P521
    );
    // secp192k1 is not offered.
    assert_eq!(
        Curve::from_oid_der(&hex("06052b8104001f"))
            .unwrap_err()
            .rv(),
        CKR_CURVE_NOT_SUPPORTED
    );
    assert_eq!(
        EcParams::parse(&hex("06032b6570")).unwrap(),
        EcParams::Ed25519
    );
    assert_eq!(
        EcParams::parse(&hex("130c656477617264733235353139")).unwrap(),
        EcParams::Ed25519
    );
    assert_eq!(
        EcParams::parse(P384_OID).unwrap(),
        EcParams::Nist(Curve::P384)
    );
    assert!(EcParams::parse(&[]).is_err());
    for c in Curve::ALL {
        let (_, p) = generate(c).unwrap();
        let der = point_to_der(&p);
        assert_eq!(der_octet_string(&der), Some(p.as_slice()));
        assert_eq!(validate_point(c, &der).unwrap(), p);
        assert_eq!(validate_point(c, &p).unwrap(), p);
    }
    assert_eq!(point_to_der(&[7; 133])[..3], [0x04, 0x81, 0x85]);
    assert_eq!(der_octet_string(&[0x04, 0x02, 1]), None);
}

#[test]
fn points_off_the_curve_or_malformed_are_rejected() {
    for c in Curve::ALL {
        let (d, p) = generate(c).unwrap();
        assert_eq!(public_from_private(c, &d).unwrap(), p);
        let mut off = p.clone();
        let last = off.len() - 1;
        off[last] ^= 1;
        assert_eq!(
            validate_point(c, &off).unwrap_err().rv(),
            CKR_ATTRIBUTE_VALUE_INVALID
        );
        assert_eq!(
            validate_point(c, &p[..p.len() - 1]).unwrap_err().rv(),
            CKR_ATTRIBUTE_VALUE_INVALID
        );
        assert_eq!(
            validate_point(c, &[0x00]).unwrap_err().rv(),
            CKR_ATTRIBUTE_VALUE_INVALID
        );
        assert!(validate_point(c, &[]).is_err());
        // A point of another curve.
        let other = if c == Curve::P256 {
            Curve::P384
        } else {
            Curve::P256
        };
        assert!(validate_point(other, &p).is_err());
        // Compressed input is accepted and normalized.
        let mut comp = vec![2 + (p[p.len() - 1] & 1)];
        comp.extend_from_slice(&p[1..1 + c.field_len()]);
        assert_eq!(validate_point(c, &comp).unwrap(), p);
        // Scalars: zero, the order and beyond are invalid.
        assert!(public_from_private(c, &vec![0; c.field_len()]).is_err());
        assert!(public_from_private(c, &vec![0xff; c.field_len()]).is_err());
        assert!(public_from_private(c, &vec![1; c.field_len() + 1]).is_err());
        let mut padded = vec![0, 0];
        padded.extend_from_slice(&d);
        assert_eq!(public_from_private(c, &padded).unwrap(), p);
    }
}

// RFC 6979 A.2.5: P-256, SHA-256, message "sample".
#[test]
fn rfc6979_p256_sha256_sample() {
    let d = hex("c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721");
    let ux = hex("60fed4ba255a9d31c961eb74c6356d68c049b8923b61fa6ce669622e60f29fb6");
    let uy = hex("7903fe1008b8bc99a41ae9e95628bc64f2f1b20c2d7e9f5177a3c294d4462299");
    let mut point = vec![4];
    point.extend_from_slice(&ux);
    point.extend_from_slice(&uy);
    assert_eq!(public_from_private(Curve::P256, &d).unwrap(), point);
    let h = digest(HashAlg::Sha256, b"sample");
    let want = hex(
        "efd48b2aacb6a8fd1140dd9cd45e81d69d2c877b56aaf991c34d0ea84eaf3716\
         f7cb1c942d657c41d436c7a1b6e29f65f3e900dbb9aff4064dc4ab2f843acda8",
    );
    verify_prehash(Curve::P256, &point, &h, &want).unwrap();
    // Without the extra randomness, the nonce is exactly RFC 6979's.
    assert_eq!(rc_sign(Curve::P256, &d, &h, &[]).unwrap(), want);
    let mut bad = want.clone();
    bad[40] ^= 1;
    assert_eq!(
        verify_prehash(Curve::P256, &point, &h, &bad)
            .unwrap_err()
            .rv(),
        CKR_SIGNATURE_INVALID
    );
    assert_eq!(
        verify_prehash(Curve::P256, &point, &h, &want[1..])
            .unwrap_err()
            .rv(),
        CKR_SIGNATURE_LEN_RANGE
    );
    let other = digest(HashAlg::Sha256, b"samplf");
    assert_eq!(
        verify_prehash(Curve::P256, &point, &other, &want)
            .unwrap_err()
            .rv(),
        CKR_SIGNATURE_INVALID
    );
    // Hedged signatures differ each time and all verify.
    let s1 = sign_prehash(Curve::P256, &d, &h).unwrap();
    let s2 = sign_prehash(Curve::P256, &d, &h).unwrap();
    assert_ne!(s1, s2);
    verify_prehash(Curve::P256, &point, &h, &s1).unwrap();
    verify_prehash(Curve::P256, &point, &h, &s2).unwrap();
}

// RFC 6979 A.2.5 with SHA-512: a hash longer than the order is cut to its leftmost 256 bits;
// A.2.7 (P-521) with SHA-1 and SHA-512: shorter than 521 bits. Verifying these checks how the
// hash becomes a number. The crate derives nonces with the curve's own hash (SHA-256 for
// P-256, SHA-512 for P-521), while RFC 6979 uses the message's, so byte-equal signing is
// only expected where the two coincide.
#[test]
fn rfc6979_truncation_cases() {
    let d = hex("c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721");
    let point = public_from_private(Curve::P256, &d).unwrap();
    let h = digest(HashAlg::Sha512, b"sample");
    let rfc = hex(
        "8496a60b5e9b47c825488827e0495b0e3fa109ec4568fd3f8d1097678eb97f00\
         2362ab1adbe2b8adf9cb9edab740ea6049c028114f2460f96554f61fae3302fe",
    );
    verify_prehash(Curve::P256, &point, &h, &rfc).unwrap();
    // Cutting the hash to 32 bytes first is the same signature input.
    verify_prehash(Curve::P256, &point, &h[..32], &rfc).unwrap();
    assert!(verify_prehash(Curve::P256, &point, &h[32..], &rfc).is_err());
    let d521 = hex(
        "00fad06daa62ba3b25d2fb40133da757205de67f5bb0018fee8c86e1b68c7e75\
         caa896eb32f1f47c70855836a6d16fcc1466f6d8fbec67db89ec0c08b0e996b83538",
    );
    let pt = public_from_private(Curve::P521, &d521).unwrap();
    assert_eq!(
        pt[1..67].to_vec(),
        hex(
            "01894550d0785932e00eaa23b694f213f8c3121f86dc97a04e5a7167db4e5bcd3\
             71123d46e45db6b5d5370a7f20fb633155d38ffa16d2bd761dcac474b9a2f5023a4"
        )
    );
    let h1 = digest(HashAlg::Sha1, b"sample");
    let s1 = hex(
        "00343b6ec45728975ea5cba6659bbb6062a5ff89eea58be3c80b619f322c87910fe092f7d45bb0f8eee01ed3f20babec079d202ae677b243ab40b5431d497c55d75d\
         00e7b0e675a9b24413d448b8cc119d2bf7b2d2df032741c096634d6d65d0dbe3d5694625fb9e8104d3b842c1b0e2d0b98bea19341e8676aef66ae4eba3d5475d5d16",
    );
    verify_prehash(Curve::P521, &pt, &h1, &s1).unwrap();
    let h512 = digest(HashAlg::Sha512, b"sample");
    let s512 = hex(
        "00c328fafcbd79dd77850370c46325d987cb525569fb63c5d3bc53950e6d4c5f174e25a1ee9017b5d450606add152b534931d7d4e8455cc91f9b15bf05ec36e377fa\
         00617cce7cf5064806c467f678d3b4080d6f1cc50af26ca209417308281b68af282623eaa63e5b5c0723d8b8c37ff0777b1a20f8ccb1dccc43997f1ee0e44da4a67a",
    );
    verify_prehash(Curve::P521, &pt, &h512, &s512).unwrap();
    assert_eq!(rc_sign(Curve::P521, &d521, &h512, &[]).unwrap(), s512);
    let mine = rc_sign(Curve::P521, &d521, &h1, &[]).unwrap();
    verify_prehash(Curve::P521, &pt, &h1, &mine).unwrap();
}

#[test]
fn hash_to_field_follows_fips_186() {
    // Shorter than the order: left-padded.
    assert_eq!(*hash_to_field(Curve::P256, &[1, 2]).unwrap(), {
        let mut v = vec![0; 30];
        v.extend_from_slice(&[1, 2]);
        v
    });
    // P-521 with 66 bytes of 0xff: the leftmost 521 bits are all ones.
    let z = hash_to_field(Curve::P521, &[0xff; 66]).unwrap();
    assert_eq!(z[0], 0x01);
    assert!(z[1..].iter().all(|b| *b == 0xff));
    // 0x80 followed by zeros shifts down by 7 bits.
    let mut h = vec![0u8; 70];
    h[0] = 0x80;
    let z = hash_to_field(Curve::P521, &h).unwrap();
    assert_eq!(z[0], 0x01);
    assert!(z[1..].iter().all(|b| *b == 0));
    assert_eq!(
        hash_to_field(Curve::P256, &[]).unwrap_err().rv(),
        CKR_DATA_LEN_RANGE
    );
    assert_eq!(
        ecdsa_input(Curve::P256, &[]).unwrap_err().rv(),
        CKR_DATA_LEN_RANGE
    );
    // Only hashes longer than the order are rewritten.
    assert_eq!(
        &*ecdsa_input(Curve::P521, &[0xab; 65]).unwrap(),
        &[0xab; 65][..]
    );
    assert_eq!(
        &*ecdsa_input(Curve::P256, &[0xab; 20]).unwrap(),
        &[0xab; 20][..]
    );
    assert_eq!(
        &*ecdsa_input(Curve::P256, &[0xab; 64]).unwrap(),
        &[0xab; 32][..]
    );
    assert_eq!(ecdsa_input(Curve::P521, &[0xff; 66]).unwrap()[0], 0x01);
}

#[test]
fn sign_and_verify_every_curve_and_hash_length() {
    for c in Curve::ALL {
        let (d, p) = generate(c).unwrap();
        for len in [1usize, 20, 28, 32, 48, 64, 66, 100] {
            let h: Vec<u8> = (0..len).map(|i| (i * 31 + 7) as u8).collect();
            let sig = sign_prehash(c, &d, &h).unwrap();
            assert_eq!(sig.len(), c.signature_len());
            verify_prehash(c, &p, &h, &sig).unwrap();
            verify_prehash(c, &point_to_der(&p), &h, &sig).unwrap();
            let mut other = h.clone();
            other[0] ^= 0x80;
            assert!(verify_prehash(c, &p, &other, &sig).is_err(), "{c:?} {len}");
        }
        assert_eq!(
            verify_prehash(c, &p, b"h", &vec![0; c.signature_len()])
                .unwrap_err()
                .rv(),
            CKR_SIGNATURE_INVALID
        );
        assert_eq!(
            sign_prehash(c, &vec![0; c.field_len()], b"h")
                .unwrap_err()
                .rv(),
            CKR_KEY_TYPE_INCONSISTENT
        );
    }
}

/// The engine (aws-lc in the default build) and the RustCrypto code agree: each verifies
/// the other's signatures, and ECDH and public points are equal.
#[test]
fn backend_agrees_with_rustcrypto() {
    for c in Curve::ALL {
        let (d, p) = generate(c).unwrap();
        assert_eq!(rc_public(c, &d, CKR_ATTRIBUTE_VALUE_INVALID).unwrap(), p);
        let sk = EcPrivate::new(c, &d).unwrap();
        let pk = EcPublic::new(c, &p).unwrap();
        assert_eq!(sk.public_point().unwrap(), p);
        for len in [20usize, 32, 48, 64, 66, 80] {
            let h: Vec<u8> = (0..len).map(|i| (i * 13 + 1) as u8).collect();
            let ours = sk.sign_prehash(&h).unwrap();
            rc_verify(c, &p, &h, &ours).unwrap_or_else(|e| panic!("{c:?} {len}: {e:?}"));
            let theirs = rc_sign(c, &d, &h, b"extra").unwrap();
            pk.verify_prehash(&h, &theirs)
                .unwrap_or_else(|e| panic!("{c:?} {len}: {e:?}"));
            let mut bad = theirs.clone();
            bad[3] ^= 1;
            assert_eq!(
                pk.verify_prehash(&h, &bad).unwrap_err().rv(),
                CKR_SIGNATURE_INVALID
            );
        }
        let (d2, p2) = generate(c).unwrap();
        assert_eq!(*sk.derive(&p2).unwrap(), *rc_derive(c, &d, &p2).unwrap());
        assert_eq!(*sk.derive(&p2).unwrap(), *derive(c, &d2, &p).unwrap());
    }
    // Known answers, through the engine and through the RustCrypto code: OpenSSL's points,
    // signatures (hashes shorter and longer than the order) and ECDH secrets.
    let msg = hex(kat::EC_MSG);
    for k in &KATS {
        let c = k.curve;
        let (d, p, pd, pp) = (hex(k.d), hex(k.point), hex(k.peer_d), hex(k.peer_point));
        assert_eq!(public_from_private(c, &d).unwrap(), p, "{c:?}");
        assert_eq!(public_from_private(c, &pd).unwrap(), pp, "{c:?}");
        assert_eq!(rc_public(c, &d, CKR_ATTRIBUTE_VALUE_INVALID).unwrap(), p);
        assert_eq!(EcPrivate::new(c, &d).unwrap().public_point().unwrap(), p);
        let pk = EcPublic::new(c, &p).unwrap();
        for (alg, sig) in k.sigs {
            let (h, sig) = (digest(alg, &msg), hex(sig));
            pk.verify_prehash(&h, &sig).unwrap();
            verify_prehash(c, &point_to_der(&p), &h, &sig).unwrap();
            rc_verify(c, &p, &h, &sig).unwrap();
            let mut bad = sig.clone();
            bad[c.field_len() + 1] ^= 1;
            assert_eq!(
                pk.verify_prehash(&h, &bad).unwrap_err().rv(),
                CKR_SIGNATURE_INVALID,
                "{c:?} {alg:?}"
            );
            assert_eq!(
                rc_verify(c, &p, &h, &bad).unwrap_err().rv(),
                CKR_SIGNATURE_INVALID
            );
            assert_eq!(
                pk.verify_prehash(&digest(alg, b"other"), &sig)
                    .unwrap_err()
                    .rv(),
                CKR_SIGNATURE_INVALID
            );
        }
        let shared = hex(k.shared);
        assert_eq!(*derive(c, &d, &pp).unwrap(), shared, "{c:?}");
        assert_eq!(*derive(c, &pd, &p).unwrap(), shared, "{c:?}");
        assert_eq!(*EcPrivate::new(c, &d).unwrap().derive(&pp).unwrap(), shared);
        assert_eq!(*rc_derive(c, &d, &pp).unwrap(), shared);
    }
}

#[test]
fn ecdh_two_parties_agree() {
    for c in Curve::ALL {
        let (da, pa) = generate(c).unwrap();
        let (db, pb) = generate(c).unwrap();
        let ab = derive(c, &da, &pb).unwrap();
        let ba = derive(c, &db, &pa).unwrap();
        assert_eq!(ab, ba);
        assert_eq!(ab.len(), c.field_len());
        // Compressed and DER-wrapped peers are the same point.
        let mut comp = vec![2 + (pb[pb.len() - 1] & 1)];
        comp.extend_from_slice(&pb[1..1 + c.field_len()]);
        assert_eq!(derive(c, &da, &comp).unwrap(), ab);
        assert_eq!(derive(c, &da, &point_to_der(&pb)).unwrap(), ab);
        let mut off = pb.clone();
        off[5] ^= 1;
        assert_eq!(
            derive(c, &da, &off).unwrap_err().rv(),
            CKR_MECHANISM_PARAM_INVALID
        );
    }
    // The shared x of d=1 and any point P is P's x coordinate.
    let (_, p) = generate(Curve::P256).unwrap();
    assert_eq!(*derive(Curve::P256, &[1], &p).unwrap(), p[1..33].to_vec());
}

/// Each malformed input gets the code its function documents, and the few samples that
/// are valid scalars give keys.
#[test]
fn garbage_inputs_are_errors_not_panics() {
    let samples: [&[u8]; 8] = [
        &[],
        &[0],
        &[4],
        &[2, 1],
        &[4; 65],
        &[4; 67],
        &[0xff; 200],
        &[0x04, 0x82, 0xff, 0xff],
    ];
    let code = |r: Result<()>| r.err().map(|e| e.rv());
    for c in Curve::ALL {
        for x in samples {
            // Scalars in 1..n-1 after the leading zeros: 4, 0x0201, 0x0482ffff, and 65
            // bytes of 4 (520 bits) on P-521 only.
            let scalar = x == [4]
                || x == [2, 1]
                || x == [0x04, 0x82, 0xff, 0xff]
                || (c == Curve::P521 && x == [4; 65]);
            let what = format!("{c:?} {} bytes {:02x?}", x.len(), &x[..x.len().min(4)]);
            assert_eq!(
                validate_point(c, x).unwrap_err().rv(),
                CKR_ATTRIBUTE_VALUE_INVALID,
                "{what}"
            );
            let public = public_from_private(c, x);
            if scalar {
                let p = public.unwrap();
                assert_eq!(validate_point(c, &p).unwrap(), p, "{what}");
            } else {
                assert_eq!(
                    public.unwrap_err().rv(),
                    CKR_ATTRIBUTE_VALUE_INVALID,
                    "{what}"
                );
            }
            // An empty hash is refused before the key is read; a bad key is a stored key
            // found bad at use.
            let sign = sign_prehash(c, x, x).map(|_| ());
            let want_sign = if x.is_empty() {
                Some(CKR_DATA_LEN_RANGE)
            } else if scalar {
                None
            } else {
                Some(CKR_KEY_TYPE_INCONSISTENT)
            };
            assert_eq!(code(sign), want_sign, "sign {what}");
            // No sample is a signature's length.
            assert_eq!(
                code(verify_prehash(c, x, x, x)),
                Some(CKR_SIGNATURE_LEN_RANGE),
                "verify {what}"
            );
            // No sample is a point, so the peer is refused first.
            assert_eq!(
                code(derive(c, x, x).map(|_| ())),
                Some(CKR_MECHANISM_PARAM_INVALID),
                "derive {what}"
            );
            let field = hash_to_field(c, x).map(|z| z.len());
            if x.is_empty() {
                assert_eq!(field.unwrap_err().rv(), CKR_DATA_LEN_RANGE);
            } else {
                assert_eq!(field.unwrap(), c.field_len(), "{what}");
            }
        }
    }
    for x in samples {
        assert_eq!(
            EcParams::parse(x).unwrap_err().rv(),
            CKR_CURVE_NOT_SUPPORTED,
            "{x:02x?}"
        );
        assert_eq!(der_octet_string(x), None, "{x:02x?}");
        assert_eq!(
            ed25519_sign(x, x).unwrap_err().rv(),
            CKR_KEY_TYPE_INCONSISTENT
        );
        assert_eq!(
            ed25519_verify(x, x, x).unwrap_err().rv(),
            CKR_SIGNATURE_LEN_RANGE
        );
        assert_eq!(
            ed25519_validate_public(x).unwrap_err().rv(),
            CKR_ATTRIBUTE_VALUE_INVALID
        );
    }
}

// RFC 8032 §7.1 TEST 1 and TEST 2.
#[test]
fn rfc8032_ed25519() {
    let cases = [
        (
            "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
            "",
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
        ),
        (
            "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
            "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
            "72",
            "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
        ),
    ];
    for (sk, pk, msg, sig) in cases {
        let (sk, pk, msg, sig) = (hex(sk), hex(pk), hex(msg), hex(sig));
        assert_eq!(ed25519_public_from_private(&sk).unwrap(), pk);
        assert_eq!(ed25519_sign(&sk, &msg).unwrap(), sig);
        ed25519_verify(&pk, &msg, &sig).unwrap();
        ed25519_verify(&point_to_der(&pk), &msg, &sig).unwrap();
        let mut bad = sig.clone();
        bad[10] ^= 1;
        assert_eq!(
            ed25519_verify(&pk, &msg, &bad).unwrap_err().rv(),
            CKR_SIGNATURE_INVALID
        );
        assert_eq!(
            ed25519_verify(&pk, b"other", &sig).unwrap_err().rv(),
            CKR_SIGNATURE_INVALID
        );
        assert_eq!(
            ed25519_verify(&pk, &msg, &sig[..63]).unwrap_err().rv(),
            CKR_SIGNATURE_LEN_RANGE
        );
    }
    let (sk, pk) = ed25519_generate().unwrap();
    assert_eq!(sk.len(), 32);
    let sig = ed25519_sign(&sk, b"m").unwrap();
    ed25519_verify(&pk, b"m", &sig).unwrap();
    assert_eq!(
        ed25519_public_from_private(&sk[..31]).unwrap_err().rv(),
        CKR_ATTRIBUTE_VALUE_INVALID
    );
    assert_eq!(
        ed25519_validate_public(&[0; 31]).unwrap_err().rv(),
        CKR_ATTRIBUTE_VALUE_INVALID
    );
    assert_eq!(ed25519_validate_public(&pk).unwrap(), pk);
}

/// Parsed keys are shared: `Send + Sync`, and two threads sign, verify and derive with one
/// key each at once.
#[test]
fn two_threads_share_parsed_keys() {
    fn shared<T: Send + Sync>() {}
    shared::<EcPrivate>();
    shared::<EcPublic>();
    shared::<Ed25519Private>();
    shared::<Ed25519Public>();
    let (d, p) = generate(Curve::P256).unwrap();
    let sk = std::sync::Arc::new(EcPrivate::new(Curve::P256, &d).unwrap());
    let pk = std::sync::Arc::new(EcPublic::new(Curve::P256, &p).unwrap());
    let (ed, ep) = ed25519_generate().unwrap();
    let esk = std::sync::Arc::new(Ed25519Private::new(&ed).unwrap());
    let epk = std::sync::Arc::new(Ed25519Public::new(&ep).unwrap());
    assert_eq!(esk.public_key(), ep);
    let work = |salt: u8| {
        let (sk, pk, esk, epk, p, ed) = (
            sk.clone(),
            pk.clone(),
            esk.clone(),
            epk.clone(),
            p.clone(),
            ed.clone(),
        );
        std::thread::spawn(move || {
            for i in 0..50u8 {
                let h = digest(HashAlg::Sha256, &[salt, i]);
                let sig = sk.sign_prehash(&h).unwrap();
                pk.verify_prehash(&h, &sig).unwrap();
                verify_prehash(Curve::P256, &p, &h, &sig).unwrap();
                assert_eq!(sk.derive(&p).unwrap().len(), 32);
                let esig = esk.sign(&[salt, i]).unwrap();
                epk.verify(&[salt, i], &esig).unwrap();
                assert_eq!(esig, ed25519_sign(&ed, &[salt, i]).unwrap());
            }
        })
    };
    let (a, b) = (work(1), work(2));
    a.join().unwrap();
    b.join().unwrap();
    assert_eq!(
        Ed25519Public::new(&ep)
            .unwrap()
            .verify(b"x", &[0; 63])
            .unwrap_err()
            .rv(),
        CKR_SIGNATURE_LEN_RANGE
    );
    assert_eq!(
        Ed25519Private::new(&[0; 31]).unwrap_err().rv(),
        CKR_KEY_TYPE_INCONSISTENT
    );
}
