//! A co-browsing session driven from outside, through CONTRACT.md's names
//! only: the visitor's `<cobrowse-ui>` buttons, the console's
//! `data-cobrowse-state` and `iframe#cobrowse-frame`.

use std::{path::PathBuf, time::Duration};

use anyhow::{bail, Context, Result};
use serde_json::Value;

use crate::{
    browser::{Browser, Tab},
    services::{Binaries, RelayOptions, Service},
};

pub const TOKEN: &str = "e2e-dev-token";
/// The visitor's and the agent's windows differ on purpose.
pub const VISITOR_SIZE: (u32, u32) = (1200, 800);
pub const AGENT_SIZE: (u32, u32) = (1440, 900);
pub const WAIT: Duration = Duration::from_secs(20);

/// A relay, the demo site and a browser, all stopped on drop.
pub struct World {
    pub relay: Service,
    pub site: Service,
    pub browser: Browser,
    root: PathBuf,
    relay_args: Vec<String>,
    /// Between the visitor's page and the relay, when the test cuts the
    /// visitor's network.
    pub proxy: Option<crate::proxy::Proxy>,
}

impl World {
    pub async fn start() -> Result<World> {
        World::start_with(None, Vec::new()).await
    }

    /// The demo site whose pages reach the relay through a [`Proxy`] the
    /// test can cut (`world.proxy`); consoles talk to the relay directly.
    ///
    /// [`Proxy`]: crate::proxy::Proxy
    pub async fn start_behind_proxy() -> Result<World> {
        let mut world = World::start_with(None, Vec::new()).await?;
        let proxy = crate::proxy::Proxy::start(world.relay.host()).await?;
        let bins = Binaries::next_to_test()?;
        world.site = bins.start_site(0, &world.root.join("www/site"), proxy.url())?;
        world.proxy = Some(proxy);
        Ok(world)
    }

    /// The demo site and a relay started with `relay_args` added to its
    /// command line (e.g. `--config` with a file of the test's).
    pub async fn start_with_relay_args(relay_args: Vec<String>) -> Result<World> {
        World::start_with(None, relay_args).await
    }

    /// Serves `pages` (any folder, e.g. third-party pages) with the SDK's tag
    /// injected into each HTML page, instead of the demo site.
    pub async fn start_pages(pages: &std::path::Path) -> Result<World> {
        World::start_with(Some(pages), Vec::new()).await
    }

    /// [`World::start_pages`] with `relay_args` added to the relay's
    /// command line.
    pub async fn start_pages_with_relay_args(
        pages: &std::path::Path,
        relay_args: Vec<String>,
    ) -> Result<World> {
        World::start_with(Some(pages), relay_args).await
    }

    async fn start_with(pages: Option<&std::path::Path>, relay_args: Vec<String>) -> Result<World> {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .context("tests/ has a parent")?
            .to_path_buf();
        let dist = root.join("target/dist");
        if !dist.join("sdk/cobrowse.js").is_file() || !dist.join("agent/index.html").is_file() {
            bail!("target/dist is incomplete: run `cargo xtask dist` (cargo xtask test does)");
        }
        let bins = Binaries::next_to_test()?;
        let relay = bins.start_relay(&RelayOptions {
            static_dir: dist,
            dev_agent_token: Some(TOKEN.into()),
            extra_args: relay_args.clone(),
            ..Default::default()
        })?;
        let site = match pages {
            Some(pages) => bins.start_pages(0, pages, relay.url(), true)?,
            None => bins.start_site(0, &root.join("www/site"), relay.url())?,
        };
        let browser = Browser::launch().await?;
        Ok(World {
            relay,
            site,
            browser,
            root,
            relay_args,
            proxy: None,
        })
    }

    /// Kills the relay (as a crash would) and starts a new one on the same
    /// port with the same arguments: pages and consoles keep their URLs.
    pub fn restart_relay(&mut self) -> Result<()> {
        let port: u16 = self
            .relay
            .host()
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .context("the relay's port")?;
        self.relay.kill();
        self.relay = Binaries::next_to_test()?.start_relay(&RelayOptions {
            port,
            static_dir: self.root.join("target/dist"),
            dev_agent_token: Some(TOKEN.into()),
            extra_args: self.relay_args.clone(),
            ..Default::default()
        })?;
        Ok(())
    }

