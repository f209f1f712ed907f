//! What the page did to its stylesheets since the last flush, coalesced into
//! the fewest changes that bring the console to the same state.
//!
//! Owns: the order and coalescing of CSSOM changes (plain Rust, generic over
//! the sheet and root handles so it is tested natively with strings). Does
//! not own: reading sheets or naming them for the wire (`cssom/read.rs`,
//! `cssom/mod.rs`).
//!
//! Why coalesce: CSS-in-JS libraries insert hundreds of rules in one frame,
//! and a `setProperty` on a rule has no path of its own; past a few changes
//! one sheet's whole rule list, read when the frame is flushed, is both
//! smaller and certainly right.

/// More changes than this to one sheet in one flush: send its rules instead.
pub const MAX_CHANGES_PER_SHEET: usize = 32;

/// One change as the wrappers saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op<S> {
    /// `insertRule` put `rule` (its `cssText`, URLs absolute) at `path`.
    Insert {
        sheet: S,
        path: Vec<u32>,
        rule: String,
    },
    /// `deleteRule` at `path`.
    Delete { sheet: S, path: Vec<u32> },
    /// Something the rule list cannot describe change by change
    /// (`replace`, `setProperty` on a rule...): send the whole list.
    Resend(S),
}

impl<S> Op<S> {
    fn sheet(&self) -> &S {
        match self {
            Op::Insert { sheet, .. } | Op::Delete { sheet, .. } | Op::Resend(sheet) => sheet,
        }
    }
}

/// What to send, in order: `Rules` means "read this sheet's rules now".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Out<S> {
    Insert {
        sheet: S,
        path: Vec<u32>,
        rule: String,
    },
    Delete {
        sheet: S,
        path: Vec<u32>,
    },
    Rules(S),
}

/// Changes since the last flush, plus the roots whose `adoptedStyleSheets`
/// may have changed.
#[derive(Debug)]
pub struct SheetLog<S, R> {
    ops: Vec<Op<S>>,
    roots: Vec<R>,
}

impl<S, R> Default for SheetLog<S, R> {
    fn default() -> Self {
        SheetLog {
            ops: Vec::new(),
            roots: Vec::new(),
        }
    }
}

impl<S: PartialEq + Clone, R: PartialEq> SheetLog<S, R> {
    pub fn push(&mut self, op: Op<S>) {
        if !self.wants_detail(op.sheet()) {
            return;
        }
        // Past the cap the sheet is resent whole: this bounds the log when a
        // library floods one sheet.
        let sheet = op.sheet();
        let count = self.ops.iter().filter(|o| o.sheet() == sheet).count();
        if count >= MAX_CHANGES_PER_SHEET {
            let sheet = sheet.clone();
            self.ops.push(Op::Resend(sheet));
            return;
        }
        self.ops.push(op);
    }

    /// Whether a change to `sheet` is still worth describing (reading its
    /// rule text): not once the sheet is due to be resent whole this flush.
    pub fn wants_detail(&self, sheet: &S) -> bool {
        !self
            .ops
            .iter()
            .any(|o| matches!(o, Op::Resend(s) if s == sheet))
    }

    /// A root whose adopted sheets were set.
    pub fn adopted(&mut self, root: R) {
        if !self.roots.contains(&root) {
            self.roots.push(root);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.ops.is_empty() && self.roots.is_empty()
    }

    /// Forgets everything (a snapshot shows it all).
    pub fn clear(&mut self) {
        self.ops.clear();
        self.roots.clear();
    }

    /// The changes to send, in the order they happened, each sheet's
    /// changes replaced by one `Rules` (where its first change was) when it
    /// had a resend or too many changes; and the roots to check.
    pub fn drain(&mut self) -> (Vec<Out<S>>, Vec<R>) {
        let ops = std::mem::take(&mut self.ops);
        let roots = std::mem::take(&mut self.roots);
        let mut whole: Vec<S> = Vec::new();
        let mut counts: Vec<(S, usize)> = Vec::new();
        for op in &ops {
            let sheet = op.sheet();
            match counts.iter_mut().find(|(s, _)| s == sheet) {
                Some((_, n)) => *n += 1,
                None => counts.push((sheet.clone(), 1)),
            }
            if matches!(op, Op::Resend(_)) && !whole.contains(sheet) {
                whole.push(sheet.clone());
            }
        }
        for (sheet, n) in counts {
            if n > MAX_CHANGES_PER_SHEET && !whole.contains(&sheet) {
                whole.push(sheet);
            }
        }
        let mut sent_whole: Vec<S> = Vec::new();
        let mut out = Vec::with_capacity(ops.len());
        for op in ops {
            let sheet = op.sheet();
            if whole.contains(sheet) {
                if !sent_whole.contains(sheet) {
                    sent_whole.push(sheet.clone());
                    out.push(Out::Rules(sheet.clone()));
                }
                continue;
            }
            out.push(match op {
                Op::Insert { sheet, path, rule } => Out::Insert { sheet, path, rule },
                Op::Delete { sheet, path } => Out::Delete { sheet, path },
                Op::Resend(sheet) => Out::Rules(sheet),
            });
        }
        (out, roots)
    }
}

/// Numbers for constructed sheets, in the order they were first adopted
/// (a number is never reused), and whether the console has the sheet's
/// rules since the last snapshot (which starts the console afresh).
#[derive(Debug)]
pub struct Numbering<S> {
    known: Vec<(S, bool)>,
}

impl<S> Default for Numbering<S> {
    fn default() -> Self {
        Numbering { known: Vec::new() }
    }
}

impl<S: PartialEq> Numbering<S> {
    /// The sheet's number, if the console has the sheet.
    pub fn sent(&self, sheet: &S) -> Option<u32> {
        let at = self
            .known
            .iter()
            .position(|(s, sent)| *sent && s == sheet)?;
        u32::try_from(at).ok()
    }

