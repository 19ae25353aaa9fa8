//! Worker bindings: what each name in a Worker's `bindings: { ... }` block stands for.
//!
//! A binding is a resource of the stack (its binding type follows from the resource's kind, see
//! [`crate::Kind::binding_type`]), a plain or JSON variable, or a secret read when deploying.
//! A Rust expression in a binding position is converted with [`IntoBinding`], so rustc checks its
//! type at the user's own span.

use serde::{Deserialize, Serialize};

use crate::secret::SecretSource;
use crate::stack::ResourceRef;

/// One named binding of a Worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Binding {
    /// The name the Worker sees (`env.MY_KV`).
    pub name: String,
    /// What it is bound to.
    pub value: BindingValue,
}

impl Binding {
    /// A binding of `name` to `value`.
    pub fn new(name: impl Into<String>, value: impl IntoBinding) -> Self {
        Binding {
            name: name.into(),
            value: value.into_binding(),
        }
    }
}

/// What a binding is bound to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BindingValue {
    /// Another resource of the stack (`kv_namespace`, `r2_bucket`, `durable_object_namespace`,
    /// `secrets_store_secret`, `dispatch_namespace` or `service`, by the resource's kind).
    Resource(ResourceRef),
    /// A named entrypoint (an exported `WorkerEntrypoint` class) of another Worker of the stack:
    /// a `service` binding whose calls reach that class instead of the default export.
    Entrypoint {
        /// The Worker.
        worker: ResourceRef,
        /// The exported class's name.
        entrypoint: String,
    },
    /// A `plain_text` variable.
    PlainText(String),
    /// A `json` variable (a bool, a number, or any `json!` value).
    Json(serde_json::Value),
    /// A `secret_text` variable, read from its source when deploying.
    SecretText(SecretSource),
}

impl BindingValue {
    /// The Cloudflare binding type, for the bindings whose type does not depend on a resource.
    pub fn fixed_type(&self) -> Option<&'static str> {
        match self {
            BindingValue::Resource(_) => None,
            BindingValue::Entrypoint { .. } => Some("service"),
            BindingValue::PlainText(_) => Some("plain_text"),
            BindingValue::Json(_) => Some("json"),
            BindingValue::SecretText(_) => Some("secret_text"),
        }
    }

    /// The resource of the stack this binding refers to, if any: the deploy orders the Worker
    /// after it.
    pub fn resource(&self) -> Option<&ResourceRef> {
        match self {
            BindingValue::Resource(r) | BindingValue::Entrypoint { worker: r, .. } => Some(r),
            _ => None,
        }
    }
}

/// Converts a Rust value into a binding. Implemented for strings (`plain_text`), bools, numbers
/// and `serde_json::Value` (`json`), [`SecretSource`] (`secret_text`) and [`ResourceRef`].
pub trait IntoBinding {
    /// The binding this value stands for.
    fn into_binding(self) -> BindingValue;
}

impl IntoBinding for BindingValue {
    fn into_binding(self) -> BindingValue {
        self
    }
}

impl IntoBinding for &str {
    fn into_binding(self) -> BindingValue {
        BindingValue::PlainText(self.to_owned())
    }
}

impl IntoBinding for String {
    fn into_binding(self) -> BindingValue {
        BindingValue::PlainText(self)
    }
}

impl IntoBinding for &String {
    fn into_binding(self) -> BindingValue {
        BindingValue::PlainText(self.clone())
    }
}

impl IntoBinding for bool {
    fn into_binding(self) -> BindingValue {
        BindingValue::Json(serde_json::Value::Bool(self))
    }
}

macro_rules! json_number_binding {
    ($($t:ty),*) => {$(
        impl IntoBinding for $t {
            fn into_binding(self) -> BindingValue {
                BindingValue::Json(serde_json::Value::from(self))
            }
        }
    )*};
}
json_number_binding!(i8, i16, i32, i64, u8, u16, u32, u64, isize, usize, f32, f64);

impl IntoBinding for serde_json::Value {
    fn into_binding(self) -> BindingValue {
        BindingValue::Json(self)
    }
}

impl IntoBinding for SecretSource {
    fn into_binding(self) -> BindingValue {
        BindingValue::SecretText(self)
    }
}

impl IntoBinding for ResourceRef {
    fn into_binding(self) -> BindingValue {
        BindingValue::Resource(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rust_values_become_the_binding_types_cloudflare_expects() {
        assert_eq!("1.0".into_binding().fixed_type(), Some("plain_text"));
        assert_eq!(
            true.into_binding(),
            BindingValue::Json(serde_json::json!(true))
        );
        assert_eq!(3u8.into_binding(), BindingValue::Json(serde_json::json!(3)));
        assert_eq!(
            SecretSource::env("X").into_binding().fixed_type(),
            Some("secret_text")
        );
        assert_eq!(ResourceRef::new("kv").into_binding().fixed_type(), None);
    }
}
