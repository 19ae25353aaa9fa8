// The quickstart Workers: `my-worker` reads the greeting seeded into MY_KV, and stores what is
// PUT to /kv/<key>; `worker` also counts visits in a Durable Object.
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
    const url = new URL(request.url);
    const kv = env.MY_KV ?? env.KV_STORE;
    if (request.method === "PUT" && kv && url.pathname.startsWith("/kv/")) {
      await kv.put(decodeURIComponent(url.pathname.slice("/kv/".length)), await request.text());
      return new Response("stored\n", { status: 201 });
    }
    const value = kv ? await kv.get("greeting") : null;
    let visits: number | null = null;
    if (env.COUNTER) {
      const stub = env.COUNTER.get(env.COUNTER.idFromName("global"));
      visits = await stub.increment();
    }
    const debug = env.DEBUG_MODE === true || env.DEBUG === "true";
    const body = { value, visits, version: env.VERSION ?? null, debug, path: url.pathname };
    return Response.json(body);
  },
};
