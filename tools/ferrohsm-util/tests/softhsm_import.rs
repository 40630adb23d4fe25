//! `import` against SoftHSMv2, checked from outside the tool: the objects are read back through
//! the `cryptoki` crate and compared with what openssl says about the fixture files.
//!
//! One test only in this binary: it points `SOFTHSM2_CONF` of this very process at its own
//! token directory, which other tests running in parallel threads must not change.

mod common;
use common::{data, Hsm};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::types::AuthPin;

/// Uncompressed P-256 point of tests/data/p256-*.pem, from `openssl ec -pubout`.
const P256_POINT: &str = "04f74098f14ae2234f7e41449f17bb451c04857d85e89494868af7c7b2719cbdce6eeb91a18e0d7e6f8313ad0d19819b7320365310ba427fed96e44635c4cba3d6";
const P256_ID: &str = "1cc56fb08ed27b1180c23858c71624e6d37a056d";
const RSA_ID: &str = "44f8d3099862f290b31bd35f2c6723ae07448f31";
const ED25519_PUB: &str = "503bede8b40361f91f8d74aa8014e974b0a89d914da6049d6c277cf8f88bc3e9";
/// Serial number of tests/data/p256-cert.pem (`openssl x509 -noout -serial`).
const CERT_SERIAL: &str = "7a46d98705f8d322423183638556a2227ff04676";

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn find(session: &Session, class: ObjectClass, label: &str) -> ObjectHandle {
    let found = session
        .find_objects(&[
            Attribute::Class(class),
            Attribute::Label(label.as_bytes().to_vec()),
        ])
        .unwrap_or_else(|e| panic!("find {label}: {e}"));
    assert_eq!(found.len(), 1, "objects of class {class} labelled {label}");
    found[0]
}

fn get(session: &Session, obj: ObjectHandle, t: AttributeType) -> Option<Attribute> {
    session
        .get_attributes(obj, &[t])
        .unwrap_or_else(|e| panic!("get {t}: {e}"))
        .into_iter()
        .next()
}

fn bytes(session: &Session, obj: ObjectHandle, t: AttributeType) -> Vec<u8> {
    match get(session, obj, t) {
        Some(
            Attribute::Id(v)
            | Attribute::EcPoint(v)
            | Attribute::EcParams(v)
            | Attribute::Modulus(v)
            | Attribute::SerialNumber(v)
            | Attribute::Subject(v)
            | Attribute::Value(v),
        ) => v,
        other => panic!("{t}: unexpected {other:?}"),
    }
}

fn flag(session: &Session, obj: ObjectHandle, t: AttributeType) -> bool {
    match get(session, obj, t) {
        Some(
            Attribute::Sensitive(b)
            | Attribute::Extractable(b)
            | Attribute::Private(b)
            | Attribute::Token(b),
        ) => b,
        other => panic!("{t}: unexpected {other:?}"),
    }
}

fn key_type(session: &Session, obj: ObjectHandle) -> KeyType {
    match get(session, obj, AttributeType::KeyType) {
        Some(Attribute::KeyType(k)) => k,
        other => panic!("key type: unexpected {other:?}"),
    }
}

/// Private keys: token, private, sensitive, not extractable, and their secret value unreadable.
fn assert_protected(session: &Session, obj: ObjectHandle) {
    assert!(flag(session, obj, AttributeType::Token));
    assert!(flag(session, obj, AttributeType::Private));
    assert!(flag(session, obj, AttributeType::Sensitive));
    assert!(!flag(session, obj, AttributeType::Extractable));
}

