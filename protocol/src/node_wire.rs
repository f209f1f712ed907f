//! The wire shape of [`Node`] and [`Ns`]: compact, because a snapshot is
//! mostly nodes and a large page has hundreds of thousands of them.
//!
//! Serde's derived shape would spell every node's variant name as a string
//! (`{"Element": [...]}`: nine bytes an element, six a text) and every
//! namespace too (`"Html"`: five). Here a node is one array whose first item
//! is a small integer kind, the namespace is an integer, and an element's
//! attributes are one flat array of names and values:
//!
//! ```text
//! [0, id, tag, [name, value, …], children]                 HTML element, no form state
//! [1, id, tag, ns, [name, value, …], state, children]      any other element
//! [2, id, text]                                            text
//! [3, id, text]                                            comment
//! [4, id, quirks, children]                                document
//! [5, id, name, public_id, system_id]                      doctype
//! [6, id, children]                                        open shadow root
//! ns: 0 HTML, 1 SVG, 2 MathML, or the namespace URI as a string
//! ```
//!
//! On the bench's 100k-node page this is about a quarter fewer snapshot
//! bytes than the derived shape. Decoding checks every kind, length and
//! pairing, so a malformed tree is an error, never a guess.

use std::fmt;

use serde::{
    de::{self, Deserializer, IgnoredAny, SeqAccess, Visitor},
    ser::{SerializeSeq, SerializeTuple, Serializer},
    Deserialize, Serialize,
};

use crate::{Attr, FormState, Node, NodeId, Ns};

const HTML_ELEMENT: u8 = 0;
const ELEMENT: u8 = 1;
const TEXT: u8 = 2;
const COMMENT: u8 = 3;
const DOCUMENT: u8 = 4;
const DOCTYPE: u8 = 5;
const SHADOW_ROOT: u8 = 6;

impl Serialize for Node {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Node::Element {
                id,
                tag,
                ns: Ns::Html,
                attrs,
                state: None,
                children,
            } => {
                let mut t = s.serialize_tuple(5)?;
                t.serialize_element(&HTML_ELEMENT)?;
                t.serialize_element(id)?;
                t.serialize_element(tag)?;
                t.serialize_element(&FlatAttrs(attrs))?;
                t.serialize_element(children)?;
                t.end()
            }
            Node::Element {
                id,
                tag,
                ns,
                attrs,
                state,
                children,
            } => {
                let mut t = s.serialize_tuple(7)?;
                t.serialize_element(&ELEMENT)?;
                t.serialize_element(id)?;
                t.serialize_element(tag)?;
                t.serialize_element(ns)?;
                t.serialize_element(&FlatAttrs(attrs))?;
                t.serialize_element(state)?;
                t.serialize_element(children)?;
                t.end()
            }
            Node::Text { id, text } | Node::Comment { id, text } => {
                let kind = if matches!(self, Node::Text { .. }) {
                    TEXT
                } else {
                    COMMENT
                };
                let mut t = s.serialize_tuple(3)?;
                t.serialize_element(&kind)?;
                t.serialize_element(id)?;
                t.serialize_element(text)?;
                t.end()
            }
            Node::Document {
                id,
                quirks,
                children,
            } => {
                let mut t = s.serialize_tuple(4)?;
                t.serialize_element(&DOCUMENT)?;
                t.serialize_element(id)?;
                t.serialize_element(quirks)?;
                t.serialize_element(children)?;
                t.end()
            }
            Node::Doctype {
                id,
                name,
                public_id,
                system_id,
            } => {
                let mut t = s.serialize_tuple(5)?;
                t.serialize_element(&DOCTYPE)?;
                t.serialize_element(id)?;
                t.serialize_element(name)?;
                t.serialize_element(public_id)?;
                t.serialize_element(system_id)?;
                t.end()
            }
            Node::ShadowRoot { id, children } => {
                let mut t = s.serialize_tuple(3)?;
                t.serialize_element(&SHADOW_ROOT)?;
                t.serialize_element(id)?;
                t.serialize_element(children)?;
                t.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Node, D::Error> {
        d.deserialize_seq(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a node: an array starting with its kind (0 to 6)")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let kind: u8 = next(&mut seq, 0)?;
        let id: NodeId = next(&mut seq, 1)?;
        let node = match kind {
            HTML_ELEMENT => Node::Element {
                id,
                tag: next(&mut seq, 2)?,
                ns: Ns::Html,
                attrs: next::<FlatAttrsOwned, _>(&mut seq, 3)?.0,
                state: None,
                children: next(&mut seq, 4)?,
            },
            ELEMENT => Node::Element {
                id,
                tag: next(&mut seq, 2)?,
                ns: next(&mut seq, 3)?,
                attrs: next::<FlatAttrsOwned, _>(&mut seq, 4)?.0,
                state: next::<Option<FormState>, _>(&mut seq, 5)?,
                children: next(&mut seq, 6)?,
            },
            TEXT => Node::Text {
                id,
                text: next(&mut seq, 2)?,
            },
            COMMENT => Node::Comment {
                id,
                text: next(&mut seq, 2)?,
            },
            DOCUMENT => Node::Document {
                id,
                quirks: next(&mut seq, 2)?,
                children: next(&mut seq, 3)?,
            },
            DOCTYPE => Node::Doctype {
                id,
                name: next(&mut seq, 2)?,
                public_id: next(&mut seq, 3)?,
                system_id: next(&mut seq, 4)?,
            },
            SHADOW_ROOT => Node::ShadowRoot {
                id,
                children: next(&mut seq, 2)?,
            },
            other => {
                return Err(de::Error::invalid_value(
                    de::Unexpected::Unsigned(u64::from(other)),
                    &"a node kind from 0 to 6",
                ))
            }
        };
        if seq.next_element::<IgnoredAny>()?.is_some() {
            return Err(de::Error::custom(format!(
                "node of kind {kind} has more fields than it should"
            )));
        }
        Ok(node)
    }
}

/// The item at `index` of a node's array, or a clear error when the array
/// ends early.
fn next<'de, T: Deserialize<'de>, A: SeqAccess<'de>>(
    seq: &mut A,
    index: usize,
) -> Result<T, A::Error> {
    seq.next_element()?
        .ok_or_else(|| de::Error::invalid_length(index, &"all of the node's fields"))
}

/// An element's attributes as one array: name, value, name, value…
struct FlatAttrs<'a>(&'a [Attr]);

