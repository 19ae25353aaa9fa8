//! How to reach the database: the URL, what it leaves out taken from the `PG*` variables as
//! `psql` does, and the TLS that `sslmode` asks for (rustls; see the parent module).

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio_postgres::Config;
use tokio_postgres::config::{Host, SslMode};

/// The TCP connect timeout per host, unless the URL or `PGCONNECT_TIMEOUT` sets one.
const TCP_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How the connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Tls {
    /// No TLS (`sslmode=disable`).
    Off,
    /// TLS when offered, the certificate not checked (`sslmode=prefer`).
    Unchecked,
    /// TLS, the certificate checked (`sslmode=require`, `verify-ca`, `verify-full`).
    Checked,
}

/// How to reach the database: the URL with what it leaves out taken from the `PG*` variables.
pub(super) struct Settings {
    pub(super) config: Config,
    pub(super) tls: Tls,
    /// `PGSSLROOTCERT`: the only roots to trust (`system`: this system's).
    root_cert: Option<String>,
}

/// `url` with `sslmode=verify-ca` / `verify-full` written as `require`, which checks the
/// certificate here (the URL parser of tokio-postgres knows only disable, prefer and require).
pub(crate) fn checked_sslmode(url: &str) -> String {
    let Some((base, query)) = url.split_once('?') else {
        return url.to_owned();
    };
    let query: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some(("sslmode", "verify-ca" | "verify-full")) => "sslmode=require".to_owned(),
            _ => pair.to_owned(),
        })
        .collect();
    format!("{base}?{}", query.join("&"))
}

impl Settings {
    /// Reads `url`, filling what it leaves out from `env` (the `PG*` variables) as `psql` does.
    pub(super) fn from_url(
        url: &str,
        env: impl Fn(&str) -> Option<String>,
    ) -> std::result::Result<Settings, String> {
        let var = |name: &str| env(name).filter(|v| !v.is_empty());
        let port = var("PGPORT");
        if let Some(ports) = &port
            && ports.split(',').any(|p| p.trim().parse::<u16>().is_err())
        {
            return Err(format!("PGPORT={ports:?} is not a port number"));
        }
        // The URL's hosts each get a port when parsed (5432 if it names none): PGPORT goes in first.
        let url = checked_sslmode(url);
        let url = match &port {
            Some(ports) if !query_names(&url, "port") => with_ports(&url, ports)?,
            _ => url,
        };
        let mut config: Config = url
            .parse()
            .map_err(|e| format!("not a Postgres URL ({e})"))?;
        if config.get_hosts().is_empty() && config.get_hostaddrs().is_empty() {
            let hosts = var("PGHOST").unwrap_or_else(|| "localhost".into());
            for host in hosts.split(',') {
                config.host(host);
            }
        }
        if config.get_ports().is_empty()
            && let Some(ports) = &port
        {
            for port in ports.split(',') {
                config.port(port.trim().parse().expect("checked above"));
            }
        }
        if config.get_user().is_none() {
            let user = ["PGUSER", "USER", "LOGNAME", "USERNAME"]
                .into_iter()
                .find_map(&var)
                .ok_or("the URL names no user: write postgres://user@host/db, or set PGUSER")?;
            config.user(user);
        }
        if config.get_password().is_none()
            && let Some(password) = var("PGPASSWORD")
        {
            config.password(password);
        }
        if config.get_dbname().is_none()
            && let Some(dbname) = var("PGDATABASE")
        {
            config.dbname(dbname);
        }
        if config.get_application_name().is_none() {
            config.application_name(var("PGAPPNAME").unwrap_or_else(|| "athanor".into()));
        }
        if config.get_connect_timeout().is_none() {
            let secs = var("PGCONNECT_TIMEOUT")
                .and_then(|s| s.trim().parse::<u64>().ok())
                .filter(|s| *s > 0);
            config.connect_timeout(secs.map_or(TCP_CONNECT_TIMEOUT, Duration::from_secs));
        }
        let tls = if query_names(&url, "sslmode") {
            match config.get_ssl_mode() {
                SslMode::Disable => Tls::Off,
                SslMode::Require => Tls::Checked,
                _ => Tls::Unchecked,
            }
        } else if let Some(mode) = var("PGSSLMODE") {
            match mode.as_str() {
                "disable" => Tls::Off,
                "allow" | "prefer" => Tls::Unchecked,
                "require" | "verify-ca" | "verify-full" => Tls::Checked,
                other => {
                    return Err(format!(
                        "PGSSLMODE={other:?} is not one of disable, allow, prefer, require, verify-ca, verify-full"
                    ));
                }
            }
        } else if is_local(&config) {
            Tls::Off
        } else {
            Tls::Unchecked
        };
        config.ssl_mode(match tls {
            Tls::Off => SslMode::Disable,
            Tls::Unchecked => SslMode::Prefer,
            Tls::Checked => SslMode::Require,
        });
        Ok(Settings {
            config,
            tls,
            root_cert: var("PGSSLROOTCERT"),
        })
    }

