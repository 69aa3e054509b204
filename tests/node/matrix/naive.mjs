// A naive openai-node client for `fakellm matrix` (docs/matrix.md): it prints each delta as it comes
// and checks nothing (the SDK's defaults: a 10 minute timeout, two retries of a failed request). What
// the SDK raised goes to stderr as its last line (docs/openai-sdk-faults.md shows it).
//
//   fakellm matrix -- node tests/node/matrix/naive.mjs
import OpenAI from "openai";

const client = new OpenAI();
try {
  const stream = await client.chat.completions.create({
    model: "gpt-4o",
    messages: [{ role: "user", content: "Say hello" }],
    stream: true,
  });
  for await (const chunk of stream) {
    for (const choice of chunk.choices) process.stdout.write(choice.delta?.content ?? "");
  }
} catch (error) {
  console.error(`raised: ${error?.constructor?.name}: ${error?.message}`);
  process.exit(1);
}
