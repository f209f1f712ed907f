//! The generated pages the benchmark measures on, and the folder the bench's
//! static server (the demo-site binary with this folder as its root) serves.
//!
//! Owns: a deterministic page of about N DOM nodes (elements plus text
//! nodes) made of what real pages hold — a styled table, nested lists, runs
//! of text with inline markup, a few images and a form — in three variants
//! that differ only in the scripts they load (none, rrweb, ours), and the
//! in-page probe every variant loads first. Does not own: measuring.

use std::{fmt::Write as _, path::Path};

use anyhow::{Context, Result};

/// Which recorder a page variant loads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorder {
    None,
    Rrweb,
    Ours,
}

impl Recorder {
    pub fn suffix(self) -> &'static str {
        match self {
            Recorder::None => "none",
            Recorder::Rrweb => "rrweb",
            Recorder::Ours => "ours",
        }
    }
}

/// Loaded first by every page: records long tasks and every WebSocket frame
/// the page sends or receives (with `performance.now()` times), so the
/// recorders are timed from outside, without touching their code. Listeners
/// added in the constructor run before any the recorder adds.
const PROBE: &str = r#"
window.__bench = { longtasks: [], sent: [], recv: [] };
try {
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) __bench.longtasks.push([e.startTime, e.duration]);
  }).observe({ type: 'longtask', buffered: true });
} catch (e) { __bench.noLongtask = String(e); }
const size = (d) => d == null ? 0 : (d.byteLength ?? d.size ?? (typeof d === 'string' ? new TextEncoder().encode(d).length : 0));
const NativeWebSocket = window.WebSocket;
window.WebSocket = class extends NativeWebSocket {
  constructor(...args) {
    super(...args);
    this.addEventListener('message', (e) => __bench.recv.push([performance.now(), size(e.data)]));
  }
  send(data) {
    const t = performance.now();
    super.send(data);
    __bench.sent.push([t, performance.now(), size(data)]);
  }
};
"#;

