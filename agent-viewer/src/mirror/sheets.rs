//! Stylesheet changes made through the visitor's CSS Object Model, and
//! fonts made with the `FontFace` API, applied to the mirror.
//!
//! Owns: [`SheetBackend`] (the DOM operations this needs, one call each),
//! the mirror's constructed sheets by the visitor's number, adoptions
//! waiting for a shadow root the mirror does not hold yet, and the fonts it
//! added. Every rule goes through the same rewriting as a `<style>`'s text
//! (URLs to the relay's copies, `:hover` and friends to the attributes the
//! console sets). Does not own: the node bookkeeping (`mirror/mod.rs`) or
//! the iframe (`sheets_dom.rs` implements the backend for it).
//!
//! A rule the console's browser refuses is skipped with a log: a change
//! that cannot apply never asks for a snapshot, which would only bring the
//! same rule back.

use std::collections::HashMap;

use protocol::{FontFaceDesc, NodeId, SheetChange, SheetRef};

use super::{DomBackend, Mirror};
use crate::log;
use crate::ViewerError;

/// What to do to one stylesheet. Rule texts are already rewritten.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SheetOp {
    /// Replace every rule.
    Rules(Vec<String>),
    /// Insert at `path` (indexes through grouping rules from the sheet down).
    Insert {
        path: Vec<u32>,
        rule: String,
    },
    Delete {
        path: Vec<u32>,
    },
}

/// The DOM operations stylesheets and fonts need. Failures of single rules
/// are logged by the implementation, not returned.
pub trait SheetBackend<N> {
    type Sheet: Clone;
    type Font;

    /// A new, empty constructed sheet of the mirrored document's window (so
    /// the document and its shadow roots can adopt it).
    fn new_sheet(&mut self) -> Result<Self::Sheet, ViewerError>;
    /// Applies `op` to the sheet of a mirrored `<style>` or `<link>`: now,
    /// or once a `<link>`'s sheet has loaded.
    fn owner_op(&mut self, owner: &N, op: SheetOp);
    fn sheet_op(&mut self, sheet: &Self::Sheet, op: &SheetOp);
    /// Sets the page's adopted sheets of a document or shadow root (the
    /// console's own adopted sheet stays).
    fn adopt(&mut self, root: &N, sheets: &[Self::Sheet]) -> Result<(), ViewerError>;
    /// Adds a font to the mirrored document (its source already rewritten).
    fn add_font(&mut self, font: &FontFaceDesc) -> Result<Self::Font, ViewerError>;
    fn remove_font(&mut self, font: &Self::Font);
}

type SheetOf<B> = <B as SheetBackend<<B as DomBackend>::Node>>::Sheet;
type FontOf<B> = <B as SheetBackend<<B as DomBackend>::Node>>::Font;

/// The mirror's stylesheet state.
pub struct Sheets<S, F> {
    constructed: HashMap<u32, S>,
    /// Adoptions whose root the mirror does not hold yet, by root.
    waiting: Vec<(NodeId, Vec<u32>)>,
    fonts: Vec<F>,
}

impl<S, F> Default for Sheets<S, F> {
    fn default() -> Self {
        Sheets {
            constructed: HashMap::new(),
            waiting: Vec::new(),
            fonts: Vec::new(),
        }
    }
}

/// Adoptions kept waiting for a root at most (a root that never comes must
/// not grow this forever).
const MAX_WAITING: usize = 256;

pub(super) type MirrorSheets<B> = Sheets<SheetOf<B>, FontOf<B>>;

impl<B: DomBackend> Mirror<B> {
    /// A snapshot starts the page afresh: the visitor sends its
    /// constructed sheets and fonts again after it.
    pub(super) fn reset_sheets(&mut self) {
        let old = std::mem::take(&mut self.sheets);
        for font in &old.fonts {
            self.backend.remove_font(font);
        }
    }

