//! Worker code given as bytes at run time: a platform's tenant uploads their Worker, and the
//! backend deploys it without writing it to disk.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

/// A Worker's modules given at run time: the main module's name and every module's bytes, by
/// name (a relative path with `/`). State keeps only the main module's name and a digest of the
/// modules, so a change of code is a change of digest and no code is written to state.
#[derive(Clone, Default)]
pub struct InlineCode {
    main_module: String,
    modules: Vec<(String, Vec<u8>)>,
    digest: String,
}

impl InlineCode {
    /// The modules `modules`, whose main module is `main_module`.
    pub fn new(
        main_module: impl Into<String>,
        modules: impl IntoIterator<Item = (String, Vec<u8>)>,
    ) -> InlineCode {
        let main_module = main_module.into();
        let mut modules: Vec<(String, Vec<u8>)> = modules.into_iter().collect();
        modules.sort_by(|a, b| a.0.cmp(&b.0));
        modules.dedup_by(|a, b| a.0 == b.0);
        let mut hash = Sha256::new();
        for (name, bytes) in &modules {
            hash.update((name.len() as u64).to_le_bytes());
            hash.update(name.as_bytes());
            hash.update((bytes.len() as u64).to_le_bytes());
            hash.update(bytes);
        }
        InlineCode {
            main_module,
            modules,
            digest: hex::encode(hash.finalize()),
        }
    }

    /// One ES module, `index.js`.
    pub fn javascript(source: impl Into<Vec<u8>>) -> InlineCode {
        InlineCode::new("index.js", [("index.js".to_owned(), source.into())])
    }

    /// The main module's name.
    pub fn main_module(&self) -> &str {
        &self.main_module
    }

    /// The modules, sorted by name; empty when read back from state, which keeps only the
    /// digest.
    pub fn modules(&self) -> &[(String, Vec<u8>)] {
        &self.modules
    }

    /// SHA-256 over the modules' names and bytes, hex.
    pub fn digest(&self) -> &str {
        &self.digest
    }
}

/// Two are the same code when their main module and digest agree (state has no bytes).
impl PartialEq for InlineCode {
    fn eq(&self, other: &InlineCode) -> bool {
        self.main_module == other.main_module && self.digest == other.digest
    }
}

impl Eq for InlineCode {}

/// Names and sizes only: code can hold anything, and logs need none of it.
impl std::fmt::Debug for InlineCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let modules: Vec<String> = self
            .modules
            .iter()
            .map(|(name, bytes)| format!("{name} ({} bytes)", bytes.len()))
            .collect();
        f.debug_struct("InlineCode")
            .field("main_module", &self.main_module)
            .field("modules", &modules)
            .field("digest", &self.digest)
            .finish()
    }
}

#[derive(Serialize, Deserialize)]
struct Recorded {
    main_module: String,
    digest: String,
}

impl Serialize for InlineCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        Recorded {
            main_module: self.main_module.clone(),
            digest: self.digest.clone(),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for InlineCode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<InlineCode, D::Error> {
        let r = Recorded::deserialize(d)?;
        Ok(InlineCode {
            main_module: r.main_module,
            modules: Vec::new(),
            digest: r.digest,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_keeps_the_digest_and_no_code() {
        let code =
            InlineCode::javascript("export default { fetch() { return new Response('hi'); } };");
        let json = serde_json::to_string(&code).unwrap();
        assert!(!json.contains("Response"), "{json}");
        let back: InlineCode = serde_json::from_str(&json).unwrap();
        assert_eq!(back, code);
        assert!(back.modules().is_empty());
        assert_ne!(InlineCode::javascript("export default {};"), code);
        assert!(!format!("{code:?}").contains("Response"));
    }
}
