//! Where state lives: the `--state` / `ATHANOR_STATE` setting.
//!
//! - a path, or `file:///path`: a directory on this machine (the default is the stack's
//!   `.athanor`, or `$ATHANOR_STATE_DIR`);
//! - `s3://bucket/prefix`: an S3-compatible bucket (AWS S3, MinIO, ...), credentials and endpoint
//!   from the usual `AWS_*` variables;
//! - `r2://bucket/prefix`: a Cloudflare R2 bucket, its endpoint from `CLOUDFLARE_ACCOUNT_ID`, its
//!   keys from `R2_ACCESS_KEY_ID` / `R2_SECRET_ACCESS_KEY` (or the `AWS_*` ones);
//! - `postgres://user@host/db` (or `postgresql://`): a Postgres database; what the URL leaves
//!   out comes from the `PG*` variables.
//!
//! A password in a URL is kept as a secret: messages, `Debug` and `Display` leave it out.

use std::fmt;
use std::path::{Path, PathBuf};

use secrecy::{ExposeSecret, SecretString};

use crate::error::{Error, Result};

/// Where a stage's state and its lock live.
#[derive(Clone)]
pub enum StateLocation {
    /// A directory on this machine; each app and stage has its own directory below it.
    Local(PathBuf),
    /// A bucket of an S3-compatible object store.
    S3 {
        /// The bucket.
        bucket: String,
        /// The key prefix (no leading or trailing `/`; may be empty).
        prefix: String,
        /// Whether the bucket is Cloudflare R2 (`r2://`): its endpoint and keys are found from
        /// Cloudflare's variables.
        r2: bool,
    },
    /// A Postgres database, by its connection URL (which may hold a password).
    Postgres(SecretString),
}

impl StateLocation {
    /// Reads a setting (see the module documentation); a relative path resolves against `root`.
    pub fn parse(setting: &str, root: &Path) -> Result<StateLocation> {
        let setting = setting.trim();
        let bad = |message: &str| Error::StateSetting {
            value: redact(setting),
            message: message.to_owned(),
        };
        if setting.is_empty() {
            return Err(bad(
                "it is empty: give a directory, s3://bucket/prefix, r2://bucket/prefix or postgres://user@host/db",
            ));
        }
        let Some((scheme, rest)) = setting.split_once("://") else {
            return Ok(StateLocation::Local(root.join(setting)));
        };
        match scheme.to_ascii_lowercase().as_str() {
            "file" => Ok(StateLocation::Local(root.join(rest))),
            "s3" | "r2" => {
                let rest = rest.trim_matches('/');
                let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
                if bucket.is_empty() {
                    return Err(bad("it names no bucket: write s3://bucket/prefix"));
                }
                Ok(StateLocation::S3 {
                    bucket: bucket.to_owned(),
                    prefix: prefix.trim_matches('/').to_owned(),
                    r2: scheme.eq_ignore_ascii_case("r2"),
                })
            }
            "postgres" | "postgresql" => {
                super::postgres::checked_sslmode(setting)
                    .parse::<tokio_postgres::Config>()
                    .map_err(|e| bad(&format!("not a Postgres URL ({e})")))?;
                Ok(StateLocation::Postgres(SecretString::from(
                    setting.to_owned(),
                )))
            }
            other => Err(bad(&format!(
                "athanor keeps state in a directory, s3://, r2:// or postgres://, not {other}://"
            ))),
        }
    }

    /// The default: `$ATHANOR_STATE_DIR`, else `<stack root>/.athanor`.
    pub fn default_for(stack_root: &Path) -> StateLocation {
        StateLocation::Local(super::base_dir(stack_root))
    }

    /// Whether state stays on this machine.
    pub fn is_local(&self) -> bool {
        matches!(self, StateLocation::Local(_))
    }
}

impl fmt::Display for StateLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StateLocation::Local(dir) => write!(f, "{}", dir.display()),
            StateLocation::S3 { bucket, prefix, r2 } => {
                let scheme = if *r2 { "r2" } else { "s3" };
                if prefix.is_empty() {
                    write!(f, "{scheme}://{bucket}")
                } else {
                    write!(f, "{scheme}://{bucket}/{prefix}")
                }
            }
            StateLocation::Postgres(url) => f.write_str(&redact(url.expose_secret())),
        }
    }
}

impl fmt::Debug for StateLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StateLocation({self})")
    }
}

/// A URL with its password, if any, replaced by `***`.
pub(crate) fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let Some((userinfo, host)) = authority.rsplit_once('@') else {
        return redact_query(url);
    };
    let user = userinfo.split_once(':').map_or(userinfo, |(u, _)| u);
    let masked = if userinfo.contains(':') {
        format!("{user}:***")
    } else {
        user.to_owned()
    };
    redact_query(&format!("{scheme}://{masked}@{host}{tail}"))
}

/// `password=` in a query string, masked.
fn redact_query(url: &str) -> String {
    let Some((base, query)) = url.split_once('?') else {
        return url.to_owned();
    };
    let query: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
            _ => pair.to_owned(),
        })
        .collect();
    format!("{base}?{}", query.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_name_a_directory_a_bucket_or_a_database() {
        let root = Path::new("/stack");
        assert!(matches!(
            StateLocation::parse("state", root).unwrap(),
            StateLocation::Local(p) if p == Path::new("/stack/state")
        ));
        assert!(matches!(
            StateLocation::parse("file:///var/athanor", root).unwrap(),
            StateLocation::Local(p) if p == Path::new("/var/athanor")
        ));
        let s3 = StateLocation::parse("s3://team-state/athanor/prod/", root).unwrap();
        assert!(matches!(
            &s3,
            StateLocation::S3 { bucket, prefix, r2: false } if bucket == "team-state" && prefix == "athanor/prod"
        ));
        assert_eq!(s3.to_string(), "s3://team-state/athanor/prod");
        let r2 = StateLocation::parse("r2://state", root).unwrap();
        assert!(matches!(&r2, StateLocation::S3 { prefix, r2: true, .. } if prefix.is_empty()));
        assert!(!r2.is_local());
        let pg =
            StateLocation::parse("postgres://deploy:hunter2@db.internal:5432/infra", root).unwrap();
        assert_eq!(
            pg.to_string(),
            "postgres://deploy:***@db.internal:5432/infra"
        );
        assert!(!format!("{pg:?}").contains("hunter2"));
    }

    #[test]
    fn unusable_settings_say_what_to_write_and_never_show_a_password() {
        let root = Path::new("/stack");
        for bad in [
            "",
            "s3://",
            "ftp://x/y",
            "postgres://u:hunter2@h/db?sslmode=bogus",
        ] {
            let err = StateLocation::parse(bad, root).unwrap_err().to_string();
            assert!(!err.contains("hunter2"), "{err}");
            assert!(err.contains("state setting"), "{err}");
        }
    }

    #[test]
    fn passwords_are_masked_in_the_user_info_and_the_query() {
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact("postgresql://u:p@h/db"), "postgresql://u:***@h/db");
        assert_eq!(
            redact("postgres://h/db?user=u&password=p"),
            "postgres://h/db?user=u&password=***"
        );
    }
}
