// The platform's dispatcher: `/<tenant>/<rest>` runs tenant's Worker from the `customers`
// dispatch namespace, which sees the request as `/<rest>` (the tenant prefix removed).
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const [, tenant, ...rest] = url.pathname.split("/");
    if (!tenant) {
      return new Response("usage: /<tenant>/<path>\n", { status: 400 });
    }
    url.pathname = "/" + rest.join("/");
    const forwarded = new Request(url, request);
    try {
      return await env.DISPATCHER.get(tenant).fetch(forwarded);
    } catch (e) {
      const message = String(e && e.message);
      if (message.startsWith("Worker not found")) {
        return new Response(`no Worker for tenant "${tenant}"\n`, { status: 404 });
      }
      return new Response(`the Worker of tenant "${tenant}" failed: ${message}\n`, {
        status: 502,
      });
    }
  },
};
