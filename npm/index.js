// @cobrowse/visitor: the npm entry point. Owns loading the visitor
// WebAssembly once and continuing a session the previous page of this tab
// left (sessionStorage); everything else is the wasm's `start` (see
// index.d.ts).
import init, { start as wasmStart, resume, current as wasmCurrent } from "./visitor_wasm.js";

let ready;
// The session continued from the previous page, kept so it stays alive.
let resumed = null;

function load() {
  if (!ready) {
    ready = init();
    // A failed load (network, CSP) may be retried by the next start().
    ready.catch(() => {
      ready = undefined;
    });
  }
  return ready;
}

// A session that was running when the visitor left the previous page of
// this site continues here without a start() call or new consent. Pages with
// nothing to continue load nothing until start().
try {
  if (typeof sessionStorage !== "undefined" && sessionStorage.getItem("cobrowse:session")) {
    load().then(
      () => {
        resumed = resume() || null;
      },
      () => {}
    );
  }
} catch (_) {
  // Storage disabled: there is nothing to continue.
}

/** Starts a co-browsing session; resolves once the relay gave it a code. */
export async function start(options) {
  await load();
  return wasmStart(options);
}

/** The running session (started on this page or continued from the previous one), or null. */
export async function current() {
  if (!ready) return null;
  try {
    await ready;
  } catch (_) {
    return null;
  }
  return wasmCurrent() || resumed || null;
}
