//! Known-answer and agreement tests of the AES modes (NIST SP 800-38A/B/C/D, RFC 3394, 3610,
//! 4493, 5649), and of the prepared keys shared between operations and threads.
#![allow(clippy::unwrap_used)]

use super::gcm::{RcGcm, RcKey};
use super::*;
use crate::crypto::digest::hex;
use cryptoki_sys::*;

fn blk(s: &str) -> Block {
    to_block(&hex(s))
}

const K128: &str = "2b7e151628aed2a6abf7158809cf4f3c";
const K192: &str = "8e73b0f7da0e6452c810f32b809079e562f8ead2522c6b7b";
const K256: &str = "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4";
const SP800_38A_PT: &str = "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51\
                            30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710";

fn check_mode(key: &str, mode: Mode, pt: &str, ct: &str) {
    let (key, pt, ct) = (hex(key), hex(pt), hex(ct));
    assert_eq!(
        *AesCipher::one_shot(&key, mode, Direction::Encrypt, &pt).unwrap(),
        ct,
        "{mode:?}"
    );
    assert_eq!(
        *AesCipher::one_shot(&key, mode, Direction::Decrypt, &ct).unwrap(),
        pt,
        "{mode:?}"
    );
    // Every split point of a multi-part operation gives the same result.
    for (dir, input, want) in [
        (Direction::Encrypt, &pt, &ct),
        (Direction::Decrypt, &ct, &pt),
    ] {
        for cut in [1, 7, 15, 16, 17, 31, 33, 48] {
            let cut = cut.min(input.len());
            let mut c = AesCipher::new(&key, mode, dir).unwrap();
            let n1 = c.update_len(cut);
            let mut out = c.update(&input[..cut]).unwrap().to_vec();
            assert_eq!(out.len(), n1);
            let n2 = c.update_len(input.len() - cut);
            let more = c.update(&input[cut..]).unwrap();
            assert_eq!(more.len(), n2);
            out.extend_from_slice(&more);
            let fl = c.finish_len();
            let fin = c.finish().unwrap();
            assert!(fin.len() <= fl);
            out.extend_from_slice(&fin);
            assert_eq!(&out, want, "{mode:?} {dir:?} cut {cut}");
            assert_eq!(
                c.update(b"x").unwrap_err().rv(),
                CKR_OPERATION_NOT_INITIALIZED
            );
        }
    }
}

// NIST SP 800-38A F.1 (ECB), F.2 (CBC), F.5 (CTR).
#[test]
fn sp800_38a_ecb_cbc_ctr() {
    check_mode(
        K128,
        Mode::Ecb,
        SP800_38A_PT,
        "3ad77bb40d7a3660a89ecaf32466ef97f5d3d58503b9699de785895a96fdbaaf\
         43b1cd7f598ece23881b00e3ed0306887b0c785e27e8ad3f8223207104725dd4",
    );
    check_mode(
        K192,
        Mode::Ecb,
        SP800_38A_PT,
        "bd334f1d6e45f25ff712a214571fa5cc974104846d0ad3ad7734ecb3ecee4eef\
         ef7afd2270e2e60adce0ba2face6444e9a4b41ba738d6c72fb16691603c18e0e",
    );
    check_mode(
        K256,
        Mode::Ecb,
        SP800_38A_PT,
        "f3eed1bdb5d2a03c064b5a7e3db181f8591ccb10d410ed26dc5ba74a31362870\
         b6ed21b99ca6f4f9f153e7b1beafed1d23304b7a39f9f3ff067d8d8f9e24ecc7",
    );
    let iv = blk("000102030405060708090a0b0c0d0e0f");
    check_mode(
        K128,
        Mode::Cbc { iv },
        SP800_38A_PT,
        "7649abac8119b246cee98e9b12e9197d5086cb9b507219ee95db113a917678b2\
         73bed6b8e3c1743b7116e69e222295163ff1caa1681fac09120eca307586e1a7",
    );
    check_mode(
        K256,
        Mode::Cbc { iv },
        SP800_38A_PT,
        "f58c4c04d6e5f1ba779eabfb5f7bfbd69cfc4e967edb808d679f777bc6702c7d\
         39f23369a9d9bacfa530e26304231461b2eb05e2c39be9fcda6c19078c6a9d1b",
    );
    let ctr = blk("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff");
    check_mode(
        K128,
        Mode::Ctr {
            counter_bits: 128,
            block: ctr,
        },
        SP800_38A_PT,
        "874d6191b620e3261bef6864990db6ce9806f66b7970fdff8617187bb9fffdff\
         5ae4df3edbd5d35e5b4f09020db03eab1e031dda2fbe03d1792170a0f3009cee",
    );
    check_mode(
        K256,
        Mode::Ctr {
            counter_bits: 128,
            block: ctr,
        },
        SP800_38A_PT,
        "601ec313775789a5b7a7f504bbf3d228f443e3ca4d62b59aca84e990cacaf5c5\
         2b0930daa23de94ce87017ba2d84988ddfc9c58db67aada613c2dd08457941a6",
    );
    // CTR needs no whole blocks.
    check_mode(
        K128,
        Mode::Ctr {
            counter_bits: 128,
            block: ctr,
        },
        "6bc1bee22e409f96e9",
        "874d6191b620e3261b",
    );
}

