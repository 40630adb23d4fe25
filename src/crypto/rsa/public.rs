//! Operations of an RSA public key: PKCS#1 v1.5 and PSS verification, PKCS#1 v1.5 and OAEP
//! encryption, raw RSA and signature recovery (Current Mechanisms v3.0 §2.1).

use super::padding::*;
use super::*;

impl RsaPublic {
    /// Validates the key: odd modulus of 512..=8192 bits, odd exponent 3..=2^33-1, e < n.
    /// Anything else is `CKR_ATTRIBUTE_VALUE_INVALID`.
    pub fn new(modulus: &[u8], public_exponent: &[u8]) -> Result<Self> {
        checked_exponent(public_exponent).ok_or(Error::new(CKR_ATTRIBUTE_VALUE_INVALID))?;
        let (n, e) = (trim(modulus), trim(public_exponent));
        Ok(RsaPublic {
            key: backend::PublicKey::new(n, e)?,
            n: n.to_vec(),
            e: e.to_vec(),
        })
    }

    pub fn modulus(&self) -> Vec<u8> {
        self.n.clone()
    }

    pub fn public_exponent(&self) -> Vec<u8> {
        self.e.clone()
    }

    pub fn modulus_bits(&self) -> usize {
        bit_len(&self.n)
    }

    /// Modulus length in bytes: the length of every signature and ciphertext.
    pub fn size(&self) -> usize {
        self.n.len()
    }

    /// `x` (at most `size()` big-endian bytes) as exactly `size()` bytes, checked to be below
    /// the modulus; `codes` say what a bad length or value is.
    pub(super) fn operand(&self, x: &[u8], codes: Codes) -> Result<Vec<u8>> {
        let k = self.size();
        if x.len() > k {
            return fail(codes.len);
        }
        let x = left_pad(x, k);
        // Both are k-byte big-endian numbers: byte order is numeric order.
        if x.as_slice() >= self.n.as_slice() {
            return fail(codes.value);
        }
        Ok(x)
    }

    /// `x^e mod n` for `x` given as `size()` or fewer big-endian bytes.
    pub(super) fn public_op(&self, x: &[u8], codes: Codes) -> Result<Vec<u8>> {
        let x = self.operand(x, codes)?;
        self.key.raw(&x).ok_or(Error::new(codes.value))
    }

    /// Raw RSA (`CKM_RSA_X_509` encryption): `size()` bytes out. The input is a big-endian
    /// integer below the modulus (`CKR_DATA_LEN_RANGE` if longer than the modulus,
    /// `CKR_DATA_INVALID` if not below it).
    pub fn raw_public(&self, data: &[u8]) -> Result<Vec<u8>> {
        if data.len() > self.size() {
            return fail(CKR_DATA_LEN_RANGE);
        }
        self.public_op(data, AS_DATA)
    }

    /// `CKM_RSA_X_509` verification recovery: the raw value of a signature (`size()` bytes).
    pub fn recover_raw(&self, signature: &[u8]) -> Result<Vec<u8>> {
        if signature.len() != self.size() {
            return fail(CKR_SIGNATURE_LEN_RANGE);
        }
        self.public_op(signature, AS_SIGNATURE)
    }

    /// `CKM_RSA_X_509` verification: `data` is compared with the recovered value, both as
    /// `size()`-byte big-endian numbers.
    pub fn verify_raw(&self, data: &[u8], signature: &[u8]) -> Result<()> {
        if data.len() > self.size() {
            return fail(CKR_DATA_LEN_RANGE);
        }
        let m = self.recover_raw(signature)?;
        if bool::from(m.ct_eq(&left_pad(data, self.size()))) {
            Ok(())
        } else {
            fail(CKR_SIGNATURE_INVALID)
        }
    }

    /// `CKM_RSA_PKCS` verification of caller data (normally a DigestInfo) of at most
    /// `size() - 11` bytes.
    pub fn verify_pkcs1v15_raw(&self, data: &[u8], signature: &[u8]) -> Result<()> {
        if data.len() + 11 > self.size() {
            return fail(CKR_DATA_LEN_RANGE);
        }
        self.verify_prefixed(&[], data, signature)
    }

    /// PKCS#1 v1.5 verification of a `hash` computed with `alg` (`CKM_SHA*_RSA_PKCS`).
    pub fn verify_pkcs1v15(&self, alg: HashAlg, hash: &[u8], signature: &[u8]) -> Result<()> {
        if hash.len() != alg.output_len() {
            return fail(CKR_DATA_LEN_RANGE);
        }
        self.verify_prefixed(alg.digest_info_prefix(), hash, signature)
    }

    /// RSASSA-PKCS1-v1_5 verification (RFC 8017 §8.2.2): the signature's value must equal the
    /// one encoding of the data, compared whole.
    pub(super) fn verify_prefixed(
        &self,
        prefix: &[u8],
        data: &[u8],
        signature: &[u8],
    ) -> Result<()> {
        if signature.len() != self.size() {
            return fail(CKR_SIGNATURE_LEN_RANGE);
        }
        let em = self.public_op(signature, AS_SIGNATURE)?;
        let want = pkcs1v15_sign_pad(prefix, data, self.size());
        match want {
            Some(w) if bool::from(w.ct_eq(&em)) => Ok(()),
            _ => fail(CKR_SIGNATURE_INVALID),
        }
    }

