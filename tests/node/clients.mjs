// Runs the Node clients against a fakellm server and prints one JSON line per case:
//   node clients.mjs <base_url ending in /v1> <case> [<case> ...]
// Each line is {"case", "ok", "text", "parts", "error"} (and "calls" for the tool cases) for tests/e2e/test_node_clients.py to assert.
// Cases run concurrently so the whole Python test file stays well under a minute.
import OpenAI from "openai";
import Anthropic from "@anthropic-ai/sdk";
import { streamText, generateText, embed, tool, jsonSchema } from "ai";
import { createOpenAI } from "@ai-sdk/openai";
import { createAnthropic } from "@ai-sdk/anthropic";

const [baseURL, ...cases] = process.argv.slice(2);
const root = baseURL.replace(/\/v1$/, "");
const prompt = "Say hello";
const msgs = [{ role: "user", content: prompt }];

// A case name is "<client>" or "<client>:<fault>"; the fault goes in X-FakeLLM-Faults (the tool
// cases read it as their variant instead).
const FAULTS = { error: "error_event@3", drop: "drop@3", 429: "http_error 429 times=1" };

// `times=1` counts per distinct header value: concurrent cases sharing one value would share one
// 429, so each case pads the spec with its own number of spaces (the parser splits on whitespace).
let serial = 0;
function headersFor(fault) {
  if (!fault) return {};
  const spec = fault === "429" ? FAULTS[fault].replace(" times", " ".repeat(++serial) + "times") : FAULTS[fault];
  return { "X-FakeLLM-Faults": spec };
}

function oai(fault) {
  return new OpenAI({ baseURL, apiKey: "x", maxRetries: 2, defaultHeaders: headersFor(fault) });
}

async function aiStream(model, fault) {
  const parts = [];
  let text = "";
  const errors = [];
  const r = streamText({ model, prompt, headers: headersFor(fault), maxRetries: 2, onError: ({ error }) => errors.push(String(error)) });
  for await (const p of r.fullStream) {
    parts.push(p.type);
    if (p.type === "text-delta") text += p.text ?? p.delta ?? p.textDelta ?? "";
    if (p.type === "error") errors.push(String(p.error?.message ?? p.error));
  }
  return { text, parts: [...new Set(parts)], error: errors.length ? errors.join("; ") : null };
}

// The tool cases ask the server's "weather" scenario (the test module defines it), which calls
// get_weather({city: "Paris"}), or with ":text" "weather-after-text", which says a sentence first;
// with ":auto" "weather-auto" (tool_calls: auto: a call to one of the request's tools, arguments
// from its schema), with ":forced" "chat" (text only) and a tool_choice naming get_weather.
// The tool has no execute, so the SDK stops after one request.
const TOOL_SCENARIOS = { text: "weather-after-text", auto: "weather-auto", forced: "chat" };
const weather = (variant) => ({ "X-FakeLLM-Scenario": TOOL_SCENARIOS[variant] ?? "weather" });
const CITY = { type: "object", properties: { city: { type: "string" } }, required: ["city"], additionalProperties: false };
const weatherTool = { name: "get_weather", description: "The weather in a city", parameters: CITY };

async function aiTools(model, variant) {
  const tools = { get_weather: tool({ description: weatherTool.description, inputSchema: jsonSchema(CITY) }) };
  const toolChoice = variant === "forced" ? { type: "tool", toolName: "get_weather" } : undefined;
  const r = streamText({ model, prompt: "Weather in Paris?", tools, toolChoice, headers: weather(variant), maxRetries: 0 });
  const parts = [];
  const calls = [];
  const errors = [];
  for await (const p of r.fullStream) {
    parts.push(p.type);
    if (p.type === "tool-call") calls.push({ toolName: p.toolName, input: p.input, id: p.toolCallId });
    if (p.type === "error") errors.push(String(p.error?.message ?? p.error));
  }
  // An error part does not reject the stream: raise it so the case reports ok: false.
  if (errors.length) throw new Error(errors.join("; "));
  return { text: await r.text, parts: [await r.finishReason, ...new Set(parts)], calls };
}

async function aiGenerate(model, fault) {
  const r = await generateText({ model, prompt, headers: headersFor(fault), maxRetries: 2 });
  return { text: r.text, parts: [r.finishReason] };
}

