//! A DOM that lives in a Vec, for testing the mirror natively. Owns: just
//! enough of the DOM's rules to catch the mirror's mistakes (a node in two
//! places, inserting before a stranger, invalid names, two document
//! elements). Does not own: anything a browser test should check instead.

use protocol::{Ns, Viewport};

use super::{DomBackend, FormView, Reset};
use crate::ViewerError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FakeId(pub usize);

#[derive(Debug, Clone, PartialEq)]
pub enum FakeKind {
    Document,
    Fragment,
    Doctype(String),
    Element { tag: String, ns: Ns },
    Text(String),
    Comment(String),
}

#[derive(Debug, Clone)]
pub struct FakeNode {
    pub kind: FakeKind,
    pub parent: Option<FakeId>,
    pub children: Vec<FakeId>,
    /// (namespace, qualified name, value)
    pub attrs: Vec<(Option<String>, String, String)>,
    /// A template's content fragment.
    pub content: Option<FakeId>,
    pub form: FormView,
    pub scroll: Option<(f64, f64)>,
    /// An element's shadow root, a frame's document.
    pub shadow: Option<FakeId>,
    pub frame_doc: Option<FakeId>,
    /// A shadow root's host, a frame document's frame.
    pub owner: Option<FakeId>,
    /// A frame that shows "not shared".
    pub placeholder: bool,
}

#[derive(Debug, Default)]
pub struct FakeDom {
    pub nodes: Vec<FakeNode>,
    pub document: Option<FakeId>,
    pub quirks: Option<bool>,
    /// The doctype markup of the last reset.
    pub doctype_markup: Option<String>,
    pub resets: usize,
    pub window_scroll: Option<(f64, f64)>,
    pub viewport: Option<Viewport>,
    /// The visitor's id of each tagged node.
    pub tags: std::collections::HashMap<FakeId, protocol::NodeId>,
    /// Canvas frames drawn, placeholders shown, media states applied.
    pub canvas_draws: Vec<(FakeId, protocol::CanvasFrame)>,
    pub unreadable: Vec<FakeId>,
    pub media: Vec<(FakeId, protocol::MediaState)>,
    /// Stylesheets and fonts (`sheets_fake.rs`).
    pub sheets: super::sheets_fake::FakeSheets,
    /// The visitor's selection as shown: (anchor, offset), (focus, offset).
    pub selection: Option<((FakeId, u32), (FakeId, u32))>,
    /// The document's top layer, bottom to top, and every show and hide
    /// (`true`: shown) in the order they were made.
    pub top_layer: Vec<(FakeId, protocol::TopLayerKind)>,
    pub top_layer_calls: Vec<(FakeId, bool)>,
}

/// Names `createElement`/`setAttribute` would refuse.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit() || c == '-' || c == '.')
        && !name
            .chars()
            .any(|c| c.is_whitespace() || matches!(c, '<' | '>' | '"' | '\'' | '/' | '=' | '\0'))
}

impl FakeDom {
    fn add(&mut self, kind: FakeKind) -> FakeId {
        self.nodes.push(FakeNode {
            kind,
            parent: None,
            children: Vec::new(),
            attrs: Vec::new(),
            content: None,
            form: FormView::default(),
            scroll: None,
            shadow: None,
            frame_doc: None,
            owner: None,
            placeholder: false,
        });
        FakeId(self.nodes.len() - 1)
    }

    pub fn get(&self, id: FakeId) -> &FakeNode {
        &self.nodes[id.0]
    }

    pub fn attr(&self, id: FakeId, name: &str) -> Option<&str> {
        self.get(id)
            .attrs
            .iter()
            .find(|(_, n, _)| n == name)
            .map(|(_, _, v)| v.as_str())
    }

    pub fn attr_ns(&self, id: FakeId, name: &str) -> Option<&str> {
        self.get(id)
            .attrs
            .iter()
            .find(|(_, n, _)| n == name)
            .and_then(|(ns, _, _)| ns.as_deref())
    }

    /// The document as markup: attributes in the order they were set,
    /// foreign elements as `svg:circle`, template content inside `#content()`.
    pub fn html(&self) -> String {
        match self.document {
            Some(doc) => self
                .get(doc)
                .children
                .iter()
                .map(|c| self.markup(*c))
                .collect(),
            None => String::new(),
        }
    }

