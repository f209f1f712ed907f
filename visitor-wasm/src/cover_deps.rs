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
    read_rules(rules).map(|(names, _)| names)
}

/// The class names the mask, block and unmask rules name with `.name`
/// selectors, as written, when the rules depend on `class` only through
/// such selectors: then a class change that adds or removes none of them
/// changes no match ([`class_change_matters`]). `None` when a rule names
/// `class` as an attribute (`[class~=x]`, `[class^=x]`… match the text,
/// not the tokens) or [`names`] gives up.
pub fn classes(rules: &Rules) -> Option<Vec<String>> {
    read_rules(rules).and_then(|(_, classes)| classes)
}

fn read_rules(rules: &Rules) -> Option<(Vec<String>, Option<Vec<String>>)> {
    let mut out = Vec::new();
    let mut classes = Some(Vec::new());
    read(&rules.mask, true, &mut out, &mut classes)?;
    read(&rules.block, true, &mut out, &mut classes)?;
    read(&rules.unmask, false, &mut out, &mut classes)?;
    Some((out, classes))
}

/// Whether a class attribute going from `old` to `new` (`None`: absent)
/// may change what rules naming the classes `named` ([`classes`]) match:
/// whether the tokens that are a named class, ignoring ASCII case, differ.
/// Tokens are split on ASCII white space as the DOM splits them. Compared
/// exactly once picked (`Secret` → `secret` is a change): a standards-mode
/// page matches classes with their case, a quirks-mode one without, and
/// the same picked tokens give the same answer under both.
pub fn class_change_matters(named: &[String], old: Option<&str>, new: Option<&str>) -> bool {
    picked(named, old) != picked(named, new)
}

/// The tokens of a class value that are one of `named` (ASCII case aside),
/// sorted and deduplicated.
fn picked<'v>(named: &[String], value: Option<&'v str>) -> Vec<&'v str> {
    let mut out: Vec<&str> = value
        .unwrap_or("")
        .split([' ', '\t', '\n', '\r', '\x0c'])
        .filter(|t| named.iter().any(|n| n.eq_ignore_ascii_case(t)))
        .collect();
    out.sort_unstable();
    out.dedup();
    out
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
/// (`classes`: the class names met, set to `None` when `class` is met as
/// an attribute.)
fn read(
    selector: &str,
    combinators: bool,
    out: &mut Vec<String>,
    classes: &mut Option<Vec<String>>,
) -> Option<()> {
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
                if b == b'.' {
                    if let Some(list) = classes.as_mut() {
                        let name = std::str::from_utf8(&s[i + 1..end]).ok()?;
                        list.push(name.to_owned());
                    }
                }
                i = end;
            }
            b'[' => {
                let (end, name) = attribute(s, i + 1, out, &mut add)?;
                if name.eq_ignore_ascii_case("class") {
                    *classes = None;
                }
                i = end;
            }
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
/// after `]` and the name.
fn attribute<'s>(
    s: &'s [u8],
    mut i: usize,
    out: &mut Vec<String>,
    add: &mut impl FnMut(&str, &mut Vec<String>),
) -> Option<(usize, &'s str)> {
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
            return Some((i + 1, name));
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
    (s.get(i)? == &b']').then_some((i + 1, name))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn of(sel: &str) -> Option<Vec<String>> {
        let mut out = Vec::new();
        read(sel, true, &mut out, &mut Some(Vec::new())).map(|()| out)
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

    fn rules(mask: &[&str]) -> Rules {
        let mask: Vec<String> = mask.iter().map(|s| s.to_string()).collect();
        Rules::new(&mask, &[], false)
    }

    #[test]
    fn the_classes_named_by_class_selectors_are_listed_as_written() {
        let named = classes(&rules(&[".Secret td", "div > .a.b", "#x"])).unwrap();
        assert_eq!(named, ["Secret", "a", "b"]);
        assert_eq!(classes(&Rules::default()).unwrap(), Vec::<String>::new());
    }

    #[test]
    fn a_rule_on_the_class_attribute_itself_lists_no_classes() {
        assert_eq!(classes(&rules(&[".a", "[class~=secret]"])), None);
        assert_eq!(classes(&rules(&["[CLASS]"])), None);
        assert_eq!(classes(&rules(&[".a:hover"])), None);
        assert_eq!(classes(&rules(&[".a\\:b"])), None);
    }

    #[test]
    fn a_class_change_matters_when_a_named_token_comes_or_goes() {
        let named = vec!["secret".to_owned()];
        let matters = |old, new| class_change_matters(&named, old, new);
        assert!(!matters(Some("a secret"), Some("secret a")));
        assert!(!matters(Some("a"), Some("a on")));
        assert!(!matters(None, Some("on")));
        assert!(!matters(Some("secret"), Some("secret\tsecret  on")));
        assert!(matters(Some("a"), Some("a secret")));
        assert!(matters(Some("a secret"), Some("a")));
        assert!(matters(None, Some("secret")));
        assert!(matters(Some("secret"), None));
        assert!(matters(Some("x\nsecret"), Some("x")));
        // Case: a standards page matches `secret` only, a quirks page both.
        assert!(matters(Some("Secret"), Some("secret")));
        assert!(matters(Some("a"), Some("SECRET")));
        // Not white space to the DOM: one token.
        assert!(!matters(Some("a"), Some("a\u{a0}secret")));
    }

    #[test]
    fn a_namespaced_change_matters_by_its_local_name_too() {
        let names = vec!["href".to_owned()];
        assert!(may_matter(&names, "xlink:href"));
        assert!(!may_matter(&names, "xlink:title"));
    }
}
