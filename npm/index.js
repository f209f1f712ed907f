// @cobrowse/visitor: the npm entry point. Owns loading the visitor
// WebAssembly once; everything else is the wasm's `start` (see index.d.ts).
import init, { start as wasmStart } from "./visitor_wasm.js";

let ready;

/** Starts a co-browsing session; resolves once the relay gave it a code. */
export async function start(options) {
  if (!ready) {
    ready = init();
    // A failed load (network, CSP) may be retried by the next start().
    ready.catch(() => {
      ready = undefined;
    });
  }
  await ready;
  return wasmStart(options);
}
