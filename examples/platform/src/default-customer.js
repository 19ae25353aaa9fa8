// The Worker a customer gets until they upload their own: it answers with the welcome seeded
// into the customer's own KV namespace and the customer's plan.
export default {
  async fetch(request, env) {
    const welcome = await env.KV.get("welcome");
    return new Response(`${welcome} (plan: ${env.PLAN})`);
  },
};
