//! Encoding what the visitor sends, byte for byte as `protocol::encode`
//! would (structs as arrays, unit variants as strings, other variants as
//! one-entry maps, `None` as nil, integers in their smallest form). The
//! tests compare every byte with `protocol::encode` on rich samples.

use protocol::{
    AddedNode, AgentId, Attr, AttrChange, CanvasFrame, Event, FontFaceDesc, FormState, ImageFormat,
    MediaState, Mode, MutationBatch, Node, Ns, Offered, PointerKind, ResourcePolicy, ScrollPos,
    Seq, SheetChange, SheetRef, Snapshot, TextChange, TextRange, TopLayerEntry, TopLayerKind,
    Viewport, PROTOCOL_VERSION,
};

pub(super) struct Out {
    pub(super) buf: Vec<u8>,
}

impl Out {
    pub(super) fn new() -> Out {
        Out {
            buf: Vec::with_capacity(64),
        }
    }

    fn uint(&mut self, v: u64) {
        if v < 0x80 {
            self.buf.push(v as u8);
        } else if v <= 0xff {
            self.buf.extend_from_slice(&[0xcc, v as u8]);
        } else if v <= 0xffff {
            self.buf.push(0xcd);
            self.buf.extend_from_slice(&(v as u16).to_be_bytes());
        } else if v <= 0xffff_ffff {
            self.buf.push(0xce);
            self.buf.extend_from_slice(&(v as u32).to_be_bytes());
        } else {
            self.buf.push(0xcf);
            self.buf.extend_from_slice(&v.to_be_bytes());
        }
    }

    /// A length with its three MessagePack forms: fix, 16-bit, 32-bit
    /// (`fix` already holds the fix marker; lengths never exceed u32 here,
    /// as no DOM string or child list that large reaches the wire).
    fn len(&mut self, n: usize, fix: Option<(u8, usize)>, m8: Option<u8>, m16: u8, m32: u8) {
        match fix {
            Some((marker, max)) if n <= max => return self.buf.push(marker | n as u8),
            _ => {}
        }
        match m8 {
            Some(marker) if n <= 0xff => self.buf.extend_from_slice(&[marker, n as u8]),
            _ if n <= 0xffff => {
                self.buf.push(m16);
                self.buf.extend_from_slice(&(n as u16).to_be_bytes());
            }
            _ => {
                self.buf.push(m32);
                self.buf.extend_from_slice(&(n as u32).to_be_bytes());
            }
        }
    }

    pub(super) fn str(&mut self, s: &str) {
        self.len(s.len(), Some((0xa0, 31)), Some(0xd9), 0xda, 0xdb);
        self.buf.extend_from_slice(s.as_bytes());
    }

    fn bin(&mut self, b: &[u8]) {
        self.len(b.len(), None, Some(0xc4), 0xc5, 0xc6);
        self.buf.extend_from_slice(b);
    }

    pub(super) fn array(&mut self, n: usize) {
        self.len(n, Some((0x90, 15)), None, 0xdc, 0xdd);
    }

    /// A variant with data: `{name: data}`.
    pub(super) fn variant(&mut self, name: &str) {
        self.buf.push(0x81);
        self.str(name);
    }

    fn bool(&mut self, b: bool) {
        self.buf.push(if b { 0xc3 } else { 0xc2 });
    }

    fn nil(&mut self) {
        self.buf.push(0xc0);
    }