#[test]
fn ecb_and_cbc_refuse_partial_blocks() {
    let key = hex(K128);
    let iv = [0u8; 16];
    for mode in [Mode::Ecb, Mode::Cbc { iv }] {
        assert_eq!(
            AesCipher::one_shot(&key, mode, Direction::Encrypt, &[0; 17])
                .unwrap_err()
                .rv(),
            CKR_DATA_LEN_RANGE
        );
        assert_eq!(
            AesCipher::one_shot(&key, mode, Direction::Decrypt, &[0; 15])
                .unwrap_err()
                .rv(),
            CKR_ENCRYPTED_DATA_LEN_RANGE
        );
        assert!(AesCipher::one_shot(&key, mode, Direction::Encrypt, &[])
            .unwrap()
            .is_empty());
    }
    assert_eq!(AesKey::new(&[0; 17]).unwrap_err().rv(), CKR_KEY_SIZE_RANGE);
    assert_eq!(
        AesCipher::new(&[0; 8], Mode::Ecb, Direction::Encrypt)
            .unwrap_err()
            .rv(),
        CKR_KEY_SIZE_RANGE
    );
}

#[test]
fn cbc_pad_round_trips_every_length_and_rejects_bad_padding() {
    let key = hex(K128);
    let iv = blk("000102030405060708090a0b0c0d0e0f");
    let mode = Mode::CbcPad { iv };
    for n in 0..50usize {
        let pt: Vec<u8> = (0..n as u8).collect();
        let ct = AesCipher::one_shot(&key, mode, Direction::Encrypt, &pt).unwrap();
        assert_eq!(ct.len(), (n / 16 + 1) * 16);
        // Without the pad block it is plain CBC.
        let plain = AesCipher::one_shot(
            &key,
            Mode::Cbc { iv },
            Direction::Encrypt,
            &pt[..n / 16 * 16],
        )
        .unwrap();
        assert_eq!(&ct[..n / 16 * 16], plain.as_slice());
        assert_eq!(
            *AesCipher::one_shot(&key, mode, Direction::Decrypt, &ct).unwrap(),
            pt
        );
    }
    // SP 800-38A CBC vector plus one full pad block.
    let ct = AesCipher::one_shot(&key, mode, Direction::Encrypt, &hex(SP800_38A_PT)).unwrap();
    assert_eq!(hex("3ff1caa1681fac09120eca307586e1a7"), &ct[48..64]);
    // Decrypted blocks that end in bad padding: a zero pad, a pad over 16, inconsistent bytes.
    for last in [
        "000102030405060708090a0b0c0d0e00",
        "00000000000000000000000000000011",
        "000000000000000000000000000303ff",
        "00000000000000000000000000020303",
    ] {
        // Encrypting the block with ECB under a zero IV gives a CBC ciphertext that decrypts to it.
        let c = AesCipher::one_shot(&key, Mode::Ecb, Direction::Encrypt, &hex(last)).unwrap();
        let r = AesCipher::one_shot(&key, Mode::CbcPad { iv: [0; 16] }, Direction::Decrypt, &c);
        assert_eq!(r.unwrap_err().rv(), CKR_ENCRYPTED_DATA_INVALID, "{last}");
    }
    let good = AesCipher::one_shot(
        &key,
        Mode::Ecb,
        Direction::Encrypt,
        &hex("00000000000000000000000000030303"),
    )
    .unwrap();
    let r = AesCipher::one_shot(
        &key,
        Mode::CbcPad { iv: [0; 16] },
        Direction::Decrypt,
        &good,
    )
    .unwrap();
    assert_eq!(*r, vec![0u8; 13]);
    for n in [0usize, 15, 17] {
        let r = AesCipher::one_shot(&key, mode, Direction::Decrypt, &vec![0; n]);
        assert_eq!(r.unwrap_err().rv(), CKR_ENCRYPTED_DATA_LEN_RANGE, "{n}");
    }
    // The last block is held back until the final call.
    let mut d = AesCipher::new(&key, mode, Direction::Decrypt).unwrap();
    assert_eq!(d.update_len(32), 16);
    assert_eq!(d.update(&ct[..32]).unwrap().len(), 16);
    assert_eq!(d.finish_len(), 15);
}

#[test]
fn ctr_counter_bits_count_only_the_low_bits_and_never_overflow() {
    let key = hex(K128);
    let ctr = |bits: u64, block: Block| Mode::Ctr {
        counter_bits: bits,
        block,
    };
    // A 16-bit counter at 0x00ff carries into its own upper byte, not into the nonce.
    let mut start = blk("0102030405060708090a0b0c0d0e00ff");
    let ks = AesCipher::one_shot(&key, ctr(16, start), Direction::Encrypt, &[0u8; 32]).unwrap();
    let mut want = AesCipher::one_shot(&key, Mode::Ecb, Direction::Encrypt, &start)
        .unwrap()
        .to_vec();
    start[14] = 0x01;
    start[15] = 0x00;
    want.extend_from_slice(
        &AesCipher::one_shot(&key, Mode::Ecb, Direction::Encrypt, &start).unwrap(),
    );
    assert_eq!(*ks, want);
    // §2.11.3's example: 2 counter bits starting at 1 allow exactly 3 blocks, counted across
    // calls; the refused call changes nothing and says CKR_DATA_LEN_RANGE in both directions.
    let one = blk("00000000000000000000000000000001");
    assert_eq!(
        AesCipher::one_shot(&key, ctr(2, one), Direction::Encrypt, &[0; 48])
            .unwrap()
            .len(),
        48
    );
    assert_eq!(
        AesCipher::one_shot(&key, ctr(2, one), Direction::Encrypt, &[0; 49])
            .unwrap_err()
            .rv(),
        CKR_DATA_LEN_RANGE
    );
    let mut c = AesCipher::new(&key, ctr(2, one), Direction::Decrypt).unwrap();
    assert_eq!(c.update(&[0; 40]).unwrap().len(), 40);
    assert_eq!(c.update(&[0; 9]).unwrap_err().rv(), CKR_DATA_LEN_RANGE);
    assert_eq!(c.update(&[0; 8]).unwrap().len(), 8);
    assert_eq!(c.update(&[0; 1]).unwrap_err().rv(), CKR_DATA_LEN_RANGE);
    // Only the counter bits of the start value count: 0xfe in an 8-bit field leaves 2 blocks.
    let fe = blk("ffffffffffffffffffffffffffffff fe");
    assert!(AesCipher::one_shot(&key, ctr(8, fe), Direction::Encrypt, &[0; 32]).is_ok());
    assert!(AesCipher::one_shot(&key, ctr(8, fe), Direction::Encrypt, &[0; 33]).is_err());
    // A full 128-bit counter stops at the top too.
    let top = blk("fffffffffffffffffffffffffffffffe");
    assert!(AesCipher::one_shot(&key, ctr(128, top), Direction::Encrypt, &[0; 32]).is_ok());
    assert!(AesCipher::one_shot(&key, ctr(128, top), Direction::Encrypt, &[0; 33]).is_err());
    assert!(AesCipher::one_shot(&key, ctr(128, [0; 16]), Direction::Encrypt, &[0; 1000]).is_ok());
    for bits in [0, 129] {
        let r = AesCipher::new(&key, ctr(bits, [0; 16]), Direction::Encrypt);
        assert_eq!(r.unwrap_err().rv(), CKR_MECHANISM_PARAM_INVALID);
    }
}

