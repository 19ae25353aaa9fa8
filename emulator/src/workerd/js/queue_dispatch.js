// athanor's queue dispatcher: the emulator's delivery (`workerd::delivery`) posts a batch here,
// through the router's `/cdn-cgi/athanor/queue` path, and this service runs the consumer Worker's
// `queue()` handler with it through a service binding's `queue(queueName, messages, metadata)`
// (which needs the `service_binding_extra_handlers` compatibility flag this service runs with),
// answering the handler's outcome: `{outcome, ackAll, retryBatch, explicitAcks, retryMessages}`.
//
// A message arrives as `{id, timestamp, attempts, contentType, body}` with its body in base64, as
// the producer stored it: `v8` bytes are handed over as they are (`serializedBody`, which the
// consumer deserializes); `text`, `json` and `bytes` are decoded here into the value the consumer
// sees (a string, the parsed JSON, a Uint8Array), as workerd decodes them on Cloudflare.
function bytesOf(base64) {
  const binary = atob(base64);
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

function message(m) {
  const bytes = bytesOf(m.body);
  const base = { id: m.id, timestamp: new Date(m.timestamp), attempts: m.attempts };
  switch (m.contentType) {
    case "v8":
      return { ...base, serializedBody: bytes };
    case "text":
      return { ...base, body: new TextDecoder().decode(bytes) };
    case "json":
      return { ...base, body: JSON.parse(new TextDecoder().decode(bytes)) };
    default:
      return { ...base, body: bytes };
  }
}

export default {
  async fetch(request, env) {
    if (request.headers.get("x-athanor-token") !== env.TOKEN) {
      return new Response("not a delivery from this emulator", { status: 403 });
    }
    const { script, queue, messages, metrics } = await request.json();
    const binding = env.CONSUMERS[script];
    if (binding === undefined) {
      return new Response(`Worker ${script} is not served here`, { status: 404 });
    }
    const metadata = {
      metrics: {
        backlogCount: metrics.backlogCount,
        backlogBytes: metrics.backlogBytes,
        ...(metrics.oldestMessageTimestamp ? { oldestMessageTimestamp: new Date(metrics.oldestMessageTimestamp) } : {}),
      },
    };
    try {
      const result = await env[binding].queue(queue, messages.map(message), metadata);
      return Response.json(result);
    } catch (error) {
      return new Response(String(error), { status: 500 });
    }
  },
};
