//! The JavaScript entry of a Rust Worker, written by athanor from what the wasm-bindgen glue
//! exports: a `WorkerEntrypoint` whose handlers (`fetch`, `scheduled`, `queue`, `email`,
//! `connect`) call the glue's, the glue's other functions as RPC methods, and each exported class
//! re-exported through a Durable Object wrapper.
//!
//! The glue re-instantiates the wasm after a panic; an object created by the previous instance
//! then fails ("Invalid stale object from previous Wasm instance"). The wrapper keeps the
//! arguments a Durable Object was made with and makes it again when the glue's instance id has
//! moved, so a Durable Object written in Rust outlives a panic (its storage lives in the runtime).

/// The event handlers a Worker's default export may have, called with `(event, env, ctx)`.
const HANDLERS: [&str; 5] = ["fetch", "scheduled", "queue", "email", "connect"];

/// What the glue (`index.js`) exports.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Exports {
    /// Exported functions, in order (the glue's own `__…` ones included).
    pub functions: Vec<String>,
    /// Exported classes, in order.
    pub classes: Vec<String>,
}

/// Reads the top-level `export function NAME(` / `export async function NAME(` / `export class
/// NAME` declarations of the glue.
pub(super) fn exports(glue: &str) -> Exports {
    let mut out = Exports::default();
    for line in glue.lines() {
        let Some(rest) = line.strip_prefix("export ") else {
            continue;
        };
        let rest = rest.strip_prefix("async ").unwrap_or(rest);
        let (list, rest) = if let Some(r) = rest.strip_prefix("function ") {
            (&mut out.functions, r)
        } else if let Some(r) = rest.strip_prefix("class ") {
            (&mut out.classes, r)
        } else {
            continue;
        };
        let name: String = rest
            .trim_start()
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '$')
            .collect();
        if !name.is_empty() && !list.contains(&name) {
            list.push(name);
        }
    }
    out
}

/// Whether a glue function belongs to wasm-bindgen or workers-rs rather than to the Worker.
fn is_internal(name: &str) -> bool {
    name.starts_with("__")
}

/// The entry module for the glue module `glue_module` (`./index.js`).
pub(super) fn write(exports: &Exports, glue_module: &str) -> String {
    let mut s = String::new();
    s.push_str("// The entry of a Worker written in Rust (workers-rs), written by athanor: it hands each\n");
    s.push_str("// event to the wasm-bindgen glue and wraps the Durable Object classes.\n");
    s.push_str("import { WorkerEntrypoint, DurableObject } from \"cloudflare:workers\";\n");
    s.push_str(&format!("import * as glue from \"{glue_module}\";\n\n"));
    let has_state = exports.functions.iter().any(|f| f == "__worker_init_state");
    s.push_str("// workers-rs counts the wasm instances: a new one after a panic.\n");
    if has_state {
        s.push_str("const instances = glue.__worker_init_state();\n\n");
    } else {
        s.push_str("const instances = { instanceId: 0 };\n\n");
    }
    s.push_str("export default class extends WorkerEntrypoint {\n");
    for f in &exports.functions {
        if HANDLERS.contains(&f.as_str()) {
            s.push_str(&format!(
                "  {f}(event) {{\n    return glue.{f}(event, this.env, this.ctx);\n  }}\n"
            ));
        } else if !is_internal(f) {
            s.push_str(&format!(
                "  {f}(...args) {{\n    return glue.{f}(...args);\n  }}\n"
            ));
        }
    }
    s.push_str("}\n\n");
    s.push_str(DURABLE_OBJECT_WRAPPER);
    for class in &exports.classes {
        s.push_str(&format!(
            "export const {class} = durableObject(glue.{class});\n"
        ));
    }
    s
}

/// Wraps a glue class that implements a Durable Object (it has `fetch`, `alarm` or WebSocket
/// handlers); returns any other class as it is.
const DURABLE_OBJECT_WRAPPER: &str = r#"const DURABLE_OBJECT_METHODS = ["fetch", "alarm", "webSocketMessage", "webSocketClose", "webSocketError"];

function durableObject(Inner) {
  const methods = Object.getOwnPropertyNames(Inner.prototype).filter(
    (name) => name !== "constructor" && name !== "free" && !name.startsWith("__") &&
      typeof Object.getOwnPropertyDescriptor(Inner.prototype, name).value === "function",
  );
  if (!methods.some((m) => DURABLE_OBJECT_METHODS.includes(m))) {
    return Inner;
  }
  class Wrapped extends DurableObject {
    #args;
    #inner;
    #instance;
    constructor(ctx, env) {
      super(ctx, env);
      this.#args = [ctx, env];
      this.#make();
    }
    #make() {
      this.#inner = new Inner(...this.#args);
      this.#instance = instances.instanceId;
    }
    get #current() {
      if (this.#instance !== instances.instanceId) {
        this.#make();
      }
      return this.#inner;
    }
    static {
      for (const name of methods) {
        this.prototype[name] = function (...args) {
          return this.#current[name](...args);
        };
      }
    }
  }
  Object.defineProperty(Wrapped, "name", { value: Inner.name });
  return Wrapped;
}

"#;

#[cfg(test)]
mod tests {
    use super::*;

    const GLUE: &str = "import { state } from './snippets/worker-1/inline0.js';\n\
export class Counter {\n  fetch(req) {}\n}\n\
export class R2Range {\n}\n\
export function __wbg_reset_state () {\n}\n\
export function __worker_init_state() {\n}\n\
export function fetch(req, env, ctx) {\n}\n\
export async function add(a, b) {\n}\n\
function helper() {}\n";

    #[test]
    fn the_glue_exports_are_read() {
        let e = exports(GLUE);
        assert_eq!(
            e.functions,
            ["__wbg_reset_state", "__worker_init_state", "fetch", "add"]
        );
        assert_eq!(e.classes, ["Counter", "R2Range"]);
    }

    #[test]
    fn the_shim_has_the_handlers_the_rpc_methods_and_the_classes() {
        let shim = write(&exports(GLUE), "./index.js");
        assert!(
            shim.contains("import * as glue from \"./index.js\";"),
            "{shim}"
        );
        assert!(shim.contains("const instances = glue.__worker_init_state();"));
        assert!(shim.contains("fetch(event) {\n    return glue.fetch(event, this.env, this.ctx);"));
        assert!(shim.contains("add(...args) {\n    return glue.add(...args);"));
        assert!(!shim.contains("__wbg_reset_state(..."), "{shim}");
        assert!(!shim.contains("scheduled("), "{shim}");
        assert!(shim.contains("export const Counter = durableObject(glue.Counter);"));
        assert!(shim.contains("export const R2Range = durableObject(glue.R2Range);"));
    }
}
