// The official OpenAI Node SDK against a running Kvasir (KVASIR_URL): tool_choice required, named
// and auto, whole and streamed (the SDK's own stream helper puts the tool-call deltas together).
// Prints one line per check and a closing "N passed, M failed"; exits 1 when any failed.
import OpenAI from 'openai';
import assert from 'node:assert/strict';

const client = new OpenAI({ baseURL: process.env.KVASIR_URL + '/v1', apiKey: 'unused', maxRetries: 0, timeout: 120_000 });
const weather = {
  type: 'object', additionalProperties: false, required: ['city', 'unit'],
  properties: { city: { type: 'string', maxLength: 16 }, unit: { enum: ['celsius', 'fahrenheit'] } },
};
const tools = [{ type: 'function', function: { name: 'get_weather', strict: true, parameters: weather } }];
const base = { model: 'stories260K', messages: [{ role: 'user', content: 'What is the weather in Oslo?' }], tools, temperature: 1, max_tokens: 300 };

/** A get_weather call whose arguments hold exactly the schema's fields, of the schema's types. */
function assertWeatherCall(call) {
  assert.equal(call.type, 'function');
  assert.match(call.id, /^call_/);
  assert.equal(call.function.name, 'get_weather');
  const args = JSON.parse(call.function.arguments);
  assert.deepEqual(Object.keys(args), ['city', 'unit']);
  assert.equal(typeof args.city, 'string');
  assert.ok(args.city.length <= 16, args.city);
  assert.ok(['celsius', 'fahrenheit'].includes(args.unit), args.unit);
}

const checks = {
  async required() {
    const c = await client.chat.completions.create({ ...base, seed: 1, tool_choice: 'required', parallel_tool_calls: false });
    const choice = c.choices[0];
    assert.equal(choice.finish_reason, 'tool_calls');
    assert.equal(choice.message.content, null);
    assert.equal(choice.message.tool_calls.length, 1);
    assertWeatherCall(choice.message.tool_calls[0]);
  },
  async named() {
    const c = await client.chat.completions.create({ ...base, seed: 2, tool_choice: { type: 'function', function: { name: 'get_weather' } } });
    assert.equal(c.choices[0].message.tool_calls.length, 1);
    assertWeatherCall(c.choices[0].message.tool_calls[0]);
  },
  async auto() {
    // The model is steered into the JSON call shape; auto mode must read it as a call, not content.
    const schema = { type: 'object', additionalProperties: false, required: ['name', 'arguments'],
      properties: { name: { const: 'get_weather' }, arguments: weather } };
    const c = await client.chat.completions.create({ ...base, seed: 3,
      response_format: { type: 'json_schema', json_schema: { name: 'call', schema } } });
    assert.equal(c.choices[0].finish_reason, 'tool_calls');
    assert.equal(c.choices[0].message.tool_calls.length, 1);
    assertWeatherCall(c.choices[0].message.tool_calls[0]);
  },
  async streamed() {
    const params = { ...base, seed: 4, tool_choice: 'required', parallel_tool_calls: false };
    const whole = await client.chat.completions.create(params);
    const stream = client.chat.completions.stream(params);
    let names = 0;
    stream.on('chunk', chunk => {
      for (const t of chunk.choices[0]?.delta?.tool_calls ?? []) if (t.function?.name) names++;
    });
    const final = await stream.finalChatCompletion();
    assert.equal(names, 1, 'the name goes out once');
    assert.equal(final.choices[0].finish_reason, 'tool_calls');
    const streamed = final.choices[0].message.tool_calls;
    assert.equal(streamed.length, 1);
    assertWeatherCall(streamed[0]);
    assert.equal(streamed[0].function.name, whole.choices[0].message.tool_calls[0].function.name);
    assert.equal(streamed[0].function.arguments, whole.choices[0].message.tool_calls[0].function.arguments);
  },
};

let passed = 0, failed = 0;
for (const [name, check] of Object.entries(checks)) {
  try {
    await check();
    passed++;
    console.log('ok   ' + name);
  } catch (e) {
    failed++;
    console.log('FAIL ' + name + ': ' + (e.stack ?? e));
  }
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
