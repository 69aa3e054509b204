// fakellm playground: streams from the server that served this page, in any of its formats, and
// shows what arrived when. Plain modern JavaScript, no build step, no library, no other origin.
"use strict";

const $ = (selector, root = document) => root.querySelector(selector);

// -- what the page sends ---------------------------------------------------------------------------
const FORMATS = {
  chat: {
    label: "Chat Completions",
    path: "/v1/chat/completions",
    body: (s) => ({ model: s.model, stream: true, messages: [{ role: "user", content: s.prompt }] }),
  },
  responses: {
    label: "Responses",
    path: "/v1/responses",
    body: (s) => ({ model: s.model, stream: true, input: s.prompt }),
  },
  anthropic: {
    label: "Anthropic Messages",
    path: "/v1/messages",
    body: (s) => ({
      model: s.model, max_tokens: 4096, stream: true, messages: [{ role: "user", content: s.prompt }],
    }),
  },
  completions: {
    label: "Completions",
    path: "/v1/completions",
    body: (s) => ({ model: s.model, prompt: s.prompt, stream: true }),
  },
  ui: {
    label: "AI SDK UI",
    path: "/api/chat",
    body: (s) => ({
      id: "playground",
      model: s.model,
      messages: [{ id: "u1", role: "user", parts: [{ type: "text", text: s.prompt }] }],
      trigger: "submit-message",
    }),
  },
};

// Preset faults: each toggle adds its spec to X-FakeLLM-Faults, or takes it out.
const TOGGLES = [
  ["error mid-stream", "error_event@10"],
  ["drop", "drop@10"],
  ["slow first token", "latency 1500ms"],
  ["stall", "stall@10 1500ms"],
  ["fragment", "fragment 1-7 bytes"],
  ["malformed", "malformed@5"],
  ["http 429", "http_error 429"],
  ["buffer all", "buffer all"],
  ["buffer 4096", "buffer 4096"],
];

function settings() {
  const value = (id) => document.getElementById(id).value.trim();
  return {
    format: value("format"),
    model: value("model") || "gpt-4o",
    scenario: value("scenario"),
    seed: value("seed"),
    ttft: value("ttft"),
    itl: value("itl"),
    faults: value("faults"),
    prompt: document.getElementById("prompt").value,
  };
}

function fakellmHeaders(s, faults = s.faults) {
  const headers = {};
  if (s.scenario) headers["X-FakeLLM-Scenario"] = s.scenario;
  if (s.seed) headers["X-FakeLLM-Seed"] = s.seed;
  if (s.ttft) headers["X-FakeLLM-TTFT-Ms"] = s.ttft;
  if (s.itl) headers["X-FakeLLM-ITL-Ms"] = s.itl;
  if (faults) headers["X-FakeLLM-Faults"] = faults;
  return headers;
}

const joinSpecs = (...specs) => specs.map((x) => x.trim()).filter(Boolean).join("; ");
const specParts = (spec) => spec.split(";").map((x) => x.trim()).filter(Boolean);

// -- SSE, as the spec reads it (https://html.spec.whatwg.org/multipage/server-sent-events.html) ------
class SSEParser {
  constructor(onEvent) {
    this.onEvent = onEvent;
    this.buffer = "";
    this.first = true;
    this.reset();
  }
  reset() {
    this.event = "";
    this.data = [];
  }
  feed(text) {
    this.buffer += text;
    if (this.first && this.buffer.length) {
      if (this.buffer[0] === "\ufeff") this.buffer = this.buffer.slice(1);
      this.first = false;
    }
    const eol = /\r\n|\r|\n/g;
    let start = 0;
    for (;;) {
      eol.lastIndex = start;
      const found = eol.exec(this.buffer);
      if (!found) break;
      // A lone CR at the very end may be the first half of a CRLF still on its way.
      if (found[0] === "\r" && found.index === this.buffer.length - 1) break;
      this.line(this.buffer.slice(start, found.index));
      start = found.index + found[0].length;
    }
    this.buffer = this.buffer.slice(start);
  }
  line(line) {
    if (line === "") {
      if (this.data.length) this.onEvent(this.event || "message", this.data.join("\n"));
      this.reset();
      return;
    }
    if (line.startsWith(":")) return;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") this.event = value;
    else if (field === "data") this.data.push(value);
  }
}

