// Known answers for the EC unit tests (src/crypto/ec.rs; Current Mechanisms v3.0 §2.3), so
// the `--no-default-features` build, where the engine is RustCrypto itself, is checked
// against something other than itself.
// Written by src/crypto/tests/kat_vectors.py with Python `cryptography` (OpenSSL) and Python
// integers, independently of the module; hex strings.

/// The message of the signature vectors (ASCII).
pub const EC_MSG: &str =
    "666572726f68736d204543445341206b6e6f776e2d616e737765722074657374";

/// P256: a scalar and its point, a peer's, their ECDH secret, and OpenSSL's ECDSA signatures (r ||
/// s, random nonces) of EC_MSG hashed with SHA-1, SHA-256 and SHA-512.
pub const EC_P256_D: &str =
    "ea5c921c3d849e27323e7f4e2aea83516b357bbf289cef543d625737bccf08b0";
pub const EC_P256_POINT: &str = concat!(
    "0472aab9309a87539efaead2322812d27899733f83ed586940248686feb8159a7ad4a7a2e5cfe2be8f8e6794",
    "6f3d3037d52e8418c96122769df62b0046cf44e9ef",
);
pub const EC_P256_PEER_D: &str =
    "853279317f249cee033472ebc7c9e0e6d4c392a949de9dd5d9d7442c108b61f6";
pub const EC_P256_PEER_POINT: &str = concat!(
    "0483c15672fb86f7ee6829da01cc1684ceba64b30b1aec7b57e3e797dec43fa38c2107d19ba4fef1ad2c1051",
    "f0e0e73c653721994be1fffcc68ce0a08fdf2aa6c3",
);
pub const EC_P256_SHARED: &str =
    "47998491780ba2bd71914af7ee65f280158835d1c32833c193c59e61c63643d2";
pub const EC_P256_SHA1_SIG: &str = concat!(
    "b7eb0de17f894530792b28247250dde3e14e987ead72535a612b321b563e1aa30023324ff23bbf8f3617a99e",
    "de6a5fffdc2abbc5dfc579c72188ef9bd29d342f",
);
pub const EC_P256_SHA256_SIG: &str = concat!(
    "86c4a1bcc9ccfd4d7a2e789fb051e3166ea4fb46c5fd3c91e63814ccaf87d055142a026e82061ea51fa2dddc",
    "4fd179c163a0731990ae8ce205632d51900fd465",
);
pub const EC_P256_SHA512_SIG: &str = concat!(
    "7d2c75d8ea00f22a5d72933b934d9c083ea0d89d0341a11bb1f25882ff9e99c626bf283d4210f4da2eb9f4c3",
    "c1146285493b3e508247e599d6ae72d024f8c78f",
);

/// P384: a scalar and its point, a peer's, their ECDH secret, and OpenSSL's ECDSA signatures (r ||
/// s, random nonces) of EC_MSG hashed with SHA-1, SHA-256 and SHA-512.
pub const EC_P384_D: &str = concat!(
    "a6bcaac390c2e22e6a375d2fc6ea7cb57508bf4910139bc31bbc08896c0a7b290ee037d62b7b8652e27cb5b2",
    "7b86628b",
);
pub const EC_P384_POINT: &str = concat!(
    "041aec7fad394033fd10251b90e378f2e9444edc777b66dd024f38121cecbe91fd48791692ca2b970b7f0d04",
    "ee2b7914ae468123d467fa08686a095cb9e2de5e3f523fa54ee053a97666d63866c206d54ec0f6f8bc587490",
    "57946b375eb6b649c3",
);
pub const EC_P384_PEER_D: &str = concat!(
    "075370f7bbec26a46723baef7587f53fb26b3abd2345b86ef9e5b4fe2ea958905c2dc51556dee5b62bf52f38",
    "5980b378",
);
pub const EC_P384_PEER_POINT: &str = concat!(
    "047b1595943096582e5735bf55c6073501072c0b38589c8b8f4ef51aa352d9aa1263b2ffa87ff6bb9663a38a",
    "8dcb72d367900c02a570c925bb60c6be5eaf4aef650a52f6e3bb66a5c7b764679e928335de394f974f47a9f3",
    "7ead556a6709c73e52",
);
pub const EC_P384_SHARED: &str = concat!(
    "76d914ea3af67fc3ce0d1f92f40b404e03bd570ca89d72c4c84c218228f0968e5e9b515b00dcdf134f124f9c",
    "8893eff5",
);
pub const EC_P384_SHA1_SIG: &str = concat!(
    "d19848c812e577c9a9b438d6312ec723bca2a8068e40321ebb5e49055b60242f1cfe2da27281a70cdb714450",
    "1148c665b1e50eeaa4bd364c96b076eff293299d4c914120ab3a4b91a6104bc2c3bccfc7c76cbc23cc0b70d6",
    "fe93841104fbf556",
);
pub const EC_P384_SHA256_SIG: &str = concat!(
    "fcf9ce76bda3d74f72dce394f13615bcf954825052f8becc06daeb73c09bf5f7b381c4b3c036af8b2255fa11",
    "c4868900da9dc7dfc9760b4b7522ab8df24cc216d01db60352c88445086272af279d2a68bd514d6adb892d60",
    "af7c1b8a0035cc83",
);
pub const EC_P384_SHA512_SIG: &str = concat!(
    "cccd52aa743b4ad3616e0c3fbc1b47ddecaeb9f75c423af04fb9d764ecec53bef2b482dd3fb0568ea9263474",
    "4a812fbbb1731ddbfcb4fe640f7551c8e1b53346b441614bd84483d2ad40916328bceeeae623711e2580441f",
    "ad108aaacee0f732",
);

