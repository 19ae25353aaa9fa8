// Reads Secrets Store secrets at run time: `await env.NAME.get()`.
interface SecretsEnv {
  MY_SECRET: SecretsStoreSecret;
  API_KEY: SecretsStoreSecret;
  SIGNING_KEY?: SecretsStoreSecret;
  TOKEN?: string;
}

export default {
  async fetch(_request: Request, env: SecretsEnv): Promise<Response> {
    const secret = await env.MY_SECRET.get();
    const key = await env.API_KEY.get();
    // Never echo a secret: report only whether each one is there.
    return Response.json({ my_secret: secret.length > 0, api_key: key ? "ok" : "missing", token: Boolean(env.TOKEN) });
  },
};
