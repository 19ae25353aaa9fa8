// Tail entrypoints, one per served Worker (workerd does not name the Worker in tail events): each
// posts its Worker's events to the emulator, which prints their console lines and exceptions.
// The generated `export const tN = tail("worker name");` lines follow.
function tail(worker) {
  return {
    async tail(events, env) {
      await env.SINK.fetch(`http://tail/${encodeURIComponent(worker)}`, {
        method: "POST",
        body: JSON.stringify(events),
      });
    },
  };
}

export default {
  fetch() {
    return new Response("athanor's tail sink", { status: 404 });
  },
};