    pub(super) fn apply_sheet(&mut self, change: &SheetChange) {
        match change {
            SheetChange::Rules { sheet, rules } => {
                let rules = rules.iter().map(|r| self.rewrite_rule(r)).collect();
                self.sheet_op(*sheet, SheetOp::Rules(rules));
            }
            SheetChange::Insert { sheet, path, rule } => {
                let rule = self.rewrite_rule(rule);
                let path = path.clone();
                self.sheet_op(*sheet, SheetOp::Insert { path, rule });
            }
            SheetChange::Delete { sheet, path } => {
                let path = path.clone();
                self.sheet_op(*sheet, SheetOp::Delete { path });
            }
            SheetChange::Adopted { root, sheets } => {
                self.sheets.waiting.retain(|(r, _)| r != root);
                if !self.adopt(*root, sheets) {
                    if self.sheets.waiting.len() >= MAX_WAITING {
                        self.sheets.waiting.remove(0);
                    }
                    self.sheets.waiting.push((*root, sheets.clone()));
                }
            }
        }
    }

    /// Adoptions whose root has arrived since (call after mutations).
    pub(super) fn retry_adoptions(&mut self) {
        if self.sheets.waiting.is_empty() {
            return;
        }
        let waiting = std::mem::take(&mut self.sheets.waiting);
        for (root, sheets) in waiting {
            if !self.adopt(root, &sheets) {
                self.sheets.waiting.push((root, sheets));
            }
        }
    }

    pub(super) fn apply_font(&mut self, font: &FontFaceDesc) {
        let (backend, base) = (&self.backend, self.base_url.as_str());
        let declaration = format!("src: {}", font.source);
        let source = self
            .resources
            .declarations(&declaration, &mut |url| backend.resolve_url(url, base))
            .and_then(|d| d.strip_prefix("src: ").map(str::to_owned))
            .unwrap_or_else(|| font.source.clone());
        let desc = FontFaceDesc {
            source,
            ..font.clone()
        };
        match self.backend.add_font(&desc) {
            Ok(made) => self.sheets.fonts.push(made),
            Err(e) => log::warn(&format!("font \"{}\" skipped: {e}", font.family)),
        }
    }

    /// Whether the adoption was applied (its root is in the mirror).
    fn adopt(&mut self, root: NodeId, numbers: &[u32]) -> bool {
        let Some(node) = self.nodes.get(&root).map(|e| e.node.clone()) else {
            return false;
        };
        let sheets: Vec<SheetOf<B>> = numbers
            .iter()
            .filter_map(|n| {
                let sheet = self.sheets.constructed.get(n).cloned();
                if sheet.is_none() {
                    log::debug(&format!("adopted sheet {n} is unknown; skipped"));
                }
                sheet
            })
            .collect();
        if let Err(e) = self.backend.adopt(&node, &sheets) {
            log::warn(&format!("adopted stylesheets skipped: {e}"));
        }
        true
    }

    fn sheet_op(&mut self, sheet: SheetRef, op: SheetOp) {
        match sheet {
            SheetRef::Owner(id) => match self.element(id) {
                Some(owner) => self.backend.owner_op(&owner, op),
                None => log::debug(&format!("stylesheet of unknown node {id:?} ignored")),
            },
            SheetRef::Constructed(n) => {
                let made = match self.sheets.constructed.get(&n) {
                    Some(made) => made.clone(),
                    None => match self.backend.new_sheet() {
                        Ok(made) => {
                            self.sheets.constructed.insert(n, made.clone());
                            made
                        }
                        Err(e) => return log::warn(&format!("constructed sheet {n}: {e}")),
                    },
                };
                self.backend.sheet_op(&made, &op);
            }
        }
    }

    /// A rule as the console shows it (see `style_text`).
    fn rewrite_rule(&self, rule: &str) -> String {
        let (backend, base) = (&self.backend, self.base_url.as_str());
        self.resources
            .stylesheet(rule, &mut |url| backend.resolve_url(url, base))
            .unwrap_or_else(|| rule.to_owned())
    }
}