/// CS3 (RFC 3962) ciphertext to CS1: the last `d` bytes (d = len mod 16, or 16) move in
/// front of the full block before them.
fn cs3_to_cs1(ct: &[u8]) -> Vec<u8> {
    let d = match ct.len() % 16 {
        0 => 16,
        d => d,
    };
    let n = ct.len();
    let mut out = ct[..n - d - 16].to_vec();
    out.extend_from_slice(&ct[n - d..]);
    out.extend_from_slice(&ct[n - d - 16..n - d]);
    out
}

// RFC 3962 appendix B (AES-128 CTS, zero IV), given in CS3 order and checked in CS1.
#[test]
fn rfc3962_cts() {
    let key = hex("636869636b656e207465726979616b69");
    let iv = [0u8; 16];
    let vectors = [
        ("4920776f756c64206c696b652074686520", "c6353568f2bf8cb4d8a580362da7ff7f97"),
        (
            "4920776f756c64206c696b65207468652047656e6572616c20476175277320",
            "fc00783e0efdb2c1d445d4c8eff7ed2297687268d6ecccc0c07b25e25ecfe5",
        ),
        (
            "4920776f756c64206c696b65207468652047656e6572616c2047617527732043",
            "39312523a78662d5be7fcbcc98ebf5a897687268d6ecccc0c07b25e25ecfe584",
        ),
        (
            "4920776f756c64206c696b65207468652047656e6572616c20476175277320436869636b656e2c20706c656173652c",
            "97687268d6ecccc0c07b25e25ecfe584b3fffd940c16a18c1b5549d2f838029e39312523a78662d5be7fcbcc98ebf5",
        ),
        (
            "4920776f756c64206c696b65207468652047656e6572616c20476175277320436869636b656e2c20706c656173652c20",
            "97687268d6ecccc0c07b25e25ecfe5849dad8bbb96c4cdc03bc103e1a194bbd839312523a78662d5be7fcbcc98ebf5a8",
        ),
        (
            "4920776f756c64206c696b65207468652047656e6572616c20476175277320436869636b656e2c20706c656173652c20\
             616e6420776f6e746f6e20736f75702e",
            "97687268d6ecccc0c07b25e25ecfe58439312523a78662d5be7fcbcc98ebf5a84807efe836ee89a526730dbc2f7bc840\
             9dad8bbb96c4cdc03bc103e1a194bbd8",
        ),
    ];
    for (pt, ct3) in vectors {
        let ct = cs3_to_cs1(&hex(ct3));
        assert_eq!(cts_encrypt(&key, &iv, &hex(pt)).unwrap(), ct);
        assert_eq!(*cts_decrypt(&key, &iv, &ct).unwrap(), hex(pt));
        check_mode(
            "636869636b656e207465726979616b69",
            Mode::Cts { iv },
            pt,
            &ct.iter().map(|b| format!("{b:02x}")).collect::<String>(),
        );
        // Whole blocks: CS1 is CBC.
        if pt.len() % 32 == 0 {
            let cbc = AesCipher::one_shot(&key, Mode::Cbc { iv }, Direction::Encrypt, &hex(pt));
            assert_eq!(*cbc.unwrap(), ct);
        }
    }
    // One block is plain CBC; less is refused.
    let one = cts_encrypt(&key, &iv, &[7; 16]).unwrap();
    assert_eq!(
        *AesCipher::one_shot(&key, Mode::Cbc { iv }, Direction::Encrypt, &[7; 16]).unwrap(),
        one
    );
    assert_eq!(
        cts_encrypt(&key, &iv, &[7; 15]).unwrap_err().rv(),
        CKR_DATA_LEN_RANGE
    );
    assert_eq!(
        cts_decrypt(&key, &iv, &[7; 15]).unwrap_err().rv(),
        CKR_ENCRYPTED_DATA_LEN_RANGE
    );
    // Longer messages round-trip at every length.
    for n in 16..100usize {
        let pt: Vec<u8> = (0..n).map(|i| i as u8).collect();
        let ct = cts_encrypt(&key, &iv, &pt).unwrap();
        assert_eq!(ct.len(), n);
        assert_eq!(*cts_decrypt(&key, &iv, &ct).unwrap(), pt);
    }
}

