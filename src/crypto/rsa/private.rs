//! Operations of an RSA private key: import with consistency checks, generation, PKCS#1 v1.5
//! and PSS signatures, PKCS#1 v1.5 (implicit rejection) and OAEP decryption, raw RSA
//! (Current Mechanisms v3.0 §2.1).

use super::padding::*;
use super::*;

impl RsaPrivate {
    /// A private key from its PKCS#11 attributes. `d` is required; without `p` and `q` the
    /// primes are recovered from `n`, `e`, `d` (SP 800-56B C.2). Parts that do not belong
    /// together, and CRT values that differ from the ones the primes imply, are
    /// `CKR_ATTRIBUTE_VALUE_INVALID`.
    #[allow(clippy::too_many_arguments)]
    pub fn from_components(
        modulus: &[u8],
        public_exponent: &[u8],
        private_exponent: &[u8],
        prime_1: Option<&[u8]>,
        prime_2: Option<&[u8]>,
        exponent_1: Option<&[u8]>,
        exponent_2: Option<&[u8]>,
        coefficient: Option<&[u8]>,
    ) -> Result<Self> {
        let public = RsaPublic::new(modulus, public_exponent)?;
        // The crate's prime recovery and CRT set-up underflow on zero or empty values: rule out
        // anything that cannot be a factor or exponent below n before handing them over.
        let n_bits = public.modulus_bits();
        let plausible = |v: &[u8]| (1..=n_bits).contains(&bit_len(v)) && trim(v) != [1];
        if !plausible(private_exponent) || ![prime_1, prime_2].into_iter().flatten().all(plausible)
        {
            return fail(CKR_ATTRIBUTE_VALUE_INVALID);
        }
        let primes = match (prime_1, prime_2) {
            (Some(p), Some(q)) => Some((p, q)),
            (None, None) => None,
            _ => return fail(CKR_ATTRIBUTE_VALUE_INVALID),
        };
        let d = trim(private_exponent);
        // Every part given: aws-lc checks them all itself, the common case (generated keys).
        #[cfg(feature = "aws-lc")]
        if let (Some((p, q)), Some(dp), Some(dq), Some(qi)) =
            (primes, exponent_1, exponent_2, coefficient)
        {
            let z = |v: &[u8]| Zeroizing::new(trim(v).to_vec());
            let key = aws::PrivateKey::from_full(&RsaComponents {
                modulus: public.n.clone(),
                public_exponent: public.e.clone(),
                private_exponent: z(d),
                prime_1: z(p),
                prime_2: z(q),
                exponent_1: z(dp),
                exponent_2: z(dq),
                coefficient: z(qi),
            })?;
            return Ok(RsaPrivate::assemble(key, public, d));
        }
        let rc = rustcrypto::PrivateKey::from_parts(&public.n, &public.e, d, primes)?;
        let c = rc.components();
        let given = [
            (exponent_1, &c.exponent_1),
            (exponent_2, &c.exponent_2),
            (coefficient, &c.coefficient),
        ];
        for (given, mine) in given {
            if let Some(g) = given {
                let g = trim(g);
                if g.len() != mine.len() || !bool::from(g.ct_eq(mine.as_slice())) {
                    return fail(CKR_ATTRIBUTE_VALUE_INVALID);
                }
            }
        }
        #[cfg(feature = "aws-lc")]
        let key = aws::PrivateKey::from_full(&c)?;
        #[cfg(not(feature = "aws-lc"))]
        let key = rc;
        Ok(RsaPrivate::assemble(key, public, d))
    }

    pub(super) fn assemble(key: backend::PrivateKey, public: RsaPublic, d: &[u8]) -> RsaPrivate {
        let d = Zeroizing::new(left_pad(trim(d), public.size()));
        let rejection_key = Zeroizing::new(crate::crypto::sha256(&[&d]));
        let public = RsaPublic {
            key: key.public(),
            ..public
        };
        RsaPrivate {
            key,
            public,
            rejection_key,
        }
    }

    /// A new key of `bits` (1024..=4096, else `CKR_KEY_SIZE_RANGE`) with public exponent `e`
    /// (odd, 3..=2^33-1, else `CKR_ATTRIBUTE_VALUE_INVALID`).
    pub fn generate(bits: usize, public_exponent: &[u8]) -> Result<Self> {
        if !(MIN_GENERATE_BITS..=MAX_GENERATE_BITS).contains(&bits) {
            return fail(CKR_KEY_SIZE_RANGE);
        }
        let e = checked_exponent(public_exponent).ok_or(Error::new(CKR_ATTRIBUTE_VALUE_INVALID))?;
        let key = backend::PrivateKey::generate(bits, e)?;
        let c = key.components();
        let public = RsaPublic::new(&c.modulus, &c.public_exponent)?;
        Ok(RsaPrivate::assemble(key, public, &c.private_exponent))
    }

    pub fn public(&self) -> RsaPublic {
        self.public.clone()
    }

    pub fn components(&self) -> RsaComponents {
        self.key.components()
    }

    pub(super) fn size(&self) -> usize {
        self.public.size()
    }

    /// `x^d mod n`, blinded, with the backend's CRT fault check.
    pub(super) fn private_op(&self, x: &[u8], codes: Codes) -> Result<Zeroizing<Vec<u8>>> {
        let x = Zeroizing::new(self.public.operand(x, codes)?);
        self.key.raw(&x)
    }

    /// Raw RSA signature (`CKM_RSA_X_509` signing): input a big-endian integer below the
    /// modulus (`CKR_DATA_LEN_RANGE` / `CKR_DATA_INVALID`), output `size()` bytes.
    pub fn raw_private(&self, data: &[u8]) -> Result<Vec<u8>> {
        if data.len() > self.size() {
            return fail(CKR_DATA_LEN_RANGE);
        }
        Ok(self.private_op(data, AS_DATA)?.to_vec())
    }

