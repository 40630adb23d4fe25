//! Where the database is (store_url): the URL as tokio-postgres takes it, and the TLS that
//! libpq's keys ask for (sslmode verify-ca / verify-full, sslrootcert, sslcert, sslkey).

use crate::error::{Error, Result};
use postgres_openssl::MakeTlsConnector;
use std::time::Duration;
use tokio_postgres::config::SslMode;

/// Where the database is: the parsed URL, TLS settings and the timeout.
#[derive(Clone)]
pub struct Target {
    pub(super) config: tokio_postgres::Config,
    /// `None` where no TLS is possible (see `Target::parse`).
    pub(super) tls: Option<MakeTlsConnector>,
    pub(super) timeout: Duration,
    pub(super) shown: String,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.shown)
    }
}

/// The TLS keys of libpq that tokio-postgres does not take: verify-ca / verify-full and the
/// certificate files.
#[derive(Default)]
struct TlsKeys {
    mode: Option<String>,
    root: Option<String>,
    cert: Option<String>,
    key: Option<String>,
}

fn split_tls(url: &str) -> (String, TlsKeys) {
    let mut keys = TlsKeys::default();
    let mut take = |k: &str, v: &str| -> bool {
        let v = v.to_owned();
        match k {
            "sslmode" if v.starts_with("verify-") => keys.mode = Some(v),
            "sslrootcert" => keys.root = Some(v),
            "sslcert" => keys.cert = Some(v),
            "sslkey" => keys.key = Some(v),
            _ => return false,
        }
        true
    };
    let url = url.trim();
    let rest = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let (base, query) = url.split_once('?').unwrap_or((url, ""));
        let mut kept: Vec<&str> = query
            .split('&')
            .filter(|p| !p.is_empty())
            .filter(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                !take(k, v)
            })
            .collect();
        let require = "sslmode=require";
        let verify = keys.mode.is_some();
        if verify {
            kept.push(require);
        }
        if kept.is_empty() {
            base.to_owned()
        } else {
            format!("{base}?{}", kept.join("&"))
        }
    } else {
        let mut kept: Vec<String> = url
            .split_whitespace()
            .filter(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                !take(k, v)
            })
            .map(str::to_owned)
            .collect();
        if keys.mode.is_some() {
            kept.push("sslmode=require".into());
        }
        kept.join(" ")
    };
    (rest, keys)
}

