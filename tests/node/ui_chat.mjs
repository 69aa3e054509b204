// The AI SDK's own chat client (AbstractChat + DefaultChatTransport, what useChat runs) against a
// fakellm server's POST /api/chat, and its resume (GET /api/chat/{id}/stream). Prints one JSON
// line per case for tests/e2e/test_ai_sdk_ui.py:
//   node ui_chat.mjs <server url> <case> [<case> ...]
// Each line is {"case", "status", "error", "messages": [{role, parts}], "requests": [...]}.
// Cases run concurrently (one Node start for all of them).
import { AbstractChat, DefaultChatTransport, lastAssistantMessageIsCompleteWithToolCalls } from "ai";

const [root, ...cases] = process.argv.slice(2);
const api = `${root}/api/chat`;

// The state a framework binding (React's useChat) keeps: plain arrays here.
class State {
  constructor() {
    this.status = "ready";
    this.error = undefined;
    this.messages = [];
  }
  pushMessage = (m) => { this.messages = this.messages.concat(m); };
  popMessage = () => { this.messages = this.messages.slice(0, -1); };
  replaceMessage = (i, m) => { this.messages = [...this.messages.slice(0, i), m, ...this.messages.slice(i + 1)]; };
  snapshot = (t) => structuredClone(t);
}

class Chat extends AbstractChat {
  constructor(init) {
    super({ ...init, state: new State() });
  }
}

// Every request the transport makes, as "METHOD path status", seen through its fetch.
function recordingFetch(requests) {
  return async (url, init) => {
    const response = await fetch(url, init);
    requests.push(`${init?.method ?? "GET"} ${new URL(url).pathname}${new URL(url).search} ${response.status}`);
    return response;
  };
}

function chatFor(name, { scenario, faults, protocol, chatInit = {} }) {
  const requests = [];
  const headers = { "X-FakeLLM-Scenario": scenario };
  if (faults) headers["X-FakeLLM-Faults"] = faults;
  const transport = new DefaultChatTransport({
    api: protocol ? `${api}?protocol=${protocol}` : api,
    headers,
    fetch: recordingFetch(requests),
    // The resume carries no faults: the drop was the first attempt's.
    prepareReconnectToStreamRequest: () => ({ headers: { "X-FakeLLM-Scenario": scenario } }),
  });
  const chat = new Chat({ id: `chat-${name}-${Math.random().toString(36).slice(2, 8)}`, transport, ...chatInit });
  return { chat, requests };
}

function result(name, chat, requests, extra = {}) {
  return {
    case: name,
    status: chat.status,
    error: chat.error ? `${chat.error.name}: ${chat.error.message}` : null,
    messages: chat.messages.map((m) => ({ id: m.id, role: m.role, parts: m.parts })),
    requests,
    ...extra,
  };
}

const CASES = {
  // Text: the default of what useChat shows.
  async text(name) {
    const { chat, requests } = chatFor(name, { scenario: "ui-text" });
    await chat.sendMessage({ text: "hi" });
    return result(name, chat, requests);
  },
  // Reasoning, then the text.
  async reasoning(name) {
    const { chat, requests } = chatFor(name, { scenario: "ui-reasoning" });
    await chat.sendMessage({ text: "think first" });
    return result(name, chat, requests);
  },
  // A client-side tool: the call reaches onToolCall with its input, its output goes back, and the
  // chat sends the conversation again by itself; the second turn quotes the result.
  async tool(name) {
    const calls = [];
    let chat;
    const made = chatFor(name, {
      scenario: "ui-agent",
      chatInit: {
        sendAutomaticallyWhen: lastAssistantMessageIsCompleteWithToolCalls,
        onToolCall: ({ toolCall }) => {
          calls.push({ toolName: toolCall.toolName, input: toolCall.input, toolCallId: toolCall.toolCallId });
          // Not awaited (the SDK's own advice: awaiting addToolOutput inside onToolCall deadlocks).
          chat.addToolOutput({ tool: toolCall.toolName, toolCallId: toolCall.toolCallId, output: { weather: "sunny" } });
        },
      },
    });
    chat = made.chat;
    await chat.sendMessage({ text: "Weather in Paris?" });
    // The automatic second request runs after the first one settles.
    for (let i = 0; i < 100 && (chat.status !== "ready" || made.requests.length < 2); i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    return result(name, chat, made.requests, { calls });
  },
  // A mid-stream error part: the chat's error state, the text so far kept.
  async error(name) {
    const { chat, requests } = chatFor(name, { scenario: "ui-text", faults: "error_event@2" });
    await chat.sendMessage({ text: "hi" });
    return result(name, chat, requests);
  },
  // A part that is no JSON: the client's parse error, as its error state.
  async malformed(name) {
    const { chat, requests } = chatFor(name, { scenario: "ui-text", faults: "malformed@2" });
    await chat.sendMessage({ text: "hi" });
    return result(name, chat, requests);
  },
  // An HTTP error before the stream (a 429): the chat's error state, no assistant message.
  async http_error(name) {
    const { chat, requests } = chatFor(name, { scenario: "ui-text", faults: "http_error 429" });
    await chat.sendMessage({ text: "hi" });
    return result(name, chat, requests);
  },
  // The connection drops mid-stream; resumeStream() asks GET /api/chat/{id}/stream, which
  // replays the stream from its start, and the client rebuilds the message (no duplicate text).
  async resume(name) {
    const { chat, requests } = chatFor(name, { scenario: "ui-resume", faults: "drop@3" });
    await chat.sendMessage({ text: "hi" });
    const dropped = result(name, chat, [...requests]);
    await chat.resumeStream();
    return result(name, chat, requests, { dropped });
  },
  // Nothing to resume: the server says 204, and the chat does nothing.
  async resume_none(name) {
    const { chat, requests } = chatFor(name, { scenario: "ui-text" });
    await chat.resumeStream();
    return result(name, chat, requests);
  },
  // The AI SDK 4 data stream protocol, read by this (AI SDK 7) client: silently nothing (U10).
  async data_protocol(name) {
    const { chat, requests } = chatFor(name, { scenario: "ui-text", protocol: "data" });
    await chat.sendMessage({ text: "hi" });
    return result(name, chat, requests);
  },
};

const results = await Promise.all(
  cases.map(async (name) => {
    try {
      return await CASES[name](name);
    } catch (error) {
      return { case: name, status: "threw", error: `${error?.name}: ${error?.message}`, messages: [], requests: [] };
    }
  }),
);
for (const r of results) console.log(JSON.stringify(r));
process.exit(0);