// The GCM specification's test cases (McGrew-Viega, revised 2005): 2-4 use 96-bit IVs,
// 5 a 64-bit IV and 6 a 480-bit IV; 16 and 18 repeat 4 and 6 with AES-256.
#[test]
fn gcm_spec_test_cases() {
    let k = "feffe9928665731c6d6a8f9467308308";
    let k256 = "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308";
    let p = "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72\
             1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39";
    let p64 = "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72\
               1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255";
    let a = "feedfacedeadbeeffeedfacedeadbeefabaddad2";
    let iv6 = "9313225df88406e555909c5aff5269aa6a7a9538534f7da1e4c303d2a318a728\
               c3c0c95156809539fcf0e2429a6b525416aedbf5a0de6a57a637b39b";
    let cases: [(&str, &str, &str, &str, &str, &str); 7] = [
        (
            "00000000000000000000000000000000",
            "000000000000000000000000",
            "",
            "",
            "",
            "58e2fccefa7e3061367f1d57a4e7455a",
        ),
        (
            "00000000000000000000000000000000",
            "000000000000000000000000",
            "00000000000000000000000000000000",
            "",
            "0388dace60b6a392f328c2b971b2fe78",
            "ab6e47d42cec13bdf53a67b21257bddf",
        ),
        (
            k,
            "cafebabefacedbaddecaf888",
            p64,
            "",
            "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e\
             21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091473f5985",
            "4d5c2af327cd64a62cf35abd2ba6fab4",
        ),
        (
            k,
            "cafebabefacedbaddecaf888",
            p,
            a,
            "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e\
             21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091",
            "5bc94fbc3221a5db94fae95ae7121a47",
        ),
        (
            k,
            "cafebabefacedbad",
            p,
            a,
            "61353b4c2806934a777ff51fa22a4755699b2a714fcdc6f83766e5f97b6c7423\
             73806900e49f24b22b097544d4896b424989b5e1ebac0f07c23f4598",
            "3612d2e79e3b0785561be14aaca2fccb",
        ),
        (
            k,
            iv6,
            p,
            a,
            "8ce24998625615b603a033aca13fb894be9112a5c3a211a8ba262a3cca7e2ca7\
             01e4a9a4fba43c90ccdcb281d48c7c6fd62875d2aca417034c34aee5",
            "619cc5aefffe0bfa462af43c1699d050",
        ),
        (
            k256,
            iv6,
            p,
            a,
            "5a8def2f0c9e53f1f75d7853659e2a20eeb2b22aafde6419a058ab4f6f746bf4\
             0fc0c3b780f244452da3ebf1c5d82cdea2418997200ef82e44ae7e3f",
            "a44a8266ee1c8eb0c8b5d4cf5ae9f19a",
        ),
    ];
    for (key, iv, pt, aad, ct, tag) in cases {
        let (key, iv, pt, aad) = (hex(key), hex(iv), hex(pt), hex(aad));
        let mut want = hex(ct);
        want.extend_from_slice(&hex(tag));
        assert_eq!(
            gcm_encrypt(&key, &iv, &aad, 16, &pt).unwrap(),
            want,
            "iv {}",
            iv.len()
        );
        assert_eq!(*gcm_decrypt(&key, &iv, &aad, 16, &want).unwrap(), pt);
        // Truncated tags are prefixes of the full tag.
        let short = gcm_encrypt(&key, &iv, &aad, 12, &pt).unwrap();
        assert_eq!(short, want[..want.len() - 4]);
        assert_eq!(*gcm_decrypt(&key, &iv, &aad, 12, &short).unwrap(), pt);
        // Multi-part in odd pieces.
        for cut in [1usize, 13, 17, 40] {
            let cut = cut.min(pt.len());
            let mut g = Gcm::new(&key, Direction::Encrypt, &iv, &aad, 16).unwrap();
            let mut out = g.update(&pt[..cut]).unwrap().to_vec();
            out.extend_from_slice(&g.update(&pt[cut..]).unwrap());
            assert_eq!(g.finish_len(), 16);
            out.extend_from_slice(&g.finish().unwrap());
            assert_eq!(out, want);
            let mut d = Gcm::new(&key, Direction::Decrypt, &iv, &aad, 16).unwrap();
            assert!(d.update(&want[..cut]).unwrap().is_empty());
            assert!(d.update(&want[cut..]).unwrap().is_empty());
            assert_eq!(*d.finish().unwrap(), pt);
        }
    }
}

