//! Finding the resources the page uses: its elements' URLs (outside blocked
//! and masked subtrees and the visitor UI), the stylesheets' loads from the
//! browser's resource timing, and later loads through a
//! `PerformanceObserver`.
//!
//! Owns: reading those URLs from the live page. Does not own: deduping,
//! budgets or what happens next (`plan.rs`), nor the masking rules
//! themselves (`mask.rs`, `serialize::masked_by`).
//!
//! Privacy: an element a block or mask rule covers (or the visitor UI)
//! contributes nothing, so a resource used only there is neither offered
//! nor counted as referenced by the page. Resource timing cannot say which
//! element a stylesheet loaded a background for, so the URLs covered
//! elements use (their attributes and computed background images) are
//! collected as `private`, and timing entries among them are dropped; when
//! the masked area is too large to check, every timing entry is. The rest
//! are only candidates (`Found::timed`): see `plan.rs`.

use std::rc::Rc;

use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use web_sys::{
    Document, Element, HtmlImageElement, NodeList, PerformanceObserver,
    PerformanceObserverEntryList, PerformanceObserverInit, PerformanceResourceTiming, Window,
};

use super::fetch::{resolve, resolve_all};
use super::plan::Found;
use super::rules::{css_refs, without_fragment};
use super::set::Set;
use crate::mask::{absolutize_srcset, Rules, UI_TAG};
use crate::serialize::masked_by;

/// Elements that may carry a resource URL, one query each: a lone tag or
/// attribute selector takes the browser's fast path (~0.2 ms on a page of
/// 50k nodes, measured in Chromium), where the same list joined by commas
/// tested every element against each part (20–30 ms). The last one is the
/// `style` attribute, read for itself; the others for their element.
const QUERIES: [&str; 9] = [
    "img",
    "picture source",
    "link[href]",
    "video[poster]",
    "input[src]",
    "image",
    "use",
    "style",
    STYLE_QUERY,
];

const STYLE_QUERY: &str = "[style*='url(' i]";

const XLINK: &str = "http://www.w3.org/1999/xlink";

/// Covered elements whose computed style is read per round, at most.
const MAX_COVERED_STYLES: u32 = 2000;

/// Computed properties that load images.
const IMAGE_PROPERTIES: [&str; 4] = [
    "background-image",
    "list-style-image",
    "border-image-source",
    "mask-image",
];

/// The page's resources as its unmasked DOM and resource timing show them,
/// read in one go (see [`Scan`] for the same in parts).
pub(crate) fn discover(
    window: &Window,
    document: &Document,
    rules: &Rules,
    timed: Vec<String>,
    shadow_roots: Option<&[wasm_bindgen::JsValue]>,
) -> Found {
    let mut scan = Scan::new(document, timed, shadow_roots.map(<[_]>::to_vec));
    loop {
        if let Some(found) = scan.step(window, document, rules, &mut || true) {
            return found;
        }
    }
}

/// A look at the page's resources taken in parts, so that a large page is
/// never stopped for all of it: each query's elements, the page's CSS,
/// then what covered elements' styles load; `step` goes on until its
/// budget says stop. `timed` are URLs the timing observer reported since
/// the last round; `shadow_roots` the open shadow roots the capture knows
/// (`None`: found by asking every element).
///
/// The page runs between parts, so an element is judged (covered or not)
/// as it is when its part is read; a change meanwhile brings another scan.
pub(crate) struct Scan {
    base: String,
    timed: Vec<String>,
    shadow_roots: Option<Vec<wasm_bindgen::JsValue>>,
    found: Found,
    hidden: Found,
    part: Part,
}

enum Part {
    /// The elements of `QUERIES[query]`, from `next` on.
    Elements {
        query: usize,
        list: Option<NodeList>,
        next: u32,
    },
    /// URLs in the page's stylesheets made or changed in script.
    Sheets,
    /// What covered elements' computed styles load; then the end.
    Covered,
}