// -- one stream: the request, what arrived and when -------------------------------------------------
class Run {
  constructor(format, faults) {
    this.format = format;
    this.faults = faults;
    this.t0 = 0;
    this.status = 0;
    this.requestId = null;
    this.chunks = []; // {ms, bytes}
    this.tokenTimes = [];
    this.readMs = 0; // when the read being parsed arrived
    this.firstByteMs = null;
    this.text = "";
    this.reasoning = "";
    this.tools = new Map(); // key -> {id, name, args}
    this.error = null; // {title, message}
    this.notes = [];
    this.done = false;
    this.finish = null;
    this.ended = false;
    this.stopped = false;
    this.endMs = null;
    this.entry = null; // the journal's entry, once the stream is over
    this.looked = false; // whether the journal was asked for it
  }
  now() {
    return performance.now() - this.t0;
  }
  // A token arrived with the read that carried it (a burst of tokens in one read has no rate).
  token(kind, delta) {
    if (!delta) return;
    this.tokenTimes.push(this.readMs);
    if (kind === "text") this.text += delta;
    else if (kind === "reasoning") this.reasoning += delta;
  }
  tool(key, fields) {
    const call = this.tools.get(key) || { id: "", name: "", args: "" };
    if (fields.id) call.id = fields.id;
    if (fields.name) call.name = fields.name;
    if (fields.args) {
      call.args += fields.args;
      this.tokenTimes.push(this.readMs);
    }
    this.tools.set(key, call);
  }
  fail(title, message) {
    if (!this.error) this.error = { title, message };
  }
  get state() {
    if (!this.t0) return "idle";
    if (!this.ended) return "streaming";
    if (this.error) return "error";
    if (this.stopped) return "stopped";
    return this.done ? "done" : "warning";
  }
}

// Each format's events, read into a Run.
const READERS = {
  chat(run, _event, data) {
    if (data === "[DONE]") return (run.done = true);
    const chunk = JSON.parse(data);
    if (chunk.error) return run.fail("error event", errorText(chunk.error));
    for (const choice of chunk.choices || []) {
      const delta = choice.delta || {};
      run.token("reasoning", delta.reasoning_content || delta.reasoning);
      run.token("text", delta.content);
      for (const call of delta.tool_calls || []) {
        const fn = call.function || {};
        run.tool(call.index, { id: call.id, name: fn.name, args: fn.arguments });
      }
      if (choice.finish_reason) run.finish = choice.finish_reason;
    }
  },
  completions(run, _event, data) {
    if (data === "[DONE]") return (run.done = true);
    const chunk = JSON.parse(data);
    if (chunk.error) return run.fail("error event", errorText(chunk.error));
    for (const choice of chunk.choices || []) {
      run.token("text", choice.text);
      if (choice.finish_reason) run.finish = choice.finish_reason;
    }
  },
  responses(run, _event, data) {
    const event = JSON.parse(data);
    switch (event.type) {
      case "response.output_text.delta":
        return run.token("text", event.delta);
      case "response.reasoning_summary_text.delta":
      case "response.reasoning_text.delta":
        return run.token("reasoning", event.delta);
      case "response.output_item.added":
        if (event.item && event.item.type === "function_call") {
          run.tool(event.output_index, { id: event.item.call_id, name: event.item.name });
        }
        return;
      case "response.function_call_arguments.delta":
        return run.tool(event.output_index, { args: event.delta });
      case "error":
        return run.fail("error event", errorText(event.error || event));
      case "response.failed":
        run.fail("response.failed", errorText((event.response && event.response.error) || {}));
        return (run.done = true);
      case "response.incomplete":
        run.finish = "incomplete";
        return (run.done = true);
      case "response.completed":
        run.finish = "completed";
        return (run.done = true);
    }
  },
  anthropic(run, event, data) {
    const message = JSON.parse(data);
    const type = message.type || event;
    if (type === "content_block_start" && message.content_block.type === "tool_use") {
      run.tool(message.index, { id: message.content_block.id, name: message.content_block.name });
    } else if (type === "content_block_delta") {
      const delta = message.delta || {};
      if (delta.type === "text_delta") run.token("text", delta.text);
      else if (delta.type === "thinking_delta") run.token("reasoning", delta.thinking);
      else if (delta.type === "input_json_delta") run.tool(message.index, { args: delta.partial_json });
    } else if (type === "message_delta") {
      if (message.delta && message.delta.stop_reason) run.finish = message.delta.stop_reason;
    } else if (type === "message_stop") {
      run.done = true;
    } else if (type === "error") {
      run.fail("error event", errorText(message.error || {}));
    }
  },
  ui(run, _event, data) {
    if (data === "[DONE]") return (run.done = true);
    const part = JSON.parse(data);
    switch (part.type) {
      case "text-delta":
        return run.token("text", part.delta);
      case "reasoning-delta":
        return run.token("reasoning", part.delta);
      case "tool-input-start":
        return run.tool(part.toolCallId, { id: part.toolCallId, name: part.toolName });
      case "tool-input-delta":
        return run.tool(part.toolCallId, { args: part.inputTextDelta });
      case "error":
        return run.fail("error part", part.errorText || "(no errorText)");
      case "finish":
        run.finish = part.finishReason || null;
        return;
    }
  },
};

