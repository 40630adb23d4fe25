//! TLS from the module to the PostgreSQL server (design.md "Several hosts"; libpq's sslmode,
//! sslrootcert, sslcert and sslkey, which `store_url` takes): a real server that accepts only
//! TLS with a client certificate, certificates made with the `openssl` tool, and every mode a
//! user would set, each in a fresh C_Initialize. What must hold: the server is verified against
//! `sslrootcert` alone (not the system's CA bundle), its name is checked under verify-full, a
//! connection the server or the module refuses fails the call, and a working one is encrypted.

use super::common::der::openssl;
use super::common::*;
use super::pg::{Cluster, DB_USER};
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::object::Attribute;
use cryptoki::session::UserType;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

const TOKEN: &str = "tls";

/// A P-256 key `NAME.key` and a certificate `NAME.pem` for `subject`, signed by the CA `ca`
/// (its `ca.pem` and `ca.key`), or self-signed as a CA when `ca` is None.
fn certificate(dir: &Path, name: &str, subject: &str, ca: Option<&str>, ext: &str) {
    let file = |suffix: &str| dir.join(format!("{name}.{suffix}")).display().to_string();
    let (key, pem) = (file("key"), file("pem"));
    let subj = format!("/CN={subject}");
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    match ca {
        None => {
            let mut args = vec!["req", "-x509"];
            args.extend(ec);
            args.extend(["-keyout", &key, "-out", &pem, "-days", "2", "-subj", &subj]);
            args.extend(["-addext", "basicConstraints=critical,CA:TRUE"]);
            args.extend(["-addext", "keyUsage=critical,keyCertSign,cRLSign"]);
            openssl(&args);
        }
        Some(ca) => {
            let (csr, extfile) = (file("csr"), file("ext"));
            std::fs::write(&extfile, ext).expect("write the extensions file");
            let mut args = vec!["req"];
            args.extend(ec);
            args.extend(["-keyout", &key, "-out", &csr, "-subj", &subj]);
            openssl(&args);
            let ca_file = |suffix: &str| dir.join(format!("{ca}.{suffix}")).display().to_string();
            let (ca_pem, ca_key) = (ca_file("pem"), ca_file("key"));
            openssl(&[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                &ca_pem,
                "-CAkey",
                &ca_key,
                "-CAcreateserial",
                "-out",
                &pem,
                "-days",
                "2",
                "-extfile",
                &extfile,
            ]);
        }
    }
}

/// What a host got from the token: the value of the data object it reads, or the first call
/// that failed, with the error's code.
fn attempt(url: &str) -> Result<Vec<u8>, String> {
    std::env::set_var("FERROHSM_STORE_URL", url);
    let ctx = Pkcs11::new(module_path()).map_err(|e| format!("load: {e:?}"))?;
    let r = (|| {
        ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
            .map_err(|e| format!("C_Initialize: {e:?}"))?;
        let slots = ctx
            .get_slots_with_token()
            .map_err(|e| format!("C_GetSlotList: {e:?}"))?;
        let slot = slots
            .into_iter()
            .find(|s| {
                ctx.get_token_info(*s)
                    .map(|i| i.token_initialized() && i.label() == TOKEN)
                    .unwrap_or(false)
            })
            .ok_or("no token labelled tls")?;
        let s = ctx
            .open_ro_session(slot)
            .map_err(|e| format!("C_OpenSession: {e:?}"))?;
        s.login(UserType::User, Some(&pin(USER_PIN)))
            .map_err(|e| format!("C_Login: {e:?}"))?;
        let found = s
            .find_objects(&[Attribute::Label(b"over-tls".to_vec())])
            .map_err(|e| format!("C_FindObjects: {e:?}"))?;
        let [h] = found[..] else {
            return Err(format!("{} objects labelled over-tls", found.len()));
        };
        let attrs = s
            .get_attributes(h, &[cryptoki::object::AttributeType::Value])
            .map_err(|e| format!("C_GetAttributeValue: {e:?}"))?;
        match attrs.first() {
            Some(Attribute::Value(v)) => Ok(v.clone()),
            other => Err(format!("CKA_VALUE: {other:?}")),
        }
    })();
    let _ = ctx.finalize();
    r
}

struct Certs {
    dir: tempfile::TempDir,
}

impl Certs {
    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }
}

/// Two CAs: `ca` signs the server's certificate (for the name localhost only) and the client's
/// (for the role the module logs in as); `rogue` signs nothing the server shows.
fn make_certs() -> Certs {
    let dir = tempfile::Builder::new()
        .prefix("ferrohsm-tls-")
        .tempdir()
        .expect("temp dir");
    let d = dir.path();
    certificate(d, "ca", "ferrohsm test CA", None, "");
    certificate(d, "rogue", "ferrohsm rogue CA", None, "");
    certificate(
        d,
        "server",
        "localhost",
        Some("ca"),
        "subjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth\n",
    );
    certificate(
        d,
        "client",
        DB_USER,
        Some("ca"),
        "extendedKeyUsage=clientAuth\n",
    );
    Certs { dir }
}

