//! The relay's masking rules for this page (`Welcome.masking`,
//! `Resumed.masking`: the relay's config names selectors per URL pattern)
//! joined to the site's own.
//!
//! Owns: checking each relay selector with the page's own parser (one the
//! page cannot parse is dropped with a warning — joined into the selector
//! list it would make every match fail) and widening the session's rules.
//! Rules from the relay only ever add masking and never shrink within a
//! page: a later Welcome without rules (a fresh code) leaves them in force.
//! Does not own: what masking does (`mask.rs`, `serialize.rs`).

use protocol::MaskRules;
use web_sys::Document;

use super::Inner;
use crate::error::warn;
use crate::mask::Rules;

impl Inner {
    pub(super) fn adopt_relay_masking(&mut self, masking: MaskRules) {
        let before = (
            self.relay_masking.mask.len(),
            self.relay_masking.block.len(),
        );
        for (into, from) in [
            (&mut self.relay_masking.mask, masking.mask),
            (&mut self.relay_masking.block, masking.block),
        ] {
            for selector in from {
                if !into.contains(&selector) && parses(&self.document, &selector) {
                    into.push(selector);
                }
            }
        }
        if (
            self.relay_masking.mask.len(),
            self.relay_masking.block.len(),
        ) == before
        {
            return;
        }
        let rules = joined(&self.options, &self.relay_masking);
        self.capture.set_rules(rules.clone());
        self.rules = rules;
        if self.live.is_some() {
            // Already watched: what went out before the rules arrived is
            // replaced by a snapshot that applies them.
            self.send_snapshot();
        }
    }
}

fn joined(options: &crate::options::Options, relay: &MaskRules) -> Rules {
    let mask: Vec<String> = options.mask.iter().chain(&relay.mask).cloned().collect();
    let block: Vec<String> = options.block.iter().chain(&relay.block).cloned().collect();
    Rules::new(&mask, &block, options.private_by_default)
}

fn parses(document: &Document, selector: &str) -> bool {
    let ok = crate::dom::query_selector(&document, selector).is_ok();
    if !ok {
        // Quoted by hand: `{:?}` would pull Rust's string escaping into the
        // shipped wasm for this one message.
        warn(&format!(
            "cobrowse: the relay's masking selector \"{selector}\" is not valid CSS here; ignored"
        ));
    }
    ok
}