    pub fn markup(&self, id: FakeId) -> String {
        let node = self.get(id);
        let inner: String = node.children.iter().map(|c| self.markup(*c)).collect();
        match &node.kind {
            FakeKind::Document | FakeKind::Fragment => inner,
            FakeKind::Doctype(name) => format!("<!DOCTYPE {name}>"),
            FakeKind::Text(t) => t.clone(),
            FakeKind::Comment(t) => format!("<!--{t}-->"),
            FakeKind::Element { tag, ns } => {
                let prefix = match ns {
                    Ns::Html => "",
                    Ns::Svg => "svg:",
                    Ns::MathMl => "math:",
                    Ns::Other(_) => "other:",
                };
                let attrs: String = node
                    .attrs
                    .iter()
                    .map(|(_, n, v)| format!(" {n}=\"{v}\""))
                    .collect();
                let content = node
                    .content
                    .map(|c| format!("#content({})", self.markup(c)))
                    .unwrap_or_default();
                let shadow = node
                    .shadow
                    .map(|c| format!("#shadow({})", self.markup(c)))
                    .unwrap_or_default();
                let doc = match (node.frame_doc, node.placeholder) {
                    (_, true) => "#placeholder".to_owned(),
                    (Some(d), false) => format!("#doc({})", self.markup(d)),
                    (None, false) => String::new(),
                };
                format!("<{prefix}{tag}{attrs}>{content}{shadow}{doc}{inner}</{prefix}{tag}>")
            }
        }
    }

    fn is_inclusive_ancestor(&self, ancestor: FakeId, mut node: FakeId) -> bool {
        loop {
            if node == ancestor {
                return true;
            }
            match self.get(node).parent {
                Some(p) => node = p,
                None => return false,
            }
        }
    }

    /// Whether `node` is in the document, through shadow roots and frames.
    pub fn is_connected(&self, mut node: FakeId) -> bool {
        loop {
            if Some(node) == self.document {
                return true;
            }
            let n = self.get(node);
            match (n.parent, n.owner) {
                (Some(p), _) | (None, Some(p)) => node = p,
                (None, None) => return false,
            }
        }
    }

    fn unlink(&mut self, node: FakeId) {
        if let Some(parent) = self.nodes[node.0].parent.take() {
            self.nodes[parent.0].children.retain(|c| *c != node);
        }
    }
}

fn refused(what: &str) -> ViewerError {
    ViewerError::Dom(what.to_owned())
}

impl DomBackend for FakeDom {
    type Node = FakeId;

    fn reset_document(
        &mut self,
        quirks: bool,
        doctype: Option<&str>,
    ) -> Result<Reset<FakeId>, ViewerError> {
        self.resets += 1;
        self.top_layer.clear();
        let document = self.add(FakeKind::Document);
        self.document = Some(document);
        self.quirks = Some(quirks);
        self.doctype_markup = doctype.map(str::to_owned);
        let doctype = match (quirks, doctype) {
            (true, _) => None,
            (false, markup) => {
                let name = markup
                    .and_then(|m| m.strip_prefix("<!DOCTYPE "))
                    .and_then(|m| m.split([' ', '>']).next())
                    .unwrap_or("html");
                let id = self.add(FakeKind::Doctype(name.to_owned()));
                self.insert(&document, &id, None)?;
                Some(id)
            }
        };
        Ok(Reset { document, doctype })
    }

    fn create_element(&mut self, tag: &str, ns: &Ns) -> Result<FakeId, ViewerError> {
        if !valid_name(tag) {
            return Err(refused("InvalidCharacterError: tag"));
        }
        Ok(self.add(FakeKind::Element {
            tag: tag.to_owned(),
            ns: ns.clone(),
        }))
    }

    fn create_text(&mut self, text: &str) -> Result<FakeId, ViewerError> {
        Ok(self.add(FakeKind::Text(text.to_owned())))
    }

    fn create_comment(&mut self, text: &str) -> Result<FakeId, ViewerError> {
        Ok(self.add(FakeKind::Comment(text.to_owned())))
    }

