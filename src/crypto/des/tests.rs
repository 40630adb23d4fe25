//! Known answers of the DES engine: FIPS 81 (DES ECB and CBC), SP 800-67 Rev. 1 Appendix B
//! (TDEA ECB), SP 800-38B Appendix D.2 (TDEA CMAC), and DES2/DES3 CBC and CBC-PAD results
//! cross-checked against `openssl enc -des-ede3-cbc` / `-des-ede-cbc`.
#![allow(clippy::unwrap_used)]

use super::*;
use crate::crypto::aes::{Direction, Mode};
use crate::crypto::digest::hex;

type DesCipher = crate::crypto::aes::BlockStream<DesKey>;

fn iv16(s: &str) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&hex(s));
    b
}

fn check(key: &str, mode: Mode, pt: &str, ct: &str) {
    let (key, pt, ct) = (hex(key), hex(pt), hex(ct));
    let enc = DesCipher::one_shot(&key, mode, Direction::Encrypt, &pt).unwrap();
    assert_eq!(hex_of(&enc), hex_of(&ct), "{mode:?} encrypt");
    let dec = DesCipher::one_shot(&key, mode, Direction::Decrypt, &ct).unwrap();
    assert_eq!(hex_of(&dec), hex_of(&pt), "{mode:?} decrypt");
    // Every split point of a multi-part operation gives the same result.
    for (dir, input, want) in [
        (Direction::Encrypt, &pt, &ct),
        (Direction::Decrypt, &ct, &pt),
    ] {
        for cut in 0..=input.len() {
            let mut c = DesCipher::new(&key, mode, dir).unwrap();
            let mut out = c.update(&input[..cut]).unwrap().to_vec();
            out.extend_from_slice(&c.update(&input[cut..]).unwrap());
            out.extend_from_slice(&c.finish().unwrap());
            assert_eq!(&out, want, "{mode:?} {dir:?} cut {cut}");
        }
    }
}

