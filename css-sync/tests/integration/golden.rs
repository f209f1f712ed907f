//! Golden files: `tests/golden/NAME.css` rewritten with `support::golden_map` must equal
//! `NAME.expected.css` (`NAME.decl.css` goes through `rewrite_declarations`). Run with
//! `UPDATE_GOLDEN=1` to rewrite the expected files, then read the diff before committing it.
//! Every output is also re-parsed: same references as mapped, same block structure, and
//! rewriting it again changes nothing.

use std::path::{Path, PathBuf};

use css_sync::rewrite_declarations;

use crate::support::*;

pub fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

/// The inputs: every `.css` that is not an `.expected.css`.
pub fn golden_inputs() -> Vec<PathBuf> {
    let mut inputs: Vec<PathBuf> = std::fs::read_dir(golden_dir())
        .expect("tests/golden exists")
        .map(|entry| entry.expect("readable dir entry").path())
        .filter(|path| {
            let name = path.to_string_lossy();
            name.ends_with(".css") && !name.ends_with(".expected.css")
        })
        .collect();
    inputs.sort();
    inputs
}

fn expected_path(input: &Path) -> PathBuf {
    let name = input.to_string_lossy();
    PathBuf::from(format!("{}.expected.css", name.trim_end_matches(".css")))
}

fn is_declarations(input: &Path) -> bool {
    input.to_string_lossy().ends_with(".decl.css")
}

#[test]
fn golden_files_match() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut failures = Vec::new();
    let inputs = golden_inputs();
    assert!(inputs.len() >= 8, "golden inputs went missing: {inputs:?}");
    for input in inputs {
        let css = std::fs::read_to_string(&input).expect("golden input is UTF-8");
        let out = if is_declarations(&input) {
            rewrite_declarations(&css, &mut golden_map)
        } else {
            rewrite_with_golden_map(&css)
        };
        let expected_path = expected_path(&input);
        if update {
            std::fs::write(&expected_path, &out).expect("write expected file");
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        if out != expected {
            failures.push(format!(
                "{}:\n--- expected\n{expected}\n--- got\n{out}",
                input.display()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn golden_outputs_reparse_to_the_mapped_references() {
    for input in golden_inputs() {
        let css = std::fs::read_to_string(&input).expect("golden input is UTF-8");
        if is_declarations(&input) {
            let out = rewrite_declarations(&css, &mut golden_map);
            assert_eq!(
                declaration_references(&out),
                mapped(declaration_references(&css)),
                "{}",
                input.display()
            );
        } else {
            let out = rewrite_with_golden_map(&css);
            assert_eq!(
                stylesheet_references(&out),
                mapped(stylesheet_references(&css)),
                "{}",
                input.display()
            );
        }
    }
}

#[test]
fn golden_outputs_keep_their_block_structure() {
    for input in golden_inputs() {
        let css = std::fs::read_to_string(&input).expect("golden input is UTF-8");
        if css.contains("@charset") || is_declarations(&input) {
            continue;
        }
        let out = rewrite_with_golden_map(&css);
        assert_eq!(skeleton(&out), skeleton(&css), "{}", input.display());
    }
}

#[test]
fn rewriting_a_golden_output_again_changes_nothing() {
    // No state pseudo-class and no @charset is left for a second pass to find.
    for input in golden_inputs() {
        if is_declarations(&input) {
            continue;
        }
        let css = std::fs::read_to_string(&input).expect("golden input is UTF-8");
        let out = rewrite_with_golden_map(&css);
        let again = css_sync::rewrite_stylesheet(&out, &mut |_, _| None);
        assert_eq!(again, out, "{}", input.display());
    }
}
