// A careful openai-node client for `fakellm matrix` (docs/matrix.md): it streams through the SDK's
// chat.completions.stream() helper, counts an answer complete only when a finish_reason came, gives
// up on a stream that sends nothing for 3 s (its own idle timer: the SDK's timeout covers the whole
// request), retries once on a connection error, a timeout or an incomplete answer, and prints the
// answer only once it is whole. Errors go to stderr with exit status 1.
//
//   fakellm matrix -- node tests/node/matrix/careful.mjs
import OpenAI from "openai";

const ATTEMPTS = 2;
const IDLE_MS = 3000;

class Incomplete extends Error {}
class Idle extends Error {}

async function attempt(client) {
  const controller = new AbortController();
  let idle = false;
  let timer;
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => { idle = true; controller.abort(); }, IDLE_MS);
  };
  arm();
  const parts = [];
  let finished = false;
  try {
    const stream = client.chat.completions.stream(
      { model: "gpt-4o", messages: [{ role: "user", content: "Say hello" }] },
      { signal: controller.signal },
    );
    for await (const chunk of stream) {
      arm();
      for (const choice of chunk.choices) {
        parts.push(choice.delta?.content ?? "");
        finished ||= Boolean(choice.finish_reason);
      }
    }
  } catch (error) {
    if (idle) throw new Idle(`nothing for ${IDLE_MS} ms`);
    throw error;
  } finally {
    clearTimeout(timer);
  }
  if (!finished) throw new Incomplete("the stream ended without a finish_reason");
  return parts.join("");
}

const client = new OpenAI({ maxRetries: 2, timeout: 60_000 });
for (let n = 1; n <= ATTEMPTS; n++) {
  try {
    const text = await attempt(client);
    process.stdout.write(text);
    process.exit(0);
  } catch (error) {
    const retryable = error instanceof OpenAI.APIConnectionError || error instanceof Idle || error instanceof Incomplete;
    console.error(`careful: attempt ${n}: ${error?.constructor?.name}: ${error?.message}`);
    if (!retryable) process.exit(1);
  }
}
console.error(`careful: giving up after ${ATTEMPTS} attempts`);
process.exit(1);
