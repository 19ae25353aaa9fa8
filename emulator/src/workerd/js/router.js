// athanor's router: the socket's one service. It sends each request to the Worker named by the
// first label of its Host header (`my-worker.localhost:8787`, `my-worker.<sub>.workers.dev`),
// unchanged, and answers for names that serve nothing. `/cdn-cgi/handler/scheduled?cron=...`
// runs the Worker's `scheduled()` handler instead, as a Cron Trigger would (the path wrangler dev
// uses): 200 when it returns, 500 with the error when it throws.
export default {
  async fetch(request, env) {
    const host = (request.headers.get("host") || new URL(request.url).host).toLowerCase();
    const label = host.split(":")[0].split(".")[0];
    const route = env.ROUTES.workers[label];
    if (route === undefined) {
      const served = Object.entries(env.ROUTES.workers)
        .filter(([, r]) => r.binding)
        .map(([name]) => `  ${env.ROUTES.urls[name]}`);
      const list = served.length ? `Workers served here:\n${served.join("\n")}\n` : "No Worker is served here yet.\n";
      return new Response(`No Worker named "${label}" is served on workers.dev here (host ${host}).\n${list}`, {
        status: 404,
        headers: { "content-type": "text/plain; charset=utf-8" },
      });
    }
    if (route.error) {
      return new Response(`${route.error}\n`, {
        status: 503,
        headers: { "content-type": "text/plain; charset=utf-8" },
      });
    }
    const url = new URL(request.url);
    if (url.pathname === "/cdn-cgi/handler/scheduled") {
      const cron = url.searchParams.get("cron") || "* * * * *";
      const time = Number(url.searchParams.get("time")) || Date.now();
      try {
        await env[route.binding].scheduled({ cron, scheduledTime: time });
        return Response.json({ outcome: "ok", cron, scheduledTime: time });
      } catch (error) {
        return Response.json({ outcome: "exception", cron, message: String(error) }, { status: 500 });
      }
    }
    return env[route.binding].fetch(request);
  },
};