    /// Opens a page of the site and waits for the SDK to load.
    pub async fn visitor(&self, page: &str) -> Result<Tab> {
        let (w, h) = VISITOR_SIZE;
        let tab = self
            .browser
            .open(&format!("{}/{page}", self.site.url()), w, h)
            .await?;
        tab.wait_for(
            "the SDK to load",
            // Through Document.prototype: a page may name an element
            // `readyState` (tests/fixtures/clobber/doc.html).
            "window.Cobrowse && Object.getOwnPropertyDescriptor(Document.prototype, 'readyState').get.call(document) === 'complete'",
            WAIT,
        )
        .await?;
        Ok(tab)
    }

    /// The agent's console, in a browser context of its own: the agent is
    /// another person, without the visitor's cookies or cache.
    pub async fn console(&self, code: &str, mode: &str) -> Result<Tab> {
        let (w, h) = AGENT_SIZE;
        self.console_sized(code, mode, w, h).await
    }

    /// The console in a window of `w`×`h` CSS px.
    pub async fn console_sized(&self, code: &str, mode: &str, w: u32, h: u32) -> Result<Tab> {
        let url = format!(
            "{}/agent/#token={TOKEN}&code={code}&mode={mode}",
            self.relay.url()
        );
        self.browser.open_private(&url, w, h).await
    }

    pub fn screenshot_path(&self, name: &str) -> PathBuf {
        self.root
            .join("target/e2e-screenshots")
            .join(format!("{name}.png"))
    }

    pub async fn stop(self) {
        self.browser.close().await;
    }
}

/// Prints a step of a scenario, so a failing or stuck run says where it was.
pub fn step(what: &str) {
    eprintln!("[e2e] {what}");
}

/// JavaScript: the `<cobrowse-ui>` shadow root's element matching `sel`.
pub fn ui(sel: &str) -> String {
    // The document's querySelector through its prototype: a page may name
    // a form `querySelector` (tests/fixtures/clobber/doc.html).
    format!(
        "Document.prototype.querySelector.call(document, 'cobrowse-ui')\
         ?.shadowRoot?.querySelector('{sel}')"
    )
}

/// Presses the page's own "Get live help" button and reads the 6-digit code
/// the visitor sees in `<cobrowse-ui>`.
pub async fn start_and_read_code(visitor: &Tab) -> Result<String> {
    visitor
        .eval::<Value>("document.getElementById('cobrowse-start').click(); return null;")
        .await?;
    let text = visitor
        .wait_for(
            "the join code in <cobrowse-ui>",
            // What the visitor reads: the panel's visible text, not its stylesheet.
            "Array.from(document.querySelector('cobrowse-ui')?.shadowRoot?.children || []) \
               .filter(e => e.localName !== 'style').map(e => e.innerText).join(' ') \
               .match(/\\b\\d{6}\\b/)?.[0]",
            WAIT,
        )
        .await?;
    text.as_str().map(str::to_owned).context("code is a string")
}

pub async fn console_state(console: &Tab) -> Result<String> {
    console
        .eval("return document.documentElement.getAttribute('data-cobrowse-state');")
        .await
}

pub async fn wait_state(console: &Tab, state: &str) -> Result<()> {
    let waited = console
        .wait_for(
            &format!("the console to be {state}"),
            &format!("document.documentElement.getAttribute('data-cobrowse-state') === '{state}'"),
            WAIT,
        )
        .await;
    if let Err(e) = waited {
        // Say what the console shows instead: its state and its words.
        let shown: Value = console
            .eval("return [document.documentElement.getAttribute('data-cobrowse-state'), document.body.innerText];")
            .await
            .unwrap_or(Value::Null);
        bail!("{e}; the console shows {shown}");
    }
    Ok(())
}