const END_MARKERS = {
  chat: "data: [DONE]",
  completions: "data: [DONE]",
  ui: "data: [DONE]",
  responses: "response.completed",
  anthropic: "message_stop",
};

function errorText(error) {
  if (typeof error === "string") return error;
  const kind = [error.type, error.code].filter(Boolean).join(" · ");
  const message = error.message || JSON.stringify(error);
  return kind ? `${kind}: ${message}` : message;
}

async function stream(run, url, headers, body, signal, onUpdate) {
  run.t0 = performance.now();
  onUpdate();
  let response;
  try {
    response = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", ...headers },
      body: JSON.stringify(body),
      signal,
    });
  } catch (error) {
    finishRun(run, error, onUpdate);
    return;
  }
  run.status = response.status;
  run.requestId = response.headers.get("x-request-id") || response.headers.get("request-id");
  if (!response.ok) {
    const text = await response.text().catch(() => "");
    run.chunks.push({ ms: run.now(), bytes: new TextEncoder().encode(text).length });
    let message = text;
    try {
      const parsed = JSON.parse(text);
      message = errorText(parsed.error || parsed);
    } catch (_) {
      /* not JSON: the body as it is */
    }
    run.fail(`HTTP ${response.status}`, message || response.statusText);
    finishRun(run, null, onUpdate);
    return;
  }
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  const read = READERS[run.format];
  let malformed = 0;
  const parser = new SSEParser((event, data) => {
    try {
      read(run, event, data);
    } catch (error) {
      malformed += 1;
      if (malformed <= 3) run.notes.push(`an event that is no JSON: ${data.slice(0, 80)}`);
    }
  });
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      const ms = run.now();
      if (run.firstByteMs === null) run.firstByteMs = ms;
      run.chunks.push({ ms, bytes: value.length });
      run.readMs = ms;
      parser.feed(decoder.decode(value, { stream: true }));
      onUpdate();
    }
    parser.feed(decoder.decode());
    parser.line("");
    finishRun(run, null, onUpdate);
  } catch (error) {
    finishRun(run, error, onUpdate);
  }
}

function finishRun(run, error, onUpdate) {
  run.endMs = run.now();
  run.ended = true;
  if (error && error.name === "AbortError") {
    run.stopped = true;
    run.notes.push("stopped by you");
  } else if (error) {
    run.fail("connection", `the stream broke: ${error.name}: ${error.message}`);
  } else if (!run.done && !run.error && run.status && run.status < 400) {
    run.notes.push(`the body ended without ${END_MARKERS[run.format]} (truncated?)`);
  }
  onUpdate();
}

