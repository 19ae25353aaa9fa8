//! Physical names and the name rules Cloudflare enforces.
//!
//! The macro checks declared names with these rules at compile time, and the runtime derives
//! default names with [`physical_name`], so both agree on what Cloudflare accepts.

/// The longest physical name derived by [`physical_name`]: a workers.dev DNS label and an R2
/// bucket name are both limited to 63 characters.
pub const MAX_DERIVED_NAME: usize = 63;

/// The default physical name of a resource: `app-id-stage`, lowercased, with every character
/// outside `[a-z0-9-]` replaced by `-` and runs of `-` collapsed. Valid as a Worker, bucket,
/// namespace and store name. Names longer than [`MAX_DERIVED_NAME`] are cut and end in a short
/// hash of the full name, so two long names stay distinct.
pub fn physical_name(app: &str, id: &str, stage: &str) -> String {
    let mut out = String::new();
    for part in [app, id, stage] {
        for c in part.chars().flat_map(char::to_lowercase) {
            let c = if c.is_ascii_lowercase() || c.is_ascii_digit() {
                c
            } else {
                '-'
            };
            if c == '-' && (out.is_empty() || out.ends_with('-')) {
                continue;
            }
            out.push(c);
        }
        if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    while out.ends_with('-') {
        out.pop();
    }
    if out.len() < 3 {
        out = format!("{out:-<3}").replace('-', "0");
    }
    if out.len() > MAX_DERIVED_NAME {
        let hash = format!("{:08x}", fnv1a(out.as_bytes()) as u32);
        out.truncate(MAX_DERIVED_NAME - hash.len() - 1);
        while out.ends_with('-') {
            out.pop();
        }
        out.push('-');
        out.push_str(&hash);
    }
    out
}

/// The default name of a Secrets Store secret: the logical id with every character outside
/// `[A-Za-z0-9_]` replaced by `_`.
pub fn secret_name(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// Why a name is refused, with a corrected name to suggest when one exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameError {
    /// What rule the name breaks.
    pub reason: String,
    /// A name close to the given one that the rule accepts.
    pub suggestion: Option<String>,
}

impl std::fmt::Display for NameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.reason)?;
        if let Some(s) = &self.suggestion {
            write!(f, "; try `{s}`")?;
        }
        Ok(())
    }
}

impl std::error::Error for NameError {}

fn lower_dashed(name: &str, allow_underscore: bool) -> String {
    let mut out = String::new();
    for c in name.chars().flat_map(char::to_lowercase) {
        let c = if c.is_ascii_lowercase() || c.is_ascii_digit() || (allow_underscore && c == '_') {
            c
        } else {
            '-'
        };
        if c == '-' && (out.is_empty() || out.ends_with('-')) {
            continue;
        }
        out.push(c);
    }
    out.trim_end_matches('-').to_owned()
}

/// A queue name: lowercase letters, digits and `-`, at most 63 characters, as Cloudflare requires.
pub fn check_queue_name(name: &str) -> Result<(), NameError> {
    let valid_chars = name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    let reason = if name.is_empty() {
        "a queue name cannot be empty"
    } else if !valid_chars {
        "a queue name may only contain lowercase letters, digits and `-`"
    } else if name.len() > 63 {
        "a queue name is at most 63 characters"
    } else {
        return Ok(());
    };
    let mut suggestion = lower_dashed(name, false);
    suggestion.truncate(63);
    Err(NameError {
        reason: reason.into(),
        suggestion: (!suggestion.is_empty() && suggestion != name).then_some(suggestion),
    })
}

/// An Analytics Engine dataset name: letters, digits and `_`, starting with a letter or `_` (the
/// name is a table in the SQL API), at most 64 characters.
pub fn check_dataset_name(name: &str) -> Result<(), NameError> {
    let reason = if name.is_empty() {
        "a dataset name cannot be empty"
    } else if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        "a dataset name may only contain letters, digits and `_` (SQL queries name it as a table)"
    } else if name.starts_with(|c: char| c.is_ascii_digit()) {
        "a dataset name cannot start with a digit"
    } else if name.len() > 64 {
        "a dataset name is at most 64 characters"
    } else {
        return Ok(());
    };
    let mut suggestion: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if suggestion.starts_with(|c: char| c.is_ascii_digit()) {
        suggestion.insert(0, '_');
    }
    suggestion.truncate(64);
    Err(NameError {
        reason: reason.into(),
        suggestion: (!suggestion.is_empty() && suggestion != name).then_some(suggestion),
    })
}