    fn create_doctype(&mut self, name: &str, _: &str, _: &str) -> Result<FakeId, ViewerError> {
        Ok(self.add(FakeKind::Doctype(name.to_owned())))
    }

    fn template_content(&mut self, template: &FakeId) -> Result<FakeId, ViewerError> {
        if let Some(content) = self.get(*template).content {
            return Ok(content);
        }
        let content = self.add(FakeKind::Fragment);
        self.nodes[template.0].content = Some(content);
        Ok(content)
    }

    fn set_attribute(
        &mut self,
        element: &FakeId,
        ns: Option<&str>,
        name: &str,
        value: &str,
    ) -> Result<(), ViewerError> {
        if !valid_name(name) {
            return Err(refused("InvalidCharacterError: attribute"));
        }
        let attrs = &mut self.nodes[element.0].attrs;
        match attrs.iter_mut().find(|(_, n, _)| n == name) {
            Some(slot) => slot.2 = value.to_owned(),
            None => attrs.push((ns.map(str::to_owned), name.to_owned(), value.to_owned())),
        }
        Ok(())
    }

    fn remove_attribute(
        &mut self,
        element: &FakeId,
        _ns: Option<&str>,
        name: &str,
    ) -> Result<(), ViewerError> {
        self.nodes[element.0].attrs.retain(|(_, n, _)| n != name);
        Ok(())
    }

    fn insert(
        &mut self,
        parent: &FakeId,
        child: &FakeId,
        before: Option<&FakeId>,
    ) -> Result<(), ViewerError> {
        if self.is_inclusive_ancestor(*child, *parent) {
            return Err(refused("HierarchyRequestError: cycle"));
        }
        if let Some(b) = before {
            if self.get(*b).parent != Some(*parent) {
                return Err(refused("NotFoundError: before is not a child"));
            }
        }
        let is_element = |n: &FakeNode| matches!(n.kind, FakeKind::Element { .. });
        if self.get(*parent).kind == FakeKind::Document
            && is_element(self.get(*child))
            && self
                .get(*parent)
                .children
                .iter()
                .any(|c| *c != *child && is_element(self.get(*c)))
        {
            return Err(refused("HierarchyRequestError: second document element"));
        }
        self.unlink(*child);
        let siblings = &mut self.nodes[parent.0].children;
        let at = before
            .and_then(|b| siblings.iter().position(|c| c == b))
            .unwrap_or(siblings.len());
        siblings.insert(at, *child);
        self.nodes[child.0].parent = Some(*parent);
        Ok(())
    }

    fn detach(&mut self, node: &FakeId) {
        self.unlink(*node);
    }

    fn set_text(&mut self, node: &FakeId, text: &str) {
        match &mut self.nodes[node.0].kind {
            FakeKind::Text(t) | FakeKind::Comment(t) => *t = text.to_owned(),
            _ => {}
        }
    }

    fn set_form_state(&mut self, element: &FakeId, state: &FormView) {
        let form = &mut self.nodes[element.0].form;
        if state.value.is_some() {
            form.value = state.value.clone();
        }
        form.checked = state.checked.or(form.checked);
        form.selected = state.selected.or(form.selected);
    }

    fn scroll_document(&mut self, x: f64, y: f64) {
        self.window_scroll = Some((x, y));
    }

    fn scroll_element(&mut self, element: &FakeId, x: f64, y: f64) {
        self.nodes[element.0].scroll = Some((x, y));
    }

    fn set_viewport(&mut self, viewport: &Viewport) {
        self.viewport = Some(*viewport);
    }

    fn tag(&mut self, node: &FakeId, id: protocol::NodeId) {
        self.tags.insert(*node, id);
    }

    fn draw_canvas(&mut self, canvas: &FakeId, frame: &protocol::CanvasFrame) {
        self.canvas_draws.push((*canvas, frame.clone()));
    }

    fn canvas_unreadable(&mut self, canvas: &FakeId) {
        self.unreadable.push(*canvas);
    }

    fn set_media(&mut self, media: &FakeId, state: &protocol::MediaState) {
        self.media.push((*media, *state));
    }