// -- figures ------------------------------------------------------------------------------------------
function median(sorted) {
  if (!sorted.length) return null;
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function figures(run) {
  const gaps = [];
  for (let i = 1; i < run.chunks.length; i++) gaps.push(run.chunks[i].ms - run.chunks[i - 1].ms);
  gaps.sort((a, b) => a - b);
  const times = run.tokenTimes;
  const ttft = times.length ? times[0] : null;
  const span = times.length > 1 ? times[times.length - 1] - times[0] : 0;
  return {
    ttft,
    tps: span > 0 ? ((times.length - 1) * 1000) / span : null,
    tokens: times.length,
    chunks: run.chunks.length,
    bytes: run.chunks.reduce((sum, c) => sum + c.bytes, 0),
    gaps: gaps.length ? [gaps[0], median(gaps), gaps[gaps.length - 1]] : null,
  };
}

const ms = (value) => (value === null || value === undefined ? "–" : value < 10 ? `${value.toFixed(1)} ms` : `${Math.round(value)} ms`);
const bytes = (n) => (n < 10000 ? `${n} B` : `${(n / 1024).toFixed(1)} KiB`);

// -- a pane: one stream's readout, timeline and output -----------------------------------------------
class Pane {
  constructor(title) {
    const fragment = $("#pane-template").content.cloneNode(true);
    this.root = fragment.querySelector(".pane");
    this.canvas = $(".timeline", this.root);
    $(".pane-title", this.root).textContent = title;
    this.run = null;
    this.scaleMs = null; // shared across panes side by side, so that their timelines compare
    this.pending = false;
    this.observer = new ResizeObserver(() => this.draw());
    this.observer.observe(this.canvas);
  }
  start(run, spec) {
    this.run = run;
    $(".pane-spec", this.root).textContent = spec || "no faults";
    $(".pane-spec", this.root).title = spec || "";
    // At once, not on the next frame: the pane must never show the last run's figures (or its
    // "done") as this one's, not even for a frame.
    this.render();
  }
  update() {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => {
      this.pending = false;
      this.render();
    });
  }
  render() {
    const run = this.run;
    if (!run) return;
    const f = figures(run);
    const state = run.state;
    this.root.dataset.state = state;
    this.root.dataset.chunks = String(run.chunks.length);
    this.root.dataset.tokens = String(f.tokens);
    this.root.dataset.ttft = f.ttft === null ? "" : f.ttft.toFixed(1);
    $(".badge", this.root).textContent =
      state === "done" ? `done${run.finish ? ` (${run.finish})` : ""}` : state === "warning" ? "ended early" : state;
    const put = (key, text) => ($(`[data-k="${key}"]`, this.root).textContent = text);
    put("ttft", ms(f.ttft));
    put("tps", f.tps === null ? "–" : f.tps.toFixed(1));
    put("tokens", String(f.tokens));
    put("chunks", String(f.chunks));
    put("bytes", bytes(f.bytes));
    put("gaps", f.gaps ? f.gaps.map((g) => ms(g).replace(" ms", "")).join(" / ") + " ms" : "–");
    put("total", run.ended ? ms(run.endMs) : ms(run.now()));
    const entry = run.entry;
    put("server", entry ? `${ms(entry.first_token_ms)} · ${entry.outcome}` : run.looked ? "no entry" : run.ended ? "…" : "–");

    const reasoning = $(".reasoning", this.root);
    reasoning.hidden = !run.reasoning;
    $(".reasoning-text", this.root).textContent = run.reasoning;
    if (run.reasoning && !run.text && !run.ended) reasoning.open = true;
    $(".text", this.root).textContent = run.text;
    const tools = $(".tools", this.root);
    tools.replaceChildren(
      ...[...run.tools.values()].map((call) => {
        const box = document.createElement("div");
        box.className = "tool";
        const head = document.createElement("div");
        head.className = "tool-head";
        head.append(`ƒ ${call.name || "?"}`);
        const id = document.createElement("span");
        id.className = "dim";
        id.textContent = `  ${call.id}`;
        head.append(id);
        const args = document.createElement("pre");
        args.textContent = prettyJson(call.args);
        box.append(head, args);
        return box;
      }),
    );
    $(".notes", this.root).replaceChildren(
      ...run.notes.map((note) => Object.assign(document.createElement("div"), { textContent: note })),
    );
    const error = $(".error", this.root);
    error.hidden = !run.error;
    if (run.error) {
      const title = document.createElement("strong");
      title.textContent = run.error.title;
      error.replaceChildren(title, run.error.message);
    }
    this.draw();
  }
  draw() {
    const canvas = this.canvas;
    const run = this.run;
    const dpr = window.devicePixelRatio || 1;
    const width = Math.max(canvas.clientWidth, 100);
    const height = canvas.clientHeight || 84;
    if (canvas.width !== Math.round(width * dpr)) canvas.width = Math.round(width * dpr);
    if (canvas.height !== Math.round(height * dpr)) canvas.height = Math.round(height * dpr);
    const ctx = canvas.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, width, height);
    const css = getComputedStyle(document.documentElement);
    const color = (name) => css.getPropertyValue(name).trim();
    const left = 6;
    const right = width - 6;
    const top = 14;
    const bottom = height - 16;
    const chunks = run ? run.chunks : [];
    const faults = run && run.entry ? run.entry.faults || [] : [];
    const lastMs = Math.max(
      100,
      this.scaleMs || 0,
      run ? (run.ended ? run.endMs : run.now()) : 0,
      ...chunks.map((c) => c.ms),
      ...faults.map((f) => f.at_ms),
    );
    const span = niceSpan(lastMs);
    const x = (t) => left + (Math.min(t, span) / span) * (right - left);
    // grid and axis
    ctx.font = `10px ${css.getPropertyValue("--mono")}`;
    ctx.fillStyle = color("--dim");
    ctx.strokeStyle = color("--grid");
    ctx.lineWidth = 1;
    const step = span / 5;
    for (let i = 0; i <= 5; i++) {
      const gx = Math.round(x(i * step)) + 0.5;
      ctx.beginPath();
      ctx.moveTo(gx, top - 4);
      ctx.lineTo(gx, bottom);
      ctx.stroke();
      const label = i * step >= 1000 ? `${((i * step) / 1000).toFixed(step >= 1000 ? 0 : 1)} s` : `${Math.round(i * step)} ms`;
      ctx.textAlign = i === 0 ? "left" : i === 5 ? "right" : "center";
      ctx.fillText(label, gx, height - 4);
    }
    // one bar per chunk: x when it arrived, height its size
    const maxBytes = Math.max(1, ...chunks.map((c) => c.bytes));
    ctx.fillStyle = color("--bar");
    for (const chunk of chunks) {
      const h = Math.max(2, Math.sqrt(chunk.bytes / maxBytes) * (bottom - top));
      ctx.fillRect(Math.round(x(chunk.ms)) - 1, bottom - h, 2, h);
    }
    // the first token the page saw
    const f = run ? figures(run) : null;
    if (f && f.ttft !== null) {
      ctx.strokeStyle = color("--ok");
      ctx.setLineDash([2, 2]);
      ctx.beginPath();
      ctx.moveTo(Math.round(x(f.ttft)) + 0.5, top - 4);
      ctx.lineTo(Math.round(x(f.ttft)) + 0.5, bottom);
      ctx.stroke();
      ctx.setLineDash([]);
    }
    // where the journal says faults fired
    ctx.fillStyle = color("--bad");
    ctx.strokeStyle = color("--bad");
    ctx.textAlign = "left";
    faults.forEach((fault, i) => {
      const fx = Math.round(x(fault.at_ms)) + 0.5;
      ctx.beginPath();
      ctx.moveTo(fx, top - 6);
      ctx.lineTo(fx, bottom);
      ctx.stroke();
      ctx.beginPath();
      ctx.moveTo(fx - 4, top - 10);
      ctx.lineTo(fx + 4, top - 10);
      ctx.lineTo(fx, top - 4);
      ctx.fill();
      const label = `${fault.fault}${fault.at_token ? "@" + fault.at_token : ""}`;
      const tx = Math.min(fx + 6, right - ctx.measureText(label).width);
      ctx.fillText(label, tx, top - 3 + i * 11);
    });
    this.root.dataset.marks = String(chunks.length);
    this.root.dataset.faultMarks = String(faults.length);
    canvas.setAttribute(
      "aria-label",
      `${chunks.length} chunks over ${Math.round(lastMs)} ms` +
        (faults.length ? `; faults: ${faults.map((x) => x.fault).join(", ")}` : ""),
    );
  }
}