/// A Worker script name: `^[a-z0-9_][a-z0-9-_]*$`, at most 63 characters.
pub fn check_worker_name(name: &str) -> Result<(), NameError> {
    let valid_chars = name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    let reason = if name.is_empty() {
        "a Worker name cannot be empty"
    } else if !valid_chars {
        "a Worker name may only contain lowercase letters, digits, `-` and `_`"
    } else if name.starts_with('-') {
        "a Worker name cannot start with `-`"
    } else if name.len() > 63 {
        "a Worker name is at most 63 characters"
    } else {
        return Ok(());
    };
    let mut suggestion = lower_dashed(name, true);
    suggestion.truncate(63);
    Err(NameError {
        reason: reason.into(),
        suggestion: (!suggestion.is_empty() && suggestion != name).then_some(suggestion),
    })
}

/// An R2 bucket name: 3 to 63 characters of `[a-z0-9-]`, starting and ending with a letter or
/// digit.
pub fn check_bucket_name(name: &str) -> Result<(), NameError> {
    let valid_chars = name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    let reason = if !valid_chars {
        "an R2 bucket name may only contain lowercase letters, digits and `-`"
    } else if name.len() < 3 || name.len() > 63 {
        "an R2 bucket name is 3 to 63 characters long"
    } else if name.starts_with('-') || name.ends_with('-') {
        "an R2 bucket name must start and end with a letter or digit"
    } else {
        return Ok(());
    };
    let mut suggestion = lower_dashed(name, false);
    suggestion.truncate(63);
    let suggestion = suggestion.trim_end_matches('-').to_owned();
    Err(NameError {
        reason: reason.into(),
        suggestion: (suggestion.len() >= 3 && suggestion != name).then_some(suggestion),
    })
}

/// A Durable Object class name: a JavaScript class identifier (`[A-Za-z_$][A-Za-z0-9_$]*`).
pub fn check_class_name(name: &str) -> Result<(), NameError> {
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$');
    if first_ok && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$') {
        return Ok(());
    }
    let camel: String = name
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '$'))
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut cs = p.chars();
            cs.next()
                .map(|f| f.to_ascii_uppercase().to_string() + cs.as_str())
                .unwrap_or_default()
        })
        .collect();
    let suggestion = if camel.starts_with(|c: char| c.is_ascii_digit()) {
        format!("_{camel}")
    } else {
        camel
    };
    Err(NameError {
        reason: "a Durable Object class name must be a JavaScript class name (letters, digits, `_` and `$`, not starting with a digit)".into(),
        suggestion: (!suggestion.is_empty()).then_some(suggestion),
    })
}

/// The rule Cloudflare applies to the name of a resource of `kind` (its [`crate::Props::declared_name`]),
/// for the kinds that have one: what the macro checks at compile time, and the runtime before any
/// request for a name made at run time.
pub fn check_name(kind: crate::Kind, name: &str) -> Result<(), NameError> {
    use crate::Kind;
    match kind {
        Kind::R2Bucket => check_bucket_name(name),
        Kind::AnalyticsEngineDataset => check_dataset_name(name),
        Kind::Queue => check_queue_name(name),
        Kind::DurableObjectNamespace => check_class_name(name),
        Kind::Worker => check_worker_name(name),
        _ => Ok(()),
    }
}

