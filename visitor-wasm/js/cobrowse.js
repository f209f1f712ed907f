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
 *        (data-webgl="off" on the tag: leave the page's WebGL contexts alone)
 *        Cobrowse.start({ mask: [".card-number"] }).then(s => console.log(s.code));
 *        Cobrowse.start({ invitation: SECRET }) // an agent's invitation (relay's /api/invitations)
 *        Cobrowse.current().then(s => s && s.end()); // the running session, if any
 */
(function () {
  "use strict";
  if (window.Cobrowse) return; // included twice: keep the first

  // The document's members through Document.prototype: an <img
  // name="currentScript"> (or "createElement") on the page shadows them on
  // the document itself ([LegacyOverrideBuiltIns]).
  var docProto = Document.prototype;
  var createElement = docProto.createElement;
  var script = Object.getOwnPropertyDescriptor(docProto, "currentScript").get.call(document);
  // data-webgl="off": the page's WebGL contexts stay exactly as the page
  // made them (a canvas drawn once may then reach the agent blank).
  if (!(script && script.getAttribute("data-webgl") === "off")) keepWebglPictures();
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

  // WebGL pictures for the agent. A WebGL context made without
  // preserveDrawingBuffer hands its buffer to the compositor and starts the
  // next frame blank, so a canvas drawn once (a chart, a static scene) has
  // nothing left to read when a session's capture looks, maybe minutes
  // later. The session's wasm is loaded only on start(), long after the
  // page drew: this has to be in place before the page's scripts run.
  // - Contexts made after this script get preserveDrawingBuffer: true,
  //   also where the page passed false (three.js and others pass their
  //   default, false, explicitly). rrweb's recorder does the same. Cost:
  //   the browser copies the buffer when it presents a frame instead of
  //   swapping it. Measured in headless Chromium (software WebGL, a shared
  //   2-core machine) on a 1920×1080 animation: frame time within the noise
  //   (22–55 ms a frame without, 24–32 ms with). A page
  //   that never calls clear() and relied on the browser clearing the
  //   buffer would see its drawings accumulate (frameworks clear each frame).
  // - Contexts made before this script keep their buffer cleared. After a
  //   task that drew into one, a microtask (the buffer still intact, the
  //   frame not yet presented) copies it into a detached 2D canvas, which
  //   the capture reads when the canvas itself reads blank (canvas/mod.rs).
  //   A copy is expensive (37–60 ms for 1080p in the same measurement:
  //   copied every frame, the animation ran at half speed), so it is made
  //   only for a draw after a quiet spell (a chart, a scene drawn on demand:
  //   copied at once) and at most once a second for a canvas drawn every
  //   frame (measured: 1.0–1.4 ms of script a frame on average, against
  //   0.2–0.3 without). Such a canvas's live buffer is read in the frame
  //   anyway; its copy matters only once the animation stops, and is then
  //   up to a second old until the page draws again.
  // The copies never leave the page by themselves: the capture applies its
  // masking, blocking and budget rules to the canvas they stand for.
  function keepWebglPictures() {
    var canvasProto = window.HTMLCanvasElement && window.HTMLCanvasElement.prototype;
    if (!canvasProto || typeof canvasProto.getContext !== "function" || typeof WeakMap !== "function") {
      return;
    }
    var key = typeof Symbol === "function" && Symbol["for"] ? Symbol["for"]("cobrowse.webgl.copies") : null;
    if (!key || window[key]) return;
    var QUIET_MS = 100; // a draw after this long without one is copied at once
    var COPY_EVERY_MS = 1000; // else at most this often
    var copies = new WeakMap(); // page canvas -> its latest picture
    var seen = new WeakMap(); // context -> { preserved, drawn, copied }
    var pending = [];
    Object.defineProperty(window, key, { value: copies });

    var getContext = canvasProto.getContext;
    canvasProto.getContext = function (type, attributes) {
      if (type === "webgl" || type === "webgl2" || type === "experimental-webgl") {
        var asked = {};
        if (attributes && typeof attributes === "object") {
          for (var k in attributes) asked[k] = attributes[k];
        }
        asked.preserveDrawingBuffer = true;
        return getContext.call(this, type, asked);
      }
      return getContext.apply(this, arguments);
    };

    function copyAll() {
      var list = pending;
      pending = [];
      for (var i = 0; i < list.length; i++) {
        var canvas = list[i];
        try {
          var copy = copies.get(canvas);
          if (!copy) {
            copy = createElement.call(document, "canvas");
            copies.set(canvas, copy);
          }
          if (copy.width !== canvas.width) copy.width = canvas.width;
          if (copy.height !== canvas.height) copy.height = canvas.height;
          var ctx = copy.getContext("2d");
          ctx.clearRect(0, 0, copy.width, copy.height);
          ctx.drawImage(canvas, 0, 0);
        } catch (e) {
          copies["delete"](canvas); // a lost context or a zero-size canvas
        }
      }
    }

    function drew(gl) {
      var canvas = gl.canvas;
      if (!(canvas instanceof window.HTMLCanvasElement)) return; // an OffscreenCanvas: not on the page
      var state = seen.get(gl);
      if (!state) {
        var attrs = gl.getContextAttributes();
        state = { preserved: !!(attrs && attrs.preserveDrawingBuffer), drawn: -Infinity, copied: -Infinity };
        seen.set(gl, state);
      }
      if (state.preserved || pending.indexOf(canvas) >= 0) return;
      var now = performance.now();
      var quiet = now - state.drawn > QUIET_MS;
      state.drawn = now;
      if (!quiet && now - state.copied < COPY_EVERY_MS) return;
      state.copied = now;
      if (pending.push(canvas) === 1) queueMicrotask(copyAll);
    }

    var names = ["clear", "drawArrays", "drawElements", "drawArraysInstanced", "drawElementsInstanced", "drawRangeElements"];
    [window.WebGLRenderingContext, window.WebGL2RenderingContext].forEach(function (Ctx) {
      if (!Ctx || typeof queueMicrotask !== "function") return;
      names.forEach(function (name) {
        var original = Ctx.prototype[name];
        if (typeof original !== "function") return;
        Ctx.prototype[name] = function () {
          var out = original.apply(this, arguments);
          try {
            drew(this);
          } catch (e) {
            // Never let the copy break the page's drawing.
          }
          return out;
        };
      });
    });
  }

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