/// P521: a scalar and its point, a peer's, their ECDH secret, and OpenSSL's ECDSA signatures (r ||
/// s, random nonces) of EC_MSG hashed with SHA-1, SHA-256 and SHA-512.
pub const EC_P521_D: &str = concat!(
    "01e88353fadf65f61621661dff95bd7ac9aa3f3514a14cca8d117e8b3a84cbc8ec37c7b4430a4d792aaf2f5c",
    "c3d9c04dbe5bac72f77a87b31d6f1cbe3d05b81bf360",
);
pub const EC_P521_POINT: &str = concat!(
    "040192c908eb810b2724866734a133ef1e7b2577873f0e3ad3368a35fd4810248fa020604d913aeb2c9ae3b9",
    "f7848e13506dab442c09bf57744b64507df3341bdde5af01db75366fee364fd736200b213aa5a1a318bc3186",
    "4a6ab8072a53820f2fe0dc0a5d355565f94031e36c29871daa9ce2dc09fb626e318c001bcac0b0c9a042a10b",
    "e5",
);
pub const EC_P521_PEER_D: &str = concat!(
    "006c5b8084645b0c55b0a37caa043520052a653bb13b8ec406f3bf4423555fbcc9cb45d36943513b20c593a4",
    "4393661e120970d51cbeee5544df1bd2dbf2395d21c4",
);
pub const EC_P521_PEER_POINT: &str = concat!(
    "040121e634f6b0c19edc2aa130cca5615cc7189a5ff4496fe80a9b962850c8dc691ef8f6b03fb062f02265de",
    "65ff7b11ec555cfd388e2f8bd3b4f55f07670afc74894201d82dac5241403ed2f15864b14e44605b9b866e6d",
    "7a7c5ba9d0e95dea8ecea1eac716a9842a701c413cae3fead932e7991fc9ce497c7ba671f0de2bd6b49f772c",
    "5b",
);
pub const EC_P521_SHARED: &str = concat!(
    "00b97193b63e4ac1a5e17511383a035bc94ad3074c42faae2e20e716e73feed7b34b244bfedc4c6437514626",
    "1add2ff8815a013411c2ba8ef60db344f235fea53bbd",
);
pub const EC_P521_SHA1_SIG: &str = concat!(
    "0127632d944ab69d64928727adb7d061c5b27d4306f46af443fd18f4f7288e258880bf87251ac346f9730c6c",
    "a50c52476353363f397a95c3d74e478967595c18d82200d42971af8144b160dffc9461a7b2c40cd28a595d1f",
    "f541cba4f9fb8f7d01e5ed04b5b00636cee0775ede4ea7a46adf7ca17b4c0063f67fbcd3c6613844b20565df",
);
pub const EC_P521_SHA256_SIG: &str = concat!(
    "010cb90f1d2c73e495bb2c35e3cfa1307bb3c0564036375fde89ca67791aa391fa2eba0b3adbd1b0882a270b",
    "bcc0e04e2ee5a5cdb17e82626ed49bb58dcc27351b9401a9b7328d82d2a9d54a0b4321eec04522825d87def3",
    "a4a20f48e3610752b912165e52d74c8956ccb2e6944ea123ed45e1524afe93beb479548f40c29e321b3d0f10",
);
pub const EC_P521_SHA512_SIG: &str = concat!(
    "00589bf8699db94f304a56e41a69cae6f6a8f1e7f63803487a4dadfaff02950e7120ad96bc0d7d968dee22b2",
    "62c293db5fddc1e532419cc7978cc0258554aa71899a001d4617501cecf913b2109e858c99326d6babd61800",
    "b1f3e67a5064276117ea53804fe95f9a27be8e156561cf621462114afb5c3bccc0b78d0d48816645e41df73d",
);
