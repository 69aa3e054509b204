// Reading a stream with fetch, as a chat UI does (docs/frontend.md 'Plain fetch: the buffer
// pattern'). tests/e2e/test_event_source.py loads this file into a page on another origin.

// A read is not an event: one read may end inside an event, a line or a UTF-8 character, and one
// read may hold many events (behind a buffering proxy, all of them). Keep what is unfinished in a
// buffer until the next read completes it.
async function* sseEvents(response) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder(); // with {stream: true}, a character split across reads waits
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    const blocks = buffer.split(/\r\n\r\n|\n\n|\r\r/); // an event ends at a blank line
    buffer = blocks.pop(); // the unfinished last one
    for (const block of blocks) {
      const event = { id: null, data: [] };
      for (const line of block.split(/\r\n|\n|\r/)) {
        if (line.startsWith(":")) continue; // a comment: keep-alive
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
        if (field === "data") event.data.push(value);
        if (field === "id") event.id = value;
      }
      if (event.data.length) yield { id: event.id, data: event.data.join("\n") };
    }
  }
}

// Chat Completions with a resume: when the connection breaks, ask again with the last event's id
// (Last-Event-ID), and the stream goes on after it. headersFor(attempt) gives each attempt's
// headers (a test's X-FakeLLM-Faults on the first one only).
async function streamChat(url, body, headersFor = () => ({}), onText = () => {}) {
  let lastEventId = null;
  let text = "";
  for (let attempt = 1; ; attempt++) {
    const headers = { "Content-Type": "application/json", ...headersFor(attempt) };
    if (lastEventId !== null) headers["Last-Event-ID"] = lastEventId;
    const response = await fetch(url, { method: "POST", headers, body: JSON.stringify(body) });
    if (!response.ok) throw new Error(`HTTP ${response.status}: ${await response.text()}`);
    try {
      for await (const event of sseEvents(response)) {
        lastEventId = event.id ?? lastEventId;
        if (event.data === "[DONE]") return { text, attempts: attempt };
        const chunk = JSON.parse(event.data);
        if (chunk.error) throw new Error(chunk.error.message); // an error in the middle of a 200
        text += chunk.choices[0]?.delta?.content ?? "";
        onText(text);
      }
    } catch (error) {
      // A broken connection is a TypeError ("network error"); resume it, a few times at most.
      if (error instanceof TypeError && lastEventId !== null && attempt < 3) continue;
      throw error;
    }
    throw new Error(`the stream ended without [DONE] after ${JSON.stringify(text)}`);
  }
}
