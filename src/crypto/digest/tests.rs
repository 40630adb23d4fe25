//! Known answers of the hashes and HMACs (FIPS 180, RFC 4231, ...) and their saved states.
#![allow(clippy::unwrap_used)]
use super::*;

#[test]
fn fips180_abc() {
    let cases = [
        (HashAlg::Sha1, "a9993e364706816aba3e25717850c26c9cd0d89d"),
        (
            HashAlg::Sha224,
            "23097d223405d8228642a477bda255b32aadbce4bda0b3f7e36c9da7",
        ),
        (
            HashAlg::Sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        ),
        (
            HashAlg::Sha384,
            "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed\
             8086072ba1e7cc2358baeca134c825a7",
        ),
        (
            HashAlg::Sha512,
            "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a\
             2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
        ),
        (
            HashAlg::Sha3_224,
            "e642824c3f8cf24ad09234ee7d3c766fc9a3a5168d0c94ad73b46fdf",
        ),
        (
            HashAlg::Sha3_256,
            "3a985da74fe225b2045c172d6bd390bd855f086e3e9d525b46bfe24511431532",
        ),
        (
            HashAlg::Sha3_384,
            "ec01498288516fc926459f58e2c6ad8df9b473cb0fc08c2596da7cf0e49be4b2\
             98d88cea927ac7f539f1edf228376d25",
        ),
        (
            HashAlg::Sha3_512,
            "b751850b1a57168a5693cd924b6b096e08f621827444f70d884f5d0240d2712e\
             10e116e9192af3c91a7ec57647e3934057340b4cf408d5a56592f8274eec53f0",
        ),
    ];
    for (alg, want) in cases {
        let got = digest(alg, b"abc");
        assert_eq!(got, hex(want), "{alg:?}");
        assert_eq!(got.len(), alg.output_len());
    }
}

#[test]
fn streaming_equals_one_shot_and_clone_snapshots() {
    let data: Vec<u8> = (0..1000u32).map(|i| (i * 7) as u8).collect();
    for alg in HashAlg::ALL {
        let mut h = Hasher::new(alg);
        h.update(&data[..333]);
        let snap = h.clone();
        h.update(&data[333..]);
        assert_eq!(h.finalize(), digest(alg, &data));
        let mut s = snap;
        s.update(&data[333..]);
        assert_eq!(s.finalize(), digest(alg, &data));
    }
}

#[test]
fn saved_state_resumes_and_garbage_is_rejected() {
    let data: Vec<u8> = (0..500u32).map(|i| (i * 13) as u8).collect();
    for alg in HashAlg::ALL {
        let mut h = Hasher::new(alg);
        h.update(&data[..77]);
        let saved = h.save_state();
        let mut r = Hasher::restore_state(&saved).unwrap();
        assert_eq!(r.alg(), alg);
        r.update(&data[77..]);
        assert_eq!(r.finalize(), digest(alg, &data), "{alg:?}");
        let mut short = saved.clone();
        short.pop();
        assert_eq!(
            Hasher::restore_state(&short).unwrap_err().rv(),
            CKR_SAVED_STATE_INVALID
        );
    }
    assert!(Hasher::restore_state(&[]).is_err());
    assert!(Hasher::restore_state(&[STATE_VERSION, 0]).is_err());
    let mut wrong_alg = Hasher::new(HashAlg::Sha256).save_state();
    wrong_alg[1] = HashAlg::Sha512.tag();
    assert!(Hasher::restore_state(&wrong_alg).is_err());
}

#[test]
fn digest_info_prefixes_match_the_oids_and_the_rsa_crate() {
    for alg in HashAlg::ALL {
        let oid = alg.oid_der();
        let p = alg.digest_info_prefix();
        let mut want = vec![
            0x30,
            (oid.len() + 6 + alg.output_len()) as u8,
            0x30,
            (oid.len() + 2) as u8,
        ];
        want.extend_from_slice(oid);
        want.extend_from_slice(&[0x05, 0x00, 0x04, alg.output_len() as u8]);
        assert_eq!(p, want.as_slice(), "{alg:?}");
    }
    // An independent source for the prefixes: the rsa crate builds them from the hash
    // crates' own OIDs.
    macro_rules! crate_prefix {
        ($d:ty) => {
            rsa::Pkcs1v15Sign::new::<$d>().prefix.to_vec()
        };
    }
    assert_eq!(
        crate_prefix!(sha1::Sha1),
        HashAlg::Sha1.digest_info_prefix()
    );
    assert_eq!(
        crate_prefix!(sha2::Sha224),
        HashAlg::Sha224.digest_info_prefix()
    );
    assert_eq!(
        crate_prefix!(sha2::Sha256),
        HashAlg::Sha256.digest_info_prefix()
    );
    assert_eq!(
        crate_prefix!(sha2::Sha384),
        HashAlg::Sha384.digest_info_prefix()
    );
    assert_eq!(
        crate_prefix!(sha2::Sha512),
        HashAlg::Sha512.digest_info_prefix()
    );
    assert_eq!(
        crate_prefix!(sha3::Sha3_224),
        HashAlg::Sha3_224.digest_info_prefix()
    );
    assert_eq!(
        crate_prefix!(sha3::Sha3_256),
        HashAlg::Sha3_256.digest_info_prefix()
    );
    assert_eq!(
        crate_prefix!(sha3::Sha3_384),
        HashAlg::Sha3_384.digest_info_prefix()
    );
    assert_eq!(
        crate_prefix!(sha3::Sha3_512),
        HashAlg::Sha3_512.digest_info_prefix()
    );
}