const RUN = {
  async "openai.chat.create"(f) {
    const s = await oai(f).chat.completions.create({ model: "gpt-4o", messages: msgs, stream: true });
    let text = "";
    const parts = [];
    for await (const c of s) {
      text += c.choices[0]?.delta?.content ?? "";
      if (c.choices[0]?.finish_reason) parts.push(c.choices[0].finish_reason);
    }
    return { text, parts };
  },
  async "openai.chat.stream.tools"(variant) {
    const c = new OpenAI({ baseURL, apiKey: "x", maxRetries: 0, defaultHeaders: weather(variant) });
    const tools = [{ type: "function", function: weatherTool }];
    const tool_choice = variant === "forced" ? { type: "function", function: { name: "get_weather" } } : undefined;
    const s = c.chat.completions.stream({ model: "gpt-4o", messages: [{ role: "user", content: "Weather in Paris?" }], tools, tool_choice });
    const { message, finish_reason } = (await s.finalChatCompletion()).choices[0];
    const calls = (message.tool_calls ?? []).map((t) => ({ toolName: t.function.name, input: JSON.parse(t.function.arguments), id: t.id }));
    return { text: message.content ?? "", parts: [finish_reason], calls };
  },
  async "openai.chat.stream"(f) {
    const s = oai(f).chat.completions.stream({ model: "gpt-4o", messages: msgs });
    const done = await s.finalChatCompletion();
    return { text: done.choices[0].message.content, parts: [done.choices[0].finish_reason] };
  },
  async "openai.responses.stream"(f) {
    const s = oai(f).responses.stream({ model: "gpt-4o", input: prompt });
    const types = new Set();
    s.on("event", (e) => types.add(e.type));
    const done = await s.finalResponse();
    return { text: done.output_text, parts: [done.status, ...types] };
  },
  async "openai.responses.create"(f) {
    const s = await oai(f).responses.create({ model: "gpt-4o", input: prompt, stream: true });
    let text = "";
    const parts = [];
    for await (const e of s) {
      parts.push(e.type);
      if (e.type === "response.output_text.delta") text += e.delta;
    }
    return { text, parts: [...new Set(parts)] };
  },
  async "openai.completions.create"(f) {
    const s = await oai(f).completions.create({ model: "gpt-3.5-turbo-instruct", prompt, stream: true });
    let text = "";
    for await (const c of s) text += c.choices[0]?.text ?? "";
    return { text, parts: [] };
  },
  async "openai.embeddings.create"(f) {
    const r = await oai(f).embeddings.create({ model: "text-embedding-3-small", input: prompt });
    return { text: "", parts: [String(r.data[0].embedding.length)] };
  },
  async "anthropic.messages.stream"(f) {
    const c = new Anthropic({ baseURL: root, apiKey: "x", maxRetries: 2, defaultHeaders: headersFor(f) });
    const s = c.messages.stream({ model: "claude-sonnet-4-5", max_tokens: 256, messages: msgs });
    const m = await s.finalMessage();
    return { text: m.content.filter((b) => b.type === "text").map((b) => b.text).join(""), parts: [m.stop_reason] };
  },
  "ai.chat.streamText": (f) => aiStream(createOpenAI({ baseURL, apiKey: "x" }).chat("gpt-4o"), f),
  "ai.chat.tools": (v) => aiTools(createOpenAI({ baseURL, apiKey: "x" }).chat("gpt-4o"), v),
  "ai.responses.tools": (v) => aiTools(createOpenAI({ baseURL, apiKey: "x" })("gpt-4o"), v),
  "ai.anthropic.tools": (v) => aiTools(createAnthropic({ baseURL, apiKey: "x" })("claude-sonnet-4-5"), v),
  "ai.chat.generateText": (f) => aiGenerate(createOpenAI({ baseURL, apiKey: "x" }).chat("gpt-4o"), f),
  "ai.responses.streamText": (f) => aiStream(createOpenAI({ baseURL, apiKey: "x" })("gpt-4o"), f),
  "ai.responses.generateText": (f) => aiGenerate(createOpenAI({ baseURL, apiKey: "x" })("gpt-4o"), f),
  "ai.anthropic.streamText": (f) => aiStream(createAnthropic({ baseURL, apiKey: "x" })("claude-sonnet-4-5"), f),
  "ai.anthropic.generateText": (f) => aiGenerate(createAnthropic({ baseURL, apiKey: "x" })("claude-sonnet-4-5"), f),
  async "ai.embed"(f) {
    const r = await embed({ model: createOpenAI({ baseURL, apiKey: "x" }).embedding("text-embedding-3-small"), value: prompt, headers: headersFor(f) });
    return { text: "", parts: [String(r.embedding.length)] };
  },
};

async function one(name) {
  const [client, fault] = name.split(":");
  try {
    const r = await RUN[client](fault);
    return { case: name, ok: true, error: null, ...r };
  } catch (e) {
    return { case: name, ok: false, text: "", parts: [], error: `${e?.constructor?.name}: ${e?.message ?? e}` };
  }
}

const results = await Promise.all(cases.map(one));
for (const r of results) console.log(JSON.stringify(r));