function niceSpan(value) {
  const steps = [1, 2, 2.5, 5, 10];
  const power = Math.pow(10, Math.floor(Math.log10(value / 5)));
  for (const s of steps) if (s * power * 5 >= value) return s * power * 5;
  return value;
}

function prettyJson(text) {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch (_) {
    return text; // still streaming, or invalid on purpose
  }
}

// -- the journal ---------------------------------------------------------------------------------------
const JOURNAL_LIMIT = 60;
const mine = new Set(); // request ids this page sent

async function journalEntries() {
  const response = await fetch(`/_fakellm/journal?limit=${JOURNAL_LIMIT}`, { headers: { Accept: "application/json" } });
  if (!response.ok) throw new Error(`GET /_fakellm/journal: HTTP ${response.status}`);
  return response.json();
}

async function entryFor(run) {
  if (!run.requestId) return null;
  // A stream's entry is final a moment after its last byte; a rejected request may have none.
  const attempts = run.status >= 400 ? 3 : 15;
  for (let attempt = 0; attempt < attempts; attempt++) {
    // The newest with this id and these faults: ids are drawn from the seed, so the two streams
    // side by side (one seed) have the same one.
    const entry = (await journalEntries())
      .reverse()
      .find((e) => e.request_id === run.requestId && ((e.headers || {})["x-fakellm-faults"] || "") === run.faults);
    if (entry && entry.outcome !== "streaming") return entry;
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
  return null;
}

function renderJournal(entries) {
  const body = $("#journal tbody");
  const rows = entries
    .slice()
    .reverse()
    .map((e) => {
      const tr = document.createElement("tr");
      if (mine.has(e.request_id)) tr.className = "mine";
      // The seed to send again: the request's own X-FakeLLM-Seed if it had one (on a server
      // started with --seed the journaled seed is derived from both), else the stream's.
      const seed = (e.headers || {})["x-fakellm-seed"] ?? e.seed;
      tr.title = `${e.request_id || ""}  seed ${e.seed ?? "–"}  model ${e.model ?? "–"}` +
        (seed !== null && seed !== undefined ? `  (click: use seed ${seed})` : "");
      if (seed !== null && seed !== undefined) {
        tr.dataset.seed = String(seed);
        tr.tabIndex = 0;
      }
      const cell = (text, cls) => {
        const td = document.createElement("td");
        td.textContent = text ?? "–";
        if (cls) td.className = cls;
        tr.append(td);
      };
      cell(new Date(e.time * 1000).toLocaleTimeString([], { hour12: false }));
      cell(e.method);
      cell(e.path);
      cell(e.format);
      cell(e.scenario);
      cell(String(e.status), e.status >= 400 ? "status-err" : "");
      cell(e.outcome, `outcome-${e.outcome}`);
      cell(e.first_token_ms === null ? "–" : ms(e.first_token_ms), "num");
      cell(e.duration_ms === null ? "–" : ms(e.duration_ms), "num");
      cell((e.faults || []).map((f) => `${f.fault}@${f.at_token}`).join(" "), "faults");
      return tr;
    });
  body.replaceChildren(...rows);
  $("#journal").dataset.rows = String(rows.length);
  $("#journal-count").textContent = rows.length ? `newest ${rows.length}` : "";
}

let journalBusy = false;
async function pollJournal() {
  if (journalBusy || document.visibilityState !== "visible" || !$("#journal-live").checked) return;
  journalBusy = true;
  try {
    renderJournal(await journalEntries());
  } catch (error) {
    $("#journal-count").textContent = String(error.message || error);
  } finally {
    journalBusy = false;
  }
}

// -- snippets ------------------------------------------------------------------------------------------
const shellQuote = (text) => `'${text.replace(/'/g, `'\\''`)}'`;

// A Python literal: on one line when it is short, else one item a line.
function pyValue(value, indent = "") {
  const inline = pyInline(value);
  if (inline.length + indent.length <= 88) return inline;
  return pyBlock(value, indent);
}

function pyInline(value) {
  if (value === null || value === undefined) return "None";
  if (value === true) return "True";
  if (value === false) return "False";
  if (typeof value !== "object") return typeof value === "string" ? JSON.stringify(value) : String(value);
  if (Array.isArray(value)) return `[${value.map(pyInline).join(", ")}]`;
  return `{${Object.entries(value).map(([k, v]) => `${JSON.stringify(k)}: ${pyInline(v)}`).join(", ")}}`;
}

function pyBlock(value, indent) {
  if (value === null || value === undefined) return "None";
  if (value === true) return "True";
  if (value === false) return "False";
  if (typeof value === "number") return String(value);
  if (typeof value === "string") return JSON.stringify(value);
  const inner = indent + "    ";
  if (Array.isArray(value)) {
    if (!value.length) return "[]";
    return `[\n${value.map((v) => inner + pyValue(v, inner)).join(",\n")},\n${indent}]`;
  }
  const keys = Object.keys(value);
  if (!keys.length) return "{}";
  return `{\n${keys.map((k) => `${inner}${JSON.stringify(k)}: ${pyValue(value[k], inner)}`).join(",\n")},\n${indent}}`;
}

function pyCall(name, args, tail) {
  const lines = Object.entries(args).map(([k, v]) => `    ${k}=${pyValue(v, "    ")},`);
  return `${name}(\n${lines.join("\n")}\n)${tail || ""}`;
}

function snippets(s) {
  const origin = location.origin;
  const fmt = FORMATS[s.format];
  const body = fmt.body(s);
  const headers = fakellmHeaders(s);
  const url = origin + fmt.path;
  const curl = [
    `curl -N ${url}`,
    `-H 'Content-Type: application/json'`,
    ...Object.entries(headers).map(([k, v]) => `-H ${shellQuote(`${k}: ${v}`)}`),
    `-d ${shellQuote(JSON.stringify(body))}`,
  ].join(" \\\n  ");

  const extra = Object.keys(headers).length ? { extra_headers: headers } : {};
  let python;
  if (s.format === "anthropic") {
    python =
      `import anthropic\n\nclient = anthropic.Anthropic(base_url=${JSON.stringify(origin)}, api_key="fakellm")\n` +
      `with ${pyCall("client.messages.stream", { model: body.model, max_tokens: body.max_tokens, messages: body.messages, ...extra }, " as stream:")}\n` +
      `    for text in stream.text_stream:\n        print(text, end="", flush=True)\n`;
  } else if (s.format === "ui") {
    python =
      `import httpx\n\n# The AI SDK UI message stream: one "data: {json}" part per event.\n` +
      `with ${pyCall("httpx.stream", { method: "POST", url, json: body, headers, timeout: null }, " as response:")}\n` +
      `    for line in response.iter_lines():\n        if line.startswith("data: "):\n            print(line[6:])\n`;
  } else {
    const head = `from openai import OpenAI\n\nclient = OpenAI(base_url=${JSON.stringify(origin + "/v1")}, api_key="fakellm")\n`;
    const { stream: _stream, ...args } = body;
    const call = { chat: "client.chat.completions.create", responses: "client.responses.create", completions: "client.completions.create" }[s.format];
    const loop = {
      chat: `for chunk in stream:\n    if chunk.choices and chunk.choices[0].delta.content:\n        print(chunk.choices[0].delta.content, end="", flush=True)\n`,
      responses: `for event in stream:\n    if event.type == "response.output_text.delta":\n        print(event.delta, end="", flush=True)\n`,
      completions: `for chunk in stream:\n    print(chunk.choices[0].text, end="", flush=True)\n`,
    }[s.format];
    python = `${head}stream = ${pyCall(call, { ...args, stream: true, ...extra })}\n${loop}`;
  }

  const fetchJs =
    `const response = await fetch(${JSON.stringify(url)}, {\n` +
    `  method: "POST",\n` +
    `  headers: ${JSON.stringify({ "Content-Type": "application/json", ...headers }, null, 2).replace(/\n/g, "\n  ")},\n` +
    `  body: JSON.stringify(${JSON.stringify(body, null, 2).replace(/\n/g, "\n  ")}),\n` +
    `});\n` +
    `if (!response.ok) throw new Error(\`HTTP \${response.status}: \${await response.text()}\`);\n` +
    `const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();\n` +
    `for (;;) {\n  const { value, done } = await reader.read();\n  if (done) break;\n  console.log(value); // SSE: split on blank lines, read the data: lines\n}\n`;
  return { curl, python, fetch: fetchJs };
}