#[test]
fn block_len_matches_the_hash_crates() {
    use sha2::digest::common::BlockSizeUser;
    for alg in HashAlg::ALL {
        let n = with_hash!(alg, H => <H as BlockSizeUser>::block_size());
        assert_eq!(n, alg.block_len(), "{alg:?}");
    }
}

// RFC 4231 test cases 1, 2, 3, 6 (key longer than the block) and 7.
#[test]
fn rfc4231_hmac_sha2() {
    let long_key = vec![0xaau8; 131];
    let cases: [(Vec<u8>, &[u8], [&str; 4]); 5] = [
        (
            vec![0x0b; 20],
            b"Hi There",
            [
                "896fb1128abbdf196832107cd49df33f47b4b1169912ba4f53684b22",
                "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
                "afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59c\
                 faea9ea9076ede7f4af152e8b2fa9cb6",
                "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cde\
                 daa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854",
            ],
        ),
        (
            b"Jefe".to_vec(),
            b"what do ya want for nothing?",
            [
                "a30e01098bc6dbbf45690f3a7e9e6d0f8bbea2a39e6148008fd05e44",
                "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
                "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e\
                 8e2240ca5e69e2c78b3239ecfab21649",
                "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554\
                 9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737",
            ],
        ),
        (
            vec![0xaa; 20],
            &[0xdd; 50],
            [
                "7fb3cb3588c6c1f6ffa9694d7d6ad2649365b0c1f65d69d1ec8333ea",
                "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe",
                "88062608d3e6ad8a0aa2ace014c8a86f0aa635d947ac9febe83ef4e55966144b\
                 2a5ab39dc13814b94e3ab6e101a34f27",
                "fa73b0089d56a284efb0f0756c890be9b1b5dbdd8ee81a3655f83e33b2279d39\
                 bf3e848279a722c806b485a47e67c807b946a337bee8942674278859e13292fb",
            ],
        ),
        (
            long_key.clone(),
            b"Test Using Larger Than Block-Size Key - Hash Key First",
            [
                "95e9a0db962095adaebe9b2d6f0dbce2d499f112f2d2b7273fa6870e",
                "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
                "4ece084485813e9088d2c63a041bc5b44f9ef1012a2b588f3cd11f05033ac4c6\
                 0c2ef6ab4030fe8296248df163f44952",
                "80b24263c7c1a3ebb71493c1dd7be8b49b46d1f41b4aeec1121b013783f8f352\
                 6b56d037e05f2598bd0fd2215d6a1e5295e64f73f63f0aec8b915a985d786598",
            ],
        ),
        (
            long_key,
            b"This is a test using a larger than block-size key and a larger than \
              block-size data. The key needs to be hashed before being used by the \
              HMAC algorithm.",
            [
                "3a854166ac5d9f023f54d517d0b39dbd946770db9c2b95c9f6f565d1",
                "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
                "6617178e941f020d351e2f254e8fd32c602420feb0b8fb9adccebb82461e99c5\
                 a678cc31e799176d3860e6110c46523e",
                "e37b6a775dc87dbaa4dfa9f96e5e3ffddebd71f8867289865df5a32d20cdc944\
                 b6022cac3c4982b10d5eeb55c3e4de15134676fb6de0446065c97440fa8c6a58",
            ],
        ),
    ];
    let algs = [
        HashAlg::Sha224,
        HashAlg::Sha256,
        HashAlg::Sha384,
        HashAlg::Sha512,
    ];
    for (key, data, wants) in &cases {
        for (alg, want) in algs.iter().zip(wants) {
            assert_eq!(*hmac(*alg, key, &[data]).unwrap(), hex(want), "{alg:?}");
            let mut m = Hmac::new(*alg, key).unwrap();
            m.update(&data[..data.len() / 2]);
            m.update(&data[data.len() / 2..]);
            assert!(m.verify(&hex(want)).is_ok());
        }
    }
}