#[test]
fn import_every_format_and_read_back() {
    let hsm = Hsm::new();
    hsm.init_token("imp");
    let import = |file: &str, extra: &[&str]| {
        let path = data(file);
        let mut args = vec!["import", "--token", "imp", "--pin", "1234", "--file", &path];
        args.extend_from_slice(extra);
        hsm.ok(&args)
    };
    import("rsa1024-pkcs8.pem", &[]);
    import("rsa1024-pkcs1.pem", &["--label", "rsa-trad"]);
    import(
        "rsa1024-pkcs8.der",
        &["--label", "rsa-der", "--id", "aa:bb"],
    );
    import("p256-with-params.pem", &["--label", "p256"]);
    import("p384-pkcs8.pem", &[]);
    import("p521-nopub-sec1.der", &[]);
    import("ed25519-pkcs8.pem", &["--label", "ed"]);
    import("ed25519-pub.pem", &["--label", "ed-only-pub"]);
    import("p256-cert.pem", &["--label", "cert"]);
    import("rsa1024-pub.pem", &["--type", "public"]);
    import("aes256.bin", &["--type", "aes", "--label", "aes"]);
    import("p256-pkcs8.pem", &["--label", "p256-x", "--extractable"]);

    // Parsing failures are reported by the tool without touching the token.
    let err = hsm.fails(&[
        "import",
        "--token",
        "imp",
        "--pin",
        "1234",
        "--file",
        &data("aes256.bin"),
    ]);
    assert!(err.contains("--type aes"), "{err}");
    let err = hsm.fails(&[
        "import",
        "--token",
        "imp",
        "--pin",
        "1234",
        "--file",
        &data("p256-cert.pem"),
        "--type",
        "private",
    ]);
    assert!(err.contains("not what --type private asks for"), "{err}");

    std::env::set_var("SOFTHSM2_CONF", &hsm.conf);
    let ctx = Pkcs11::new(&hsm.module).unwrap_or_else(|e| panic!("load: {e}"));
    ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
        .unwrap_or_else(|e| panic!("init: {e}"));
    let slot = ctx
        .get_slots_with_initialized_token()
        .unwrap_or_else(|e| panic!("slots: {e}"))
        .into_iter()
        .find(|s| {
            ctx.get_token_info(*s)
                .map(|i| i.label() == "imp")
                .unwrap_or(false)
        })
        .unwrap_or_else(|| panic!("token imp not found"));
    let session = ctx
        .open_ro_session(slot)
        .unwrap_or_else(|e| panic!("session: {e}"));
    session
        .login(UserType::User, Some(&AuthPin::from("1234".to_string())))
        .unwrap_or_else(|e| panic!("login: {e}"));

    // RSA: three encodings of one key, ids from the modulus unless given.
    for (label, id) in [
        ("rsa1024-pkcs8", RSA_ID),
        ("rsa-trad", RSA_ID),
        ("rsa-der", "aabb"),
    ] {
        let private = find(&session, ObjectClass::PRIVATE_KEY, label);
        let public = find(&session, ObjectClass::PUBLIC_KEY, label);
        assert_eq!(key_type(&session, private), KeyType::RSA);
        assert_protected(&session, private);
        assert_eq!(hex(&bytes(&session, private, AttributeType::Id)), id);
        assert_eq!(hex(&bytes(&session, public, AttributeType::Id)), id);
        let modulus = bytes(&session, public, AttributeType::Modulus);
        assert_eq!(modulus.len(), 128);
        assert_eq!(bytes(&session, private, AttributeType::Modulus), modulus);
        assert!(get(&session, private, AttributeType::PrivateExponent).is_none());
    }
    find(&session, ObjectClass::PUBLIC_KEY, "rsa1024-pub");

    // EC: the point is stored DER-wrapped, and the id hashes the bare point.
    let p256_pub = find(&session, ObjectClass::PUBLIC_KEY, "p256");
    let point = bytes(&session, p256_pub, AttributeType::EcPoint);
    assert_eq!(&point[..2], &[0x04, 0x41]);
    assert_eq!(hex(&point[2..]), P256_POINT);
    assert_eq!(
        bytes(&session, p256_pub, AttributeType::EcParams),
        [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07]
    );
    let p256_priv = find(&session, ObjectClass::PRIVATE_KEY, "p256");
    assert_eq!(key_type(&session, p256_priv), KeyType::EC);
    assert_protected(&session, p256_priv);
    assert_eq!(hex(&bytes(&session, p256_priv, AttributeType::Id)), P256_ID);
    assert!(
        get(&session, p256_priv, AttributeType::Value).is_none(),
        "secret value readable"
    );

    // P-521 from a SEC1 file without its public key: the point was computed (1 + 2*66 bytes).
    let p521 = find(&session, ObjectClass::PUBLIC_KEY, "p521-nopub-sec1");
    let point = bytes(&session, p521, AttributeType::EcPoint);
    assert_eq!(point.len(), 3 + 133);
    assert_eq!(point[3], 0x04);
    find(&session, ObjectClass::PRIVATE_KEY, "p384-pkcs8");

    // Ed25519: OID parameters, 32-byte public key in an OCTET STRING.
    let ed_pub = find(&session, ObjectClass::PUBLIC_KEY, "ed");
    assert_eq!(key_type(&session, ed_pub), KeyType::EC_EDWARDS);
    assert_eq!(
        bytes(&session, ed_pub, AttributeType::EcParams),
        [0x06, 0x03, 0x2b, 0x65, 0x70]
    );
    assert_eq!(
        hex(&bytes(&session, ed_pub, AttributeType::EcPoint)),
        format!("0420{ED25519_PUB}")
    );
    assert_protected(&session, find(&session, ObjectClass::PRIVATE_KEY, "ed"));
    find(&session, ObjectClass::PUBLIC_KEY, "ed-only-pub");

    // The certificate pairs with the P-256 key through its id.
    let cert = find(&session, ObjectClass::CERTIFICATE, "cert");
    assert_eq!(hex(&bytes(&session, cert, AttributeType::Id)), P256_ID);
    assert_eq!(
        hex(&bytes(&session, cert, AttributeType::SerialNumber)),
        format!("0214{CERT_SERIAL}")
    );
    let der = std::fs::read(data("p256-cert.der")).unwrap_or_else(|e| panic!("read: {e}"));
    assert_eq!(bytes(&session, cert, AttributeType::Value), der);
    assert_eq!(bytes(&session, cert, AttributeType::Subject)[0], 0x30);

    // Raw AES key: a sensitive secret key whose value cannot be read back.
    let aes = find(&session, ObjectClass::SECRET_KEY, "aes");
    assert_eq!(key_type(&session, aes), KeyType::AES);
    assert_protected(&session, aes);
    assert!(get(&session, aes, AttributeType::Value).is_none());

    // --extractable is honoured, sensitivity stays.
    let extractable = find(&session, ObjectClass::PRIVATE_KEY, "p256-x");
    assert!(flag(&session, extractable, AttributeType::Extractable));
    assert!(flag(&session, extractable, AttributeType::Sensitive));
}
