// The browser suite's JS helpers, one module for the whole suite: every
// snippet module is one more request the test runner's little HTTP server
// must answer while the page loads, and with five it now and then left one
// unread (`xtask/src/util.rs`, `wasm_pack_test`).

// session.rs
export function install_fake_socket() {
  const sent = [];
  const sockets = [];
  class FakeSocket extends EventTarget {
    constructor(url) {
      super();
      this.url = url;
      this.readyState = 0;
      this.binaryType = "blob";
      sockets.push(this);
      setTimeout(() => { this.readyState = 1; this.dispatchEvent(new Event("open")); }, 0);
    }
    send(data) { sent.push(new Uint8Array(data).slice()); }
    close() {
      if (this.readyState === 3) return;
      this.readyState = 3;
      setTimeout(() => this.dispatchEvent(new CloseEvent("close", { code: 1000 })), 0);
    }
  }
  FakeSocket.CONNECTING = 0; FakeSocket.OPEN = 1; FakeSocket.CLOSING = 2; FakeSocket.CLOSED = 3;
  const real = window.WebSocket;
  window.WebSocket = FakeSocket;
  return {
    restore() { window.WebSocket = real; },
    url() { return sockets.length ? sockets[sockets.length - 1].url : ""; },
    closed() { return sockets.length > 0 && sockets[sockets.length - 1].readyState === 3; },
    count() { return sent.length; },
    frame(i) { return sent[i]; },
    deliver(bytes) {
      const s = sockets[sockets.length - 1];
      s.dispatchEvent(new MessageEvent("message", { data: bytes.slice().buffer }));
    },
    refuse() {
      const s = sockets[sockets.length - 1];
      s.readyState = 3;
      s.dispatchEvent(new CloseEvent("close", { code: 1006 }));
    },
    closeWith(code, reason) {
      const s = sockets[sockets.length - 1];
      s.readyState = 3;
      s.dispatchEvent(new CloseEvent("close", { code, reason }));
    },
    made() { return sockets.length; },
  };
}

// resources.rs
export function install_fake_fetch() {
  const calls = [];
  const routes = new Map();
  const store = new Map();
  let dropPut = 0;
  const real = window.fetch;
  const json = (status, value) => new Response(JSON.stringify(value), {
    status, headers: { "content-type": "application/json" } });
  window.fetch = async (input, init) => {
    init = init || {};
    const url = String(input);
    const headers = {};
    new Headers(init.headers || {}).forEach((v, k) => { headers[k] = v; });
    const body = init.body ? new Uint8Array(init.body).slice() : null;
    calls.push({ url, method: init.method || "GET", mode: init.mode,
      credentials: init.credentials, cache: init.cache, auth: headers.authorization || "",
      size: body ? body.length : 0 });
    const up = url.match(/\/res\/up\/([0-9a-f]{64})(?:\?offset=(\d+)&total=(\d+))?$/);
    if (up) {
      if (headers.authorization !== "Bearer t0k3n") return json(401, { error: "bad token" });
      const have = store.get(up[1]) || new Uint8Array(0);
      if ((init.method || "GET") === "GET") return json(200, { received: have.length });
      const offset = Number(up[2]), total = Number(up[3]);
      if (offset !== have.length) return json(400, { error: "bad offset" });
      const next = new Uint8Array(have.length + body.length);
      next.set(have); next.set(body, have.length);
      store.set(up[1], next);
      // A dropped connection: the relay kept the chunk, the answer is lost.
      if (dropPut > 0) { dropPut -= 1; throw new TypeError("Failed to fetch"); }
      if (next.length === total) return json(201, { received: total, more: ["https://page.test/more.png"] });
      return json(200, { received: next.length });
    }
    const r = routes.get(url);
    if (!r) return new Response("not found", { status: 404, headers: { "content-type": "text/html" } });
    if (r.cors === false) throw new TypeError("Failed to fetch (CORS)");
    const h = { "content-type": r.type };
    if (r.length !== undefined) h["content-length"] = String(r.length);
    return new Response(r.body, { status: 200, headers: h });
  };
  return {
    restore() { window.fetch = real; },
    route(url, type, body, cors) { routes.set(url, { type, body, cors }); },
    routeLying(url, type, body, length) { routes.set(url, { type, body, length }); },
    dropPuts(n) { dropPut = n; },
    calls() { return JSON.stringify(calls); },
    stored(hex) { return store.get(hex) || new Uint8Array(0); },
  };
}

// twoway.rs
export function pointer(el, type, x, y) {
  el.dispatchEvent(new PointerEvent(type, {
    bubbles: true, composed: true, clientX: x, clientY: y, relatedTarget: null }));
}
export function react_like(input) {
  // React's value tracking: a `value` property on the instance that records
  // every value set through it; onChange fires on 'input' only when the
  // node's real value differs from the recorded one.
  const desc = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, "value");
  let tracked = "" + input.value;
  Object.defineProperty(input, "value", {
    configurable: true,
    get() { return desc.get.call(this); },
    set(v) { tracked = "" + v; desc.set.call(this, v); },
  });
  const changes = [];
  input.addEventListener("input", () => {
    const now = desc.get.call(input);
    if (now !== tracked) { tracked = now; changes.push(now); }
  });
  return changes;
}
export function record(el, types) {
  const seen = [];
  for (const t of types) el.addEventListener(t, (e) => seen.push(e.type + (e.isTrusted ? "!" : "")));
  return seen;
}

// sliced_session.rs
export function watch_long_tasks() {
  const seen = [];
  const keep = (list) => { for (const e of list) seen.push([e.startTime, e.duration]); };
  const obs = new PerformanceObserver((l) => keep(l.getEntries()));
  obs.observe({ type: "longtask" });
  return {
    longest(since) {
      keep(obs.takeRecords());
      return seen.filter((s) => s[0] >= since).reduce((m, s) => Math.max(m, s[1]), 0);
    },
    stop() { obs.disconnect(); },
  };
}
