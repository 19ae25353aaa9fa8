// A customer's Worker, reached through the dispatcher at `/<customer>/<key>`: it reads and writes
// its own USER_KV, records visits in its own D1 database and Analytics Engine dataset
// (`/<customer>/_visits` counts them), and
// sees only the bindings attached to it (`/<customer>/_bindings` lists them).
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const key = url.pathname.split("/").slice(2).join("/") || "index";
    if (key === "_bindings") {
      return Response.json(Object.keys(env).sort());
    }
    if (key === "_visits") {
      await env.DB.prepare("INSERT INTO visits (path) VALUES (?)").bind(url.pathname).run();
      env.EVENTS.writeDataPoint({ blobs: ["visit", url.pathname], doubles: [1], indexes: ["visits"] });
      const { n } = await env.DB.prepare("SELECT count(*) AS n FROM visits").first();
      return Response.json({ visits: n });
    }
    if (request.method === "PUT") {
      await env.USER_KV.put(key, await request.text());
      return new Response("stored\n", { status: 201 });
    }
    const value = await env.USER_KV.get(key);
    return value === null ? new Response("not found\n", { status: 404 }) : new Response(value);
  },
};