pub async fn click_ui(visitor: &Tab, attribute: &str) -> Result<()> {
    let sel = format!("[{attribute}]");
    visitor
        .wait_for(
            &format!("the visitor's {attribute} button"),
            &ui(&sel),
            WAIT,
        )
        .await?;
    visitor
        .eval::<Value>(&format!("{}.click(); return null;", ui(&sel)))
        .await
        .map(drop)
}

/// Starts a session on the page `visitor` shows through the JS API
/// (`Cobrowse.start()`, kept as `window.e2eSession`), for pages without the
/// demo's "Get live help" button, and returns its join code.
pub async fn start_via_api(visitor: &Tab) -> Result<String> {
    visitor
        .eval("const s = await window.Cobrowse.start(); window.e2eSession = s; return s.code;")
        .await
        .context("Cobrowse.start()")
}

/// Joins the session with `code` from a console (`mode`: `view` or
/// `shared`), has the visitor accept, and waits until the console is live.
pub async fn join_and_accept(world: &World, visitor: &Tab, code: &str, mode: &str) -> Result<Tab> {
    step(&format!("agent joins with code {code}"));
    let console = world.console(code, mode).await?;
    wait_state(&console, "waiting").await?;
    click_ui(visitor, "data-cobrowse-accept").await?;
    wait_state(&console, "live").await?;
    Ok(console)
}

/// Starts a session on `page`, joins it from a console and accepts.
pub async fn live_session(world: &World, page: &str) -> Result<(Tab, Tab)> {
    step(&format!("visitor opens /{page}"));
    let visitor = world.visitor(page).await?;
    let code = start_and_read_code(&visitor).await?;
    step(&format!("agent joins with code {code}"));
    let console = world.console(&code, "view").await?;
    wait_state(&console, "waiting").await?;
    step("visitor accepts");
    click_ui(&visitor, "data-cobrowse-accept").await?;
    wait_state(&console, "live").await?;
    step("console is live");
    Ok((visitor, console))
}

