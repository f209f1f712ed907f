//! Text selection both ways, on the visitor's side: reading the visitor's
//! selection as node ids for the agent, and drawing an agent's selection as
//! rectangles in `<cobrowse-ui>`'s presence layer.
//!
//! Owns: the DOM reading (`Selection` → [`TextRange`]), finding a text node
//! by id, and the agents' selection marks (removed on drop). Does not own:
//! when to send (`session/twoway.rs` debounces), the layer (`ui.rs`). The
//! page's own selection and styles are never touched: marks are separate
//! elements over the page.

use protocol::{AgentId, NodeId, TextRange};
use wasm_bindgen::{intern, JsCast};
use web_sys::{Document, Element, Node};

use crate::error::VisitorError;
use crate::ids::Ids;
use crate::pointer::{self, Spot};

/// Rectangles drawn per agent at most (a select-all of a long page would
/// otherwise mean thousands of elements).
const MAX_RECTS: u32 = 300;

/// The visitor's selection, as the agent may know it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reading {
    /// Inside the visitor's own panel: nothing is said about it.
    Ui,
    /// Nothing selected (or a caret), or a range between mirrored nodes.
    Range(Option<TextRange>),
    /// An end is in a node the agent does not know (not flushed yet).
    Unknown,
}

/// Whether `now` is worth sending after `last` (what was sent before;
/// `None`: nothing yet, which the agent takes as no selection).
pub fn changed(last: Option<Option<TextRange>>, now: Option<TextRange>) -> bool {
    last.unwrap_or(None) != now
}

/// Reads `document`'s selection.
pub fn read(document: &Document, ids: &Ids) -> Reading {
    let Ok(Some(selection)) = crate::dom::get_selection(document) else {
        return Reading::Range(None);
    };
    if selection.range_count() == 0 || selection.is_collapsed() {
        return Reading::Range(None);
    }
    let (Some(anchor), Some(focus)) = (selection.anchor_node(), selection.focus_node()) else {
        return Reading::Range(None);
    };
    let mut ends = [
        (anchor, selection.anchor_offset()),
        (focus, selection.focus_offset()),
    ]
    .into_iter()
    .map(|(node, offset)| {
        if matches!(pointer::spot(ids, Some(node.clone())), Spot::Ui) {
            return Err(Reading::Ui);
        }
        ids.get(&node)
            .map(|id| (id, offset))
            .ok_or(Reading::Unknown)
    });
    let (anchor, focus) = match (ends.next(), ends.next()) {
        (Some(Ok(a)), Some(Ok(f))) => (a, f),
        (Some(Err(Reading::Ui)), _) | (_, Some(Err(Reading::Ui))) => return Reading::Ui,
        _ => return Reading::Unknown,
    };
    Reading::Range(Some(TextRange {
        anchor: anchor.0,
        anchor_offset: anchor.1,
        focus: focus.0,
        focus_offset: focus.1,
    }))
}

/// The node (element, text or the document) that has `id`.
pub fn find_node(ids: &Ids, document: &Document, id: NodeId) -> Option<Node> {
    if let Some(node) = ids.find(document, id) {
        return Some(node);
    }
    // Text nodes are not elements: walk them (only when an agent selects).
    let walker = document
        // 0x4: NodeFilter.SHOW_TEXT.
        .create_tree_walker_with_what_to_show(document, 0x4)
        .ok()?;
    while let Ok(Some(node)) = walker.next_node() {
        if ids.get(&node) == Some(id) {
            return Some(node);
        }
    }
    None
}

/// A node's length as a range offset counts it.
fn node_len(node: &Node) -> u32 {
    match crate::dom::node_type(&node) {
        Node::TEXT_NODE | Node::COMMENT_NODE | Node::CDATA_SECTION_NODE => node
            .dyn_ref::<web_sys::CharacterData>()
            .map_or(0, web_sys::CharacterData::length),
        _ => crate::dom::child_nodes(&node).length(),
    }
}