#[test]
fn hmac_truncation_and_verify_failures() {
    // RFC 4231 test case 5: HMAC-SHA-256 truncated to 128 bits.
    let key = [0x0cu8; 20];
    let data = b"Test With Truncation";
    let mut m = Hmac::new_truncated(HashAlg::Sha256, &key, 16).unwrap();
    m.update(data);
    assert_eq!(
        *m.clone().finalize(),
        hex("a3b6167473100ee06e0c796c2955552b")
    );
    assert!(m
        .clone()
        .verify(&hex("a3b6167473100ee06e0c796c2955552b"))
        .is_ok());
    assert_eq!(
        m.clone()
            .verify(&hex("a3b6167473100ee06e0c796c2955552c"))
            .unwrap_err()
            .rv(),
        CKR_SIGNATURE_INVALID
    );
    assert_eq!(
        m.verify(&hex("a3b6167473100ee06e0c796c29"))
            .unwrap_err()
            .rv(),
        CKR_SIGNATURE_LEN_RANGE
    );
    assert_eq!(
        Hmac::new_truncated(HashAlg::Sha256, &key, 0)
            .unwrap_err()
            .rv(),
        CKR_MECHANISM_PARAM_INVALID
    );
    assert_eq!(
        Hmac::new_truncated(HashAlg::Sha256, &key, 33)
            .unwrap_err()
            .rv(),
        CKR_MECHANISM_PARAM_INVALID
    );
    // An empty key is a valid HMAC key.
    assert_eq!(hmac(HashAlg::Sha1, &[], &[b""]).unwrap().len(), 20);
}

#[test]
fn hmac_sha1_and_sha3_known_answers() {
    // RFC 2202 test case 2.
    assert_eq!(
        *hmac(HashAlg::Sha1, b"Jefe", &[b"what do ya want for nothing?"]).unwrap(),
        hex("effcdf6ae5eb2fa2d27416d5f184df9c259a7c79")
    );
    // SHA-3 HMAC: must agree with the RFC 2104 definition built from the plain hash.
    for alg in [
        HashAlg::Sha3_224,
        HashAlg::Sha3_256,
        HashAlg::Sha3_384,
        HashAlg::Sha3_512,
    ] {
        for key in [&b"key"[..], &[0x42u8; 200][..]] {
            let b = alg.block_len();
            let mut k = if key.len() > b {
                digest(alg, key)
            } else {
                key.to_vec()
            };
            k.resize(b, 0);
            let ipad: Vec<u8> = k.iter().map(|x| x ^ 0x36).collect();
            let opad: Vec<u8> = k.iter().map(|x| x ^ 0x5c).collect();
            let inner = digest_parts(alg, &[&ipad, b"message"]);
            let want = digest_parts(alg, &[&opad, &inner]);
            assert_eq!(*hmac(alg, key, &[b"message"]).unwrap(), want, "{alg:?}");
        }
    }
}

/// The RFC 1321 test suite (appendix A.5).
const RFC1321: &[(&str, &str)] = &[
    ("", "d41d8cd98f00b204e9800998ecf8427e"),
    ("a", "0cc175b9c0f1b6a831c399e269772661"),
    ("abc", "900150983cd24fb0d6963f7d28e17f72"),
    ("message digest", "f96b697d7cb7938d525a2f31aaf161d0"),
    (
        "abcdefghijklmnopqrstuvwxyz",
        "c3fcd3d76192e4007dfb496cca67e13b",
    ),
    (
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
        "d174ab98d277d9f5a5611c2c9f419d9f",
    ),
    (
        "12345678901234567890123456789012345678901234567890123456789012345678901234567890",
        "57edf4a22be3c955ac49da2e2107b67a",
    ),
];

#[test]
fn md5_rfc1321_and_saved_state() {
    for (m, want) in RFC1321 {
        assert_eq!(digest(HashAlg::Md5, m.as_bytes()), hex(want), "MD5({m:?})");
        // Saved halfway and resumed, as C_GetOperationState/C_SetOperationState do.
        let (a, b) = m.as_bytes().split_at(m.len() / 2);
        let mut h = Hasher::new(HashAlg::Md5);
        h.update(a);
        let mut r = Hasher::restore_state(&h.save_state()).unwrap();
        assert_eq!(r.alg(), HashAlg::Md5);
        r.update(b);
        assert_eq!(r.finalize(), hex(want));
    }
    assert_eq!(HashAlg::Md5.output_len(), 16);
    assert!(!HashAlg::ALL.contains(&HashAlg::Md5));
}

#[test]
fn hmac_md5_rfc2202() {
    for (key, data, want) in [
        (
            vec![0x0b; 16],
            b"Hi There".to_vec(),
            "9294727a3638bb1c13f48ef8158bfc9d",
        ),
        (
            b"Jefe".to_vec(),
            b"what do ya want for nothing?".to_vec(),
            "750c783e6ab0b503eaa86e310a5db738",
        ),
        (
            vec![0xaa; 16],
            vec![0xdd; 50],
            "56be34521d144c88dbb8c733f0e8b3f6",
        ),
        (
            vec![0xaa; 80],
            b"Test Using Larger Than Block-Size Key - Hash Key First".to_vec(),
            "6b1ab7fe4bd7bf8f0b62e6ce61b9d0cd",
        ),
    ] {
        assert_eq!(*hmac(HashAlg::Md5, &key, &[&data]).unwrap(), hex(want));
    }
    // Test case 5: truncated to 96 bits.
    let mut m = Hmac::new_truncated(HashAlg::Md5, &[0x0c; 16], 12).unwrap();
    m.update(b"Test With Truncation");
    assert_eq!(*m.finalize(), hex("56461ef2342edc00f9bab995"));
}
