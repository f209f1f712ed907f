//! What the walk needs of an element, read in one crossing into JS: its
//! local name and namespace, whether the mask, unmask and block rules match
//! it, and its attributes' names and values, packed
//! in one string (one UTF-16 to UTF-8 conversion instead of one per name
//! and value, and no call per attribute).
//!
//! Owns: the packing and its reading. Does not own: what is made of it
//! (`serialize.rs`: the rules, masking and URL rewriting apply to these
//! names and values exactly as to those read one by one).
//!
//! Packed as `F local NUL ns (NUL name NUL value)*`, `F` one character
//! holding the flags below, `ns` empty for none (a namespace is never the
//! empty string). The attributes are left out (flag [`UNPACKED`]) where a
//! NUL in one would be ambiguous, and for an HTML `input` or `textarea`:
//! a masked one's `value` must never enter Rust's memory (only its length
//! does), and those are read one by one as before.

use wasm_bindgen::prelude::*;
use web_sys::Element;

// The dist step folds this module into the glue (`xtask/src/dist.rs`): the
// SDK stays the files a site serves.
#[wasm_bindgen(module = "/js/read.js")]
extern "C" {
    #[wasm_bindgen(js_name = cobrowseReadElement)]
    fn read_element(
        el: &Element,
        mask: &JsValue,
        unmask: &JsValue,
        block: &JsValue,
        scrolls: bool,
    ) -> String;
}

const MASK: u8 = 1;
const UNMASK: u8 = 2;
const BLOCK: u8 = 4;
/// The attributes are not in the string: read them one by one.
const UNPACKED: u8 = 8;
/// Its box may be scrolled (its overflow is not `visible`): asked only
/// when the caller wants scroll offsets.
const MAY_SCROLL: u8 = 16;

/// Selectors kept as JS strings: passed by reference on every element,
/// not converted from UTF-8 each time.
pub(crate) struct Selectors {
    mask: JsValue,
    unmask: JsValue,
    block: JsValue,
}

impl Selectors {
    pub(crate) fn new(mask: &str, unmask: &str, block: &str) -> Selectors {
        Selectors {
            mask: JsValue::from_str(mask),
            unmask: JsValue::from_str(unmask),
            block: JsValue::from_str(block),
        }
    }
}

/// One element as read.
pub(crate) struct ElementRead {
    packed: String,
    flags: u8,
    /// Where the local name ends and the namespace starts and ends.
    local_end: usize,
    ns_end: usize,
}

impl ElementRead {
    /// Reads `el` (`scrolls`: also whether it may be scrolled). `None` if
    /// the packing is not what this code writes.
    pub(crate) fn of(el: &Element, sel: &Selectors, scrolls: bool) -> Option<ElementRead> {
        let packed = read_element(el, &sel.mask, &sel.unmask, &sel.block, scrolls);
        let flags = packed.as_bytes().first()?.checked_sub(b'@')?;
        let local_end = packed.get(1..)?.find('\0')? + 1;
        let ns_end = packed[local_end + 1..]
            .find('\0')
            .map_or(packed.len(), |i| i + local_end + 1);
        Some(ElementRead {
            packed,
            flags,
            local_end,
            ns_end,
        })
    }

    /// The same read made by other means: `[mask, unmask, block]` are the
    /// rules' verdicts; the attributes are to be read one by one.
    pub(crate) fn unpacked(local: &str, ns: Option<&str>, rules: [bool; 3]) -> ElementRead {
        let flags = UNPACKED
            | MAY_SCROLL
            | if rules[0] { MASK } else { 0 }
            | if rules[1] { UNMASK } else { 0 }
            | if rules[2] { BLOCK } else { 0 };
        let mut packed = String::with_capacity(local.len() + 2);
        packed.push(char::from(b'@' + flags));
        packed.push_str(local);
        let local_end = packed.len();
        packed.push('\0');
        packed.push_str(ns.unwrap_or(""));
        ElementRead {
            ns_end: packed.len(),
            packed,
            flags,
            local_end,
        }
    }

    pub(crate) fn local_name(&self) -> &str {
        &self.packed[1..self.local_end]
    }

    pub(crate) fn namespace_uri(&self) -> Option<&str> {
        Some(&self.packed[self.local_end + 1..self.ns_end]).filter(|ns| !ns.is_empty())
    }

    pub(crate) fn matches_mask(&self) -> bool {
        self.flags & MASK != 0
    }

    /// Asked only when the mask rule does not match (it is not tried then).
    pub(crate) fn matches_unmask(&self) -> bool {
        self.flags & UNMASK != 0
    }

    pub(crate) fn matches_block(&self) -> bool {
        self.flags & BLOCK != 0
    }

    /// Whether the element may have a scroll offset (always, when it was
    /// not asked or read by other means).
    pub(crate) fn may_scroll(&self) -> bool {
        self.flags & MAY_SCROLL != 0
    }

    /// The attributes' names and values in order, if they were packed.
    pub(crate) fn attrs(&self) -> Option<impl Iterator<Item = (&str, &str)>> {
        if self.flags & UNPACKED != 0 {
            return None;
        }
        let rest = self.packed.get(self.ns_end + 1..).unwrap_or("");
        let mut parts = rest.split('\0');
        if rest.is_empty() {
            // `split` gives one empty piece for an empty string.
            parts.next();
        }
        Some(std::iter::from_fn(move || {
            Some((parts.next()?, parts.next()?))
        }))
    }
}