    /// `postgres://user@host:port/db`, for messages: never the password.
    pub(super) fn server(&self) -> String {
        let config = &self.config;
        let mut hosts: Vec<String> = config
            .get_hosts()
            .iter()
            .map(|host| match host {
                Host::Tcp(name) if name.contains(':') => format!("[{name}]"),
                Host::Tcp(name) => name.clone(),
                #[cfg(unix)]
                Host::Unix(path) => path.display().to_string(),
            })
            .collect();
        if hosts.is_empty() {
            hosts = config
                .get_hostaddrs()
                .iter()
                .map(IpAddr::to_string)
                .collect();
        }
        let port = config.get_ports().first().copied().unwrap_or(5432);
        let user = config.get_user().unwrap_or_default();
        let db = config.get_dbname().unwrap_or(user);
        format!("postgres://{user}@{}:{port}/{db}", hosts.join(","))
    }

    /// The TLS client configuration of this mode.
    pub(super) fn tls_config(&self) -> std::result::Result<rustls::ClientConfig, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("cannot set up TLS: {e}"))?;
        Ok(match self.tls {
            Tls::Checked => builder
                .with_root_certificates(roots(self.root_cert.as_deref())?)
                .with_no_client_auth(),
            Tls::Off | Tls::Unchecked => builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(Unchecked(provider)))
                .with_no_client_auth(),
        })
    }
}

/// `url` with `ports` (one, or one per host) after each host of its authority that names none.
fn with_ports(url: &str, ports: &str) -> std::result::Result<String, String> {
    let Some((scheme, rest)) = url.split_once("://") else {
        return Ok(url.to_owned());
    };
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let (userinfo, hosts) = match authority.rsplit_once('@') {
        Some((userinfo, hosts)) => (format!("{userinfo}@"), hosts),
        None => (String::new(), authority),
    };
    if hosts.is_empty() {
        return Ok(url.to_owned());
    }
    let ports: Vec<&str> = ports.split(',').map(str::trim).collect();
    let hosts: Vec<&str> = hosts.split(',').collect();
    if ports.len() != 1 && ports.len() != hosts.len() {
        return Err(format!(
            "PGPORT names {} ports for {} hosts: give one port, or one per host",
            ports.len(),
            hosts.len()
        ));
    }
    let hosts: Vec<String> = hosts
        .iter()
        .enumerate()
        .map(|(i, host)| {
            let after_name = match host.strip_prefix('[') {
                Some(bracketed) => bracketed.split_once(']').map_or("", |(_, after)| after),
                None => host,
            };
            if after_name.contains(':') {
                (*host).to_owned()
            } else {
                format!("{host}:{}", ports.get(i).unwrap_or(&ports[0]))
            }
        })
        .collect();
    Ok(format!("{scheme}://{userinfo}{}{tail}", hosts.join(",")))
}

/// Whether the query string of `url` sets `key`.
fn query_names(url: &str, key: &str) -> bool {
    url.split_once('?').is_some_and(|(_, query)| {
        query
            .split('&')
            .any(|pair| pair.split('=').next() == Some(key))
    })
}

/// Whether every host is on this machine (a socket or a loopback address).
fn is_local(config: &Config) -> bool {
    let loopback = |name: &str| {
        name.eq_ignore_ascii_case("localhost")
            || name
                .trim_matches(['[', ']'])
                .parse::<IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    };
    let hosts_local = config.get_hosts().iter().all(|host| match host {
        Host::Tcp(name) => loopback(name),
        #[cfg(unix)]
        Host::Unix(_) => true,
    });
    hosts_local && config.get_hostaddrs().iter().all(IpAddr::is_loopback)
}

/// The roots a checked certificate must chain to: the file `root_cert` names, else this
/// system's and Mozilla's (`system`: this system's only).
pub(super) fn roots(root_cert: Option<&str>) -> std::result::Result<rustls::RootCertStore, String> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;

    let mut store = rustls::RootCertStore::empty();
    match root_cert {
        Some(path) if path != "system" => {
            let path = PathBuf::from(path);
            let certs = CertificateDer::pem_file_iter(&path)
                .and_then(|certs| certs.collect::<std::result::Result<Vec<_>, _>>())
                .map_err(|e| format!("cannot read PGSSLROOTCERT {}: {e}", path.display()))?;
            let (added, _) = store.add_parsable_certificates(certs);
            if added == 0 {
                return Err(format!(
                    "PGSSLROOTCERT {} holds no usable certificate",
                    path.display()
                ));
            }
        }
        system => {
            if system.is_none() {
                store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            }
            let native = rustls_native_certs::load_native_certs();
            store.add_parsable_certificates(native.certs);
            if store.is_empty() {
                return Err("no root certificate found on this system: set PGSSLROOTCERT to your server's CA bundle".into());
            }
        }
    }
    Ok(store)
}