impl Serialize for FlatAttrs<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len() * 2))?;
        for Attr { name, value } in self.0 {
            seq.serialize_element(name)?;
            seq.serialize_element(value)?;
        }
        seq.end()
    }
}

struct FlatAttrsOwned(Vec<Attr>);

impl<'de> Deserialize<'de> for FlatAttrsOwned {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Pairs;
        impl<'de> Visitor<'de> for Pairs {
            type Value = FlatAttrsOwned;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an even-length array of attribute names and values")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<FlatAttrsOwned, A::Error> {
                // Bounded: a hostile length must not reserve memory up front.
                let mut attrs = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64) / 2);
                while let Some(name) = seq.next_element::<String>()? {
                    let value = seq.next_element::<String>()?.ok_or_else(|| {
                        de::Error::custom(format!("attribute {name:?} has no value"))
                    })?;
                    attrs.push(Attr { name, value });
                }
                Ok(FlatAttrsOwned(attrs))
            }
        }
        d.deserialize_seq(Pairs)
    }
}

impl Serialize for Ns {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Ns::Html => s.serialize_u8(0),
            Ns::Svg => s.serialize_u8(1),
            Ns::MathMl => s.serialize_u8(2),
            Ns::Other(uri) => s.serialize_str(uri),
        }
    }
}

impl<'de> Deserialize<'de> for Ns {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Ns, D::Error> {
        struct NsVisitor;
        impl Visitor<'_> for NsVisitor {
            type Value = Ns;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a namespace: 0 (HTML), 1 (SVG), 2 (MathML) or a namespace URI")
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Ns, E> {
                match v {
                    0 => Ok(Ns::Html),
                    1 => Ok(Ns::Svg),
                    2 => Ok(Ns::MathMl),
                    other => Err(E::invalid_value(de::Unexpected::Unsigned(other), &self)),
                }
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Ns, E> {
                u64::try_from(v)
                    .map_err(|_| E::invalid_value(de::Unexpected::Signed(v), &self))
                    .and_then(|v| self.visit_u64(v))
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Ns, E> {
                Ok(Ns::from_uri(Some(v)))
            }
        }
        d.deserialize_any(NsVisitor)
    }
}