impl Scan {
    pub fn new(
        document: &Document,
        timed: Vec<String>,
        shadow_roots: Option<Vec<wasm_bindgen::JsValue>>,
    ) -> Scan {
        let base = crate::dom::base_uri(document).unwrap_or_else(|| crate::dom::url(document));
        Scan {
            base,
            timed,
            shadow_roots,
            found: Found::default(),
            hidden: Found::default(),
            part: Part::Elements {
                query: 0,
                list: None,
                next: 0,
            },
        }
    }

    /// Reads on while `more()` says so (asked between elements and
    /// parts); what was found once the whole page was read.
    pub fn step(
        &mut self,
        window: &Window,
        document: &Document,
        rules: &Rules,
        more: &mut dyn FnMut() -> bool,
    ) -> Option<Found> {
        loop {
            match &mut self.part {
                Part::Elements { query, list, next } => {
                    let list = list.get_or_insert_with(|| {
                        crate::dom::query_selector_all(&document, QUERIES[*query])
                            .unwrap_or_else(|_| empty_list(document))
                    });
                    while *next < list.length() {
                        if !more() {
                            return None;
                        }
                        let el = list.item(*next).and_then(|n| n.dyn_into::<Element>().ok());
                        *next += 1;
                        let Some(el) = el else { continue };
                        let into = if covered(rules, &el) {
                            &mut self.hidden
                        } else {
                            &mut self.found
                        };
                        if QUERIES[*query] == STYLE_QUERY {
                            style_attribute(&el, &self.base, into);
                        } else {
                            element(&el, &self.base, into);
                        }
                    }
                    self.part = match *query + 1 {
                        q if q < QUERIES.len() => Part::Elements {
                            query: q,
                            list: None,
                            next: 0,
                        },
                        _ => Part::Sheets,
                    };
                }
                Part::Sheets => {
                    // Rules and fonts made in script name URLs the DOM does
                    // not show.
                    let roots = self.shadow_roots.as_deref();
                    let (css, fonts) = crate::cssom::page_css(document, roots);
                    for text in css {
                        let refs = css_refs(&text).into_iter().map(|r| r.text);
                        self.found.sheet_refs.extend(resolve_all(refs, &self.base));
                    }
                    for source in fonts {
                        let refs = css_refs(&source).into_iter().map(|r| r.text);
                        self.found.offer.extend(resolve_all(refs, &self.base));
                    }
                    self.part = Part::Covered;
                }
                Part::Covered => {
                    let complete = covered_styles(window, document, rules, &mut self.hidden.offer);
                    return Some(self.finish(window, complete));
                }
            }
            if !more() {
                return None;
            }
        }
    }

    /// Sorts what covered elements use from the rest and vets the timing
    /// entries against it.
    fn finish(&mut self, window: &Window, complete: bool) -> Found {
        let mut found = std::mem::take(&mut self.found);
        let hidden = std::mem::take(&mut self.hidden);
        let mut public = Set::default();
        for url in found.offer.iter().chain(&found.referenced) {
            public.insert(url.as_str());
        }
        let mut private = Set::default();
        for url in hidden.offer.into_iter().chain(hidden.referenced) {
            if !public.contains(url.as_str()) {
                private.insert(url);
            }
        }
        let mut from_timing = Vec::new();
        for url in timing_urls(window).iter().chain(&self.timed) {
            let Some(url) = without_fragment(url) else {
                continue;
            };
            if complete && !private.contains(url) && !public.contains(&url) {
                from_timing.push(url.to_owned());
            }
        }
        found.timed = from_timing;
        found.private = private.into_vec();
        found.private_complete = complete;
        found
    }
}

/// An empty `NodeList`, for a query the page refused (it never does for
/// these selectors).
fn empty_list(document: &Document) -> NodeList {
    crate::dom::child_nodes(&crate::dom::create_document_fragment(document))
}

