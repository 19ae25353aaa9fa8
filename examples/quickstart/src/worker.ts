// The quickstart Workers: `my-worker` reads MY_KV; `worker` also counts visits in a Durable Object.
import { DurableObject } from "cloudflare:workers";

interface QuickstartEnv {
  MY_KV?: KVNamespace;
  KV_STORE?: KVNamespace;
  COUNTER?: DurableObjectNamespace<Counter>;
  BUCKET?: R2Bucket;
  API_KEY?: string;
  DEBUG_MODE?: boolean;
  DEBUG?: string;
  VERSION?: string;
}

export class Counter extends DurableObject {
  async increment(): Promise<number> {
    const count = ((await this.ctx.storage.get<number>("count")) ?? 0) + 1;
    await this.ctx.storage.put("count", count);
    return count;
  }
}

export default {
  async fetch(request: Request, env: QuickstartEnv): Promise<Response> {
    const kv = env.MY_KV ?? env.KV_STORE;
    const value = kv ? await kv.get("key") : null;
    let visits: number | null = null;
    if (env.COUNTER) {
      const stub = env.COUNTER.get(env.COUNTER.idFromName("global"));
      visits = await stub.increment();
    }
    const debug = env.DEBUG_MODE === true || env.DEBUG === "true";
    const body = { value, visits, version: env.VERSION ?? null, debug, path: new URL(request.url).pathname };
    return Response.json(body);
  },
};
