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
check('logprobs with top_logprobs, streamed and not, agree', async () => {
  const body = { model: 'small', messages: [{ role: 'user', content: 'Say something.' }], max_tokens: 6,
                 temperature: 0, logprobs: true, top_logprobs: 2 };
  const r = await client.chat.completions.create(body);
  const content = r.choices[0].logprobs.content;
  assert.equal(content.map((t) => t.token).join(''), r.choices[0].message.content);
  for (const t of content) {
    assert.ok(t.logprob <= 0);
    assert.equal(t.top_logprobs.length, 2);
    assert.equal(t.top_logprobs[0].token, t.token); // greedy: the chosen token is the most likely
    assert.deepEqual(t.bytes, [...Buffer.from(t.token)]);
  }
  const stream = await client.chat.completions.create({ ...body, stream: true });
  const streamed = [];
  for await (const chunk of stream) streamed.push(...(chunk.choices[0]?.logprobs?.content ?? []));
  assert.deepEqual(streamed.map((t) => [t.token, t.logprob.toFixed(4)]), content.map((t) => [t.token, t.logprob.toFixed(4)]));
});
// On every strategy: plain (a pinned model), PLD and draft-model speculation (named policies via the `aio` extension).
for (const [strategy, route] of [['plain', { model: 'small' }],
                                 ['pld', { model: 'aio', aio: { policy: 'static-small-pld' } }],
                                 ['draft', { model: 'aio', aio: { policy: 'draft' } }]]) {
  check(`json_schema output parses and validates against its schema (${strategy})`, async () => {
    const schema = { type: 'object', properties: { name: { type: 'string', maxLength: 12 }, age: { type: 'integer' } },
                     required: ['name', 'age'], additionalProperties: false };
    const r = await client.chat.completions.create({
      ...route, messages: [{ role: 'user', content: 'Describe a person as JSON.' }], max_tokens: 200, temperature: 0,
      response_format: { type: 'json_schema', json_schema: { name: 'person', schema, strict: true } },
    });
    assert.equal(r.choices[0].finish_reason, 'stop', 'the grammar is finite here: the answer must complete');
    const value = JSON.parse(r.choices[0].message.content);
    assert.deepEqual(Object.keys(value).sort(), ['age', 'name']);
    assert.equal(typeof value.name, 'string');
    assert.ok(value.name.length <= 12);
    assert.ok(Number.isInteger(value.age));
    assert.equal(r.aio.route.grammar, true);
    assert.equal(r.aio.route.strategy, strategy);
  });
}
check('a forced tool call comes back parsed, streams as deltas, and its result continues the conversation', async () => {
  // The city is an enum: a grammar keeps any model's arguments valid JSON, but random weights would never close a free
  // string (the grammar allows any length).
  const tools = [{ type: 'function', function: {
    name: 'get_weather', description: 'The weather in a city',
    parameters: { type: 'object', properties: { city: { type: 'string', enum: ['Paris', 'London', 'Tokyo'] } },
                  required: ['city'], additionalProperties: false } } }];
  const messages = [{ role: 'user', content: 'What is the weather in Paris?' }];
  const body = { model: 'aio', messages, tools, tool_choice: { type: 'function', function: { name: 'get_weather' } },
                 parallel_tool_calls: false, max_tokens: 300, temperature: 0 };
  const r = await client.chat.completions.create(body);
  const msg = r.choices[0].message;
  assert.equal(r.choices[0].finish_reason, 'tool_calls');
  assert.equal(msg.content, null);
  assert.equal(msg.tool_calls.length, 1);
  const call = msg.tool_calls[0];
  assert.equal(call.type, 'function');
  assert.equal(call.function.name, 'get_weather');
  assert.match(call.id, /^call_/);
  const args = JSON.parse(call.function.arguments);
  assert.deepEqual(Object.keys(args), ['city']);
  assert.ok(['Paris', 'London', 'Tokyo'].includes(args.city));
  assert.equal(r.aio.route.grammar, true);

  const stream = await client.chat.completions.create({ ...body, stream: true });
  const calls = [];
  let finish = null;
  for await (const chunk of stream) {
    const choice = chunk.choices[0];
    if (!choice) continue;
    finish = choice.finish_reason ?? finish;
    for (const d of choice.delta?.tool_calls ?? []) {
      calls[d.index] ??= { id: '', name: '', arguments: '' };
      calls[d.index].id += d.id ?? '';
      calls[d.index].name += d.function?.name ?? '';
      calls[d.index].arguments += d.function?.arguments ?? '';
    }
  }
  assert.equal(finish, 'tool_calls');
  assert.equal(calls.length, 1);
  assert.equal(calls[0].name, 'get_weather');
  assert.match(calls[0].id, /^call_/);
  assert.deepEqual(JSON.parse(calls[0].arguments), args, 'greedy: the streamed call is the same call');

  const follow = await client.chat.completions.create({
    model: 'aio', tools, max_tokens: 8, temperature: 0,
    messages: [...messages, msg, { role: 'tool', tool_call_id: call.id, content: '18 C and sunny' }],
  });
  assert.equal(follow.choices[0].message.role, 'assistant');
  assert.ok(follow.usage.prompt_tokens > r.usage.prompt_tokens, 'the call and its result are in the prompt');
});
check('streaming with include_usage: role first, usage in a last chunk with no choices', async () => {
  const stream = await client.chat.completions.create({
    model: 'small', messages: [{ role: 'user', content: 'Hello' }], max_tokens: 4, temperature: 0, stream: true,
    stream_options: { include_usage: true },
  });
  const chunks = [];
  for await (const chunk of stream) chunks.push(chunk);
  assert.equal(chunks[0].choices[0].delta.role, 'assistant');
  const last = chunks[chunks.length - 1];
  assert.deepEqual(last.choices, []);
  assert.equal(last.usage.completion_tokens, 4);
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