function renderSnippet() {
  const pre = $("#snippet");
  const lang = pre.dataset.lang;
  const all = snippets(settings());
  pre.textContent = all[lang];
  for (const [key, text] of Object.entries(all)) pre.dataset[key] = text;
}

// -- the page ------------------------------------------------------------------------------------------
const panes = $("#panes");
let current = [];
let controller = null;

function layoutPanes(count) {
  if (current.length === count) return current;
  for (const pane of current) pane.observer.disconnect();
  current = count === 2 ? [new Pane("As set"), new Pane("With")] : [new Pane("Stream")];
  panes.classList.toggle("two", count === 2);
  panes.replaceChildren(...current.map((p) => p.root));
  return current;
}

async function send() {
  if (controller) controller.abort();
  const s = settings();
  const compare = $("#compare").checked;
  if (compare && !s.seed) s.seed = String(Math.floor(Math.random() * 2 ** 31));
  const fmt = FORMATS[s.format];
  const against = $("#against").value;
  const plan = compare ? [s.faults, joinSpecs(s.faults, against)] : [s.faults];
  const shown = layoutPanes(plan.length);
  if (compare) $(".pane-title", shown[1].root).textContent = `With ${against}`;
  controller = new AbortController();
  const mineController = controller;
  $("#stop").disabled = false;
  $("#send").disabled = false;
  const runs = plan.map((faults, i) => {
    const run = new Run(s.format, faults);
    const spec = [fmt.label, faults || "no faults", s.seed ? `seed ${s.seed}` : ""].filter(Boolean).join(" · ");
    shown[i].scaleMs = null;
    shown[i].start(run, spec);
    return run;
  });
  const update = () => {
    if (compare) {
      // one time scale for both panes, so that a burst at the end shows where it is
      const longest = Math.max(...runs.map((r) => (r.ended ? r.endMs : r.t0 ? r.now() : 0)));
      for (const pane of shown) pane.scaleMs = longest;
      for (const pane of shown) pane.update();
    } else {
      shown[0].update();
    }
  };
  await Promise.all(
    runs.map(async (run, i) => {
      await stream(run, fmt.path, fakellmHeaders(s, plan[i]), fmt.body(s), mineController.signal, update);
      if (run.requestId) mine.add(run.requestId);
      run.entry = await entryFor(run).catch(() => null);
      run.looked = true;
      update();
    }),
  );
  if (controller === mineController) {
    controller = null;
    $("#stop").disabled = true;
  }
  pollJournal();
}