/// JavaScript that reduces a document to a comparable JSON tree: what a
/// person could see or a page could read, with the differences that the
/// mirror makes on purpose normalised away (URLs made absolute, event
/// handlers and script sources dropped, the visitor's own UI left out, a
/// password's value reduced to its length). Elements the markup masks
/// (`data-cobrowse-mask`, nearest marker against `data-cobrowse-unmask`)
/// are compared as the SDK sends them: text and attributes as placeholders,
/// URLs as origin and path, values by length, no ticks; a blocked element
/// (`data-cobrowse-block`, `data-cobrowse-blocked` in the mirror) by its tag.
/// Masking is idempotent, so both sides go through the same rules. A
/// resource URL the console points at the relay's cache
/// (`/res/s/{key}/{base64url(original)}`) compares as the original; CSS in
/// `<style>` and `style` attributes compares with its URLs blanked and the
/// console's state attributes read back as the pseudo-classes they replace;
/// a canvas's `content` (the console's way to show its pixels) is left out.
const NORMALISE: &str = r#"
const norm = (doc) => {
  // Members through the prototypes, as the capture reads them: a form's
  // controls and named images shadow a form's or the document's members
  // (`<input name="nextSibling">`), and a comparison that read them on the
  // node would misread both sides alike and miss what the mirror lost.
  const own = (p, k) => Object.getOwnPropertyDescriptor(p, k);
  const NP = Node.prototype, EP = Element.prototype, DP = Document.prototype;
  const get = (p, k) => { const g = own(p, k).get; return (n) => g.call(n); };
  const call = (p, k) => { const f = own(p, k).value; return (n, ...a) => f.call(n, ...a); };
  const firstChild = get(NP, 'firstChild'), nextSibling = get(NP, 'nextSibling');
  const nodeType = get(NP, 'nodeType'), parentElement = get(NP, 'parentElement');
  const localName = get(EP, 'localName'), namespaceURI = get(EP, 'namespaceURI');
  const attributes = get(EP, 'attributes'), shadowRoot = get(EP, 'shadowRoot');
  const closest = call(EP, 'closest'), matches = call(EP, 'matches'), contains = call(NP, 'contains');
  const baseURI = get(NP, 'baseURI')(doc), compatMode = get(DP, 'compatMode')(doc);
  const createElement = call(DP, 'createElement');
  const URLS = new Set(['href', 'src', 'action', 'formaction', 'poster', 'cite', 'data', 'background', 'xlink:href']);
  const unrelay = (v) => {
    const m = /\/res\/s\/[^/]+\/([A-Za-z0-9_-]+)(#.*)?$/.exec(v);
    if (!m) return v;
    try {
      const b = m[1].replace(/-/g, '+').replace(/_/g, '/');
      const bin = atob(b + '==='.slice((b.length + 3) % 4));
      return new TextDecoder().decode(Uint8Array.from(bin, c => c.charCodeAt(0))) + (m[2] || '');
    } catch (e) { return v; }
  };
  const abs = (v) => { try { return unrelay(new URL(v, baseURI).href); } catch (e) { return v; } };
  const masked = (el) => {
    const m = closest(el, '[data-cobrowse-mask]'), u = closest(el, '[data-cobrowse-unmask]');
    return m && u ? (m === u || !contains(m, u)) : !!m;
  };
  const stars = (s) => s.replace(/\S/g, '*');
  const strip = (v) => /^https?:\/\//i.test(v) ? v.replace(/[?#].*$/, '') : '';
  const css = (t) => t.toLowerCase()
    .replace(/url\((?:"[^"]*"|'[^']*'|[^)]*)\)/g, 'url()')
    .replace(/@import\s+(?:"[^"]*"|'[^']*')/g, '@import url()')
    .replace(/\[data-cobrowse-(hover|focus-within|focus|active)\]/g, ':$1')
    .replace(/:focus-visible/g, ':focus');
  const textOf = (n) => {
    const p = parentElement(n);
    if (p && localName(p) === 'style') return css(n.nodeValue);
    return p && masked(p) ? stars(n.nodeValue) : n.nodeValue;
  };
  // The HTML spec's srcset split: a URL may hold commas; only trailing ones
  // end it; descriptors run to the next comma outside parentheses.
  const srcset = (v) => {
    const out = [];
    let s = v;
    for (;;) {
      s = s.replace(/^[\s,]+/, '');
      if (!s) break;
      const raw = s.match(/^\S+/)[0];
      s = s.slice(raw.length);
      const url = raw.replace(/,+$/, '');
      let d = '';
      if (url.length === raw.length) {
        let depth = 0, i = 0;
        for (; i < s.length; i++) {
          const c = s[i];
          if (c === '(') depth++;
          else if (c === ')') depth = Math.max(0, depth - 1);
          else if (c === ',' && !depth) break;
        }
        d = s.slice(0, i).trim();
        s = s.slice(i);
      }
      out.push(abs(url) + (d ? ' ' + d : ''));
    }
    return out.join(', ');
  };
  // Siblings, not childNodes: some pages replace the childNodes getter.
  const childrenOf = (n) => { const out = []; for (let c = firstChild(n); c; c = nextSibling(c)) out.push(c); return out; };
  const walk = (n) => {
    switch (nodeType(n)) {
      case 10: return ['doctype', n.name, n.publicId, n.systemId];
      case 3: return ['text', textOf(n)];
      case 8: return ['comment', textOf(n)];
      case 1: {
        const tag = localName(n);
        if (tag === 'cobrowse-ui') return null;
        if (matches(n, '[data-cobrowse-block],[data-cobrowse-blocked]')) return ['blocked', tag];
        const m = masked(n);
        const attrs = [];
        for (const a of attributes(n)) {
          if (/^on/i.test(a.name)) continue;
          // The console's own state attributes (the visitor's pointer and focus).
          if (/^data-cobrowse-(hover|focus|focus-within|active)$/.test(a.name)) continue;
          if (tag === 'script' && (a.name === 'type' || a.name === 'src')) continue;
          // A mirrored frame never loads the visitor's address; its sandbox is the console's.
          if ((tag === 'iframe' || tag === 'frame') && ['src', 'srcdoc', 'sandbox'].includes(a.name)) continue;
          if (tag === 'meta' && a.name === 'http-equiv' && /^\s*(refresh|set-cookie)\s*$/i.test(a.value)) continue;
          if (m && ['checked', 'selected', 'srcset'].includes(a.name)) continue;
          let v = a.value;
          // An SVG reference into the document itself stays as written
          // (made absolute it would name another document).
          const local = namespaceURI(n) === 'http://www.w3.org/2000/svg' && /^\s*#/.test(v);
          if (URLS.has(a.name) && v && !local) v = abs(v);
          if (m) v = URLS.has(a.name) ? strip(v) : stars(v);
          if (a.name === 'srcset' && v) v = srcset(v);
          // The console shows a canvas's pixels through `content: url()` in
          // its style (re-serialised by the CSSOM): compare the rest, both
          // sides serialised alike.
          if (tag === 'canvas' && a.name === 'style') {
            const d = createElement(doc, 'div');
            d.setAttribute('style', v);
            d.style.removeProperty('content');
            v = d.style.cssText;
            if (!v) continue;
          }
          if (a.name === 'style') v = css(v);
          if (tag === 'input' && a.name === 'value' && (n.type || '').toLowerCase() === 'password') v = v.length;
          attrs.push([a.name, v]);
        }
        attrs.sort((a, b) => a[0] < b[0] ? -1 : 1);
        const kids = [];
        if (tag !== 'script') {
          for (const c of childrenOf(tag === 'template' ? n.content : n)) {
            const k = walk(c);
            if (k) kids.push(k);
          }
        }
        // An open shadow root first, as the protocol sends it.
        const sr = shadowRoot(n);
        if (sr && tag !== 'cobrowse-ui') kids.unshift(['#shadow', childrenOf(sr).map(walk).filter(Boolean)]);
        const out = [tag, namespaceURI(n), attrs, kids];
        if (tag === 'input' || tag === 'textarea' || tag === 'select') {
          out.push(n.type === 'password' || m ? n.value.length : n.value);
          if (tag === 'input') out.push(m ? null : n.checked);
        }
        if (tag === 'option') out.push(m ? null : n.selected);
        return out;
      }
    }
    return null;
  };
  return [compatMode, childrenOf(doc).map(walk).filter(Boolean)];
};
"#;

pub async fn visitor_dom(visitor: &Tab) -> Result<Value> {
    visitor
        .eval(&format!("{NORMALISE} return norm(document);"))
        .await
}

pub async fn mirror_dom(console: &Tab) -> Result<Value> {
    console
        .eval(&format!(
            "{NORMALISE} const f = document.querySelector('iframe#cobrowse-frame'); \
             return f && f.contentDocument ? norm(f.contentDocument) : null;"
        ))
        .await
}

/// Waits until the console's iframe shows the visitor's DOM; on timeout,
/// names the first difference.
pub async fn assert_mirrored(visitor: &Tab, console: &Tab) -> Result<()> {
    step("comparing the visitor's DOM with the mirror");
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let (want, got) = (visitor_dom(visitor).await?, mirror_dom(console).await?);
        if want == got {
            return Ok(());
        }
        if std::time::Instant::now() > deadline {
            bail!(
                "the console's iframe does not match the visitor's page:\n{}",
                first_difference(&want, &got, "document")
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Describes where two normalised trees first differ.
pub fn first_difference(want: &Value, got: &Value, path: &str) -> String {
    match (want, got) {
        (Value::Array(a), Value::Array(b)) => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                if x != y {
                    let label = x
                        .as_array()
                        .and_then(|n| n.first())
                        .and_then(Value::as_str)
                        .map_or(format!("{i}"), |tag| format!("{i}:{tag}"));
                    return first_difference(x, y, &format!("{path}/{label}"));
                }
            }
            format!(
                "at {path}: visitor has {} entries, mirror has {}\n  visitor: {}\n  mirror:  {}",
                a.len(),
                b.len(),
                short(want),
                short(got)
            )
        }
        _ => format!(
            "at {path}:\n  visitor: {}\n  mirror:  {}",
            short(want),
            short(got)
        ),
    }
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 400 {
        let cut = s.char_indices().nth(400).map_or(s.len(), |(i, _)| i);
        format!("{}…", &s[..cut])
    } else {
        s
    }
}
