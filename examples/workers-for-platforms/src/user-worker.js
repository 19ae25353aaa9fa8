// A customer's Worker: it sees only the bindings attached to it (USER_KV, STORAGE).
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const key = url.pathname.slice(1) || "index";
    if (request.method === "PUT") {
      await env.USER_KV.put(key, await request.text());
      return new Response("stored\n", { status: 201 });
    }
    const value = await env.USER_KV.get(key);
    return value === null ? new Response("not found\n", { status: 404 }) : new Response(value);
  },
};