    /// `C_VerifyRecover` for `CKM_RSA_PKCS`: the data inside a type-1 padded block.
    pub fn recover_pkcs1v15(&self, signature: &[u8]) -> Result<Vec<u8>> {
        let em = self.recover_raw(signature)?;
        let bad = || Error::new(CKR_SIGNATURE_INVALID);
        let body = em.strip_prefix(&[0x00, 0x01]).ok_or_else(bad)?;
        let ff = body.iter().take_while(|b| **b == 0xff).count();
        if ff < 8 {
            return Err(bad());
        }
        let rest = body.get(ff..).ok_or_else(bad)?;
        let data = rest.strip_prefix(&[0x00]).ok_or_else(bad)?;
        Ok(data.to_vec())
    }

    /// RSASSA-PSS verification (RFC 8017 §9.1.2) of `hash` (computed with `alg`), with MGF1
    /// over `mgf` and exactly `salt_len` bytes of salt.
    pub fn verify_pss(
        &self,
        alg: HashAlg,
        mgf: HashAlg,
        salt_len: usize,
        hash: &[u8],
        signature: &[u8],
    ) -> Result<()> {
        if hash.len() != alg.output_len() {
            return fail(CKR_DATA_LEN_RANGE);
        }
        if signature.len() != self.size() {
            return fail(CKR_SIGNATURE_LEN_RANGE);
        }
        let em_bits = self.modulus_bits() - 1;
        let em_len = em_bits.div_ceil(8);
        let h_len = alg.output_len();
        let bad = || Error::new(CKR_SIGNATURE_INVALID);
        let m = self.public_op(signature, AS_SIGNATURE)?;
        // The representative has em_len bytes: anything above them must be zero.
        let (high, em) = m.split_at(m.len() - em_len);
        if high.iter().any(|b| *b != 0) || em_len < h_len + salt_len + 2 {
            return Err(bad());
        }
        let (masked_db, rest) = em.split_at(em_len - h_len - 1);
        let (h, trailer) = rest.split_at(h_len);
        let unused_bits = 8 * em_len - em_bits;
        if trailer != [0xbc]
            || masked_db
                .first()
                .is_some_and(|b| unused_bits > 0 && b >> (8 - unused_bits) != 0)
        {
            return Err(bad());
        }
        let mut db = mgf1(mgf, h, masked_db.len());
        for (d, m) in db.iter_mut().zip(masked_db) {
            *d ^= *m;
        }
        if let Some(first) = db.first_mut() {
            *first &= 0xff >> unused_bits;
        }
        let ps_len = em_len - h_len - salt_len - 2;
        let (ps, rest) = db.split_at(ps_len);
        if ps.iter().any(|b| *b != 0) || rest.first() != Some(&0x01) {
            return Err(bad());
        }
        let salt = rest.get(1..).ok_or_else(bad)?;
        if pss_hash(alg, hash, salt) == h {
            Ok(())
        } else {
            Err(bad())
        }
    }

    /// RSAES-PKCS1-v1_5 encryption (RFC 8017 §7.2.1) of at most `size() - 11` bytes.
    pub fn encrypt_pkcs1v15(&self, data: &[u8]) -> Result<Vec<u8>> {
        let k = self.size();
        if data.len() + 11 > k {
            return fail(CKR_DATA_LEN_RANGE);
        }
        // EM = 0x00 || 0x02 || PS || 0x00 || M, PS random non-zero bytes.
        let mut em = Zeroizing::new(vec![0u8; k]);
        let ps_end = k - data.len() - 1;
        if let Some(b) = em.get_mut(1) {
            *b = 0x02;
        }
        let ps = em.get_mut(2..ps_end).unwrap_or_default();
        crate::crypto::random_fill(ps)?;
        for b in ps.iter_mut() {
            while *b == 0 {
                let mut r = [0u8; 1];
                crate::crypto::random_fill(&mut r)?;
                *b = r[0];
            }
        }
        if let Some(m) = em.get_mut(ps_end + 1..) {
            m.copy_from_slice(data);
        }
        self.public_op(&em, AS_DATA)
    }

    /// RSAES-OAEP encryption (RFC 8017 §7.1.1) of at most `size() - 2 * hash length - 2`
    /// bytes, `alg` hashing the label and `mgf` driving MGF1.
    pub fn encrypt_oaep(
        &self,
        alg: HashAlg,
        mgf: HashAlg,
        label: &[u8],
        data: &[u8],
    ) -> Result<Vec<u8>> {
        let k = self.size();
        let h_len = alg.output_len();
        if data.len() + 2 * h_len + 2 > k {
            return fail(CKR_DATA_LEN_RANGE);
        }
        // DB = lHash || PS || 0x01 || M, masked; EM = 0x00 || maskedSeed || maskedDB.
        let mut db = Zeroizing::new(digest_parts(alg, &[label]));
        db.resize(k - h_len - 1 - data.len() - 1, 0);
        db.push(0x01);
        db.extend_from_slice(data);
        let mut seed = Zeroizing::new(vec![0u8; h_len]);
        crate::crypto::random_fill(&mut seed)?;
        let db_mask = mgf1(mgf, &seed, db.len());
        xor_into(&mut db, &db_mask);
        xor_into(&mut seed, &mgf1(mgf, &db, h_len));
        let mut em = Zeroizing::new(Vec::with_capacity(k));
        em.push(0x00);
        em.extend_from_slice(&seed);
        em.extend_from_slice(&db);
        self.public_op(&em, AS_DATA)
    }
}
