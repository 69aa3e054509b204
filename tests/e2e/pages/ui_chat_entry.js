// The AI SDK's own chat client in a page: AbstractChat + DefaultChatTransport from the `ai` package
// (what useChat runs, without React), bundled by esbuild for the browser. tests/e2e/test_ai_sdk_ui_browser.py
// builds this file and loads it into a page on another origin than fakellm's; the page calls
//   await runChat({ api, scenario, faults, tool, resume })
// and gets {status, error, messages: [{id, role, parts}], requests: [...], calls, dropped?}, as
// tests/node/ui_chat.mjs prints for each of its cases. The messages are shown in #chat as they stream.
import { AbstractChat, DefaultChatTransport, lastAssistantMessageIsCompleteWithToolCalls } from "ai";

// Show every message's parts: one line a part, as a chat UI would render them.
function render(messages) {
  const chat = document.getElementById("chat");
  chat.replaceChildren(
    ...messages.map((m) => {
      const box = document.createElement("div");
      box.className = `message ${m.role}`;
      box.dataset.id = m.id;
      for (const part of m.parts) {
        const line = document.createElement("div");
        line.className = "part";
        line.dataset.type = part.type;
        if (part.type === "text" || part.type === "reasoning") line.textContent = part.text;
        else if (part.type.startsWith("tool-")) {
          line.textContent = `${part.type} ${part.state} ${JSON.stringify(part.input)} → ${JSON.stringify(part.output ?? null)}`;
        } else line.textContent = `[${part.type}]`;
        box.append(line);
      }
      return box;
    }),
  );
}

// The state a framework binding (React's useChat) keeps: plain arrays here, rendered on each change.
class State {
  constructor() {
    this._status = "ready";
    this._error = undefined;
    this._messages = [];
  }
  get status() { return this._status; }
  set status(s) { this._status = s; document.getElementById("status").textContent = s; }
  get error() { return this._error; }
  set error(e) { this._error = e; document.getElementById("error").textContent = e ? e.message : ""; }
  get messages() { return this._messages; }
  set messages(m) { this._messages = m; render(m); }
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
    const { pathname, search } = new URL(url, location.href);
    requests.push(`${init?.method ?? "GET"} ${pathname}${search} ${response.status}`);
    return response;
  };
}

// As JSON (undefined fields dropped), the shape tests/node/ui_chat.mjs prints.
function result(chat, requests, extra = {}) {
  return JSON.parse(JSON.stringify({
    status: chat.status,
    error: chat.error ? `${chat.error.name}: ${chat.error.message}` : null,
    messages: chat.messages.map((m) => ({ id: m.id, role: m.role, parts: m.parts })),
    requests,
    ...extra,
  }));
}

// One chat, one user message. `tool`: answer each tool call with {weather: "sunny"} and let the chat
// send the conversation again by itself (sendAutomaticallyWhen). `resume`: after the first attempt
// ends (a test's drop), call resumeStream(), which asks GET {api}/{id}/stream without the faults.
async function runChat({ api, scenario, faults = null, tool = false, resume = false, text = "hi" }) {
  const requests = [];
  const calls = [];
  const headers = { "X-FakeLLM-Scenario": scenario };
  if (faults) headers["X-FakeLLM-Faults"] = faults;
  const transport = new DefaultChatTransport({
    api,
    headers,
    fetch: recordingFetch(requests),
    // The resume carries no faults: the drop was the first attempt's.
    prepareReconnectToStreamRequest: () => ({ headers: { "X-FakeLLM-Scenario": scenario } }),
  });
  let chat;
  const toolInit = {
    sendAutomaticallyWhen: lastAssistantMessageIsCompleteWithToolCalls,
    onToolCall: ({ toolCall }) => {
      calls.push({ toolName: toolCall.toolName, input: toolCall.input, toolCallId: toolCall.toolCallId });
      // Not awaited (the SDK's own advice: awaiting addToolOutput inside onToolCall deadlocks).
      chat.addToolOutput({ tool: toolCall.toolName, toolCallId: toolCall.toolCallId, output: { weather: "sunny" } });
    },
  };
  chat = new Chat({ id: `chat-${Math.random().toString(36).slice(2, 10)}`, transport, ...(tool ? toolInit : {}) });
  document.getElementById("chat-id").textContent = chat.id;
  await chat.sendMessage({ text });
  if (tool) {
    // The automatic second request runs after the first one settles.
    for (let i = 0; i < 200 && (chat.status !== "ready" || requests.length < 2); i++) {
      await new Promise((r) => setTimeout(r, 25));
    }
  }
  if (!resume) return result(chat, requests, { id: chat.id, calls });
  const dropped = result(chat, requests);
  await chat.resumeStream();
  return result(chat, requests, { id: chat.id, calls, dropped });
}

window.runChat = runChat;
