//! The v4 response envelope: `{success, errors, messages, result, result_info}`.
//!
//! Parsing is separate from sending so that every shape the API is known to answer with (object
//! or string messages, the non-standard `{code, error}` body, an empty 204) is unit-tested.

use serde_json::Value;

/// A successful answer.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Envelope {
    /// `result` (`null` for an empty body).
    pub result: Value,
    /// `result_info`, when present.
    pub result_info: Option<Value>,
}

/// An error answer, as Cloudflare explained it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Failure {
    /// The error codes.
    pub codes: Vec<u32>,
    /// The messages, joined with `; `.
    pub message: String,
}

/// Parses a response body given its HTTP status.
pub(crate) fn parse(status: u16, body: &[u8]) -> Result<Envelope, Failure> {
    let ok_status = (200..300).contains(&status);
    if body.iter().all(u8::is_ascii_whitespace) {
        return if ok_status {
            Ok(Envelope {
                result: Value::Null,
                result_info: None,
            })
        } else {
            Err(Failure {
                codes: Vec::new(),
                message: format!("HTTP {status} with an empty body"),
            })
        };
    }
    let value: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(_) => {
            let text = String::from_utf8_lossy(body);
            let snippet: String = text.trim().chars().take(200).collect();
            return Err(Failure {
                codes: Vec::new(),
                message: if ok_status {
                    format!("the answer is not JSON: {snippet}")
                } else {
                    snippet
                },
            });
        }
    };
    let Value::Object(mut obj) = value else {
        return if ok_status {
            Ok(Envelope {
                result: value,
                result_info: None,
            })
        } else {
            Err(Failure {
                codes: Vec::new(),
                message: value.to_string(),
            })
        };
    };
    let success = obj
        .get("success")
        .and_then(Value::as_bool)
        .unwrap_or(ok_status);
    if success && ok_status {
        if !obj.contains_key("success") && !obj.contains_key("result") {
            // Not an envelope: the body is the result.
            return Ok(Envelope {
                result: Value::Object(obj),
                result_info: None,
            });
        }
        return Ok(Envelope {
            result: obj.remove("result").unwrap_or(Value::Null),
            result_info: obj.remove("result_info").filter(|v| !v.is_null()),
        });
    }
    let mut codes = Vec::new();
    let mut messages = Vec::new();
    if let Some(Value::Array(errors)) = obj.get("errors") {
        for e in errors {
            collect_message(e, &mut codes, &mut messages);
        }
    }
    if codes.is_empty() && messages.is_empty() {
        // The non-standard `{code, error}` body.
        if let Some(code) = obj.get("code").and_then(Value::as_u64) {
            codes.push(code as u32);
        }
        if let Some(m) = obj.get("error").and_then(Value::as_str) {
            messages.push(m.to_owned());
        }
        if messages.is_empty()
            && let Some(Value::Array(msgs)) = obj.get("messages")
        {
            for m in msgs {
                collect_message(m, &mut codes, &mut messages);
            }
        }
    }
    if messages.is_empty() {
        messages.push(format!("HTTP {status} without an error message"));
    }
    Err(Failure {
        codes,
        message: messages.join("; "),
    })
}

fn collect_message(e: &Value, codes: &mut Vec<u32>, messages: &mut Vec<String>) {
    match e {
        Value::String(s) => messages.push(s.clone()),
        Value::Object(o) => {
            if let Some(c) = o.get("code").and_then(Value::as_u64) {
                codes.push(c as u32);
            }
            if let Some(m) = o.get("message").and_then(Value::as_str) {
                messages.push(m.to_owned());
            }
            if let Some(Value::Array(chain)) = o.get("error_chain") {
                for inner in chain {
                    collect_message(inner, codes, messages);
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn bytes(v: Value) -> Vec<u8> {
        serde_json::to_vec(&v).unwrap()
    }

    #[test]
    fn success_yields_result_and_info() {
        let env = parse(
            200,
            &bytes(
                json!({"success": true, "errors": [], "messages": [], "result": [{"id": "a"}],
                          "result_info": {"page": 1, "per_page": 20, "total_count": 1}}),
            ),
        )
        .unwrap();
        assert_eq!(env.result, json!([{"id": "a"}]));
        assert_eq!(env.result_info.unwrap()["total_count"], 1);
    }

    #[test]
    fn empty_bodies_are_null_results() {
        assert_eq!(parse(204, b"").unwrap().result, Value::Null);
        assert!(parse(500, b"").is_err());
    }

    #[test]
    fn failures_carry_codes_and_messages() {
        let f = parse(
            400,
            &bytes(json!({"success": false, "errors": [
                {"code": 10014, "message": "a namespace with this title already exists"},
                {"code": 6003, "message": "Invalid request headers",
                 "error_chain": [{"code": 6111, "message": "Invalid format for Authorization header"}]}
            ], "messages": [], "result": null})),
        )
        .unwrap_err();
        assert_eq!(f.codes, vec![10014, 6003, 6111]);
        assert!(f.message.contains("already exists"));
        assert!(f.message.contains("Authorization header"));
    }

    #[test]
    fn string_messages_and_the_code_error_shape_are_understood() {
        let f = parse(
            409,
            &bytes(json!({"success": false, "errors": ["bucket exists"], "messages": ["m"]})),
        )
        .unwrap_err();
        assert_eq!(f.message, "bucket exists");
        let f = parse(
            403,
            &bytes(json!({"code": 10000, "error": "Authentication error"})),
        )
        .unwrap_err();
        assert_eq!(f.codes, vec![10000]);
        assert_eq!(f.message, "Authentication error");
    }

    #[test]
    fn success_false_with_200_is_a_failure() {
        let f = parse(
            200,
            &bytes(json!({"success": false, "errors": [{"code": 1, "message": "x"}]})),
        )
        .unwrap_err();
        assert_eq!(f.codes, vec![1]);
    }

    #[test]
    fn html_error_pages_become_a_short_message() {
        let page = format!("<html>{}</html>", "x".repeat(1000));
        let f = parse(502, page.as_bytes()).unwrap_err();
        assert!(f.message.starts_with("<html>"));
        assert!(f.message.len() <= 200);
    }
}
