// Takes jobs: `POST /jobs` with a number as the body sends `{id, n}` to the JOBS queue and
// answers the id; `GET /jobs/<id>` answers the runner's result once there is one, and
// `GET /jobs/<id>/report` the runner's report, read over RPC from its `Reports` entrypoint, with
// an ETag from `node:crypto` (the Worker runs with `nodejs_compat`).
import { createHash } from "node:crypto";

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const [, route, id, part] = url.pathname.split("/");
    if (route !== "jobs") {
      return new Response("POST /jobs <n>, then GET /jobs/<id>\n", { status: 404 });
    }
    if (request.method === "POST") {
      const job = { id: crypto.randomUUID(), n: Number(await request.text()) };
      await env.JOBS.send(job);
      return Response.json({ id: job.id }, { status: 202 });
    }
    if (part === "report") {
      const report = await env.REPORTS.get(id);
      if (report === null) {
        return Response.json({ id, status: "pending" }, { status: 404 });
      }
      const body = JSON.stringify(report);
      const etag = createHash("sha256").update(body).digest("hex").slice(0, 16);
      return new Response(body, { headers: { "content-type": "application/json", etag: `"${etag}"` } });
    }
    const result = await env.RESULTS.get(`job:${id}`);
    return result === null
      ? Response.json({ id, status: "pending" })
      : Response.json({ id, status: "done", result: JSON.parse(result) });
  },
};
