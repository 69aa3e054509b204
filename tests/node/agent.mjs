// An agent loop with the Vercel AI SDK against `fakellm serve` (tests/e2e/test_agent_loop.py):
//   node agent.mjs <base_url ending in /v1> loop <provider>     the three-turn loop of agent-weather.yaml
//   node agent.mjs <base_url ending in /v1> faults <provider>   one tool call under mid-argument faults
// <provider> is chat, responses or anthropic. Prints one JSON line per run.
import { streamText, tool, jsonSchema, stepCountIs } from "ai";
import { createOpenAI } from "@ai-sdk/openai";
import { createAnthropic } from "@ai-sdk/anthropic";

const [baseURL, mode, provider] = process.argv.slice(2);

function model(name, headers = {}) {
  if (provider === "anthropic") return createAnthropic({ baseURL, apiKey: "x", headers })(name);
  const openai = createOpenAI({ baseURL, apiKey: "x", headers });
  return provider === "chat" ? openai.chat(name) : openai(name);
}

const ran = [];
const tools = {
  get_weather: tool({
    description: "The weather in a city",
    inputSchema: jsonSchema({ type: "object", properties: { city: { type: "string" } }, required: ["city"] }),
    execute: async ({ city }) => {
      ran.push("get_weather");
      return `18 C and sunny in ${city}`;
    },
  }),
  convert_temperature: tool({
    description: "Celsius to another unit",
    inputSchema: jsonSchema({
      type: "object",
      properties: { celsius: { type: "number" }, to: { type: "string" } },
      required: ["celsius", "to"],
    }),
    execute: async ({ celsius, to }) => {
      ran.push("convert_temperature");
      if (to !== "fahrenheit") throw new Error(`unexpected unit ${to}`);
      return `${((celsius * 9) / 5 + 32).toFixed(1)} F`;
    },
  }),
};

// The AI SDK retries a request that fails before its response (maxRetries), and with
// streamRetries a provider *error part* in the stream; a connection dropped mid-stream makes the
// stream's read reject instead, which neither covers. So the loop keeps the messages of every
// finished step and, when a step breaks, starts again from them: the broken request, asked again.
async function loop() {
  let messages = [{ role: "user", content: "What is the weather in Paris, in Fahrenheit?" }];
  const failures = [];
  const steps = [];
  for (let attempt = 0; attempt < 3; attempt++) {
    const finished = [];
    const r = streamText({
      model: model("agent-weather"),
      messages,
      tools,
      stopWhen: stepCountIs(5),
      maxRetries: 2,
      maxOutputTokens: 256,
      onStepFinish: (step) => {
        finished.push(...step.response.messages);
        steps.push(step.finishReason);
      },
    });
    try {
      for await (const part of r.fullStream) {
        if (part.type === "error") throw part.error;
      }
      return { ok: true, text: await r.text, ran, failures, steps };
    } catch (error) {
      failures.push(`${error?.constructor?.name}: ${error?.message ?? error}`);
      messages = [...messages, ...finished];
    }
  }
  return { ok: false, text: "", ran, failures, steps };
}

// One get_weather call ({"city":"Paris"}, 9 fragments) cut at its 3rd fragment, as each option
// of the SDK reads it: what fullStream yields, and whether the step still ends in a tool call.
async function faults() {
  const cases = {
    "error": { spec: "error_event@3" },
    "error+streamRetries": { spec: "error_event@3 times=1", streamRetries: 1 },
    "drop": { spec: "drop@3" },
    "drop+streamRetries": { spec: "drop@3 times=1", streamRetries: 1 },
  };
  const out = {};
  for (const [name, { spec, streamRetries }] of Object.entries(cases)) {
    const headers = { "X-FakeLLM-Scenario": "weather", "X-FakeLLM-Faults": spec };
    const parts = [];
    const calls = [];
    const errors = [];
    let thrown = null;
    try {
      const r = streamText({
        model: model("gpt-4o", headers),
        prompt: "Weather in Paris?",
        tools: { get_weather: tool({ inputSchema: tools.get_weather.inputSchema }) },
        maxRetries: 0,
        maxOutputTokens: 256,
        ...(streamRetries === undefined ? {} : { streamRetries }),
        onError: () => {},
      });
      for await (const p of r.fullStream) {
        parts.push(p.type);
        if (p.type === "tool-call") calls.push(p.input);
        if (p.type === "error") errors.push(`${p.error?.constructor?.name}: ${p.error?.message ?? p.error}`);
      }
    } catch (error) {
      thrown = `${error?.constructor?.name}: ${error?.message ?? error}`;
    }
    out[name] = { parts: [...new Set(parts)], calls, errors, thrown };
  }
  return { ok: true, cases: out };
}

const run = mode === "loop" ? loop : faults;
try {
  console.log(JSON.stringify(await run()));
} catch (error) {
  console.log(JSON.stringify({ ok: false, error: `${error?.constructor?.name}: ${error?.message ?? error}` }));
}