    /// Raw RSA decryption (`CKM_RSA_X_509`): `size()` bytes of ciphertext
    /// (`CKR_ENCRYPTED_DATA_LEN_RANGE` otherwise), `size()` bytes out.
    pub fn decrypt_raw(&self, ciphertext: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        if ciphertext.len() != self.size() {
            return fail(CKR_ENCRYPTED_DATA_LEN_RANGE);
        }
        self.private_op(ciphertext, AS_CIPHERTEXT)
    }

    /// `CKM_RSA_PKCS` signature over caller data (normally a DigestInfo) of at most
    /// `size() - 11` bytes.
    pub fn sign_pkcs1v15_raw(&self, data: &[u8]) -> Result<Vec<u8>> {
        if data.len() + 11 > self.size() {
            return fail(CKR_DATA_LEN_RANGE);
        }
        self.sign_prefixed(&[], data)
    }

    /// PKCS#1 v1.5 signature of a `hash` computed with `alg`.
    pub fn sign_pkcs1v15(&self, alg: HashAlg, hash: &[u8]) -> Result<Vec<u8>> {
        if hash.len() != alg.output_len() {
            return fail(CKR_DATA_LEN_RANGE);
        }
        if alg.digest_info_prefix().len() + hash.len() + 11 > self.size() {
            return fail(CKR_KEY_SIZE_RANGE);
        }
        self.sign_prefixed(alg.digest_info_prefix(), hash)
    }

    /// RSASSA-PKCS1-v1_5 signature (RFC 8017 §8.2.1) of the DigestInfo `prefix || data`.
    pub(super) fn sign_prefixed(&self, prefix: &[u8], data: &[u8]) -> Result<Vec<u8>> {
        let em =
            pkcs1v15_sign_pad(prefix, data, self.size()).ok_or(Error::new(CKR_DATA_LEN_RANGE))?;
        Ok(self.private_op(&em, AS_DATA)?.to_vec())
    }

    /// RSASSA-PSS signature (RFC 8017 §9.1.1) of `hash` (computed with `alg`) with MGF1 over
    /// `mgf` and a random salt of `salt_len` bytes (0 up to what the modulus leaves room for,
    /// else `CKR_MECHANISM_PARAM_INVALID`).
    pub fn sign_pss(
        &self,
        alg: HashAlg,
        mgf: HashAlg,
        salt_len: usize,
        hash: &[u8],
    ) -> Result<Vec<u8>> {
        if hash.len() != alg.output_len() {
            return fail(CKR_DATA_LEN_RANGE);
        }
        let mut salt = vec![0u8; salt_len];
        crate::crypto::random_fill(&mut salt)?;
        self.sign_pss_with_salt(alg, mgf, &salt, hash)
    }

    pub(super) fn sign_pss_with_salt(
        &self,
        alg: HashAlg,
        mgf: HashAlg,
        salt: &[u8],
        hash: &[u8],
    ) -> Result<Vec<u8>> {
        let em_bits = self.public.modulus_bits() - 1;
        let em_len = em_bits.div_ceil(8);
        let h_len = alg.output_len();
        if em_len < h_len + salt.len() + 2 {
            return fail(CKR_MECHANISM_PARAM_INVALID);
        }
        let h = pss_hash(alg, hash, salt);
        let db_len = em_len - h_len - 1;
        let mut em = mgf1(mgf, &h, db_len);
        // DB = PS || 0x01 || salt, masked in place.
        let ps_len = db_len - salt.len() - 1;
        if let Some(b) = em.get_mut(ps_len) {
            *b ^= 0x01;
        }
        for (d, s) in em.iter_mut().skip(ps_len + 1).zip(salt) {
            *d ^= *s;
        }
        if let Some(first) = em.first_mut() {
            *first &= 0xff >> (8 * em_len - em_bits);
        }
        em.extend_from_slice(&h);
        em.push(0xbc);
        Ok(self.private_op(&em, AS_DATA)?.to_vec())
    }

    /// RSAES-PKCS1-v1_5 decryption with implicit rejection (draft-irtf-cfrg-rsa-guidance §7.2):
    /// a ciphertext whose padding is wrong decrypts to a deterministic pseudo-random message
    /// instead of failing, so neither the return code nor the timing tells an attacker whether
    /// the padding was valid (Bleichenbacher, Marvin). Only a length other than `size()` is an
    /// error (`CKR_ENCRYPTED_DATA_LEN_RANGE`); a value not below the modulus is
    /// `CKR_ENCRYPTED_DATA_INVALID`.
    pub fn decrypt_pkcs1v15(&self, ciphertext: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        if ciphertext.len() != self.size() || self.size() < 11 {
            return fail(CKR_ENCRYPTED_DATA_LEN_RANGE);
        }
        let mut em = self.private_op(ciphertext, AS_CIPHERTEXT)?;
        Ok(pkcs1v15_decode_implicit(
            &mut em,
            &self.rejection_key,
            ciphertext,
        ))
    }

    /// RSAES-OAEP decryption; every failure after the length check is the single code
    /// `CKR_ENCRYPTED_DATA_INVALID`.
    pub fn decrypt_oaep(
        &self,
        alg: HashAlg,
        mgf: HashAlg,
        label: &[u8],
        ciphertext: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>> {
        if ciphertext.len() != self.size() {
            return fail(CKR_ENCRYPTED_DATA_LEN_RANGE);
        }
        let em = self.private_op(ciphertext, AS_CIPHERTEXT)?;
        oaep_decode(&em, alg, mgf, label)
    }
}