/// A DOM range over `range`, whichever way it was selected.
pub fn to_range(
    document: &Document,
    range: &TextRange,
    find: &dyn Fn(NodeId) -> Option<Node>,
) -> Option<web_sys::Range> {
    let a = find(range.anchor)?;
    let f = find(range.focus)?;
    let (ao, fo) = (
        range.anchor_offset.min(node_len(&a)),
        range.focus_offset.min(node_len(&f)),
    );
    let dom = document.create_range().ok()?;
    // A backwards selection (focus before anchor) sets the end before the
    // start, which collapses the range: then it goes the other way.
    let forward = if a.is_same_node(Some(&f)) {
        fo >= ao
    } else {
        a.compare_document_position(&f) & Node::DOCUMENT_POSITION_FOLLOWING != 0
    };
    let ((s, so), (e, eo)) = if forward {
        ((&a, ao), (&f, fo))
    } else {
        ((&f, fo), (&a, ao))
    };
    dom.set_start(s, so).ok()?;
    dom.set_end(e, eo).ok()?;
    Some(dom)
}

/// The agents' selections, drawn over the page.
pub struct Marks {
    layer: Element,
    document: Document,
    drawn: Vec<(AgentId, TextRange, Vec<Element>)>,
}

impl Marks {
    pub fn new(document: &Document, layer: &Element) -> Marks {
        Marks {
            layer: layer.clone(),
            document: document.clone(),
            drawn: Vec::new(),
        }
    }

    /// Shows `range` as `agent`'s selection (`None`: clears it).
    pub fn set(
        &mut self,
        agent: AgentId,
        range: Option<TextRange>,
        find: &dyn Fn(NodeId) -> Option<Node>,
    ) -> Result<(), VisitorError> {
        self.remove_agent(agent);
        if let Some(range) = range {
            let rects = self.draw(&range, find)?;
            self.drawn.push((agent, range, rects));
        }
        Ok(())
    }

    /// Places every selection again (after a scroll or resize moved the
    /// text under it).
    pub fn replace(&mut self, find: &dyn Fn(NodeId) -> Option<Node>) -> Result<(), VisitorError> {
        let ranges: Vec<(AgentId, TextRange)> =
            self.drawn.iter().map(|(a, r, _)| (*a, *r)).collect();
        for (agent, range) in ranges {
            self.set(agent, Some(range), find)?;
        }
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        self.drawn.is_empty()
    }

    pub fn remove_agent(&mut self, agent: AgentId) {
        self.drawn.retain(|(a, _, rects)| {
            if *a == agent {
                rects.iter().for_each(Element::remove);
            }
            *a != agent
        });
    }

    fn draw(
        &self,
        range: &TextRange,
        find: &dyn Fn(NodeId) -> Option<Node>,
    ) -> Result<Vec<Element>, VisitorError> {
        let Some(dom) = to_range(&self.document, range, find) else {
            return Ok(Vec::new());
        };
        let list = dom.get_client_rects();
        let Some(list) = list else {
            return Ok(Vec::new());
        };
        let mut rects = Vec::new();
        for i in 0..list.length().min(MAX_RECTS) {
            let Some(r) = list.get(i) else { continue };
            if r.width() < 0.5 || r.height() < 0.5 {
                continue;
            }
            let el = crate::dom::create_element(&self.document, intern("div"))
                .map_err(VisitorError::js)?;
            crate::dom::set_attribute(&el, intern("data-cobrowse-selection"), "")
                .map_err(VisitorError::js)?;
            // Whole pixels as integers: `f64`'s `Display` would pull Rust's
            // float formatting into the shipped wasm.
            let px = |v: f64| v.round() as i64;
            let css = format!(
                "left:{}px;top:{}px;width:{}px;height:{}px;background:rgba(37,99,235,.3);border-radius:2px",
                px(r.left()),
                px(r.top()),
                px(r.width()),
                px(r.height())
            );
            crate::dom::set_attribute(&el, intern("style"), &css).map_err(VisitorError::js)?;
            crate::dom::append_child(&self.layer, &el).map_err(VisitorError::js)?;
            rects.push(el);
        }
        Ok(rects)
    }
}