    fn f32(&mut self, v: f32) {
        self.buf.push(0xca);
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    fn f64(&mut self, v: f64) {
        self.buf.push(0xcb);
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    fn opt_str(&mut self, v: Option<&str>) {
        match v {
            Some(s) => self.str(s),
            None => self.nil(),
        }
    }

    fn opt_bool(&mut self, v: Option<bool>) {
        match v {
            Some(b) => self.bool(b),
            None => self.nil(),
        }
    }

    fn id(&mut self, id: protocol::NodeId) {
        self.uint(u64::from(id.0));
    }

    /// A node in version 7's compact shape (`protocol`'s `node_wire.rs`): an
    /// array led by its kind, attributes flat, the common HTML element
    /// without its namespace and form state.
    fn node(&mut self, node: &Node) {
        for child in self.node_head(node) {
            self.node(child);
        }
    }

    /// A node up to and including the length of its child list, which
    /// comes last in every shape; returns the children to encode next
    /// (`stream.rs` encodes them a slice at a time).
    pub(super) fn node_head<'n>(&mut self, node: &'n Node) -> &'n [Node] {
        match node {
            Node::Element {
                id,
                tag,
                ns: Ns::Html,
                attrs,
                state: None,
                children,
            } => {
                self.array(5);
                self.uint(0);
                self.id(*id);
                self.str(tag);
                self.flat_attrs(attrs);
                self.array(children.len());
                children
            }
            Node::Element {
                id,
                tag,
                ns,
                attrs,
                state,
                children,
            } => {
                self.array(7);
                self.uint(1);
                self.id(*id);
                self.str(tag);
                self.ns(ns);
                self.flat_attrs(attrs);
                match state {
                    Some(s) => self.form_state(s),
                    None => self.nil(),
                }
                self.array(children.len());
                children
            }
            Node::Text { id, text } | Node::Comment { id, text } => {
                self.array(3);
                self.uint(if matches!(node, Node::Text { .. }) {
                    2
                } else {
                    3
                });
                self.id(*id);
                self.str(text);
                &[]
            }
            Node::Document {
                id,
                quirks,
                children,
            } => {
                self.array(4);
                self.uint(4);
                self.id(*id);
                self.bool(*quirks);
                self.array(children.len());
                children
            }
            Node::Doctype {
                id,
                name,
                public_id,
                system_id,
            } => {
                self.array(5);
                self.uint(5);
                self.id(*id);
                self.str(name);
                self.str(public_id);
                self.str(system_id);
                &[]
            }
            Node::ShadowRoot { id, children } => {
                self.array(3);
                self.uint(6);
                self.id(*id);
                self.array(children.len());
                children
            }
        }
    }

    fn flat_attrs(&mut self, attrs: &[Attr]) {
        self.array(attrs.len() * 2);
        for Attr { name, value } in attrs {
            self.str(name);
            self.str(value);
        }
    }

    fn attrs(&mut self, attrs: &[Attr]) {
        self.array(attrs.len());
        for Attr { name, value } in attrs {
            self.array(2);
            self.str(name);
            self.str(value);
        }
    }

    fn strs(&mut self, items: &[String]) {
        self.array(items.len());
        for s in items {
            self.str(s);
        }
    }

    fn sheet_ref(&mut self, sheet: SheetRef) {
        match sheet {
            SheetRef::Owner(id) => {
                self.variant("Owner");
                self.id(id);
            }
            SheetRef::Constructed(n) => {
                self.variant("Constructed");
                self.uint(u64::from(n));
            }
        }
    }

    fn path(&mut self, path: &[u32]) {
        self.array(path.len());
        for i in path {
            self.uint(u64::from(*i));
        }
    }

    fn sheet(&mut self, change: &SheetChange) {
        match change {
            SheetChange::Rules { sheet, rules } => {
                self.variant("Rules");
                self.array(2);
                self.sheet_ref(*sheet);
                self.strs(rules);
            }
            SheetChange::Insert { sheet, path, rule } => {
                self.variant("Insert");
                self.array(3);
                self.sheet_ref(*sheet);
                self.path(path);
                self.str(rule);
            }
            SheetChange::Delete { sheet, path } => {
                self.variant("Delete");
                self.array(2);
                self.sheet_ref(*sheet);
                self.path(path);
            }
            SheetChange::Adopted { root, sheets } => {
                self.variant("Adopted");
                self.array(2);
                self.id(*root);
                self.path(sheets);
            }
        }
    }

    fn font(&mut self, f: &FontFaceDesc) {
        self.array(3);
        self.str(&f.family);
        self.str(&f.source);
        self.attrs(&f.descriptors);
    }

    fn canvas(&mut self, c: &CanvasFrame) {
        self.array(4);
        self.id(c.id);
        self.uint(u64::from(c.width));
        self.uint(u64::from(c.height));
        self.array(c.tiles.len());
        for t in &c.tiles {
            self.array(6);
            self.uint(u64::from(t.x));
            self.uint(u64::from(t.y));
            self.uint(u64::from(t.width));
            self.uint(u64::from(t.height));
            self.str(match t.format {
                ImageFormat::Png => "Png",
                ImageFormat::Jpeg => "Jpeg",
                ImageFormat::Webp => "Webp",
            });
            self.bin(&t.data);
        }
    }

