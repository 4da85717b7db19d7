// Trivial: parse the request, answer. Same source for phx, node vm and QuickJS.
function main(request) {
  const input = JSON.parse(request);
  return JSON.stringify({ ok: true, echo: input.n });
}