/// A server on 127.0.0.1 that takes TCP connections only over TLS, and then only with a client
/// certificate of the test CA for the role's name (`cert`); the Unix socket stays trusted.
fn tls_server(certs: &Certs) -> Cluster {
    let files: Vec<(String, PathBuf)> = ["server.pem", "server.key", "ca.pem"]
        .iter()
        .map(|f| (f.to_string(), certs.dir.path().join(f)))
        .collect();
    Cluster::primary_with(&[Ipv4Addr::LOCALHOST], move |dir| {
        for (name, from) in &files {
            std::fs::copy(from, dir.join(name)).expect("copy a certificate file");
        }
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            dir.join("server.key"),
            std::fs::Permissions::from_mode(0o600),
        )
        .expect("chmod server.key");
        let conf = format!(
            "ssl = on\nssl_cert_file = '{0}/server.pem'\nssl_key_file = '{0}/server.key'\n\
             ssl_ca_file = '{0}/ca.pem'\n",
            dir.display()
        );
        let hba = "local all all trust\n\
                   hostssl all all 127.0.0.1/32 cert\n\
                   hostnossl all all 0.0.0.0/0 reject\n"
            .to_owned();
        (conf, hba)
    })
}

#[test]
fn tls_to_the_server_is_verified_as_libpq_does() {
    let certs = make_certs();
    let server = tls_server(&certs);
    let work = tempfile::tempdir().expect("temp dir");
    let conf = work.path().join("ferrohsm.toml");
    std::fs::write(&conf, format!("store_timeout_ms = 3000\n{FAST_KDF}")).expect("config");
    std::env::set_var("FERROHSM_CONF", &conf);
    std::env::remove_var("FERROHSM_TOKEN_DIR");
    std::env::set_var("XDG_CONFIG_HOME", work.path().join("xdg-config"));
    std::env::set_var("XDG_DATA_HOME", work.path().join("xdg-data"));
    // OpenSSL's default trust store, which libpq never consults when sslrootcert is given.
    std::env::set_var("SSL_CERT_FILE", certs.path("ca.pem"));
    std::env::set_var("SSL_CERT_DIR", work.path().join("no-certs"));

    let port = server.port;
    let client = format!(
        "sslcert={} sslkey={}",
        certs.path("client.pem"),
        certs.path("client.key")
    );
    let url = |host: &str, rest: &str| {
        format!("host={host} port={port} user={DB_USER} dbname=postgres {rest}")
    };
    let full = url(
        "localhost",
        &format!(
            "sslmode=verify-full sslrootcert={} {client}",
            certs.path("ca.pem")
        ),
    );

    // verify-full, the right CA and name, a client certificate: create the token and an
    // object in it, and find the module's sessions among the server's TLS connections.
    std::env::set_var("FERROHSM_STORE_URL", &full);
    {
        let ctx = Pkcs11::new(module_path()).expect("load libferrohsm.so");
        ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
            .expect("C_Initialize over verify-full");
        let slot = init_token(&ctx, TOKEN);
        let s = user_session(&ctx, slot);
        s.create_object(&data_object(
            "over-tls",
            b"sealed and sent over TLS",
            true,
            true,
        ))
        .expect("C_CreateObject over TLS");
        let tls_sessions = server.sql(
            "SELECT count(*) FROM pg_stat_ssl JOIN pg_stat_activity USING (pid) \
             WHERE ssl AND application_name = 'ferrohsm'",
        );
        let plain_sessions = server.sql(
            "SELECT count(*) FROM pg_stat_ssl JOIN pg_stat_activity USING (pid) \
             WHERE NOT ssl AND application_name = 'ferrohsm'",
        );
        assert_ne!(
            tls_sessions, "0",
            "no TLS connection of the module on the server"
        );
        assert_eq!(
            plain_sessions, "0",
            "a connection of the module without TLS"
        );
        drop(s);
        ctx.finalize().expect("C_Finalize");
    }
    let want = b"sealed and sent over TLS".to_vec();
    assert_eq!(
        attempt(&full).as_ref(),
        Ok(&want),
        "verify-full, a fresh C_Initialize"
    );

    // verify-ca checks the chain but not the name: 127.0.0.1 is not in the certificate.
    let by_ip = |mode: &str, root: &str| {
        url(
            "127.0.0.1",
            &format!("sslmode={mode} sslrootcert={} {client}", certs.path(root)),
        )
    };
    assert_eq!(
        attempt(&by_ip("verify-ca", "ca.pem")).as_ref(),
        Ok(&want),
        "verify-ca by address"
    );
    // require encrypts without verifying, as libpq's does without a root file.
    let require = url("127.0.0.1", &format!("sslmode=require {client}"));
    assert_eq!(attempt(&require).as_ref(), Ok(&want), "sslmode=require");

    let refused = |what: &str, url: String| {
        // The first call that needs the store fails, with the code of a store out of reach.
        match attempt(&url) {
            Ok(v) => panic!("{what}: the module read the token anyway: {v:?}"),
            Err(e) => assert!(
                e.starts_with("C_GetSlotList: Pkcs11(DeviceError"),
                "{what}: want CKR_DEVICE_ERROR from C_GetSlotList, got {e}"
            ),
        }
    };
    refused(
        "verify-full to a name the certificate lacks",
        by_ip("verify-full", "ca.pem"),
    );
    // The server's CA is in OpenSSL's default store (SSL_CERT_FILE) but not in sslrootcert.
    refused(
        "verify-full against another CA",
        url(
            "localhost",
            &format!(
                "sslmode=verify-full sslrootcert={} {client}",
                certs.path("rogue.pem")
            ),
        ),
    );
    refused(
        "verify-ca against another CA",
        by_ip("verify-ca", "rogue.pem"),
    );
    // libpq verifies the chain under require too when it has a root file.
    refused(
        "require with another CA's root file",
        by_ip("require", "rogue.pem"),
    );
    refused(
        "no client certificate",
        url(
            "localhost",
            &format!("sslmode=verify-full sslrootcert={}", certs.path("ca.pem")),
        ),
    );
    refused("no TLS", url("127.0.0.1", "sslmode=disable"));
}