    fn attach_shadow(&mut self, host: &FakeId) -> Result<FakeId, ViewerError> {
        if !matches!(self.get(*host).kind, FakeKind::Element { .. }) {
            return Err(refused("NotSupportedError: not an element"));
        }
        if let Some(root) = self.get(*host).shadow {
            for child in std::mem::take(&mut self.nodes[root.0].children) {
                self.nodes[child.0].parent = None;
            }
            return Ok(root);
        }
        let root = self.add(FakeKind::Fragment);
        self.nodes[root.0].owner = Some(*host);
        self.nodes[host.0].shadow = Some(root);
        Ok(root)
    }

    /// Like a browser: a frame that is not in the document has no document.
    fn reset_frame(
        &mut self,
        frame: &FakeId,
        quirks: bool,
        _doctype: Option<&str>,
    ) -> Result<Reset<FakeId>, ViewerError> {
        if !self.is_connected(*frame) {
            return Err(refused("a detached frame has no document"));
        }
        let document = self.add(FakeKind::Document);
        self.nodes[document.0].owner = Some(*frame);
        self.nodes[frame.0].frame_doc = Some(document);
        self.nodes[frame.0].placeholder = false;
        let doctype = if quirks {
            None
        } else {
            let id = self.add(FakeKind::Doctype("html".into()));
            self.insert(&document, &id, None)?;
            Some(id)
        };
        Ok(Reset { document, doctype })
    }

    fn frame_placeholder(&mut self, frame: &FakeId) {
        self.nodes[frame.0].frame_doc = None;
        self.nodes[frame.0].placeholder = true;
    }

    fn scroll_frame(&mut self, document: &FakeId, x: f64, y: f64) {
        self.nodes[document.0].scroll = Some((x, y));
    }

    fn show_visitor_selection(&mut self, ends: Option<super::selection::Ends<'_, FakeId>>) {
        self.selection = ends.map(|((a, ao), (f, fo))| ((*a, ao), (*f, fo)));
    }

    /// As the browser: a modal must be a `<dialog>`, a popover must have
    /// the `popover` attribute; showing one that is there does nothing.
    fn show_top_layer(
        &mut self,
        element: &FakeId,
        kind: protocol::TopLayerKind,
    ) -> Result<(), ViewerError> {
        let node = self.get(*element);
        let fits = match (&node.kind, kind) {
            (FakeKind::Element { tag, .. }, protocol::TopLayerKind::ModalDialog) => tag == "dialog",
            (FakeKind::Element { .. }, protocol::TopLayerKind::Popover) => {
                node.attrs.iter().any(|(_, name, _)| name == "popover")
            }
            _ => false,
        };
        if !fits {
            return Err(refused("NotSupportedError: cannot enter the top layer"));
        }
        if !self.top_layer.iter().any(|(id, _)| id == element) {
            self.top_layer.push((*element, kind));
            self.top_layer_calls.push((*element, true));
        }
        Ok(())
    }

    fn hide_top_layer(&mut self, element: &FakeId, _kind: protocol::TopLayerKind) {
        if let Some(at) = self.top_layer.iter().position(|(id, _)| id == element) {
            self.top_layer.remove(at);
            self.top_layer_calls.push((*element, false));
        }
    }

    /// Enough of URL resolution for tests: absolute URLs as they are,
    /// root-relative ones against the base's origin, others against its
    /// directory. The browser backend uses the real algorithm.
    fn resolve_url(&self, url: &str, base: &str) -> Option<String> {
        if url.contains("://") || url.starts_with("data:") {
            return Some(url.to_owned());
        }
        let origin_end = base
            .find("://")
            .map(|i| base[i + 3..].find('/').map_or(base.len(), |j| i + 3 + j))?;
        if url.starts_with('/') {
            return Some(format!("{}{url}", &base[..origin_end]));
        }
        let dir_end = base
            .rfind('/')
            .filter(|i| *i >= origin_end)
            .map_or(base.len(), |i| i + 1);
        let dir = &base[..dir_end];
        let sep = if dir.ends_with('/') { "" } else { "/" };
        Some(format!("{dir}{sep}{url}"))
    }
}