/// Adds the images that covered elements' computed styles load (a
/// stylesheet's background for a masked avatar, say). False when there were
/// too many covered elements to check them all.
fn covered_styles(
    window: &Window,
    document: &Document,
    rules: &Rules,
    out: &mut Vec<String>,
) -> bool {
    let roots = if rules.private_by_default {
        crate::dom::document_element(document)
            .into_iter()
            .collect::<Vec<_>>()
    } else {
        let selector = format!("{},{}", rules.block, rules.mask);
        let Ok(list) = crate::dom::query_selector_all(&document, &selector) else {
            return false;
        };
        (0..list.length())
            .filter_map(|i| list.item(i).and_then(|n| n.dyn_into::<Element>().ok()))
            .collect()
    };
    let mut budget = MAX_COVERED_STYLES;
    for root in roots {
        let Ok(inside) = crate::dom::query_selector_all(&root, "*") else {
            return false;
        };
        let all = std::iter::once(Some(root))
            .chain((0..inside.length()).map(|i| inside.item(i).and_then(|n| n.dyn_into().ok())));
        for el in all.flatten() {
            if budget == 0 {
                return false;
            }
            budget -= 1;
            if !covered(rules, &el) {
                continue;
            }
            let Ok(Some(style)) = window.get_computed_style(&el) else {
                continue;
            };
            for property in IMAGE_PROPERTIES {
                let value = style.get_property_value(property).unwrap_or_default();
                if value.contains("url(") {
                    let refs = css_refs(&value).into_iter().map(|r| r.text);
                    out.extend(resolve_all(refs, &crate::dom::url(document)));
                }
            }
        }
    }
    true
}

/// Whether the element's resources must stay on the page: the visitor UI,
/// or a block or mask rule covers it. A selector that fails to match counts
/// as covering (fail closed).
fn covered(rules: &Rules, el: &Element) -> bool {
    let inside = |selector: &str| !matches!(crate::dom::closest(el, selector), Ok(None));
    inside(UI_TAG) || inside(&rules.block) || masked_by(rules, el)
}

fn element(el: &Element, base: &str, found: &mut Found) {
    let attr = |name: &str| crate::dom::get_attribute(el, name).filter(|v| !v.trim().is_empty());
    let offer = |found: &mut Found, raw: Option<String>| {
        if let Some(url) = raw.and_then(|r| resolve(&r, base)) {
            found.offer.push(url);
        }
    };
    let srcset = |found: &mut Found, value: Option<String>| {
        if let Some(value) = value {
            absolutize_srcset(&value, |u| {
                found.referenced.extend(resolve(u, base));
                None
            });
        }
    };
    match crate::dom::local_name(el).as_str() {
        "img" => {
            // What the browser chose from `srcset`/`<picture>`; the other
            // candidates are referenced (an agent's screen may pick one).
            let current = el
                .dyn_ref::<HtmlImageElement>()
                .map(HtmlImageElement::current_src)
                .filter(|s| !s.is_empty());
            offer(found, current.or_else(|| attr("src")));
            srcset(found, attr("srcset"));
        }
        "source" => {
            srcset(found, attr("srcset"));
            // A media element's candidates: the one it plays is offered
            // through the element (`currentSrc`); the others only if asked.
            let in_media = crate::dom::parent_element(&el)
                .is_some_and(|p| matches!(crate::dom::local_name(&p).as_str(), "video" | "audio"));
            if in_media {
                found
                    .referenced
                    .extend(attr("src").and_then(|r| resolve(&r, base)));
            }
        }
        "video" | "audio" => {
            // What the element plays (from `src` or the `<source>` it
            // chose). Fetched like any resource, within the size limit: a
            // film too big is offered without a body and the console's copy
            // shows the poster (or stays empty). One the page has not
            // started loading (`preload="none"`, no `currentSrc` yet) is
            // only referenced: fetched if the console's copy asks for it.
            let current = js_sys::Reflect::get(el, &"currentSrc".into())
                .ok()
                .and_then(|v| v.as_string())
                .filter(|s| !s.is_empty());
            match current {
                Some(url) => offer(found, Some(url)),
                None => found
                    .referenced
                    .extend(attr("src").and_then(|r| resolve(&r, base))),
            }
            offer(found, attr("poster"));
        }
        "link" => {
            let rel = attr("rel").unwrap_or_default().to_ascii_lowercase();
            let rels: Vec<&str> = rel.split_ascii_whitespace().collect();
            let kind = attr("as").unwrap_or_default().to_ascii_lowercase();
            let wanted = rels.iter().any(|r| {
                matches!(
                    *r,
                    "stylesheet"
                        | "icon"
                        | "apple-touch-icon"
                        | "apple-touch-icon-precomposed"
                        | "mask-icon"
                )
            }) || (rels.contains(&"preload")
                && matches!(kind.as_str(), "image" | "font" | "style"));
            if wanted {
                offer(found, attr("href"));
                srcset(found, attr("imagesrcset"));
            }
        }
        "input" if attr("type").is_some_and(|t| t.eq_ignore_ascii_case("image")) => {
            offer(found, attr("src"));
        }
        "image" | "use" => {
            let href = attr("href").or_else(|| {
                crate::dom::get_attribute_ns(el, Some(XLINK), "href")
                    .filter(|v| !v.trim().is_empty())
            });
            // `#id` points into this document: nothing to fetch.
            offer(found, href.filter(|h| !h.trim_start().starts_with('#')));
        }
        "style" => {
            // Rules not applied yet (hover states) are referenced, not loaded.
            let text = crate::dom::text_content(&el).unwrap_or_default();
            let refs = css_refs(&text).into_iter().map(|r| r.text);
            found.sheet_refs.extend(resolve_all(refs, base));
        }
        _ => {}
    }
}

