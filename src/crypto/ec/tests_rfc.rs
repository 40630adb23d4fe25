//! Known answers of the RFCs for the Edwards and Montgomery curves, on the build's engine:
//! RFC 8032 Ed25519ctx, Ed25519ph, Ed448, Ed448ph; RFC 7748 X25519 and X448.
#![allow(clippy::unwrap_used)]
use super::*;
use crate::crypto::digest::hex;

mod v {
    include!("../../../tests/data/curve_vectors.rs");
}

fn variant(prehash: bool, ctx: &[u8]) -> EdVariant<'_> {
    match (prehash, ctx.is_empty()) {
        (true, _) => EdVariant::Prehash(ctx),
        (false, true) => EdVariant::Pure,
        (false, false) => EdVariant::Context(ctx),
    }
}

#[test]
fn rfc8032_ed25519ctx_and_ed25519ph() {
    for (sk, pk, m, ph, ctx, sig) in v::ED25519_VARIANT_VECTORS {
        let (m, ctx, sig) = (hex(m), hex(ctx), hex(sig));
        let v = variant(ph, &ctx);
        let key = Ed25519Private::new(&hex(sk)).unwrap();
        assert_eq!(key.public_key(), hex(pk));
        assert_eq!(key.sign_variant(v, &m).unwrap(), sig, "{v:?}");
        let public = Ed25519Public::new(&hex(pk)).unwrap();
        public.verify_variant(v, &m, &sig).unwrap();
        // The variants are domain-separated: no other one accepts the signature.
        for other in [
            EdVariant::Pure,
            EdVariant::Context(b"bar"),
            EdVariant::Prehash(b""),
            EdVariant::Prehash(b"foo"),
        ] {
            if other != v {
                assert_eq!(
                    public.verify_variant(other, &m, &sig).unwrap_err().rv(),
                    CKR_SIGNATURE_INVALID,
                    "{other:?}"
                );
            }
        }
        let mut bad = sig.clone();
        bad[40] ^= 1;
        assert!(public.verify_variant(v, &m, &bad).is_err());
    }
    // A context over 255 bytes is a bad parameter.
    let key = Ed25519Private::new(&[7; 32]).unwrap();
    assert_eq!(
        key.sign_variant(EdVariant::Context(&[0; 256]), b"m")
            .unwrap_err()
            .rv(),
        CKR_MECHANISM_PARAM_INVALID
    );
}

#[test]
fn rfc8032_ed448_and_ed448ph() {
    for (sk, pk, m, ph, ctx, sig) in v::ED448_VECTORS {
        let (m, ctx, sig) = (hex(m), hex(ctx), hex(sig));
        let v = variant(ph, &ctx);
        assert_eq!(ed448_public_from_private(&hex(sk)).unwrap(), hex(pk));
        let key = Ed448Private::new(&hex(sk)).unwrap();
        assert_eq!(key.public_key(), hex(pk));
        assert_eq!(key.sign(v, &m).unwrap(), sig, "{v:?}");
        ed448_verify(&hex(pk), v, &m, &sig).unwrap();
        ed448_verify(&point_to_der(&hex(pk)), v, &m, &sig).unwrap();
        let other = if ph {
            EdVariant::Pure
        } else {
            EdVariant::Prehash(&ctx)
        };
        assert_eq!(
            ed448_verify(&hex(pk), other, &m, &sig).unwrap_err().rv(),
            CKR_SIGNATURE_INVALID
        );
        assert_eq!(
            ed448_verify(&hex(pk), v, &m, &sig[1..]).unwrap_err().rv(),
            CKR_SIGNATURE_LEN_RANGE
        );
    }
    let (d, p) = ed448_generate().unwrap();
    assert_eq!((d.len(), p.len()), (57, 57));
    assert!(ed448_validate_public(&[0u8; 57]).is_err());
    assert!(ed448_validate_public(&[1u8; 56]).is_err());
}

#[test]
fn rfc7748_x25519_and_x448() {
    for (curve, (k, u, out)) in [
        (Montgomery::X25519, v::X25519_VECTOR),
        (Montgomery::X448, v::X448_VECTOR),
    ] {
        assert_eq!(
            *montgomery_derive(curve, &hex(k), &hex(u)).unwrap(),
            hex(out),
            "{curve:?}"
        );
        // The peer's key may come wrapped in an OCTET STRING, as CKA_EC_POINT stores it.
        assert_eq!(
            *montgomery_derive(curve, &hex(k), &point_to_der(&hex(u))).unwrap(),
            hex(out)
        );
        // Small-order peers (u = 0, u = 1) give an all-zero secret: refused.
        for u in [0u8, 1] {
            let mut small = vec![0u8; curve.key_len()];
            small[0] = u;
            assert_eq!(
                montgomery_derive(curve, &hex(k), &small).unwrap_err().rv(),
                CKR_MECHANISM_PARAM_INVALID
            );
            assert!(montgomery_validate_public(curve, &small).is_err());
        }
        assert_eq!(
            montgomery_derive(curve, &hex(k)[1..], &hex(u))
                .unwrap_err()
                .rv(),
            CKR_KEY_TYPE_INCONSISTENT
        );
        let (a, pa) = montgomery_generate(curve).unwrap();
        let (b, pb) = montgomery_generate(curve).unwrap();
        assert_eq!(
            *montgomery_derive(curve, &a, &pb).unwrap(),
            *montgomery_derive(curve, &b, &pa).unwrap()
        );
    }
    let (a, pa, b, pb) = v::X25519_DH;
    let c = Montgomery::X25519;
    assert_eq!(montgomery_public_from_private(c, &hex(a)).unwrap(), hex(pa));
    assert_eq!(montgomery_public_from_private(c, &hex(b)).unwrap(), hex(pb));
    assert_eq!(
        *montgomery_derive(c, &hex(a), &hex(pb)).unwrap(),
        *montgomery_derive(c, &hex(b), &hex(pa)).unwrap()
    );
}

#[test]
fn curve_params_parse_oids_and_names() {
    for (der, want) in [
        (ED448_OID_DER, EcParams::Ed448),
        (ED448_NAME_DER, EcParams::Ed448),
        (X25519_OID_DER, EcParams::X25519),
        (X25519_NAME_DER, EcParams::X25519),
        (X448_OID_DER, EcParams::X448),
        (X448_NAME_DER, EcParams::X448),
    ] {
        assert_eq!(EcParams::parse(der).unwrap(), want);
    }
    for c in Curve::ALL {
        assert_eq!(EcParams::parse(c.oid_der()).unwrap(), EcParams::Nist(c));
    }
    assert_eq!(
        EcParams::parse(&hex("06092b2403030208010111"))
            .unwrap_err()
            .rv(),
        CKR_CURVE_NOT_SUPPORTED
    );
}