fn hex_of(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

const NOW_IS: &str = "4e6f772069732074 68652074696d6520 666f7220616c6c20";
const K3: &str = "0123456789ABCDEF 23456789ABCDEF01 456789ABCDEF0123";
const K2: &str = "0123456789ABCDEF 23456789ABCDEF01";
const FOX: &str = "5468652071756663 6B2062726F776E20 666F78206A756D70";

#[test]
fn fips81_des_ecb_and_cbc() {
    check(
        "0123456789abcdef",
        Mode::Ecb,
        NOW_IS,
        "3fa40e8a984d4815 6a271787ab8883f9 893d51ec4b563b53",
    );
    check(
        "0123456789abcdef",
        Mode::Cbc {
            iv: iv16("1234567890abcdef"),
        },
        NOW_IS,
        "e5c7cdde872bf27c 43e934008c389c0f 683788499a7c05f6",
    );
    // The textbook single block.
    check(
        "133457799BBCDFF1",
        Mode::Ecb,
        "0123456789ABCDEF",
        "85E813540F0AB405",
    );
}

#[test]
fn sp800_67_tdea_ecb() {
    check(
        K3,
        Mode::Ecb,
        FOX,
        "A826FD8CE53B855F CCE21C8112256FE6 68D5C05DD9B6B900",
    );
}

#[test]
fn des3_and_des2_cbc_agree_with_openssl() {
    let iv = iv16("F69F2445DF4F9B17");
    check(
        K3,
        Mode::Cbc { iv },
        FOX,
        "a5c282bad0de3774becd2e04386b589fb5057d8552fc4336",
    );
    check(
        K3,
        Mode::CbcPad { iv },
        FOX,
        "a5c282bad0de3774becd2e04386b589fb5057d8552fc4336af45148b1b044b00",
    );
    // Two-key: K1, K2, K1.
    check(
        K2,
        Mode::Ecb,
        FOX,
        "c44862f70cf2fbdc9077d0909fa91b884cabd61fc58e0cbb",
    );
    check(
        K2,
        Mode::Cbc { iv },
        FOX,
        "acd5699dd6060a430dedd74525b7870297202cf5ed176718",
    );
}

#[test]
fn lengths_padding_and_modes_are_checked() {
    let key = hex(K3);
    for mode in [Mode::Ecb, Mode::Cbc { iv: [0; 16] }] {
        assert_eq!(
            DesCipher::one_shot(&key, mode, Direction::Encrypt, &[0; 9])
                .unwrap_err()
                .rv(),
            cryptoki_sys::CKR_DATA_LEN_RANGE
        );
        assert_eq!(
            DesCipher::one_shot(&key, mode, Direction::Decrypt, &[0; 7])
                .unwrap_err()
                .rv(),
            cryptoki_sys::CKR_ENCRYPTED_DATA_LEN_RANGE
        );
    }
    // CBC-PAD: every length round-trips, and a bad pad is refused.
    let mode = Mode::CbcPad { iv: [7; 16] };
    for n in 0..=17 {
        let pt = vec![0x5a; n];
        let ct = DesCipher::one_shot(&key, mode, Direction::Encrypt, &pt).unwrap();
        assert_eq!(ct.len(), (n / 8 + 1) * 8);
        let back = DesCipher::one_shot(&key, mode, Direction::Decrypt, &ct).unwrap();
        assert_eq!(*back, pt);
    }
    let bad = DesCipher::one_shot(&key, Mode::Ecb, Direction::Encrypt, &[9; 8]).unwrap();
    assert_eq!(
        DesCipher::one_shot(&key, Mode::CbcPad { iv: [0; 16] }, Direction::Decrypt, &bad)
            .unwrap_err()
            .rv(),
        cryptoki_sys::CKR_ENCRYPTED_DATA_INVALID
    );
    // CTR and CTS are AES modes.
    for mode in [
        Mode::Ctr {
            counter_bits: 64,
            block: [0; 16],
        },
        Mode::Cts { iv: [0; 16] },
    ] {
        assert!(DesCipher::new(&key, mode, Direction::Encrypt).is_err());
    }
    for n in [0, 7, 9, 23, 32] {
        assert_eq!(
            DesKey::new(&vec![1; n]).unwrap_err().rv(),
            cryptoki_sys::CKR_KEY_SIZE_RANGE
        );
    }
}

#[test]
fn parity_and_check_value() {
    let mut k = [0u8, 1, 2, 3, 0xfe, 0xff, 0x80, 0x7f];
    set_odd_parity(&mut k);
    assert!(k.iter().all(|b| b.count_ones() % 2 == 1), "{k:?}");
    assert_eq!(k, [0x01, 0x01, 0x02, 0x02, 0xfe, 0xfe, 0x80, 0x7f]);
    // A check value is the start of E(0); parity bits do not change the key.
    let cv = check_value(&hex(K3)).unwrap();
    let e0 = DesCipher::one_shot(&hex(K3), Mode::Ecb, Direction::Encrypt, &[0; 8]).unwrap();
    assert_eq!(cv.as_slice(), &e0[..3]);
    let mut flipped = hex(K3);
    flipped.iter_mut().for_each(|b| *b ^= 1);
    assert_eq!(check_value(&flipped).unwrap(), cv);
}

#[test]
fn sp800_38b_tdea_cmac() {
    let key = hex("8aa83bf8cbda1062 0bc1bf19fbb6cd58 bc313d4a371ca8b5");
    for (m, tag) in [
        ("", "b7a688e122ffaf95"),
        ("6bc1bee22e409f96", "8e8f293136283797"),
        (
            "6bc1bee22e409f96e93d7e117393172aae2d8a57",
            "743ddbe0ce2dc2ed",
        ),
    ] {
        let mut c = DesCmac::new(&key, 8).unwrap();
        c.update(&hex(m));
        assert_eq!(hex_of(&c.clone().finalize()), tag);
        c.verify(&hex(tag)).unwrap();
    }
    // Two-key, cross-checked against Python `cryptography`; a truncated tag is its prefix.
    let mut c = DesCmac::new(&hex(K2), 4).unwrap();
    c.update(&hex(FOX));
    assert_eq!(hex_of(&c.finalize()), "e64c52e6");
    assert!(DesCmac::new(&hex(K2), 9).is_err());
    assert!(DesCmac::new(&hex(K2), 0).is_err());
}