#[test]
fn gcm_agrees_with_the_aes_gcm_crate_and_rejects_tampering() {
    use aes_gcm::aead::{Aead, Payload};
    use aes_gcm::KeyInit as _;
    let key = [0x42u8; 32];
    let iv = [7u8; 12];
    let c = aes_gcm::Aes256Gcm::new(&key.into());
    for n in [0usize, 1, 15, 16, 17, 100] {
        let pt: Vec<u8> = (0..n).map(|i| (i * 3) as u8).collect();
        let theirs = c
            .encrypt(
                &iv.into(),
                Payload {
                    msg: &pt,
                    aad: b"hdr",
                },
            )
            .unwrap();
        assert_eq!(gcm_encrypt(&key, &iv, b"hdr", 16, &pt).unwrap(), theirs);
    }
    let ct = gcm_encrypt(&key, &iv, b"hdr", 16, b"secret").unwrap();
    let mut bad = ct.clone();
    bad[0] ^= 1;
    assert_eq!(
        gcm_decrypt(&key, &iv, b"hdr", 16, &bad).unwrap_err().rv(),
        CKR_ENCRYPTED_DATA_INVALID
    );
    let mut bad_tag = ct.clone();
    *bad_tag.last_mut().unwrap() ^= 0x80;
    assert_eq!(
        gcm_decrypt(&key, &iv, b"hdr", 16, &bad_tag)
            .unwrap_err()
            .rv(),
        CKR_ENCRYPTED_DATA_INVALID
    );
    assert_eq!(
        gcm_decrypt(&key, &iv, b"hdX", 16, &ct).unwrap_err().rv(),
        CKR_ENCRYPTED_DATA_INVALID
    );
    assert_eq!(
        gcm_decrypt(&key, &[8; 12], b"hdr", 16, &ct)
            .unwrap_err()
            .rv(),
        CKR_ENCRYPTED_DATA_INVALID
    );
    assert_eq!(
        gcm_decrypt(&key, &iv, b"hdr", 16, &ct[..15])
            .unwrap_err()
            .rv(),
        CKR_ENCRYPTED_DATA_LEN_RANGE
    );
    for (iv_len, tag) in [(0usize, 16usize), (GCM_MAX_IV + 1, 16), (12, 3), (12, 17)] {
        let r = gcm_encrypt(&key, &vec![1; iv_len], b"", tag, b"x");
        assert_eq!(
            r.unwrap_err().rv(),
            CKR_MECHANISM_PARAM_INVALID,
            "{iv_len} {tag}"
        );
    }
    assert!(gcm_encrypt(&key, &[1; 256], b"", 4, b"x").is_ok());
}

// NIST SP 800-38C appendix C, examples 1-3 (example 4 has a 64 KiB header).
#[test]
fn sp800_38c_ccm() {
    let key = hex("404142434445464748494a4b4c4d4e4f");
    let cases = [
        (
            "10111213141516",
            "0001020304050607",
            "20212223",
            4,
            "7162015b4dac255d",
        ),
        (
            "1011121314151617",
            "000102030405060708090a0b0c0d0e0f",
            "202122232425262728292a2b2c2d2e2f",
            6,
            "d2a1f0e051ea5f62081a7792073d593d1fc64fbfaccd",
        ),
        (
            "101112131415161718191a1b",
            "000102030405060708090a0b0c0d0e0f10111213",
            "202122232425262728292a2b2c2d2e2f3031323334353637",
            8,
            "e3b201a9f5b71a7a9b1ceaeccd97e70b6176aad9a4428aa5484392fbc1b09951",
        ),
    ];
    for (n, a, p, t, c) in cases {
        let (n, a, p, c) = (hex(n), hex(a), hex(p), hex(c));
        assert_eq!(ccm_encrypt(&key, &n, &a, t, &p).unwrap(), c);
        assert_eq!(*ccm_decrypt(&key, &n, &a, t, &c).unwrap(), p);
        let mut bad = c.clone();
        bad[1] ^= 4;
        assert_eq!(
            ccm_decrypt(&key, &n, &a, t, &bad).unwrap_err().rv(),
            CKR_ENCRYPTED_DATA_INVALID
        );
    }
}

// RFC 3610 packet vector #1 (13-byte nonce, 8-byte header, 8-byte tag).
#[test]
fn rfc3610_packet_vector_1_and_parameter_checks() {
    let key = hex("c0c1c2c3c4c5c6c7c8c9cacbcccdcecf");
    let nonce = hex("00000003020100a0a1a2a3a4a5");
    let msg = hex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e");
    let (aad, pt) = msg.split_at(8);
    let out = ccm_encrypt(&key, &nonce, aad, 8, pt).unwrap();
    assert_eq!(
        out,
        hex("588c979a61c663d2f066d0c2c0f989806d5f6b61dac38417e8d12cfdf926e0")
    );
    for (nl, tl) in [(6usize, 8usize), (14, 8), (13, 3), (13, 5), (13, 18)] {
        let r = ccm_encrypt(&key, &vec![0; nl], b"", tl, b"x");
        assert_eq!(
            r.unwrap_err().rv(),
            CKR_MECHANISM_PARAM_INVALID,
            "{nl} {tl}"
        );
    }
    assert_eq!(
        ccm_decrypt(&key, &nonce, b"", 8, &[0; 7]).unwrap_err().rv(),
        CKR_ENCRYPTED_DATA_LEN_RANGE
    );
    // A 13-byte nonce leaves a 2-byte length field: 65536 bytes do not fit.
    assert_eq!(
        ccm_encrypt(&key, &nonce, b"", 8, &vec![0; 65536])
            .unwrap_err()
            .rv(),
        CKR_DATA_LEN_RANGE
    );
    assert!(ccm_encrypt(&key, &nonce, b"", 8, &vec![0; 65535]).is_ok());
    // Long headers use the 0xfffe form.
    let big = vec![9u8; 70000];
    let ct = ccm_encrypt(&key, &[1; 7], &big, 16, b"data").unwrap();
    assert_eq!(*ccm_decrypt(&key, &[1; 7], &big, 16, &ct).unwrap(), b"data");
}

