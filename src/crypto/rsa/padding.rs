//! The encodings of RFC 8017 that both backends share: MGF1, EMSA-PKCS1-v1_5, EMSA-PSS's hash,
//! EME-OAEP decoding (constant-time) and EME-PKCS1-v1_5 decoding with implicit rejection
//! (Current Mechanisms v3.0 §2.1.6-2.1.11).

use super::*;

/// MGF1 (RFC 8017 B.2.1). Its output masks secrets in OAEP, so it is wiped.
pub(super) fn mgf1(alg: HashAlg, seed: &[u8], len: usize) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(len + alg.output_len()));
    let mut counter = 0u32;
    while out.len() < len {
        out.extend_from_slice(&digest_parts(alg, &[seed, &counter.to_be_bytes()]));
        counter = counter.wrapping_add(1);
    }
    out.truncate(len);
    out
}

pub(super) fn pss_hash(alg: HashAlg, m_hash: &[u8], salt: &[u8]) -> Vec<u8> {
    let mut h = Hasher::new(alg);
    h.update(&[0u8; 8]);
    h.update(m_hash);
    h.update(salt);
    h.finalize()
}

/// EMSA-PKCS1-v1_5 (RFC 8017 §9.2 step 5): `0x00 0x01 FF.. 0x00 || prefix || data`, `k`
/// bytes; `None` when fewer than 8 bytes of padding would fit.
pub(super) fn pkcs1v15_sign_pad(prefix: &[u8], data: &[u8], k: usize) -> Option<Vec<u8>> {
    let t_len = prefix.len() + data.len();
    let ps = k.checked_sub(t_len + 3).filter(|ps| *ps >= 8)?;
    let mut em = Vec::with_capacity(k);
    em.extend_from_slice(&[0x00, 0x01]);
    em.resize(2 + ps, 0xff);
    em.push(0x00);
    em.extend_from_slice(prefix);
    em.extend_from_slice(data);
    Some(em)
}

pub(super) fn xor_into(dst: &mut [u8], src: &[u8]) {
    for (d, s) in dst.iter_mut().zip(src) {
        *d ^= *s;
    }
}

/// EME-OAEP decoding (RFC 8017 §7.1.2 step 3) in constant time: every byte is examined and every
/// check folded into one flag, so only the final accept/reject is observable. Unlike the `rsa`
/// crate, which ignores it, the leading byte Y must be zero as step 3g says.
pub(super) fn oaep_decode(
    em: &[u8],
    alg: HashAlg,
    mgf: HashAlg,
    label: &[u8],
) -> Result<Zeroizing<Vec<u8>>> {
    let h_len = alg.output_len();
    let bad = || Error::new(CKR_ENCRYPTED_DATA_INVALID);
    if em.len() < 2 * h_len + 2 {
        return Err(bad());
    }
    let (y, rest) = em.split_at(1);
    let (masked_seed, masked_db) = rest.split_at(h_len);
    let mut seed = Zeroizing::new(masked_seed.to_vec());
    xor_into(&mut seed, &mgf1(mgf, masked_db, h_len));
    let mut db = Zeroizing::new(masked_db.to_vec());
    xor_into(&mut db, &mgf1(mgf, &seed, masked_db.len()));
    let (l_hash, tail) = db.split_at(h_len);
    let mut good = y.ct_eq(&[0u8]) & l_hash.ct_eq(&digest_parts(alg, &[label]));
    // Find the 0x01 after PS: `looking` stays set until it is seen, and any other non-zero
    // byte before it spoils the padding.
    let mut looking = Choice::from(1u8);
    let mut index = 0u32;
    for (i, b) in tail.iter().enumerate() {
        let is_one = b.ct_eq(&1u8);
        index.conditional_assign(&(i as u32), looking & is_one);
        good &= !(looking & !is_one & !b.ct_eq(&0u8));
        looking &= !is_one;
    }
    good &= !looking;
    if !bool::from(good) {
        return Err(bad());
    }
    let msg = tail.get(index as usize + 1..).ok_or_else(bad)?;
    Ok(Zeroizing::new(msg.to_vec()))
}

/// The implicit-rejection PRF of draft-irtf-cfrg-rsa-guidance §7.1: `length` bytes of
/// HMAC-SHA256(KDK, i || label || bit length), i counting 32-byte blocks.
pub(super) fn irprf(kdk: &[u8; 32], label: &[u8], length: usize) -> Zeroizing<Vec<u8>> {
    let bits = u16::try_from(length * 8).unwrap_or(u16::MAX).to_be_bytes();
    let mut out = Zeroizing::new(Vec::with_capacity(length + 32));
    let mut i = 0u16;
    while out.len() < length {
        out.extend_from_slice(&crate::crypto::hmac_sha256(
            kdk,
            &[&i.to_be_bytes(), label, &bits],
        ));
        i = i.wrapping_add(1);
    }
    out.truncate(length);
    out
}

/// RSAES-PKCS1-v1_5 decoding with implicit rejection (draft-irtf-cfrg-rsa-guidance §7.2 steps
/// 3-5) of the `k`-byte EM: the message if the padding is right, else a synthetic message
/// derived from the key and the ciphertext, chosen without branching on secret data.
pub(super) fn pkcs1v15_decode_implicit(
    em: &mut [u8],
    rejection_key: &[u8; 32],
    ciphertext: &[u8],
) -> Zeroizing<Vec<u8>> {
    let k = em.len();
    // Step 3: KDK = HMAC(SHA256(I2OSP(d, k)), C); CL and AM from the PRF.
    let kdk = Zeroizing::new(crate::crypto::hmac_sha256(rejection_key, &[ciphertext]));
    let cl = irprf(&kdk, b"length", 256);
    let am = irprf(&kdk, b"message", k);
    // AL: the last of the 128 candidate lengths (masked to the bit width of k - 11) that is
    // at most k - 11, or zero.
    let max = u16::try_from(k.saturating_sub(11)).unwrap_or(u16::MAX);
    let mut mask = max;
    mask |= mask >> 1;
    mask |= mask >> 2;
    mask |= mask >> 4;
    mask |= mask >> 8;
    let mut al = 0u16;
    for pair in cl.chunks_exact(2) {
        let candidate = u16::from_be_bytes([pair[0], pair[1]]) & mask;
        al.conditional_assign(&candidate, !candidate.ct_gt(&max));
    }
    // Step 4: EM = 0x00 || 0x02 || PS || 0x00 || M, PS at least 8 bytes.
    let mut bad = !em[0].ct_eq(&0) | !em[1].ct_eq(&2);
    let mut looking = Choice::from(1u8);
    let mut separator = 0u32;
    for (i, b) in em.iter().enumerate().skip(2) {
        let zero = b.ct_eq(&0);
        separator.conditional_assign(&(i as u32), looking & zero);
        looking &= !zero;
    }
    bad |= looking | !separator.ct_gt(&9);
    let l = u32::conditional_select(
        &((k as u32).wrapping_sub(separator).wrapping_sub(1)),
        &0,
        looking,
    );
    // Step 5: pick the synthetic message or the real one, reading both whole.
    let length = u32::conditional_select(&l, &u32::from(al), bad);
    for (e, a) in em.iter_mut().zip(am.iter()) {
        e.conditional_assign(a, bad);
    }
    Zeroizing::new(em.get(k - length as usize..).unwrap_or_default().to_vec())
}
