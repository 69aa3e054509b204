// The Vercel AI SDK for `fakellm matrix` (docs/matrix.md), used as its docs show: streamText with
// @ai-sdk/openai's Chat model (its defaults: two retries of a failed request), the text deltas of
// fullStream printed as they come, an error part reported on stderr with exit status 1.
// docs/openai-sdk-faults.md is its matrix.
//
//   fakellm matrix -- node tests/node/matrix/ai-sdk.mjs
import { streamText } from "ai";
import { createOpenAI } from "@ai-sdk/openai";

const model = createOpenAI({ baseURL: process.env.OPENAI_BASE_URL, apiKey: process.env.OPENAI_API_KEY }).chat("gpt-4o");
let failed = null;
try {
  const result = streamText({ model, prompt: "Say hello", onError: () => {} });
  for await (const part of result.fullStream) {
    if (part.type === "text-delta") process.stdout.write(part.text ?? part.delta ?? "");
    else if (part.type === "error") failed ??= part.error;
  }
} catch (error) {
  failed ??= error;
}
if (failed) {
  console.error(`raised: ${failed?.name ?? failed?.constructor?.name}: ${failed?.message ?? failed}`);
  process.exit(1);
}