function syncToggles() {
  const parts = specParts($("#faults").value);
  for (const button of $("#toggles").children) {
    button.setAttribute("aria-pressed", String(parts.includes(button.dataset.spec)));
  }
}

async function loadChoices() {
  try {
    const about = await (await fetch("/", { headers: { Accept: "application/json" } })).json();
    $("#server").textContent = `${about.name} ${about.version} · ${location.origin}`;
  } catch (_) {
    $("#server").textContent = location.origin;
  }
  try {
    const models = await (await fetch("/v1/models")).json();
    $("#models").replaceChildren(
      ...models.data.map((m) => Object.assign(document.createElement("option"), { value: m.id })),
    );
  } catch (_) {
    /* the field still takes any id */
  }
  try {
    const scenarios = await (await fetch("/_fakellm/scenarios")).json();
    const select = $("#scenario");
    for (const sc of scenarios.data) {
      const option = document.createElement("option");
      option.value = sc.name;
      const extras = [
        `${sc.timing.ttft_ms} ms + ${sc.timing.itl_ms} ms/token`,
        sc.tool_calls && sc.tool_calls.length ? "tools" : "",
        sc.reasoning ? "reasoning" : "",
        sc.default ? "default" : "",
      ].filter(Boolean);
      option.textContent = `${sc.name} (${extras.join(", ")})`;
      select.append(option);
    }
  } catch (_) {
    /* auto still works */
  }
}

