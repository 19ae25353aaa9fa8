// Routes `https://<worker>/<customer>/...` to the customer's user Worker in the namespace.
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const [, customer] = url.pathname.split("/");
    if (!customer) {
      return new Response("usage: /<customer>/<path>\n", { status: 400 });
    }
    try {
      return await env.DISPATCHER.get(customer).fetch(request);
    } catch (e) {
      return new Response(`no Worker for ${customer}\n`, { status: 404 });
    }
  },
};