    fn media(&mut self, m: &MediaState) {
        self.array(7);
        self.id(m.id);
        self.bool(m.paused);
        self.f64(m.time);
        self.f64(m.rate);
        self.f32(m.volume);
        self.bool(m.muted);
        self.bool(m.looped);
    }

    fn range(&mut self, r: Option<&TextRange>) {
        match r {
            None => self.nil(),
            Some(r) => {
                self.array(4);
                self.id(r.anchor);
                self.uint(u64::from(r.anchor_offset));
                self.id(r.focus);
                self.uint(u64::from(r.focus_offset));
            }
        }
    }

    fn ns(&mut self, ns: &Ns) {
        match ns {
            Ns::Html => self.uint(0),
            Ns::Svg => self.uint(1),
            Ns::MathMl => self.uint(2),
            Ns::Other(uri) => self.str(uri),
        }
    }

    fn form_state(&mut self, s: &FormState) {
        self.array(4);
        self.opt_str(s.value.as_deref());
        self.opt_bool(s.checked);
        self.opt_bool(s.selected);
        match s.masked_len {
            Some(n) => self.uint(u64::from(n)),
            None => self.nil(),
        }
    }

    pub(super) fn viewport(&mut self, v: &Viewport) {
        self.array(3);
        self.uint(u64::from(v.width));
        self.uint(u64::from(v.height));
        self.f32(v.device_pixel_ratio);
    }

    pub(super) fn scroll(&mut self, s: &ScrollPos) {
        self.array(3);
        self.id(s.target);
        self.f64(s.x);
        self.f64(s.y);
    }

    fn snapshot(&mut self, s: &Snapshot) {
        self.array(5);
        self.str(&s.url);
        self.str(&s.base_url);
        self.viewport(&s.viewport);
        self.node(&s.root);
        self.array(s.scrolls.len());
        for p in &s.scrolls {
            self.scroll(p);
        }
    }

    fn batch(&mut self, b: &MutationBatch) {
        self.array(4);
        self.array(b.removes.len());
        for id in &b.removes {
            self.id(*id);
        }
        self.array(b.adds.len());
        for AddedNode {
            parent,
            next_sibling,
            node,
        } in &b.adds
        {
            self.array(3);
            self.id(*parent);
            match next_sibling {
                Some(id) => self.id(*id),
                None => self.nil(),
            }
            self.node(node);
        }
        self.array(b.attrs.len());
        for AttrChange { id, name, value } in &b.attrs {
            self.array(3);
            self.id(*id);
            self.str(name);
            self.opt_str(value.as_deref());
        }
        self.array(b.texts.len());
        for TextChange { id, text } in &b.texts {
            self.array(2);
            self.id(*id);
            self.str(text);
        }
    }

