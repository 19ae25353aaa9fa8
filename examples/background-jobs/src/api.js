// Takes jobs: `POST /jobs` with a number as the body sends `{id, n}` to the JOBS queue and
// answers the id; `GET /jobs/<id>` answers the runner's result once there is one.
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const [, route, id] = url.pathname.split("/");
    if (route !== "jobs") {
      return new Response("POST /jobs <n>, then GET /jobs/<id>\n", { status: 404 });
    }
    if (request.method === "POST") {
      const job = { id: crypto.randomUUID(), n: Number(await request.text()) };
      await env.JOBS.send(job);
      return Response.json({ id: job.id }, { status: 202 });
    }
    const result = await env.RESULTS.get(`job:${id}`);
    return result === null
      ? Response.json({ id, status: "pending" })
      : Response.json({ id, status: "done", result: JSON.parse(result) });
  },
};
