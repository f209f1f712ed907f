//! Which attribute names can change what the mask, unmask and block rules
//! match, so a mutation flush re-checks an element's covers only after a
//! change that can matter (a `class` toggle under the default rules, which
//! name only `data-cobrowse-*` markers, cannot).
//!
//! Owns: a deliberately small, conservative reading of selector lists. Does
//! not own: matching (the browser does it), the rules themselves
//! (`mask.rs`), acting on the answer (`mutations.rs`).
//!
//! The shortcut is only sound when an element's match depends on nothing
//! but the tags and the named attributes of it and its ancestors in the
//! same tree: then an attribute change the flush skips cannot have made
//! anything newly covered, and what was sent masked or blocked is still
//! (or more than) what is masked or blocked now. So the reading understands
//! type, universal, class, id and attribute selectors joined by descendant
//! and child combinators, and gives up (`None`: every attribute may matter)
//! on anything else: sibling combinators (a change beside the element),
//! every pseudo-class and pseudo-element (`:has()` looks down, `:checked`
//! and `:nth-child` change without an attribute record), namespaces,
//! escapes, non-ASCII names. An unmask rule with a combinator is refused
//! too: an ancestor's change could then make a descendant lose its unmask
//! marker, and the flush's search looks for new mask and block matches only.

use crate::mask::Rules;

/// The attribute names (ASCII lower-case) that may change what `rules`
/// match, or `None` when the rules say more than this reading understands.
pub fn names(rules: &Rules) -> Option<Vec<String>> {
    let mut out = Vec::new();
    read(&rules.mask, true, &mut out)?;
    read(&rules.block, true, &mut out)?;
    read(&rules.unmask, false, &mut out)?;
    Some(out)
}

/// Whether a change to the attribute `changed` (as a mutation record names
/// it, possibly `prefix:local`) may change a match, given `names`.
pub fn may_matter(names: &[String], changed: &str) -> bool {
    let local = changed.rsplit(':').next().unwrap_or(changed);
    names
        .iter()
        .any(|n| n.eq_ignore_ascii_case(changed) || n.eq_ignore_ascii_case(local))
}

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

/// Adds the attribute names `selector` depends on to `out`; `None` if it
/// uses anything outside the understood subset (`combinators`: whether
/// descendant and child combinators are allowed).
fn read(selector: &str, combinators: bool, out: &mut Vec<String>) -> Option<()> {
    let s = selector.as_bytes();
    let mut i = 0;
    // Whether the last thing read ended a compound selector with white
    // space: white space between compounds is the descendant combinator.
    let mut after_compound = false;
    let mut add = |name: &str, out: &mut Vec<String>| {
        let name = name.to_ascii_lowercase();
        if !out.contains(&name) {
            out.push(name);
        }
    };
    while i < s.len() {
        let b = s[i];
        match b {
            b' ' | b'\t' | b'\n' | b'\r' | b'\x0c' => {
                i += 1;
                continue;
            }
            b',' => {
                after_compound = false;
                i += 1;
                continue;
            }
            b'>' => {
                if !combinators {
                    return None;
                }
                after_compound = false;
                i += 1;
                continue;
            }
            _ => {}
        }
        // The start of a simple selector: a descendant combinator if white
        // space separated it from the previous compound.
        if after_compound && i > 0 && s[i - 1].is_ascii_whitespace() && !combinators {
            return None;
        }
        match b {
            b'*' => i += 1,
            b'.' | b'#' => {
                let end = name_end(s, i + 1);
                if end == i + 1 {
                    return None;
                }
                add(if b == b'.' { "class" } else { "id" }, out);
                i = end;
            }
            b'[' => i = attribute(s, i + 1, out, &mut add)?,
            _ if b.is_ascii_alphabetic() => i = name_end(s, i),
            // Pseudo-classes and elements, `+`, `~`, `|`, escapes, strings
            // outside brackets, non-ASCII: not understood.
            _ => return None,
        }
        // A simple selector must be followed by another, white space, a
        // combinator or a comma (`a|b`, `a(`... are not understood).
        if let Some(&next) = s.get(i) {
            if !(next.is_ascii_whitespace() || matches!(next, b'.' | b'#' | b'[' | b',' | b'>')) {
                return None;
            }
        }
        after_compound = true;
    }
    Some(())
}

fn name_end(s: &[u8], mut i: usize) -> usize {
    while i < s.len() && is_name_byte(s[i]) {
        i += 1;
    }
    i
}