/// The images an element's `style` attribute loads (any element: found by
/// [`STYLE_QUERY`], apart from the element's own URLs).
fn style_attribute(el: &Element, base: &str, found: &mut Found) {
    if let Some(style) = crate::dom::get_attribute(el, "style").filter(|v| !v.trim().is_empty()) {
        let refs = css_refs(&style)
            .into_iter()
            .filter(|r| r.in_url)
            .map(|r| r.text);
        found.offer.extend(resolve_all(refs, base));
    }
}

/// Resource timing entries whose loads stylesheets started (fonts,
/// backgrounds, `@import`s: `css`) or `<link>`s did.
fn timing_urls(window: &Window) -> Vec<String> {
    let Some(performance) = window.performance() else {
        return Vec::new();
    };
    css_and_link(&performance.get_entries_by_type("resource"))
}

fn css_and_link(entries: &js_sys::Array) -> Vec<String> {
    entries
        .iter()
        .filter_map(|e| e.dyn_into::<PerformanceResourceTiming>().ok())
        .filter(|e| matches!(e.initiator_type().as_str(), "css" | "link"))
        .map(|e| e.name())
        .collect()
}

/// Reports resource loads as they finish; disconnected on drop.
#[must_use]
pub(crate) struct TimingObserver {
    observer: PerformanceObserver,
    _closure: Closure<dyn FnMut(PerformanceObserverEntryList)>,
}

impl TimingObserver {
    /// `on_urls` gets the URLs of each batch of new css/link loads.
    pub fn start(on_urls: Rc<dyn Fn(Vec<String>)>) -> Option<TimingObserver> {
        let closure = Closure::<dyn FnMut(PerformanceObserverEntryList)>::new(
            move |list: PerformanceObserverEntryList| {
                let urls = css_and_link(&list.get_entries());
                if !urls.is_empty() {
                    on_urls(urls);
                }
            },
        );
        let observer = PerformanceObserver::new(closure.as_ref().unchecked_ref()).ok()?;
        let init = PerformanceObserverInit::new(&js_sys::Array::of1(&"resource".into()));
        observer.observe(&init);
        Some(TimingObserver {
            observer,
            _closure: closure,
        })
    }
}

impl Drop for TimingObserver {
    fn drop(&mut self) {
        self.observer.disconnect();
    }
}
