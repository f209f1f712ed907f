//! Masking rules from the relay's configuration: a site's admin masks or
//! blocks a field on some pages without redeploying the site.
//!
//! ```toml
//! [[masking]]
//! url = "https://shop.example/checkout/*"
//! mask = [".card-number", "input[name=cvc]"]
//! block = ["#signature-pad"]
//! ```
//!
//! Owns: reading and checking the `[[masking]]` tables, and choosing the
//! rules for a page's URL ([`Masking::rules_for`]). Does not own: applying
//! them — the visitor's script does, in the visitor's browser, on top of the
//! site's own `mask`/`block` options and markup. Rules only ever add
//! masking: nothing here can unmask what the site or the password rule
//! masks.
//!
//! A `url` pattern is a whole URL where `*` stands for any run of
//! characters (`/` included); it is compared with the page's URL without
//! its fragment. Every matching table applies.

use protocol::MaskRules;
use serde::Deserialize;

use crate::error::RelayError;

/// More selectors than any admin writes by hand; the cap keeps a mistaken
/// generated config from sending megabytes to every visitor.
const MAX_SELECTORS: usize = 256;
const MAX_SELECTOR_LEN: usize = 1024;
const MAX_PATTERN_LEN: usize = 2048;

/// One `[[masking]]` table as written in the config file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaskingTable {
    pub url: String,
    #[serde(default)]
    pub mask: Vec<String>,
    #[serde(default)]
    pub block: Vec<String>,
}

/// The checked tables.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Masking {
    entries: Vec<Entry>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    pattern: String,
    rules: MaskRules,
}

impl Masking {
    /// Checks the tables: a usable pattern, at least one selector, and
    /// selectors that cannot be mistaken for anything but one selector.
    pub fn from_tables(tables: &[MaskingTable]) -> Result<Masking, RelayError> {
        let mut entries = Vec::with_capacity(tables.len());
        for (i, table) in tables.iter().enumerate() {
            let at = |what: String| RelayError::Config(format!("[[masking]] #{}: {what}", i + 1));
            let pattern = table.url.trim();
            if pattern.is_empty() || pattern.len() > MAX_PATTERN_LEN {
                return Err(at(format!(
                    "`url` must be a URL pattern of 1 to {MAX_PATTERN_LEN} characters"
                )));
            }
            if table.mask.is_empty() && table.block.is_empty() {
                return Err(at("give at least one selector in `mask` or `block`".into()));
            }
            let total = table.mask.len() + table.block.len();
            if total > MAX_SELECTORS {
                return Err(at(format!(
                    "{total} selectors; at most {MAX_SELECTORS} per table"
                )));
            }
            for selector in table.mask.iter().chain(&table.block) {
                check_selector(selector)
                    .map_err(|why| at(format!("selector {selector:?} {why}")))?;
            }
            entries.push(Entry {
                pattern: pattern.to_owned(),
                rules: MaskRules {
                    mask: table.mask.iter().map(|s| s.trim().to_owned()).collect(),
                    block: table.block.iter().map(|s| s.trim().to_owned()).collect(),
                },
            });
        }
        Ok(Masking { entries })
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The rules of every table whose pattern matches `page_url`, each
    /// selector once.
    pub fn rules_for(&self, page_url: &str) -> MaskRules {
        let url = page_url.split('#').next().unwrap_or(page_url);
        let mut rules = MaskRules::default();
        for entry in self.entries.iter().filter(|e| glob(&e.pattern, url)) {
            for (into, from) in [
                (&mut rules.mask, &entry.rules.mask),
                (&mut rules.block, &entry.rules.block),
            ] {
                for selector in from {
                    if !into.contains(selector) {
                        into.push(selector.clone());
                    }
                }
            }
        }
        rules
    }
}

/// The visitor checks each selector with the page's own parser and drops
/// one it cannot parse; here only what could never be one selector (or
/// could change the meaning of the list it joins) is refused.
fn check_selector(selector: &str) -> Result<(), &'static str> {
    let s = selector.trim();
    if s.is_empty() {
        return Err("is empty");
    }
    if s.len() > MAX_SELECTOR_LEN {
        return Err("is too long");
    }
    if s.chars()
        .any(|c| c.is_control() || matches!(c, '{' | '}' | ';'))
    {
        return Err("holds a brace, a semicolon or a control character");
    }
    Ok(())
}

