// The official openai client against a running `aio serve`: proves wire compatibility.
// Usage: node client.mjs http://127.0.0.1:PORT/v1
import assert from 'node:assert/strict';
import OpenAI from 'openai';

const client = new OpenAI({ baseURL: process.argv[2], apiKey: 'not-needed-on-loopback', maxRetries: 0 });
const checks = [];
const check = (name, fn) => checks.push([name, fn]);

let full;
check('models.list names the routed model and each concrete one', async () => {
  const ids = [];
  for await (const m of client.models.list()) ids.push(m.id);
  assert.deepEqual(ids.sort(), ['aio', 'large', 'small']);
});
check('chat.completions.create returns text, usage and the route record', async () => {
  full = await client.chat.completions.create({
    model: 'aio', messages: [{ role: 'user', content: 'Write a Python function that reverses a list.' }],
    max_tokens: 8, temperature: 0,
  });
  assert.equal(typeof full.choices[0].message.content, 'string');
  assert.equal(full.usage.completion_tokens, 8);
  assert.equal(full.aio.route.model, 'small');
  assert.equal(full.aio.probe.category, 'code');
});
check('streamed chunks reassemble to the same text', async () => {
  const stream = await client.chat.completions.create({
    model: 'aio', messages: [{ role: 'user', content: 'Write a Python function that reverses a list.' }],
    max_tokens: 8, temperature: 0, stream: true,
  });
  let text = '';
  for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
  assert.equal(text, full.choices[0].message.content);
});
check('completions.create on a pinned model', async () => {
  const r = await client.completions.create({ model: 'small', prompt: 'def f(', max_tokens: 3, temperature: 0 });
  assert.equal(r.usage.completion_tokens, 3);
  assert.equal(r.aio.route.policy, 'pinned');
});
check('a bad request surfaces as the client\'s BadRequestError naming the field', async () => {
  await assert.rejects(
    client.chat.completions.create({ model: 'aio', messages: [{ role: 'user', content: 'x' }], top_p: 7 }),
    (e) => e.status === 400 && e.error?.param === 'top_p');
});

let passed = 0, failed = 0;
for (const [name, fn] of checks) {
  try {
    await fn();
    passed++;
    console.log(`ok: ${name}`);
  } catch (e) {
    failed++;
    console.log(`FAILED: ${name}: ${e.message}`);
  }
}
console.log(`openai client: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
