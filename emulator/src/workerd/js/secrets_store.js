// athanor's Secrets Store service: a Worker's Secrets Store secret binding is a service binding to
// the `SecretsStoreSecret` entrypoint with the store and secret name as props, so the binding is a
// Fetcher (as on Cloudflare) and `await env.SECRET.get()` reads the secret's current value from
// the emulator through BACKEND.
import { WorkerEntrypoint } from "cloudflare:workers";

export class SecretsStoreSecret extends WorkerEntrypoint {
  async get() {
    const { store, name } = this.ctx.props;
    const path = `${encodeURIComponent(store)}/${encodeURIComponent(name)}`;
    const response = await this.env.BACKEND.fetch(`http://secrets-store/${path}`);
    if (!response.ok) {
      throw new Error(response.statusText || `Secrets Store read failed with ${response.status}`);
    }
    return await response.text();
  }
}

export default {
  fetch() {
    return new Response("athanor's Secrets Store service", { status: 404 });
  },
};
