//! Published test vectors shared by several crypto test files: NIST SP 800-38A (AES modes,
//! Appendix F), McGrew–Viega GCM test cases 2–4, RFC 4493 (AES-CMAC), RFC 3394/5649 (AES key
//! wrap), FIPS 180/202 "abc" digests, RFC 4231/2202 HMAC, RFC 5869, RFC 6070, RFC 6979 and
//! RFC 8032. Each was re-checked with Python `cryptography`/`hashlib` when written.

/// SP 800-38A F.1-F.5: the four-block plaintext.
pub const SP800_38A_PLAIN: &str = "6bc1bee22e409f96e93d7e117393172a ae2d8a571e03ac9c9eb76fac45af8e51
                                   30c81c46a35ce411e5fbc1191a0a52ef f69f2445df4f9b17ad2b417be66c3710";
pub const SP800_38A_KEY128: &str = "2b7e151628aed2a6abf7158809cf4f3c";
pub const SP800_38A_KEY192: &str = "8e73b0f7da0e6452c810f32b809079e562f8ead2522c6b7b";
pub const SP800_38A_KEY256: &str =
    "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4";
/// F.2 (CBC) initialization vector.
pub const SP800_38A_IV: &str = "000102030405060708090a0b0c0d0e0f";
/// F.5 (CTR) initial counter block.
pub const SP800_38A_CTR: &str = "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff";
/// F.1.1 ECB-AES128.Encrypt.
pub const F11_ECB128: &str = "3ad77bb40d7a3660a89ecaf32466ef97 f5d3d58503b9699de785895a96fdbaaf
                              43b1cd7f598ece23881b00e3ed030688 7b0c785e27e8ad3f8223207104725dd4";
/// F.1.5 ECB-AES256.Encrypt.
pub const F15_ECB256: &str = "f3eed1bdb5d2a03c064b5a7e3db181f8 591ccb10d410ed26dc5ba74a31362870
                              b6ed21b99ca6f4f9f153e7b1beafed1d 23304b7a39f9f3ff067d8d8f9e24ecc7";
/// F.2.1 CBC-AES128.Encrypt.
pub const F21_CBC128: &str = "7649abac8119b246cee98e9b12e9197d 5086cb9b507219ee95db113a917678b2
                              73bed6b8e3c1743b7116e69e22229516 3ff1caa1681fac09120eca307586e1a7";
/// F.2.3 CBC-AES192.Encrypt.
pub const F23_CBC192: &str = "4f021db243bc633d7178183a9fa071e8 b4d9ada9ad7dedf4e5e738763f69145a
                              571b242012fb7ae07fa9baac3df102e0 08b0e27988598881d920a9e64f5615cd";
/// F.5.1 CTR-AES128.Encrypt.
pub const F51_CTR128: &str = "874d6191b620e3261bef6864990db6ce 9806f66b7970fdff8617187bb9fffdff
                              5ae4df3edbd5d35e5b4f09020db03eab 1e031dda2fbe03d1792170a0f3009cee";
/// F.5.5 CTR-AES256.Encrypt.
pub const F55_CTR256: &str = "601ec313775789a5b7a7f504bbf3d228 f443e3ca4d62b59aca84e990cacaf5c5
                              2b0930daa23de94ce87017ba2d84988d dfc9c58db67aada613c2dd08457941a6";

/// McGrew–Viega "The Galois/Counter Mode of Operation", test cases 3 and 4 (AES-128).
pub const GCM_KEY: &str = "feffe9928665731c6d6a8f9467308308";
pub const GCM_IV: &str = "cafebabefacedbaddecaf888";
pub const GCM_TC3_PLAIN: &str = "d9313225f88406e5a55909c5aff5269a 86a7a9531534f7da2e4c303d8a318a72
                                 1c3c0c95956809532fcf0e2449a6b525 b16aedf5aa0de657ba637b391aafd255";
pub const GCM_TC3_CIPHER: &str = "42831ec2217774244b7221b784d0d49c e3aa212f2c02a4e035c17e2329aca12e
                                  21d514b25466931c7d8f6a5aac84aa05 1ba30b396a0aac973d58e091473f5985";
pub const GCM_TC3_TAG: &str = "4d5c2af327cd64a62cf35abd2ba6fab4";
/// Test case 4: the first 60 bytes of the TC3 plaintext, with this AAD.
pub const GCM_TC4_AAD: &str = "feedfacedeadbeeffeedfacedeadbeefabaddad2";
pub const GCM_TC4_TAG: &str = "5bc94fbc3221a5db94fae95ae7121a47";
/// Test case 2: all-zero key, IV and one zero block.
pub const GCM_TC2_CIPHER: &str = "0388dace60b6a392f328c2b971b2fe78";
pub const GCM_TC2_TAG: &str = "ab6e47d42cec13bdf53a67b21257bddf";