/// `*` matches any run of characters; everything else matches itself.
/// Linear in practice: the classic two-pointer match with one backtrack
/// point (the last `*`).
fn glob(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
// A failed expectation in a test is the point of the test.
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn table(url: &str, mask: &[&str], block: &[&str]) -> MaskingTable {
        MaskingTable {
            url: url.into(),
            mask: mask.iter().map(|s| (*s).to_owned()).collect(),
            block: block.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    #[test]
    fn globs_match_whole_urls_with_stars_for_any_run() {
        for (pattern, url, hit) in [
            (
                "https://a.example/checkout/*",
                "https://a.example/checkout/pay?x=1",
                true,
            ),
            (
                "https://a.example/checkout/*",
                "https://a.example/checkout/",
                true,
            ),
            (
                "https://a.example/checkout/*",
                "https://a.example/checkout",
                false,
            ),
            (
                "https://a.example/checkout/*",
                "https://b.example/checkout/x",
                false,
            ),
            (
                "https://a.example/checkout/*",
                "https://a.example/cart/checkout/x",
                false,
            ),
            ("*/account/*", "http://127.0.0.1:8081/account/me.html", true),
            ("https://a.example/", "https://a.example/", true),
            ("https://a.example/", "https://a.example/x", false),
            ("*", "", true),
            ("", "", true),
            ("a*b*c", "axxbyybzzc", true),
            ("a*b*c", "axxbyybzz", false),
            ("**", "anything", true),
        ] {
            assert_eq!(glob(pattern, url), hit, "{pattern} vs {url}");
        }
    }

    #[test]
    fn a_pathological_pattern_stays_fast() {
        let pattern = "*a".repeat(50) + "b";
        let text = "a".repeat(10_000);
        let started = std::time::Instant::now();
        assert!(!glob(&pattern, &text));
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
    }

    #[test]
    fn every_matching_table_applies_and_selectors_come_once() {
        let masking = Masking::from_tables(&[
            table(
                "https://shop.example/checkout/*",
                &[".card", "#cvc"],
                &["#sig"],
            ),
            table("https://shop.example/*", &[".card"], &[]),
            table("https://other.example/*", &[".nope"], &[".nope"]),
        ])
        .unwrap();
        let rules = masking.rules_for("https://shop.example/checkout/pay#step-2");
        assert_eq!(rules.mask, vec![".card", "#cvc"]);
        assert_eq!(rules.block, vec!["#sig"]);
        let home = masking.rules_for("https://shop.example/");
        assert_eq!(home.mask, vec![".card"]);
        assert!(home.block.is_empty());
        assert_eq!(
            masking.rules_for("https://elsewhere.example/"),
            MaskRules::default()
        );
    }

    #[test]
    fn the_fragment_is_not_part_of_the_match() {
        let masking =
            Masking::from_tables(&[table("https://a.example/page", &["#x"], &[])]).unwrap();
        assert_eq!(
            masking.rules_for("https://a.example/page#pay").mask,
            vec!["#x"]
        );
    }

    #[test]
    fn bad_tables_are_refused_with_the_table_and_the_reason() {
        for (bad, words) in [
            (table("", &["#x"], &[]), "url"),
            (table("https://a/*", &[], &[]), "at least one selector"),
            (table("https://a/*", &[""], &[]), "is empty"),
            (table("https://a/*", &["a{}"], &[]), "brace"),
            (table("https://a/*", &[], &["a;b"]), "semicolon"),
            (table("https://a/*", &["a\nb"], &[]), "control"),
        ] {
            let err = Masking::from_tables(&[table("https://ok/*", &["#ok"], &[]), bad])
                .expect_err("refused")
                .to_string();
            assert!(err.contains("#2"), "{err}");
            assert!(err.contains(words), "{err}");
        }
        let many: Vec<String> = (0..=MAX_SELECTORS).map(|i| format!("#f{i}")).collect();
        let refs: Vec<&str> = many.iter().map(String::as_str).collect();
        assert!(Masking::from_tables(&[table("https://a/*", &refs, &[])]).is_err());
    }

    #[test]
    fn the_config_file_reads_masking_tables() {
        let file = crate::config::LimitsFile::parse(
            r##"
            [[masking]]
            url = "https://shop.example/checkout/*"
            mask = [".card-number"]
            block = ["#signature"]

            [[masking]]
            url = "*/account/*"
            mask = ["[name=ssn]"]
            "##,
        )
        .unwrap();
        let masking = file.masking().unwrap();
        let rules = masking.rules_for("https://shop.example/account/x");
        assert_eq!(rules.mask, vec!["[name=ssn]"]);
        let unknown = crate::config::LimitsFile::parse(
            "[[masking]]\nurl = \"*\"\nmask = [\"#a\"]\nunmask = [\"#b\"]\n",
        );
        assert!(unknown.is_err(), "unknown keys are errors");
    }
}