/// Reads `name]`, `name op value]` from just after `[`; returns the index
/// after `]`.
fn attribute(
    s: &[u8],
    mut i: usize,
    out: &mut Vec<String>,
    add: &mut impl FnMut(&str, &mut Vec<String>),
) -> Option<usize> {
    let skip_ws = |mut i: usize| {
        while i < s.len() && s[i].is_ascii_whitespace() {
            i += 1;
        }
        i
    };
    i = skip_ws(i);
    let start = i;
    i = name_end(s, i);
    if i == start {
        return None;
    }
    let name = std::str::from_utf8(&s[start..i]).ok()?;
    i = skip_ws(i);
    match s.get(i)? {
        b']' => {
            add(name, out);
            return Some(i + 1);
        }
        b'=' => i += 1,
        // `|=` is an operator; a lone `|` a namespace prefix.
        b'~' | b'|' | b'^' | b'$' | b'*' if s.get(i + 1) == Some(&b'=') => i += 2,
        _ => return None,
    }
    add(name, out);
    i = skip_ws(i);
    match s.get(i)? {
        q @ (b'"' | b'\'') => {
            let q = *q;
            i += 1;
            while *s.get(i)? != q {
                if s[i] == b'\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
        }
        _ => {
            let start = i;
            i = name_end(s, i);
            if i == start {
                return None;
            }
        }
    }
    i = skip_ws(i);
    // A case flag (`i`, `s`) may follow the value.
    if matches!(s.get(i), Some(b'i' | b'I' | b's' | b'S')) {
        i = skip_ws(i + 1);
    }
    (s.get(i)? == &b']').then_some(i + 1)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn of(sel: &str) -> Option<Vec<String>> {
        let mut out = Vec::new();
        read(sel, true, &mut out).map(|()| out)
    }

    #[test]
    fn the_default_rules_depend_only_on_their_markers() {
        let names = names(&Rules::default()).unwrap();
        assert_eq!(
            names,
            [
                "data-cobrowse-mask",
                "data-cobrowse-block",
                "data-cobrowse-unmask"
            ]
        );
        assert!(!may_matter(&names, "class"));
        assert!(!may_matter(&names, "style"));
        assert!(may_matter(&names, "data-cobrowse-mask"));
        assert!(may_matter(&names, "DATA-COBROWSE-BLOCK"));
    }

    #[test]
    fn classes_ids_and_attributes_are_named_through_descendant_and_child_combinators() {
        assert_eq!(of(".secret p").unwrap(), ["class"]);
        assert_eq!(of("#card input").unwrap(), ["id"]);
        assert_eq!(of("div > .a.b, *#x").unwrap(), ["class", "id"]);
        assert_eq!(
            of("[data-private] input[type=password], a[href^='x]y' i]").unwrap(),
            ["data-private", "type", "href"]
        );
        assert_eq!(of("input[ Name |= \"a\\\"b\" ]").unwrap(), ["name"]);
        assert!(of("table td").unwrap().is_empty());
    }

    #[test]
    fn anything_not_understood_means_every_attribute_may_matter() {
        for sel in [
            ".a + p",
            ".a ~ p",
            ":not(.a)",
            "p:is(.a)",
            "div:has(.x)",
            "input:checked",
            "li:nth-child(2)",
            "p::before",
            "svg|a",
            "[xlink|href]",
            "[*|href]",
            ".a\\:b",
            "#é",
            "[data-x=]",
            "[data-x",
            "[data-x='open",
            ".",
            "a(b)",
        ] {
            assert_eq!(of(sel), None, "{sel}");
        }
        let rules = Rules::new(&[".ok".into(), "td:hover".into()], &[], false);
        assert_eq!(names(&rules), None);
    }

    #[test]
    fn an_unmask_rule_with_a_combinator_is_not_understood() {
        let mut rules = Rules {
            unmask: ".public p".into(),
            ..Rules::default()
        };
        assert_eq!(names(&rules), None);
        rules.unmask = "[data-cobrowse-unmask],.public".into();
        assert!(names(&rules).is_some());
        rules.unmask = ".public>p".into();
        assert_eq!(names(&rules), None);
    }

    #[test]
    fn a_namespaced_change_matters_by_its_local_name_too() {
        let names = vec!["href".to_owned()];
        assert!(may_matter(&names, "xlink:href"));
        assert!(!may_matter(&names, "xlink:title"));
    }
}
