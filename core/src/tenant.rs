//! Tenants: the customers of a platform, each provisioned at run time from one stack template.
//!
//! A [`TenantId`] is what the names of a tenant's resources are built from (`"{tenant}-files"` in
//! an `infra!` template), so its rule is narrow enough that every such name stays within
//! Cloudflare's rules for any tenant: the macro checks a template's names against the longest id
//! and against ids with each allowed character.

use crate::naming::NameError;

/// The longest tenant id: short enough that `"{tenant}"` plus a suffix fits a 63-character
/// Worker, bucket or queue name.
pub const MAX_TENANT_ID: usize = 32;

/// Tenant ids the macro substitutes for `{tenant}` when it checks a template's names: the
/// shortest, the longest, and ones using each character the rule allows.
pub const SAMPLE_TENANT_IDS: &[&str] = &[
    "a",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "a-0",
    "0a",
    "0-a-9-z-aaaaaaaaaaaaaaaaaaaaaaaa",
];

/// A tenant's id: 1 to 32 of `[a-z0-9-]`, starting and ending with a letter or digit.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TenantId(String);

impl TenantId {
    /// `id`, if it follows the rule; otherwise why not, with a close id that does.
    pub fn new(id: impl Into<String>) -> Result<TenantId, NameError> {
        let id = id.into();
        let chars_ok = id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !id.is_empty()
            && id.len() <= MAX_TENANT_ID
            && chars_ok
            && !id.starts_with('-')
            && !id.ends_with('-')
        {
            return Ok(TenantId(id));
        }
        let mut suggestion = String::new();
        for c in id.chars().flat_map(char::to_lowercase) {
            let c = if c.is_ascii_lowercase() || c.is_ascii_digit() {
                c
            } else {
                '-'
            };
            if c == '-' && (suggestion.is_empty() || suggestion.ends_with('-')) {
                continue;
            }
            suggestion.push(c);
        }
        suggestion.truncate(MAX_TENANT_ID);
        let suggestion = suggestion.trim_end_matches('-').to_owned();
        Err(NameError {
            reason: format!(
                "a tenant id is 1 to {MAX_TENANT_ID} lowercase letters, digits and `-`, starting and ending with a letter or digit"
            ),
            suggestion: (!suggestion.is_empty()).then_some(suggestion),
        })
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The stage that keeps this tenant's state: `tenant-<id>`.
    pub fn stage(&self) -> String {
        format!("{STAGE_PREFIX}{}", self.0)
    }

    /// The tenant whose state a stage keeps, if the stage is a tenant's.
    pub fn from_stage(stage: &str) -> Option<TenantId> {
        TenantId::new(stage.strip_prefix(STAGE_PREFIX)?).ok()
    }
}

/// What a tenant's stage name starts with.
pub const STAGE_PREFIX: &str = "tenant-";

impl std::fmt::Display for TenantId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for TenantId {
    type Err = NameError;

    fn from_str(s: &str) -> Result<TenantId, NameError> {
        TenantId::new(s)
    }
}

impl AsRef<str> for TenantId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rule_and_its_suggestions() {
        for ok in SAMPLE_TENANT_IDS {
            assert!(TenantId::new(*ok).is_ok(), "{ok}");
        }
        let e = TenantId::new("Acme Corp!").unwrap_err();
        assert_eq!(e.suggestion.as_deref(), Some("acme-corp"));
        assert!(TenantId::new("").is_err());
        assert!(TenantId::new("-a").is_err());
        assert!(TenantId::new("a".repeat(33)).is_err());
        let id = TenantId::new("acme").unwrap();
        assert_eq!(id.stage(), "tenant-acme");
        assert_eq!(TenantId::from_stage("tenant-acme"), Some(id));
        assert_eq!(TenantId::from_stage("prod"), None);
    }
}
