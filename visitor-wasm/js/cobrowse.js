/*! cobrowse.js — the co-browsing script-tag loader.
 *
 * Owns: reading data-relay from its own <script> tag, loading the visitor
 * WebAssembly (visitor_wasm.js + visitor_wasm_bg.wasm, served next to this
 * file) on the first Cobrowse.start(), and failing politely where the page's
 * Content-Security-Policy forbids WebAssembly. Does not own: anything the
 * session does (that is the wasm).
 *
 * Usage: <script src="https://RELAY/sdk/cobrowse.js" data-relay="https://RELAY"></script>
 *        Cobrowse.start({ mask: [".card-number"] }).then(s => console.log(s.code));
 */
(function () {
  "use strict";
  if (window.Cobrowse) return; // included twice: keep the first

  var script = document.currentScript;
  var src = (script && script.src) || "";
  var relay = (script && script.getAttribute("data-relay")) || (src ? new URL(src).origin : location.origin);
  var here = src || location.href;
  var CSP_HELP =
    "Cobrowse: this page's Content-Security-Policy does not allow WebAssembly, so co-browsing " +
    "cannot start. Add 'wasm-unsafe-eval' to script-src (and allow " + relay +
    " in script-src and connect-src).";
  var loading = null;
  var told = false;

  // Compiling the smallest valid module tells whether the CSP allows wasm,
  // without fetching anything.
  function wasmAllowed() {
    try {
      new WebAssembly.Module(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]));
      return true;
    } catch (e) {
      return false;
    }
  }

  function cspError() {
    if (!told) {
      told = true;
      console.error(CSP_HELP);
    }
    return new Error(CSP_HELP);
  }

  function load() {
    if (!loading) {
      loading = import(new URL("./visitor_wasm.js", here).href).then(function (mod) {
        var wasm = new URL("./visitor_wasm_bg.wasm", here).href;
        return mod.default({ module_or_path: wasm }).then(function () {
          return mod;
        });
      });
      // A failed load may be retried by the next start().
      loading.catch(function () {
        loading = null;
      });
    }
    return loading;
  }

  window.Cobrowse = {
    start: function (options) {
      if (typeof WebAssembly !== "object" || !wasmAllowed()) {
        return Promise.reject(cspError());
      }
      return load().then(
        function (mod) {
          return mod.start(Object.assign({ relay: relay }, options || {}));
        },
        function (err) {
          if (err instanceof WebAssembly.CompileError || err instanceof EvalError) throw cspError();
          throw new Error("Cobrowse: could not load the co-browsing SDK from " + here + ": " + err);
        }
      );
    },
  };
})();
