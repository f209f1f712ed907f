/*! cobrowse.js — the co-browsing script-tag loader.
 *
 * Owns: reading data-relay from its own <script> tag, loading the visitor
 * WebAssembly (visitor_wasm.js + visitor_wasm_bg.wasm, served next to this
 * file) on the first Cobrowse.start() — or at once when this tab's previous
 * page left a session to continue (a "cobrowse:session" entry in
 * sessionStorage), which the wasm's resume() then picks up with no start()
 * call — and failing politely where the page's Content-Security-Policy
 * forbids WebAssembly. Pages without such an entry load nothing until
 * start(). Does not own: anything the session does (that is the wasm).
 *
 * Usage: <script src="https://RELAY/sdk/cobrowse.js" data-relay="https://RELAY"></script>
 *        Cobrowse.start({ mask: [".card-number"] }).then(s => console.log(s.code));
 *        Cobrowse.start({ invitation: SECRET }) // an agent's invitation (relay's /api/invitations)
 *        Cobrowse.current().then(s => s && s.end()); // the running session, if any
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
  var resumed = null;
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

  // Only a look at the key: the wasm decides whether the entry is live.
  function hasEntry() {
    try {
      return !!window.sessionStorage.getItem("cobrowse:session");
    } catch (e) {
      return false; // storage disabled: nothing to resume
    }
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

  // A same-origin frame of a page that runs the SDK shares its tab's
  // sessionStorage: the session belongs to the top page (which captures
  // this frame as part of itself), never to a second copy in here.
  function insideCapturedFrame() {
    try {
      return window.parent !== window && !!window.parent.Cobrowse;
    } catch (e) {
      return false; // a cross-origin parent: this page is its own
    }
  }

  // Continues the previous page's session, if it left one for this relay.
  function resume() {
    if (!hasEntry() || insideCapturedFrame()) return;
    if (typeof WebAssembly !== "object" || !wasmAllowed()) {
      cspError();
      return;
    }
    load().then(
      function (mod) {
        // Held here: the Session object owns the running session.
        resumed = mod.resume(relay) || null;
      },
      function (err) {
        console.info("Cobrowse: could not load the co-browsing SDK to continue the session: " + err);
      }
    );
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
    // Resolves with the running Session (started, or continued from the
    // previous page), or null; waits for a load in progress.
    current: function () {
      return Promise.resolve(loading).then(
        function (mod) {
          return (mod && mod.current()) || null;
        },
        function () {
          return null;
        }
      );
    },
  };

  resume();
  // Back from the back/forward cache: the old socket is gone; continue.
  window.addEventListener("pageshow", function (event) {
    if (event.persisted) resume();
  });
})();
