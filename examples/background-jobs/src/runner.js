// Runs jobs: each message of a batch doubles its number, stores the result in KV and a report in
// R2. A job whose number is negative fails: after its retries it lands in the dead-letter queue.
// On its schedule, it records when it last ran. Its `Reports` entrypoint lets another Worker read
// a report without binding the bucket.
import { WorkerEntrypoint } from "cloudflare:workers";

export class Reports extends WorkerEntrypoint {
  async get(id) {
    const object = await this.env.REPORTS.get(`reports/${id}.json`);
    return object === null ? null : object.json();
  }
}

export default {
  async queue(batch, env) {
    for (const message of batch.messages) {
      const { id, n } = message.body;
      if (n < 0) {
        message.retry();
        continue;
      }
      const result = { doubled: n * 2, attempts: message.attempts };
      await env.RESULTS.put(`job:${id}`, JSON.stringify(result));
      await env.REPORTS.put(`reports/${id}.json`, JSON.stringify({ id, n, ...result }));
      message.ack();
    }
  },
  async scheduled(controller, env) {
    await env.RESULTS.put("last-scheduled-run", `${controller.cron} at ${controller.scheduledTime}`);
  },
};
