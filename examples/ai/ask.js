// An AI contract: ask a model through phx.ai.chat and return the answer with
// the endpoint's signed receipt. The worker routes `model` to an attested
// `phx infer` endpoint, checks its attestation and the answer's signature;
// the worker then signs this result, so the receipt travels with a signed
// result and anyone can check it later: `phx infer verify --receipt RESULT.json`.
// Input: {"question": "...", "model": "tiny"} (model optional).
export default async (input) => {
  if (!input || typeof input.question !== 'string') throw new TypeError('input.question: a string');
  const r = await phx.ai.chat({
    model: input.model || 'tiny',
    messages: [
      { role: 'system', content: 'Answer in one short sentence.' },
      { role: 'user', content: input.question },
    ],
    max_tokens: 32,
    temperature: 0,
    seed: 1,
  });
  return { question: input.question, answer: r.text, model_sha256: r.receipt.model_sha256, receipt: r.receipt };
};