    /// The sheet's number, and whether its rules must go first (the
    /// console does not have it); from now on it does.
    pub fn assign(&mut self, sheet: S) -> (u32, bool) {
        let at = match self.known.iter().position(|(s, _)| *s == sheet) {
            Some(at) => at,
            None => {
                self.known.push((sheet, false));
                self.known.len() - 1
            }
        };
        let fresh = !std::mem::replace(&mut self.known[at].1, true);
        (u32::try_from(at).unwrap_or(u32::MAX), fresh)
    }

    /// After a snapshot the console has no constructed sheet.
    pub fn forget_sent(&mut self) {
        for (_, sent) in &mut self.known {
            *sent = false;
        }
    }
}

/// The index path of a rule from its sheet down: `ancestors` are the
/// indexes of the grouping rules holding it, outermost first.
pub fn rule_path(ancestors: &[u32], index: u32) -> Vec<u32> {
    let mut path = Vec::with_capacity(ancestors.len() + 1);
    path.extend_from_slice(ancestors);
    path.push(index);
    path
}

#[cfg(test)]
mod tests {
    use super::*;

    fn insert(sheet: &'static str, i: u32) -> Op<&'static str> {
        Op::Insert {
            sheet,
            path: vec![i],
            rule: format!(".r{i} {{}}"),
        }
    }

    #[test]
    fn changes_come_out_in_the_order_they_happened() {
        let mut log = SheetLog::<&str, &str>::default();
        log.push(insert("a", 0));
        log.push(Op::Delete {
            sheet: "b",
            path: vec![1, 0],
        });
        log.push(insert("a", 1));
        let (out, roots) = log.drain();
        assert_eq!(
            out,
            vec![
                Out::Insert {
                    sheet: "a",
                    path: vec![0],
                    rule: ".r0 {}".into()
                },
                Out::Delete {
                    sheet: "b",
                    path: vec![1, 0]
                },
                Out::Insert {
                    sheet: "a",
                    path: vec![1],
                    rule: ".r1 {}".into()
                },
            ]
        );
        assert!(roots.is_empty());
        assert!(log.is_empty(), "a drain empties the log");
    }

    #[test]
    fn a_resend_replaces_every_change_of_that_sheet_with_one_rules_where_the_first_was() {
        let mut log = SheetLog::<&str, &str>::default();
        log.push(insert("a", 0));
        log.push(insert("b", 0));
        log.push(Op::Resend("a"));
        log.push(insert("a", 1));
        log.push(Op::Resend("a"));
        let (out, _) = log.drain();
        assert_eq!(
            out,
            vec![
                Out::Rules("a"),
                Out::Insert {
                    sheet: "b",
                    path: vec![0],
                    rule: ".r0 {}".into()
                },
            ]
        );
    }

    #[test]
    fn a_flood_of_inserts_into_one_sheet_becomes_its_rule_list() {
        let mut log = SheetLog::<&str, &str>::default();
        for i in 0..=(MAX_CHANGES_PER_SHEET as u32 * 10) {
            log.push(insert("a", i));
        }
        log.push(insert("b", 0));
        assert!(!log.wants_detail(&"a"), "past the cap no rule text is read");
        assert!(log.wants_detail(&"b"));
        assert!(
            log.ops.len() <= MAX_CHANGES_PER_SHEET + 2,
            "the log stays bounded"
        );
        let (out, _) = log.drain();
        assert_eq!(out.len(), 2);
        assert_eq!(out[0], Out::Rules("a"));
        assert!(matches!(out[1], Out::Insert { sheet: "b", .. }));
    }

    #[test]
    fn just_under_the_cap_the_changes_stay_one_by_one() {
        let mut log = SheetLog::<&str, &str>::default();
        for i in 0..MAX_CHANGES_PER_SHEET as u32 {
            log.push(insert("a", i));
        }
        let (out, _) = log.drain();
        assert_eq!(out.len(), MAX_CHANGES_PER_SHEET);
    }

    #[test]
    fn roots_are_checked_once_each() {
        let mut log = SheetLog::<&str, &str>::default();
        log.adopted("doc");
        log.adopted("shadow");
        log.adopted("doc");
        assert!(!log.is_empty());
        let (_, roots) = log.drain();
        assert_eq!(roots, vec!["doc", "shadow"]);
    }

    #[test]
    fn constructed_sheets_are_numbered_in_order_of_first_sight_and_never_renumbered() {
        let mut n = Numbering::default();
        assert_eq!(n.assign("x"), (0, true));
        assert_eq!(n.assign("y"), (1, true));
        assert_eq!(n.assign("x"), (0, false));
        assert_eq!(n.sent(&"y"), Some(1));
        assert_eq!(n.sent(&"z"), None);
    }

    #[test]
    fn after_a_snapshot_every_sheet_is_sent_again_under_its_old_number() {
        let mut n = Numbering::default();
        n.assign("x");
        n.assign("y");
        n.forget_sent();
        assert_eq!(n.sent(&"x"), None, "the console no longer has it");
        assert_eq!(n.assign("y"), (1, true));
        assert_eq!(n.assign("y"), (1, false));
    }

    #[test]
    fn a_rule_path_runs_from_the_sheet_down() {
        assert_eq!(rule_path(&[], 3), vec![3]);
        assert_eq!(rule_path(&[2, 0], 5), vec![2, 0, 5]);
    }
}