/// A binding name: a valid identifier, `[A-Za-z_][A-Za-z0-9_]*`.
pub fn check_binding_name(name: &str) -> Result<(), NameError> {
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if first_ok && chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Ok(());
    }
    let mut suggestion: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    if suggestion.starts_with(|c: char| c.is_ascii_digit()) {
        suggestion.insert(0, '_');
    }
    Err(NameError {
        reason: "a binding name must be an identifier: `[A-Za-z_][A-Za-z0-9_]*`".into(),
        suggestion: (!suggestion.is_empty()).then_some(suggestion),
    })
}

/// The name of a Worker's named entrypoint: a class the module exports, so a JavaScript
/// identifier, `[A-Za-z_$][A-Za-z0-9_$]*`.
pub fn check_export_name(name: &str) -> Result<(), NameError> {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '$';
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| word(c) && !c.is_ascii_digit());
    if first_ok && chars.all(word) {
        return Ok(());
    }
    let mut suggestion = String::new();
    let mut upper = true;
    for c in name.chars() {
        if word(c) {
            suggestion.push(if upper { c.to_ascii_uppercase() } else { c });
            upper = false;
        } else {
            upper = true;
        }
    }
    if suggestion.starts_with(|c: char| c.is_ascii_digit()) {
        suggestion.insert(0, '_');
    }
    Err(NameError {
        reason: "is not a name a module can export: an entrypoint is a class name, `[A-Za-z_$][A-Za-z0-9_$]*`".into(),
        suggestion: (!suggestion.is_empty()).then_some(suggestion),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entrypoints_are_export_names() {
        assert!(check_export_name("AdminApi").is_ok());
        assert!(check_export_name("$internal_2").is_ok());
        let e = check_export_name("admin-api").unwrap_err();
        assert_eq!(e.suggestion.as_deref(), Some("AdminApi"));
        assert_eq!(
            check_export_name("2fa").unwrap_err().suggestion.as_deref(),
            Some("_2fa")
        );
        assert!(check_export_name("").unwrap_err().suggestion.is_none());
    }

    #[test]
    fn physical_names_are_valid_everywhere() {
        let name = physical_name("Quick Start", "user.sessions", "Dev_1");
        assert_eq!(name, "quick-start-user-sessions-dev-1");
        assert!(check_worker_name(&name).is_ok());
        assert!(check_bucket_name(&name).is_ok());
    }

    #[test]
    fn long_physical_names_are_cut_with_a_hash() {
        let a = physical_name(&"a".repeat(50), "first-resource-id", "dev");
        let b = physical_name(&"a".repeat(50), "second-resource-id", "dev");
        assert_eq!(a.len(), MAX_DERIVED_NAME);
        assert_ne!(a, b);
        assert!(check_bucket_name(&a).is_ok());
    }

    #[test]
    fn worker_names_follow_the_api_pattern() {
        assert!(check_worker_name("my-worker_2").is_ok());
        let err = check_worker_name("My Worker").unwrap_err();
        assert_eq!(err.suggestion.as_deref(), Some("my-worker"));
        assert!(check_worker_name("-x").is_err());
        assert!(check_worker_name(&"a".repeat(64)).is_err());
    }

    #[test]
    fn bucket_names_follow_the_api_pattern() {
        assert!(check_bucket_name("my-bucket").is_ok());
        assert_eq!(
            check_bucket_name("My_Bucket")
                .unwrap_err()
                .suggestion
                .as_deref(),
            Some("my-bucket")
        );
        assert!(check_bucket_name("ab").is_err());
        assert!(check_bucket_name("bucket-").is_err());
    }

    #[test]
    fn class_and_binding_names_are_identifiers() {
        assert!(check_class_name("Counter").is_ok());
        assert_eq!(
            check_class_name("my-counter")
                .unwrap_err()
                .suggestion
                .as_deref(),
            Some("MyCounter")
        );
        assert!(check_binding_name("MY_KV").is_ok());
        assert_eq!(
            check_binding_name("my-kv")
                .unwrap_err()
                .suggestion
                .as_deref(),
            Some("MY_KV")
        );
        assert!(check_binding_name("1X").is_err());
    }

    #[test]
    fn secret_names_replace_dashes() {
        assert_eq!(secret_name("signing-key"), "signing_key");
    }
}