function init() {
  for (const [label, spec] of TOGGLES) {
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = label;
    button.title = spec;
    button.dataset.spec = spec;
    if (spec.startsWith("buffer")) button.className = "buffer";
    button.setAttribute("aria-pressed", "false");
    button.addEventListener("click", () => {
      const field = $("#faults");
      const parts = specParts(field.value);
      field.value = parts.includes(spec) ? parts.filter((p) => p !== spec).join("; ") : joinSpecs(...parts, spec);
      syncToggles();
      renderSnippet();
    });
    $("#toggles").append(button);
  }
  layoutPanes(1);
  $("#format").addEventListener("input", () => ($("#format-path").textContent = FORMATS[$("#format").value].path));
  $("#settings").addEventListener("input", () => {
    syncToggles();
    renderSnippet();
  });
  $("#settings").addEventListener("submit", (event) => event.preventDefault());
  $("#prompt").addEventListener("input", renderSnippet);
  $("#composer").addEventListener("submit", (event) => {
    event.preventDefault();
    send();
  });
  $("#prompt").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      send();
    }
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && controller) controller.abort();
    if (event.key === "/" && !/^(INPUT|TEXTAREA|SELECT)$/.test(document.activeElement.tagName)) {
      event.preventDefault();
      $("#prompt").focus();
    }
  });
  $("#stop").addEventListener("click", () => controller && controller.abort());
  for (const tab of document.querySelectorAll(".tabs [role=tab]")) {
    tab.addEventListener("click", () => {
      for (const other of document.querySelectorAll(".tabs [role=tab]")) {
        other.setAttribute("aria-selected", String(other === tab));
      }
      $("#snippet").dataset.lang = tab.dataset.lang;
      renderSnippet();
    });
  }
  $("#copy").addEventListener("click", async () => {
    const text = $("#snippet").textContent;
    try {
      await navigator.clipboard.writeText(text);
      $("#copy").textContent = "Copied";
    } catch (_) {
      const range = document.createRange();
      range.selectNodeContents($("#snippet"));
      getSelection().removeAllRanges();
      getSelection().addRange(range);
      $("#copy").textContent = "Selected: ⌘/Ctrl+C";
    }
    setTimeout(() => ($("#copy").textContent = "Copy"), 1500);
  });
  const useSeed = (event) => {
    const row = event.target.closest("tr[data-seed]");
    if (!row || (event.type === "keydown" && event.key !== "Enter")) return;
    $("#seed").value = row.dataset.seed;
    syncToggles();
    renderSnippet();
    $("#prompt").focus();
  };
  $("#journal tbody").addEventListener("click", useSeed);
  $("#journal tbody").addEventListener("keydown", useSeed);
  $("#journal-clear").addEventListener("click", async () => {
    await fetch("/_fakellm/journal", { method: "DELETE" });
    mine.clear();
    renderJournal([]);
  });
  document.addEventListener("visibilitychange", pollJournal);
  syncToggles();
  renderSnippet();
  loadChoices().then(() => {
    renderSnippet();
    document.body.dataset.choices = "loaded";
  });
  pollJournal();
  setInterval(pollJournal, 1000);
  document.body.dataset.ready = "true";
}

init();