const STYLE: &str = "
body { font: 14px/1.4 system-ui, sans-serif; margin: 0 16px; color: #222; }
header { background: #234; color: #fff; padding: 8px; }
table.grid { border-collapse: collapse; margin: 8px 0; }
table.grid td { border: 1px solid #ccc; padding: 2px 4px; }
table.grid tr.odd td { background: #f6f6f6; }
td.c.num { text-align: right; font-variant-numeric: tabular-nums; }
td.on { outline: 1px solid orange; }
ul.tree { margin: 0 0 0 12px; padding: 0; }
ul.tree li { list-style: square; }
p.copy em { color: #a33; } p.copy .tag { background: #eef; border-radius: 3px; }
form.f label { display: block; margin: 4px 0; }
img.pic { width: 48px; height: 48px; }
";

const WORDS: [&str; 16] = [
    "account", "balance", "order", "shipping", "invoice", "customer", "payment", "status",
    "delivery", "product", "support", "ticket", "address", "refund", "quantity", "total",
];

/// Writes `index.html`, the probe, a small image and, for each `(name,
/// nodes)`, `<name>-none.html`, `<name>-rrweb.html` and `<name>-ours.html`.
/// `{{RELAY}}` is filled in by the demo-site server.
pub fn write_all(dir: &Path, pages: &[(String, usize)], rrweb_bundle: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    std::fs::write(
        dir.join("index.html"),
        "<!doctype html><title>bench</title>",
    )?;
    std::fs::write(dir.join("probe.js"), PROBE)?;
    std::fs::write(
        dir.join("pic.svg"),
        "<svg xmlns='http://www.w3.org/2000/svg' width='48' height='48'><rect width='48' height='48' fill='#4a8'/></svg>",
    )?;
    std::fs::copy(rrweb_bundle, dir.join("rrweb.min.js"))
        .with_context(|| format!("copying {}", rrweb_bundle.display()))?;
    for (name, nodes) in pages {
        let (body, _) = body(*nodes);
        for recorder in [Recorder::None, Recorder::Rrweb, Recorder::Ours] {
            let file = dir.join(format!("{name}-{}.html", recorder.suffix()));
            std::fs::write(&file, page(&body, recorder))
                .with_context(|| format!("writing {}", file.display()))?;
        }
    }
    Ok(())
}

fn page(body: &str, recorder: Recorder) -> String {
    let script = match recorder {
        Recorder::None => "",
        Recorder::Rrweb => "<script src=\"rrweb.min.js\"></script>",
        Recorder::Ours => {
            "<script src=\"{{RELAY}}/sdk/cobrowse.js\" data-relay=\"{{RELAY}}\"></script>"
        }
    };
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Bench page</title>\
         <script src=\"probe.js\"></script>{script}<style>{STYLE}</style></head>{body}</html>"
    )
}

/// Counts nodes as it writes them: every element and every text node is one.
struct Out {
    html: String,
    nodes: usize,
    seed: u32,
}

impl Out {
    fn open(&mut self, tag_and_attrs: &str) {
        self.nodes += 1;
        let _ = write!(self.html, "<{tag_and_attrs}>");
    }
    fn close(&mut self, tag: &str) {
        let _ = write!(self.html, "</{tag}>");
    }
    fn text(&mut self, text: &str) {
        self.nodes += 1;
        self.html.push_str(text);
    }
    fn leaf(&mut self, tag_and_attrs: &str, tag: &str, text: &str) {
        self.open(tag_and_attrs);
        self.text(text);
        self.close(tag);
    }
    fn void(&mut self, tag_and_attrs: &str) {
        self.nodes += 1;
        let _ = write!(self.html, "<{tag_and_attrs}>");
    }
    /// A small deterministic pseudo-random number (xorshift).
    fn next(&mut self) -> u32 {
        self.seed ^= self.seed << 13;
        self.seed ^= self.seed >> 17;
        self.seed ^= self.seed << 5;
        self.seed
    }
    fn word(&mut self) -> &'static str {
        WORDS[(self.next() % WORDS.len() as u32) as usize]
    }
}

/// `<body>…</body>` of about `target` nodes: 60% table, 20% lists, 20% text,
/// plus a header, a form and a few images. The last element is
/// `#bench-end`, so a mirror that shows it shows the whole page.
pub fn body(target: usize) -> (String, usize) {
    let mut out = Out {
        html: String::with_capacity(target * 40),
        nodes: 0,
        seed: 0x9e37_79b9,
    };
    out.open("body");
    out.open("header");
    out.leaf("h1", "h1", "Account overview");
    out.leaf("nav", "nav", "Home / Orders / Support");
    out.close("header");
    form(&mut out);
    for i in 0..4 {
        out.void(&format!(
            "img class=\"pic\" src=\"pic.svg?{i}\" alt=\"picture {i}\""
        ));
    }
    // Sections alternate so every kind of content is spread over the page.
    let mut block = 0;
    while out.nodes < target.saturating_sub(2) {
        let left = target - out.nodes;
        match block % 5 {
            0..=2 => table(&mut out, left.min(1_700), block),
            3 => list(&mut out, left.min(560), block),
            _ => text(&mut out, left.min(560), block),
        }
        block += 1;
    }
    out.leaf("footer id=\"bench-end\"", "footer", "End of page");
    out.close("body");
    (out.html, out.nodes)
}

fn form(out: &mut Out) {
    out.open("form class=\"f\" action=\"/submit\" method=\"post\"");
    out.open("label");
    out.text("Name ");
    out.void("input type=\"text\" name=\"name\" value=\"Ada Lovelace\"");
    out.close("label");
    out.open("label");
    out.text("Email ");
    out.void("input type=\"email\" name=\"email\" value=\"ada@example.com\"");
    out.close("label");
    out.open("select name=\"plan\"");
    for plan in ["Basic", "Plus", "Pro"] {
        out.leaf(&format!("option value=\"{plan}\""), "option", plan);
    }
    out.close("select");
    out.leaf(
        "textarea name=\"note\" rows=\"2\"",
        "textarea",
        "Call me after 5pm",
    );
    out.void("input type=\"checkbox\" name=\"news\" checked");
    out.leaf("button type=\"submit\"", "button", "Save");
    out.close("form");
}

/// A table of rows of 8 cells (17 nodes a row) up to `budget` nodes.
fn table(out: &mut Out, budget: usize, block: usize) {
    let start = out.nodes;
    out.open(&format!("table class=\"grid\" id=\"t{block}\""));
    out.open("tbody");
    let mut row = 0;
    while out.nodes - start + 17 <= budget.max(19) {
        let class = if row % 2 == 1 { "odd" } else { "even" };
        out.open(&format!("tr class=\"{class}\" data-r=\"{row}\""));
        for col in 0..8 {
            if col % 3 == 2 {
                let n = out.next() % 100_000;
                out.leaf(
                    "td class=\"c num\"",
                    "td",
                    &format!("{}.{:02}", n / 100, n % 100),
                );
            } else {
                let w = out.word();
                out.leaf(&format!("td class=\"c k{col}\""), "td", w);
            }
        }
        out.close("tr");
        row += 1;
    }
    out.close("tbody");
    out.close("table");
}

/// Nested lists three deep, items with a link each.
fn list(out: &mut Out, budget: usize, block: usize) {
    let start = out.nodes;
    out.open(&format!("ul class=\"tree\" id=\"l{block}\""));
    let mut i = 0;
    while out.nodes - start + 14 <= budget.max(15) {
        out.open("li");
        let w = out.word();
        out.text(&format!("{w} {i} "));
        out.leaf(&format!("a href=\"#item-{block}-{i}\""), "a", "details");
        out.open("ul class=\"tree\"");
        for j in 0..2 {
            out.open("li");
            let w = out.word();
            out.text(&format!("{w} {i}.{j} "));
            out.leaf("span class=\"tag\"", "span", "new");
            out.close("li");
        }
        out.close("ul");
        out.close("li");
        i += 1;
    }
    out.close("ul");
}

/// Paragraphs of text with inline markup and an inline style now and then.
fn text(out: &mut Out, budget: usize, block: usize) {
    let start = out.nodes;
    out.open(&format!("section id=\"s{block}\""));
    let mut i = 0;
    while out.nodes - start + 9 <= budget.max(10) {
        if i % 4 == 0 {
            out.open("p class=\"copy\" style=\"margin: 6px 0; color: #333\"");
        } else {
            out.open("p class=\"copy\"");
        }
        let mut sentence = String::new();
        for _ in 0..12 {
            sentence.push_str(out.word());
            sentence.push(' ');
        }
        out.text(&sentence);
        out.leaf("em", "em", "important");
        out.text(" and then ");
        let w = out.word();
        out.leaf("span class=\"tag\"", "span", w);
        out.text(". ");
        out.close("p");
        i += 1;
    }
    out.close("section");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_hold_about_the_nodes_asked_for() {
        for target in [10_000, 50_000] {
            let (html, nodes) = body(target);
            assert!(nodes.abs_diff(target) < target / 50, "{nodes} for {target}");
            assert!(html.ends_with("</footer></body>"));
            assert!(html.matches("<td").count() > target / 5);
        }
    }
}
