// athanor's router: the socket's one service. It sends each request to the Worker named by the
// first label of its Host header (`my-worker.localhost:8787`, `my-worker.<sub>.workers.dev`),
// unchanged, and answers for names that serve nothing. `/cdn-cgi/handler/scheduled?cron=...`
// runs the Worker's `scheduled()` handler instead, as a Cron Trigger would (the path wrangler dev
// uses), also for a Worker off workers.dev: 200 when it returns, 500 with the error when it throws. `/cdn-cgi/athanor/queue` leads
// the emulator's queue deliveries to the queue dispatcher.
export default {
  async fetch(request, env) {
    // The emulator's delivery of queue batches, to the dispatcher (which checks its token).
    if (env.QUEUES && new URL(request.url).pathname === "/cdn-cgi/athanor/queue") {
      return env.QUEUES.fetch(request);
    }
    const host = (request.headers.get("host") || new URL(request.url).host).toLowerCase();
    const label = host.split(":")[0].split(".")[0];
    const route = env.ROUTES.workers[label];
    if (route === undefined) {
      const served = Object.entries(env.ROUTES.workers)
        .filter(([, r]) => r.binding && !r.unrouted)
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
    if (route.unrouted) {
      return new Response(`${route.unrouted}\n`, {
        status: 503,
        headers: { "content-type": "text/plain; charset=utf-8" },
      });
    }
    return env[route.binding].fetch(request);
  },
};
