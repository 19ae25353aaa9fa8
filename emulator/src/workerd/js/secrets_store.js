// A Secrets Store secret binding: `await env.SECRET.get()` reads the secret's current value from
// the emulator. Inner bindings: BACKEND (the emulator's binding service), STORE and NAME.
class SecretsStoreSecret {
  #env;
  constructor(env) {
    this.#env = env;
  }
  async get() {
    const path = `${encodeURIComponent(this.#env.STORE)}/${encodeURIComponent(this.#env.NAME)}`;
    const response = await this.#env.BACKEND.fetch(`http://secrets-store/${path}`);
    if (!response.ok) {
      throw new Error(response.statusText || `Secrets Store read failed with ${response.status}`);
    }
    return await response.text();
  }
}

export default function makeSecretsStoreSecret(env) {
  return new SecretsStoreSecret(env);
}
