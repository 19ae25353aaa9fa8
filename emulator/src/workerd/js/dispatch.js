// A Workers for Platforms dispatch namespace binding: `get(name)` returns the user Worker's
// fetcher. Inner bindings: `w:{name}`, a service per user Worker that runs, and `failed`, the
// reasons of those that do not. The class has Cloudflare's name, which workers-rs checks.
class DynamicDispatcher {
  #env;
  constructor(env) {
    this.#env = env;
  }
  get(name, args, options) {
    const target = this.#env[`w:${name}`];
    if (target && typeof target.fetch === "function") {
      return target;
    }
    const why = this.#env.failed[name];
    const message = why ? `Worker "${name}" could not start: ${why}` : "Worker not found.";
    return {
      fetch() {
        return Promise.reject(new Error(message));
      },
    };
  }
}

export default function makeDispatchNamespace(env) {
  return new DynamicDispatcher(env);
}