// RFC 3394 §4.1, 4.2, 4.3 and 4.6; RFC 5649 §6.
#[test]
fn rfc3394_and_rfc5649_key_wrap() {
    let kek128 = hex("000102030405060708090a0b0c0d0e0f");
    let kek192 = hex("000102030405060708090a0b0c0d0e0f1011121314151617");
    let kek256 = hex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
    let data128 = hex("00112233445566778899aabbccddeeff");
    let cases = [
        (
            &kek128,
            &data128,
            "1fa68b0a8112b447aef34bd8fb5a7b829d3e862371d2cfe5",
        ),
        (
            &kek192,
            &data128,
            "96778b25ae6ca435f92b5b97c050aed2468ab8a17ad84e5d",
        ),
        (
            &kek256,
            &data128,
            "64e8c3f9ce0f5ba263e9777905818a2a93c8191e7d6e8ae7",
        ),
    ];
    for (kek, data, want) in cases {
        let w = kw_wrap(kek, None, data).unwrap();
        assert_eq!(w, hex(want));
        assert_eq!(*kw_unwrap(kek, Some(&KW_DEFAULT_IV), &w).unwrap(), **data);
    }
    let data256 = hex("00112233445566778899aabbccddeeff000102030405060708090a0b0c0d0e0f");
    let w = kw_wrap(&kek256, None, &data256).unwrap();
    assert_eq!(
        w,
        hex("28c9f404c4b810f4cbccb35cfb87f8263f5786e2d80ed326cbc7f0e71a99f43bfb988b9b7a02dd21")
    );
    let mut bad = w.clone();
    bad[5] ^= 1;
    assert_eq!(
        kw_unwrap(&kek256, None, &bad).unwrap_err().rv(),
        CKR_WRAPPED_KEY_INVALID
    );
    assert_eq!(
        kw_unwrap(&kek256, None, &w[..16]).unwrap_err().rv(),
        CKR_WRAPPED_KEY_LEN_RANGE
    );
    assert_eq!(
        kw_unwrap(&kek256, None, &w[..39]).unwrap_err().rv(),
        CKR_WRAPPED_KEY_LEN_RANGE
    );
    assert_eq!(
        kw_wrap(&kek256, None, &data256[..12]).unwrap_err().rv(),
        CKR_DATA_LEN_RANGE
    );
    assert_eq!(
        kw_wrap(&kek256, None, &data256[..8]).unwrap_err().rv(),
        CKR_DATA_LEN_RANGE
    );
    assert_eq!(
        kw_wrap(&kek256, Some(&[1; 8]), &data256).unwrap_err().rv(),
        CKR_MECHANISM_PARAM_INVALID
    );
    assert_eq!(
        kw_wrap(&[0; 20], None, &data256).unwrap_err().rv(),
        CKR_KEY_SIZE_RANGE
    );

    let kek = hex("5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8");
    let k20 = hex("c37b7e6492584340bed12207808941155068f738");
    let w20 = kwp_wrap(&kek, None, &k20).unwrap();
    assert_eq!(
        w20,
        hex("138bdeaa9b8fa7fc61f97742e72248ee5ae6ae5360d1ae6a5f54f373fa543b6a")
    );
    assert_eq!(*kwp_unwrap(&kek, Some(&KWP_DEFAULT_IV), &w20).unwrap(), k20);
    let w7 = kwp_wrap(&kek, None, &hex("466f7250617369")).unwrap();
    assert_eq!(w7, hex("afbeb0f07dfbf5419200f2ccb50bb24f"));
    assert_eq!(*kwp_unwrap(&kek, None, &w7).unwrap(), hex("466f7250617369"));
    let mut bad = w20.clone();
    bad[31] ^= 1;
    assert_eq!(
        kwp_unwrap(&kek, None, &bad).unwrap_err().rv(),
        CKR_WRAPPED_KEY_INVALID
    );
    let mut bad7 = w7.clone();
    bad7[0] ^= 1;
    assert_eq!(
        kwp_unwrap(&kek, None, &bad7).unwrap_err().rv(),
        CKR_WRAPPED_KEY_INVALID
    );
    assert_eq!(
        kwp_unwrap(&kek, None, &w7[..8]).unwrap_err().rv(),
        CKR_WRAPPED_KEY_LEN_RANGE
    );
    assert_eq!(
        kwp_wrap(&kek, None, &[]).unwrap_err().rv(),
        CKR_DATA_LEN_RANGE
    );
    for n in 1..40usize {
        let d = vec![n as u8; n];
        assert_eq!(
            *kwp_unwrap(&kek, None, &kwp_wrap(&kek, None, &d).unwrap()).unwrap(),
            d
        );
    }
}

// RFC 4493 §4 examples (AES-128), plus NIST SP 800-38B D.2/D.3 first examples.
#[test]
fn rfc4493_cmac() {
    let key = hex(K128);
    let msg = hex(SP800_38A_PT);
    let cases = [
        (0usize, "bb1d6929e95937287fa37d129b756746"),
        (16, "070a16b46b4d4144f79bdd9dd04a287c"),
        (40, "dfa66747de9ae63030ca32611497c827"),
        (64, "51f0bebf7e3b9d92fc49741779363cfe"),
    ];
    for (n, want) in cases {
        assert_eq!(cmac(&key, &msg[..n]).unwrap(), hex(want), "{n}");
        let mut m = AesCmac::new(&key, 16).unwrap();
        m.update(&msg[..n / 3]);
        m.update(&msg[n / 3..n]);
        assert!(m.clone().verify(&hex(want)).is_ok());
        let mut wrong = hex(want);
        wrong[0] ^= 1;
        assert_eq!(m.verify(&wrong).unwrap_err().rv(), CKR_SIGNATURE_INVALID);
    }
    assert_eq!(
        cmac(&hex(K192), &[]).unwrap(),
        hex("d17ddf46adaacde531cac483de7a9367")
    );
    assert_eq!(
        cmac(&hex(K256), &[]).unwrap(),
        hex("028962f61b7bf89efc6b551f4667d983")
    );
    let mut g = AesCmac::new(&key, 4).unwrap();
    g.update(&msg[..16]);
    assert_eq!(g.clone().finalize(), hex("070a16b4"));
    assert!(g.clone().verify(&hex("070a16b4")).is_ok());
    assert_eq!(
        g.verify(&hex("070a16b46b")).unwrap_err().rv(),
        CKR_SIGNATURE_LEN_RANGE
    );
    assert_eq!(
        AesCmac::new(&key, 0).unwrap_err().rv(),
        CKR_MECHANISM_PARAM_INVALID
    );
    assert_eq!(
        AesCmac::new(&key, 17).unwrap_err().rv(),
        CKR_MECHANISM_PARAM_INVALID
    );
}