/// RFC 3394 §4.1: 128-bit key data wrapped with a 128-bit KEK.
pub const KW41_KEK: &str = "000102030405060708090a0b0c0d0e0f";
pub const KW41_KEY: &str = "00112233445566778899aabbccddeeff";
pub const KW41_WRAPPED: &str = "1fa68b0a8112b447aef34bd8fb5a7b829d3e862371d2cfe5";
/// RFC 3394 §4.6: 256-bit key data wrapped with a 256-bit KEK (000102…1f).
pub const KW46_KEY: &str = "00112233445566778899aabbccddeeff000102030405060708090a0b0c0d0e0f";
pub const KW46_WRAPPED: &str =
    "28c9f404c4b810f4cbccb35cfb87f8263f5786e2d80ed326cbc7f0e71a99f43bfb988b9b7a02dd21";
/// RFC 5649 §6: 192-bit KEK; a 20-octet and a 7-octet key.
pub const KWP_KEK: &str = "5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8";
pub const KWP_KEY20: &str = "c37b7e6492584340bed12207808941155068f738";
pub const KWP_WRAPPED20: &str = "138bdeaa9b8fa7fc61f97742e72248ee5ae6ae5360d1ae6a5f54f373fa543b6a";
pub const KWP_KEY7: &str = "466f7250617369";
pub const KWP_WRAPPED7: &str = "afbeb0f07dfbf5419200f2ccb50bb24f";

/// RFC 6979 A.2.5: P-256 key.
pub const P256_6979_X: &str = "c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721";
pub const P256_6979_UX: &str = "60fed4ba255a9d31c961eb74c6356d68c049b8923b61fa6ce669622e60f29fb6";
pub const P256_6979_UY: &str = "7903fe1008b8bc99a41ae9e95628bc64f2f1b20c2d7e9f5177a3c294d4462299";
/// RFC 6979 A.2.5, SHA-256, message "sample": r || s.
pub const P256_6979_SHA256_SAMPLE_SIG: &str =
    "efd48b2aacb6a8fd1140dd9cd45e81d69d2c877b56aaf991c34d0ea84eaf3716
     f7cb1c942d657c41d436c7a1b6e29f65f3e900dbb9aff4064dc4ab2f843acda8";

/// RSA PKCS#1 v1.5 SHA-256 signature of `RSA_KAT_MESSAGE` by the key of tests/common/keys.rs,
/// computed once with `openssl dgst -sha256 -sign k.der -keyform DER` where k.der is that key
/// as PKCS#1 DER (the same bytes `der::fixed_rsa_private_der` builds). Deterministic.
pub const RSA_KAT_MESSAGE: &[u8] = b"ferrohsm RSA PKCS#1 v1.5 known-answer test";
pub const RSA_KAT_SHA256_PKCS1_SIG: &str = concat!(
    "4656e5e7602d47f6f097b635638abe822678fc35fe5e592ef78e97b4d5354ef6ff865abde516d50b9d38bddd4846",
    "13625a2ba2d34b2e1555e152a78d235739fc30256a08e1ca20564d6b06ccdaf426b435f02e81c150fb20a3f8c8e3c2",
    "0035b0d47c6c9f35306ec566c741e14e37eab9e0b37a1d44b8bad522ca07f5bade43ecb0293969ad75d7173148946c",
    "c6fe42f2d3cde1192b1f00393d12b2c4ee64a592cfcb513f0039501950838f8afe36b6b56f707a399c366cd2a5b2ce",
    "329e993be29c26355cc890544fa641864f7a65e6b35807871ca16f1f92b4be18a2c8033f2823f8dcfaeafc68e48e46",
    "75284b196c956eaeb38458d020fd9a858569c3e41cd8",
);
/// Raw RSA (RSA_X_509) of `RSA_X509_BLOCK` left-padded with zeros to 256 bytes: m^d mod n with
/// the key of tests/common/keys.rs (Python `pow(m, d, n)`).
pub const RSA_X509_BLOCK: &[u8] = b"ferrohsm raw RSA test block";
pub const RSA_X509_KAT: &str = concat!(
    "1cc6e12965fba102ebf927b4b3747d9b20dcc48470f9902799d4b4272d9122753930feaa09328544cf16531d5ff3",
    "bcf3a257c978e00db2ad67365dee66d929689537715c383e20ece387c920a019aba622e2715e8b517aa11a3b9afe",
    "b6a81d1ff4cc9b8a93349513fd0ed8505c67f8f274214a05dc163bc9dcc1a2ffa48d2be6f9cd4b890c2f7f2b622a",
    "e18d0c47197b4b188abfad712bc9c04eb6cafa4803206d84a121947070eadb8552cc907a3b11374b0bff03345c27",
    "683bbc0f6afc326467ab851fc4a85f3230cc6f31061a05c58c21dbde6ab4ea867780312710ec2eb9862511660e40",
    "e14413afcb2912b153a0c6262b0d5bcbbee12a87912cb58d44c7",
);

/// DigestInfo prefix of SHA-256 (RFC 8017 §9.2 note 1), for CKM_RSA_PKCS signatures.
pub const SHA256_DIGEST_INFO_PREFIX: &str = "3031300d060960864801650304020105000420";