/// `sslmode=prefer`: encrypts without checking who answers (the mode accepts no TLS at all, so
/// a check would stop no one); the handshake's signatures are still verified.
#[derive(Debug)]
struct Unchecked(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for Unchecked {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> std::result::Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> std::result::Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> std::result::Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_the_url_leaves_out_comes_from_the_pg_variables() {
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                vars.iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        let s = Settings::from_url(
            "postgres://deploy@db.example.com/infra",
            env(&[
                ("PGPORT", "6543"),
                ("PGPASSWORD", "pw"),
                ("PGUSER", "other"),
            ]),
        )
        .unwrap();
        assert_eq!(s.config.get_ports(), &[6543]);
        assert_eq!(s.config.get_password(), Some(&b"pw"[..]));
        assert_eq!(s.config.get_user(), Some("deploy"));
        assert_eq!(s.tls, Tls::Unchecked);
        assert_eq!(s.server(), "postgres://deploy@db.example.com:6543/infra");

        let s = Settings::from_url(
            "postgresql://",
            env(&[
                ("PGHOST", "db.internal"),
                ("PGUSER", "ci"),
                ("PGDATABASE", "state"),
                ("PGSSLMODE", "verify-full"),
                ("PGSSLROOTCERT", "/etc/rds.pem"),
            ]),
        )
        .unwrap();
        assert_eq!(s.server(), "postgres://ci@db.internal:5432/state");
        assert_eq!(s.tls, Tls::Checked);
        assert_eq!(s.root_cert.as_deref(), Some("/etc/rds.pem"));

        // What the URL says wins.
        let s = Settings::from_url(
            "postgres://u:p@h.example.com:5433/d?sslmode=require",
            env(&[
                ("PGPORT", "1"),
                ("PGPASSWORD", "x"),
                ("PGSSLMODE", "disable"),
            ]),
        )
        .unwrap();
        assert_eq!(s.config.get_ports(), &[5433]);
        assert_eq!(s.config.get_password(), Some(&b"p"[..]));
        assert_eq!(s.tls, Tls::Checked);
        assert_eq!(s.config.get_ssl_mode(), SslMode::Require);
        let s =
            Settings::from_url("postgres://u@h.example.com/d?sslmode=disable", env(&[])).unwrap();
        assert_eq!(s.tls, Tls::Off);
    }

    #[test]
    fn a_server_on_this_machine_is_reached_without_tls_unless_asked() {
        let none = |_: &str| None;
        for url in [
            "postgres://u@127.0.0.1/d",
            "postgres://u@localhost:5433/d",
            "postgres://u@[::1]/d",
            "postgres://u@%2Fvar%2Frun%2Fpostgresql/d",
        ] {
            let s = Settings::from_url(url, none).unwrap();
            assert_eq!(s.tls, Tls::Off, "{url}");
            assert_eq!(s.config.get_ssl_mode(), SslMode::Disable, "{url}");
        }
        let s = Settings::from_url("postgres://u@[::1]/d", none).unwrap();
        assert_eq!(s.server(), "postgres://u@[::1]:5432/d");
        let s = Settings::from_url("postgres://u@127.0.0.1/d?sslmode=prefer", none).unwrap();
        assert_eq!(s.tls, Tls::Unchecked);
        let s = Settings::from_url("postgres://u@localhost/d", |n: &str| {
            (n == "PGSSLMODE").then(|| "require".to_owned())
        })
        .unwrap();
        assert_eq!(s.tls, Tls::Checked);
    }

    #[test]
    fn unusable_settings_say_what_is_wrong() {
        let err = Settings::from_url("postgres://u@h/d", |n: &str| {
            (n == "PGSSLMODE").then(|| "sometimes".to_owned())
        })
        .err()
        .unwrap();
        assert!(err.contains("PGSSLMODE"), "{err}");
        let err = Settings::from_url("postgres://h/d", |_: &str| None)
            .err()
            .unwrap();
        assert!(err.contains("PGUSER"), "{err}");
        let err = Settings::from_url("postgres://u@/d", |n: &str| {
            (n == "PGPORT").then(|| "fifty".to_owned())
        })
        .err()
        .unwrap();
        assert!(err.contains("PGPORT"), "{err}");
        let err = roots(Some("/nonexistent/ca.pem")).err().unwrap();
        assert!(err.contains("PGSSLROOTCERT /nonexistent/ca.pem"), "{err}");
        assert!(!roots(None).unwrap().is_empty());
    }
}