#[test]
fn derive_helpers_and_check_value() {
    let key = hex(K128);
    let pt = hex(SP800_38A_PT);
    assert_eq!(
        *ecb_encrypt(&key, &pt[..16]).unwrap(),
        hex("3ad77bb40d7a3660a89ecaf32466ef97")
    );
    let iv = blk("000102030405060708090a0b0c0d0e0f");
    assert_eq!(
        *cbc_encrypt(&key, &iv, &pt[..16]).unwrap(),
        hex("7649abac8119b246cee98e9b12e9197d")
    );
    assert_eq!(
        ecb_encrypt(&key, &pt[..15]).unwrap_err().rv(),
        CKR_DATA_LEN_RANGE
    );
    // FIPS 197 appendix C.1: the zero block under key 000102..0f is 66e94bd4... for a zero key;
    // for the check value only the first three bytes matter.
    assert_eq!(check_value(&[0; 16]).unwrap(), [0x66, 0xe9, 0x4b]);
}

/// aws-lc's GCM (the default build's engine) and the one built here on `aes` and `ghash`
/// give the same ciphertexts and tags for IVs, AADs, tags and messages of many lengths,
/// fed in pieces; each opens what the other sealed.
#[test]
fn gcm_engines_agree() {
    let rc = |key: &[u8], iv: &[u8], aad: &[u8], pt: &[u8]| {
        let k = std::sync::Arc::new(RcKey::new(AesKey::new(key).unwrap()));
        let mut g = RcGcm::new(&k, iv, aad).unwrap();
        let mut out = vec![0u8; pt.len()];
        g.encrypt_into(pt, &mut out).unwrap();
        out.extend_from_slice(&g.tag(pt.len() as u64).unwrap());
        out
    };
    for (i, (klen, ivlen, aadlen, ptlen)) in [
        (16, 12, 0, 0),
        (24, 1, 3, 17),
        (32, 12, 20, 64),
        (32, 13, 0, 4096 + 5),
        (16, 60, 100, 31),
        (32, 300, 1, 1000),
    ]
    .into_iter()
    .enumerate()
    {
        let fill = |n: usize, salt: usize| -> Vec<u8> {
            (0..n).map(|j| (j * 7 + salt * 13 + i) as u8).collect()
        };
        let (key, iv, aad, pt) = (
            fill(klen, 1),
            fill(ivlen, 2),
            fill(aadlen, 3),
            fill(ptlen, 4),
        );
        let want = rc(&key, &iv, &aad, &pt);
        for tag in [16usize, 12, 4] {
            let mut g = Gcm::new(&key, Direction::Encrypt, &iv, &aad, tag).unwrap();
            let mut got = Vec::new();
            for part in pt.chunks(7 + i) {
                got.extend_from_slice(&g.update(part).unwrap());
            }
            got.extend_from_slice(&g.finish().unwrap());
            assert_eq!(got, want[..ptlen + tag], "case {i}, tag {tag}");
            let opened = gcm_decrypt(&key, &iv, &aad, tag, &want[..ptlen + tag]).unwrap();
            assert_eq!(*opened, pt);
            let mut bad = want[..ptlen + tag].to_vec();
            bad[ptlen] ^= 1;
            assert_eq!(
                gcm_decrypt(&key, &iv, &aad, tag, &bad).unwrap_err().rv(),
                CKR_ENCRYPTED_DATA_INVALID
            );
        }
    }
}