    fn event(&mut self, e: &Event) {
        match e {
            Event::Snapshot(s) => {
                self.variant("Snapshot");
                self.snapshot(s);
            }
            Event::Mutations(b) => {
                self.variant("Mutations");
                self.batch(b);
            }
            Event::Input { id, state } => {
                self.variant("Input");
                self.array(2);
                self.id(*id);
                self.form_state(state);
            }
            Event::Scroll(s) => {
                self.variant("Scroll");
                self.scroll(s);
            }
            Event::Viewport(v) => {
                self.variant("Viewport");
                self.viewport(v);
            }
            Event::Pointer { pos, kind } => {
                self.variant("Pointer");
                self.array(2);
                self.array(5);
                match pos.target {
                    Some(id) => self.id(id),
                    None => self.nil(),
                }
                self.f32(pos.fx);
                self.f32(pos.fy);
                self.f32(pos.x);
                self.f32(pos.y);
                self.str(match kind {
                    PointerKind::Move => "Move",
                    PointerKind::Click => "Click",
                    PointerKind::Leave => "Leave",
                });
            }
            Event::Focus { target } => {
                self.variant("Focus");
                self.array(1);
                match target {
                    Some(id) => self.id(*id),
                    None => self.nil(),
                }
            }
            Event::Sheet(change) => {
                self.variant("Sheet");
                self.sheet(change);
            }
            Event::Font(f) => {
                self.variant("Font");
                self.font(f);
            }
            Event::Canvas(c) => {
                self.variant("Canvas");
                self.canvas(c);
            }
            Event::CanvasUnreadable { id } => {
                self.variant("CanvasUnreadable");
                self.array(1);
                self.id(*id);
            }
            Event::Media(m) => {
                self.variant("Media");
                self.media(m);
            }
            Event::Selection(r) => {
                self.variant("Selection");
                self.range(r.as_ref());
            }
            Event::TopLayer(entries) => {
                self.variant("TopLayer");
                self.array(entries.len());
                for TopLayerEntry { node, kind } in entries {
                    self.array(2);
                    self.id(*node);
                    self.str(match kind {
                        TopLayerKind::ModalDialog => "ModalDialog",
                        TopLayerKind::Popover => "Popover",
                        TopLayerKind::Fullscreen => "Fullscreen",
                    });
                }
            }
        }
    }
}

/// `protocol::encode_hello(&Hello::Visitor(VisitorHello { page_url,
/// resources, resume, invitation }))`.
pub fn encode_hello(
    page_url: &str,
    resources: ResourcePolicy,
    resume: Option<&str>,
    invitation: Option<&str>,
) -> Vec<u8> {
    let mut out = Out::new();
    out.array(2);
    out.uint(u64::from(PROTOCOL_VERSION));
    out.variant("Visitor");
    out.array(4);
    out.str(page_url);
    out.array(2);
    out.bool(resources.upload);
    out.bool(resources.server_fetch);
    out.opt_str(resume);
    out.opt_str(invitation);
    out.buf
}

/// `VisitorMsg::Offer(offers)`, encoded.
pub fn encode_offer(offers: &[Offered]) -> Vec<u8> {
    let mut out = Out::new();
    out.variant("Offer");
    out.array(offers.len());
    for offer in offers {
        out.array(2);
        out.str(&offer.url);
        match &offer.body {
            None => out.nil(),
            Some(body) => {
                out.array(3);
                out.bin(&body.hash.0);
                out.uint(body.size);
                out.str(&body.content_type);
            }
        }
    }
    out.buf
}

/// `VisitorMsg::Event(EventFrame::new(seq, event))`, encoded.
pub fn encode_event(seq: Seq, event: &Event) -> Vec<u8> {
    let mut payload = Out::new();
    payload.event(event);
    event_frame(seq, matches!(event, Event::Snapshot(_)), &payload.buf)
}

/// The frame around an event already encoded (`payload`), numbered `seq`.
pub fn event_frame(seq: Seq, snapshot: bool, payload: &[u8]) -> Vec<u8> {
    let mut out = Out {
        buf: Vec::with_capacity(payload.len() + 16),
    };
    out.variant("Event");
    out.array(3);
    out.uint(seq.0);
    out.bool(snapshot);
    out.bin(payload);
    out.buf
}

/// `VisitorMsg::Consent { agent, accepted }`, encoded.
pub fn encode_consent(agent: AgentId, accepted: bool) -> Vec<u8> {
    let mut out = Out::new();
    out.variant("Consent");
    out.array(2);
    out.uint(u64::from(agent.0));
    out.bool(accepted);
    out.buf
}

/// `VisitorMsg::SetMode { agent, mode }`, encoded.
pub fn encode_set_mode(agent: AgentId, mode: Mode) -> Vec<u8> {
    let mut out = Out::new();
    out.variant("SetMode");
    out.array(2);
    out.uint(u64::from(agent.0));
    out.str(match mode {
        Mode::ViewOnly => "ViewOnly",
        Mode::Shared => "Shared",
    });
    out.buf
}

/// `VisitorMsg::End`, encoded.
pub fn encode_end() -> Vec<u8> {
    let mut out = Out::new();
    out.str("End");
    out.buf
}

#[cfg(test)]
// Tests fail by panicking; that is their job.
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#[path = "encode_tests.rs"]
mod tests;
