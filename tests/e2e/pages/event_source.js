// EventSource against fakellm's GET stream, as a page would use it (docs/frontend.md 'EventSource').
// tests/e2e/test_event_source.py loads this file into a page on another origin and calls listen().

function listen(url, closeAtDone) {
  return new Promise((resolve) => {
    const got = { events: [], opens: 0, errors: 0, state: null };
    const finish = (state) => { got.state = state; resolve(got); };

    const source = new EventSource(url);
    source.onopen = () => { got.opens += 1; };
    source.onmessage = (event) => {
      got.events.push({ id: event.lastEventId, data: event.data });
      if (event.data === "[DONE]") {
        if (closeAtDone) { source.close(); finish("closed at [DONE]"); }
        return;
      }
      const delta = JSON.parse(event.data).choices[0].delta;
      document.getElementById("out").textContent += delta.content ?? "";
    };
    source.onerror = () => {
      // CONNECTING: the connection broke and the browser reconnects by itself, with Last-Event-ID.
      // CLOSED: it gave up (fakellm's 204: nothing left to send).
      got.errors += 1;
      if (source.readyState === EventSource.CLOSED) finish("closed by the browser");
    };

    setTimeout(() => { source.close(); finish("timed out"); }, 15000);
  });
}
