//! The fake DOM's stylesheets and fonts, for testing `sheets.rs` natively.
//! Owns: a model just rich enough to check the mirror's decisions (which
//! sheet gets which rules, what is adopted where, which fonts exist), with
//! the browser's refusal of bad rule text played by rules containing
//! `BAD`. Does not own: CSS itself (a browser test checks that).

use std::collections::HashMap;

use protocol::FontFaceDesc;

use super::fake::{FakeDom, FakeId};
use super::sheets::{SheetBackend, SheetOp};
use crate::ViewerError;

#[derive(Debug, Default)]
pub struct FakeSheets {
    /// Rules of each element's sheet (top level only; nested paths are
    /// only logged).
    pub owned: HashMap<FakeId, Vec<String>>,
    /// Constructed sheets' rules, by the backend's own handle.
    pub constructed: Vec<Vec<String>>,
    pub adopted: HashMap<FakeId, Vec<usize>>,
    /// Fonts added, `None` once removed.
    pub fonts: Vec<Option<FontFaceDesc>>,
    /// Every operation, in order.
    pub log: Vec<String>,
    /// Rules the "browser" refused.
    pub refused: usize,
}

fn apply(rules: &mut Vec<String>, op: &SheetOp, refused: &mut usize) {
    let ok = |r: &str| !r.contains("BAD");
    match op {
        SheetOp::Rules(all) => {
            rules.clear();
            for r in all {
                if ok(r) {
                    rules.push(r.clone());
                } else {
                    *refused += 1;
                }
            }
        }
        SheetOp::Insert { path, rule } if path.len() == 1 => {
            let at = path[0] as usize;
            if ok(rule) && at <= rules.len() {
                rules.insert(at, rule.clone());
            } else {
                *refused += 1;
            }
        }
        SheetOp::Delete { path } if path.len() == 1 => {
            let at = path[0] as usize;
            if at < rules.len() {
                rules.remove(at);
            } else {
                *refused += 1;
            }
        }
        _ => {}
    }
}

impl SheetBackend<FakeId> for FakeDom {
    type Sheet = usize;
    type Font = usize;

    fn new_sheet(&mut self) -> Result<usize, ViewerError> {
        self.sheets.constructed.push(Vec::new());
        Ok(self.sheets.constructed.len() - 1)
    }

    fn owner_op(&mut self, owner: &FakeId, op: SheetOp) {
        self.sheets.log.push(format!("owner {}: {op:?}", owner.0));
        let s = &mut self.sheets;
        apply(s.owned.entry(*owner).or_default(), &op, &mut s.refused);
    }

    fn sheet_op(&mut self, sheet: &usize, op: &SheetOp) {
        self.sheets.log.push(format!("sheet {sheet}: {op:?}"));
        let s = &mut self.sheets;
        if let Some(rules) = s.constructed.get_mut(*sheet) {
            apply(rules, op, &mut s.refused);
        }
    }

    fn adopt(&mut self, root: &FakeId, sheets: &[usize]) -> Result<(), ViewerError> {
        self.sheets
            .log
            .push(format!("adopt {}: {sheets:?}", root.0));
        self.sheets.adopted.insert(*root, sheets.to_vec());
        Ok(())
    }

    fn add_font(&mut self, font: &FontFaceDesc) -> Result<usize, ViewerError> {
        self.sheets.fonts.push(Some(font.clone()));
        Ok(self.sheets.fonts.len() - 1)
    }

    fn remove_font(&mut self, font: &usize) {
        if let Some(f) = self.sheets.fonts.get_mut(*font) {
            *f = None;
        }
    }
}