/// A prepared key gives what the per-operation constructors give, in every mode, through the
/// buffer-filling calls as through the allocating ones.
#[test]
fn prepared_keys_match_the_per_operation_path() {
    let raw = hex(K256);
    let key = std::sync::Arc::new(AesKey::new(&raw).unwrap());
    let gkey = std::sync::Arc::new(GcmKey::new(&raw).unwrap());
    let iv = blk("000102030405060708090a0b0c0d0e0f");
    let pt: Vec<u8> = (0..1000u32).map(|i| (i * 7) as u8).collect();
    let modes = [
        Mode::Ecb,
        Mode::Cbc { iv },
        Mode::CbcPad { iv },
        Mode::Ctr {
            counter_bits: 32,
            block: iv,
        },
        Mode::Cts { iv },
    ];
    for mode in modes {
        let input = match mode {
            Mode::Ecb | Mode::Cbc { .. } => &pt[..992],
            _ => &pt[..],
        };
        let want = AesCipher::one_shot(&raw, mode, Direction::Encrypt, input).unwrap();
        let mut c = AesCipher::with_key(key.clone(), mode, Direction::Encrypt).unwrap();
        let mut got = Vec::new();
        for part in input.chunks(37) {
            let mut out = vec![0u8; c.update_len(part.len())];
            assert_eq!(c.update_into(part, &mut out).unwrap(), out.len());
            got.extend_from_slice(&out);
        }
        got.extend_from_slice(&c.finish().unwrap());
        assert_eq!(got, *want, "{mode:?}");
        let mut d = AesCipher::with_key(key.clone(), mode, Direction::Decrypt).unwrap();
        let mut back = d.update(&want).unwrap().to_vec();
        back.extend_from_slice(&d.finish().unwrap());
        assert_eq!(back, input, "{mode:?}");
    }
    // A short output buffer is refused and changes nothing.
    let mut c = AesCipher::with_key(key.clone(), Mode::Cbc { iv }, Direction::Encrypt).unwrap();
    assert_eq!(
        c.update_into(&pt[..32], &mut [0u8; 16]).unwrap_err().rv(),
        CKR_BUFFER_TOO_SMALL
    );
    let mut out = [0u8; 32];
    c.update_into(&pt[..32], &mut out).unwrap();
    assert_eq!(out[..], *cbc_encrypt(&raw, &iv, &pt[..32]).unwrap());

    for tag in [16usize, 12] {
        let want = gcm_encrypt(&raw, &iv[..12], b"aad", tag, &pt).unwrap();
        let mut g =
            Gcm::with_key(gkey.clone(), Direction::Encrypt, &iv[..12], b"aad", tag).unwrap();
        let mut out = vec![0u8; g.one_shot_len(pt.len())];
        assert_eq!(g.one_shot_into(&pt, &mut out).unwrap(), out.len());
        assert_eq!(out, want);
        let mut g =
            Gcm::with_key(gkey.clone(), Direction::Decrypt, &iv[..12], b"aad", tag).unwrap();
        let mut back = vec![0u8; g.one_shot_len(want.len())];
        assert_eq!(g.one_shot_into(&want, &mut back).unwrap(), pt.len());
        assert_eq!(back, pt);
        let mut bad = want.clone();
        bad[3] ^= 1;
        let mut g =
            Gcm::with_key(gkey.clone(), Direction::Decrypt, &iv[..12], b"aad", tag).unwrap();
        let mut back = vec![0u8; g.one_shot_len(bad.len())];
        assert_eq!(
            g.one_shot_into(&bad, &mut back).unwrap_err().rv(),
            CKR_ENCRYPTED_DATA_INVALID
        );
        assert!(
            back.iter().all(|b| *b == 0),
            "no unauthenticated plaintext is left"
        );
    }
    // Parameters are still checked per operation.
    assert_eq!(
        Gcm::with_key(gkey.clone(), Direction::Encrypt, &[], b"", 16)
            .unwrap_err()
            .rv(),
        CKR_MECHANISM_PARAM_INVALID
    );
    assert_eq!(GcmKey::new(&[0; 20]).unwrap_err().rv(), CKR_KEY_SIZE_RANGE);
}

/// One prepared key serves two threads at once, each with its own operations.
#[test]
fn two_threads_share_one_prepared_key() {
    fn shared<T: Send + Sync>() {}
    shared::<AesKey>();
    shared::<GcmKey>();
    let raw = hex(K128);
    let key = std::sync::Arc::new(AesKey::new(&raw).unwrap());
    let gkey = std::sync::Arc::new(GcmKey::new(&raw).unwrap());
    let iv = blk("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff");
    let work = |salt: u8| {
        let (key, gkey, raw) = (key.clone(), gkey.clone(), raw.clone());
        std::thread::spawn(move || {
            for i in 0..200usize {
                let pt: Vec<u8> = (0..(i % 5 + 1) * 16).map(|j| j as u8 ^ salt).collect();
                let mut c =
                    AesCipher::with_key(key.clone(), Mode::Cbc { iv }, Direction::Encrypt).unwrap();
                let ct = c.update(&pt).unwrap();
                assert_eq!(*ct, *cbc_encrypt(&raw, &iv, &pt).unwrap());
                let mut g = Gcm::with_key(gkey.clone(), Direction::Encrypt, &iv[..12], &[salt], 16)
                    .unwrap();
                let mut out = g.update(&pt).unwrap().to_vec();
                out.extend_from_slice(&g.finish().unwrap());
                assert_eq!(out, gcm_encrypt(&raw, &iv[..12], &[salt], 16, &pt).unwrap());
            }
        })
    };
    let (a, b) = (work(1), work(2));
    a.join().unwrap();
    b.join().unwrap();
}

/// Where `needle` occurs in the `below` bytes of this thread's stack under `top`, read through
/// /proc/self/mem (no read of memory Rust considers unowned).
#[cfg(feature = "aws-lc")]
fn on_stack_below(top: usize, below: usize, needle: &[u8]) -> Vec<usize> {
    use std::io::{Read, Seek, SeekFrom};
    let mut mem = std::fs::File::open("/proc/self/mem").unwrap();
    let mut buf = vec![0u8; below];
    mem.seek(SeekFrom::Start((top - below) as u64)).unwrap();
    mem.read_exact(&mut buf).unwrap();
    let hits = (0..=below - needle.len())
        .filter(|&i| buf[i..i + needle.len()] == *needle)
        .map(|i| top - below + i)
        .collect();
    buf.iter_mut().for_each(|b| *b = 0);
    hits
}

/// Setting up, using and dropping an AES key leaves no copy of it in the stack frames it ran
/// in. An AES-256 schedule starts with the key; held inline, each move of it left an unwiped
/// copy there, which on PostgreSQL tokio's boxing of a large future copied into the heap
/// (tests/secrets.rs found it in a freed block).
#[cfg(feature = "aws-lc")]
#[test]
fn an_aes_key_leaves_no_copy_on_the_stack() {
    #[inline(never)]
    fn use_key(key: &[u8]) {
        let k = AesKey::new(key).unwrap();
        let mut b = [0u8; BLOCK_LEN];
        k.encrypt_block(&mut b);
        std::hint::black_box((&k, &b));
    }
    let key: Vec<u8> = (0u8..32).map(|i| i.wrapping_mul(37) ^ 0x5c).collect();
    let marker = std::hint::black_box(0u8);
    let top = std::hint::black_box(&marker) as *const u8 as usize;
    use_key(&key);
    assert_eq!(on_stack_below(top, 64 * 1024, &key), Vec::<usize>::new());
}