/// The URL for logs: without a password.
fn shown(url: &str) -> String {
    let mut out = url.to_owned();
    if let Some(at) = out.find('@') {
        if let Some(scheme) = out.find("://") {
            if let Some(colon) = out[scheme + 3..at].find(':') {
                out.replace_range(scheme + 3 + colon..at, ":****");
            }
        }
    }
    out.split_whitespace()
        .map(|p| {
            if p.starts_with("password=") {
                "password=****"
            } else {
                p
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

impl Target {
    pub fn parse(url: &str, timeout: Duration) -> Result<Target> {
        let bad = |why: &dyn std::fmt::Display| {
            Error::device(format_args!("store_url {}: {why}", shown(url)))
        };
        let (rest, keys) = split_tls(url);
        let mut config: tokio_postgres::Config = rest.parse().map_err(|e| bad(&e))?;
        config.application_name("ferrohsm");
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(timeout);
        }
        // A peer that vanished mid-conversation is noticed by the kernel, not only by our timer.
        config.keepalives_idle(Duration::from_secs(5));
        config.tcp_user_timeout(timeout);
        // Loading the system's CA bundle into a TLS context costs some 50 ms at every
        // C_Initialize: only where TLS may be used (a TCP host, sslmode not disable). Over a
        // Unix socket with sslmode=prefer, the server would refuse the TLS request anyway.
        let tcp = !config.get_hostaddrs().is_empty()
            || (config.get_hosts().iter())
                .any(|h| matches!(h, tokio_postgres::config::Host::Tcp(_)));
        let tls = match config.get_ssl_mode() {
            SslMode::Disable => None,
            SslMode::Prefer if !tcp => None,
            _ => Some(connector(&keys).map_err(|e| bad(&e))?),
        };
        Ok(Target {
            config,
            tls,
            timeout,
            shown: shown(url),
        })
    }

    pub fn shown(&self) -> &str {
        &self.shown
    }
}

/// The TLS side of a connection, as libpq would set it up from the URL's keys.
fn connector(keys: &TlsKeys) -> std::result::Result<MakeTlsConnector, String> {
    let e = |e: openssl::error::ErrorStack| e.to_string();
    let mut b = openssl::ssl::SslConnector::builder(openssl::ssl::SslMethod::tls()).map_err(e)?;
    match (keys.mode.as_deref(), keys.root.as_deref()) {
        (Some(mode), None) => return Err(format!("sslmode={mode} needs sslrootcert")),
        // As libpq: the server is judged by sslrootcert alone. The connector starts from
        // OpenSSL's default store, where any CA of the machine could vouch for a server, so
        // the store is replaced. A root file given with require verifies too (libpq does).
        (_, Some(root)) => {
            let pem = std::fs::read(root).map_err(|err| format!("sslrootcert {root}: {err}"))?;
            let roots = openssl::x509::X509::stack_from_pem(&pem).map_err(e)?;
            if roots.is_empty() {
                return Err(format!("sslrootcert {root}: no certificate in it"));
            }
            let mut store = openssl::x509::store::X509StoreBuilder::new().map_err(e)?;
            for cert in roots {
                store.add_cert(cert).map_err(e)?;
            }
            b.set_cert_store(store.build());
            b.set_verify(openssl::ssl::SslVerifyMode::PEER);
        }
        // libpq's require/prefer without a root file: encrypted, the server not verified.
        (None, None) => b.set_verify(openssl::ssl::SslVerifyMode::NONE),
    }
    if let Some(cert) = &keys.cert {
        b.set_certificate_chain_file(cert).map_err(e)?;
    }
    if let Some(key) = &keys.key {
        b.set_private_key_file(key, openssl::ssl::SslFiletype::PEM)
            .map_err(e)?;
    }
    let mut tls = postgres_openssl::MakeTlsConnector::new(b.build());
    let full = keys.mode.as_deref() == Some("verify-full");
    let checked = keys.root.is_some();
    tls.set_callback(move |c, _| {
        c.set_verify_hostname(full);
        if !checked {
            c.set_verify(openssl::ssl::SslVerifyMode::NONE);
        }
        Ok(())
    });
    Ok(tls)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tls(url: &str) -> bool {
        Target::parse(url, Duration::from_secs(1))
            .map(|t| t.tls.is_some())
            .unwrap_or_else(|e| panic!("{url}: {e:?}"))
    }

    /// TLS is set up where it may be used, and only there: the CA bundle it loads was most of
    /// a C_Initialize on a local database (stress::finalize_while_other_threads_are_in_calls
    /// ran too few rounds).
    #[test]
    fn tls_only_where_it_may_be_used() {
        assert!(!tls("host=/run/postgresql dbname=x"));
        assert!(!tls("postgresql://u@%2Frun%2Fpostgresql/x"));
        assert!(!tls("host=db.example dbname=x sslmode=disable"));
        assert!(tls("host=db.example dbname=x"));
        assert!(tls("hostaddr=127.0.0.1 dbname=x"));
        assert!(tls("host=/run/postgresql,db.example dbname=x"));
        assert!(tls("host=/run/postgresql dbname=x sslmode=require"));
    }

    /// A verify mode without its CA file is refused when the URL is read, Unix socket or not.
    #[test]
    fn verify_without_a_root_is_refused() {
        for url in [
            "host=db.example dbname=x sslmode=verify-full",
            "host=/run/postgresql dbname=x sslmode=verify-ca",
        ] {
            assert!(Target::parse(url, Duration::from_secs(1)).is_err(), "{url}");
        }
    }
}