impl Drop for Marks {
    fn drop(&mut self) {
        for (_, _, rects) in &self.drawn {
            rects.iter().for_each(Element::remove);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(n: u32) -> TextRange {
        TextRange {
            anchor: NodeId(n),
            anchor_offset: 0,
            focus: NodeId(n),
            focus_offset: 3,
        }
    }

    #[test]
    fn only_a_different_selection_is_sent() {
        assert!(!changed(None, None), "nothing, and still nothing");
        assert!(changed(None, Some(range(1))));
        assert!(!changed(Some(Some(range(1))), Some(range(1))));
        assert!(changed(Some(Some(range(1))), Some(range(2))));
        assert!(
            changed(Some(Some(range(1))), None),
            "a cleared selection is told"
        );
    }
}

#[cfg(all(test, target_arch = "wasm32"))]
// A failed expectation in a test is the point of the test.
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod browser {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

    /// A paragraph of two text nodes with ids, and a layer to draw in.
    fn page() -> (Document, Ids, Node, Node, Element) {
        let document = web_sys::window().unwrap().document().unwrap();
        let body = document.body().unwrap();
        let p = crate::dom::create_element(&document, "p").unwrap();
        let a = crate::dom::create_text_node(&document, "Hello selected ");
        let b = crate::dom::create_text_node(&document, "world of text");
        crate::dom::append_child(&p, &a).unwrap();
        crate::dom::append_child(&p, &b).unwrap();
        crate::dom::append_child(&body, &p).unwrap();
        let layer = crate::dom::create_element(&document, "div").unwrap();
        crate::dom::append_child(&body, &layer).unwrap();
        let mut ids = Ids::new();
        ids.get_or_assign(&p);
        ids.get_or_assign(&a);
        ids.get_or_assign(&b);
        (document, ids, a.into(), b.into(), layer)
    }

    #[wasm_bindgen_test]
    fn the_visitors_selection_reads_as_text_node_ids_and_offsets() {
        let (document, ids, a, b, _) = page();
        let selection = crate::dom::get_selection(&document).unwrap().unwrap();
        // Selected backwards: anchor after focus, as a right-to-left drag.
        selection.set_base_and_extent(&b, 5, &a, 6).unwrap();
        let Reading::Range(Some(range)) = read(&document, &ids) else {
            panic!("a range");
        };
        assert_eq!(range.anchor, ids.get(&b).unwrap());
        assert_eq!(range.anchor_offset, 5);
        assert_eq!(range.focus, ids.get(&a).unwrap());
        assert_eq!(range.focus_offset, 6);
        selection.remove_all_ranges().unwrap();
        assert_eq!(read(&document, &ids), Reading::Range(None));
    }

    #[wasm_bindgen_test]
    fn an_agents_selection_is_drawn_in_the_layer_and_leaves_the_page_alone() {
        let (document, ids, a, b, layer) = page();
        let selection = crate::dom::get_selection(&document).unwrap().unwrap();
        selection.remove_all_ranges().unwrap();
        let find = |id| find_node(&ids, &document, id);
        let mut marks = Marks::new(&document, &layer);
        // Backwards on purpose: still drawn.
        let range = TextRange {
            anchor: ids.get(&b).unwrap(),
            anchor_offset: 5,
            focus: ids.get(&a).unwrap(),
            focus_offset: 0,
        };
        marks.set(AgentId(1), Some(range), &find).unwrap();
        let drawn = crate::dom::query_selector_all(&layer, "[data-cobrowse-selection]").unwrap();
        assert!(drawn.length() >= 1, "rectangles over the text");
        assert_eq!(
            selection.range_count(),
            0,
            "the page's selection is untouched"
        );
        marks.set(AgentId(1), None, &find).unwrap();
        assert_eq!(layer.child_element_count(), 0, "cleared");
        marks.set(AgentId(2), Some(range), &find).unwrap();
        drop(marks);
        assert_eq!(
            layer.child_element_count(),
            0,
            "dropping removes every mark"
        );
    }
}
