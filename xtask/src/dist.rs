//! `cargo xtask dist`: the browser artifacts, laid out as CONTRACT.md says.
//!
//! ```text
//! target/dist/sdk/    cobrowse.js (script-tag loader) + visitor_wasm.js + visitor_wasm_bg.wasm
//! target/dist/agent/  the console: index.html, console.css, agent_viewer.js + .wasm
//! target/dist/npm/    @cobrowse/visitor, ready for `npm pack`
//! ```
//!
//! The shipped wasm and JS go through `shrink.rs` (wasm-opt, terser) when
//! `cargo xtask setup` could install them; sdk/ and agent/ get `.gz` and
//! `.br` copies of their files for the relay to serve.

use std::{fs, path::Path, process::Command};

use anyhow::{Context, Result};

use crate::{
    shrink,
    util::{self, run},
};

pub fn build(root: &Path) -> Result<()> {
    util::step("building the visitor script and the agent console (wasm32, release)");
    util::cargo(&[
        "build",
        "--release",
        "--target",
        "wasm32-unknown-unknown",
        "-p",
        "visitor-wasm",
        "-p",
        "agent-viewer",
    ])?;
    let wasm_dir = root.join("target/wasm32-unknown-unknown/release");
    let dist = root.join("target/dist");
    let (sdk, agent, npm) = (dist.join("sdk"), dist.join("agent"), dist.join("npm"));
    for dir in [&sdk, &agent, &npm] {
        if dir.exists() {
            fs::remove_dir_all(dir).with_context(|| format!("cleaning {}", dir.display()))?;
        }
        fs::create_dir_all(dir)?;
    }

    bindgen(&wasm_dir.join("visitor_wasm.wasm"), &sdk)?;
    fold_snippets(&sdk, &sdk.join("visitor_wasm.js"))?;
    copy(
        &root.join("visitor-wasm/js/cobrowse.js"),
        &sdk.join("cobrowse.js"),
    )?;
    // What customers' pages download: as small as it compresses.
    // Binaryen's inlining of functions called once made this wasm smaller
    // raw but ~2.6 KB larger gzipped (measured, bench/ANALYSIS.md): off.
    shrink::reset_log(root)?;
    shrink::wasm(
        root,
        &sdk.join("visitor_wasm_bg.wasm"),
        &["-Oz", "--one-caller-inline-max-function-size", "0"],
    )?;
    shrink::js(root, &sdk.join("visitor_wasm.js"), true)?;
    shrink::imports(
        root,
        &sdk.join("visitor_wasm_bg.wasm"),
        &sdk.join("visitor_wasm.js"),
    )?;
    shrink::js(root, &sdk.join("cobrowse.js"), false)?;

    bindgen(&wasm_dir.join("agent_viewer.wasm"), &agent)?;
    copy_dir(&root.join("agent-viewer/static"), &agent)?;
    // The console: load time, so speed and size together (-O; one-caller
    // inlining off again: with it the gzip grew 24 KB, measured).
    shrink::wasm(
        root,
        &agent.join("agent_viewer_bg.wasm"),
        &["-O", "--one-caller-inline-max-function-size", "0"],
    )?;
    shrink::js(root, &agent.join("agent_viewer.js"), true)?;
    shrink::imports(
        root,
        &agent.join("agent_viewer_bg.wasm"),
        &agent.join("agent_viewer.js"),
    )?;

    // The npm package: our ESM entry and types, plus the same wasm-bindgen output.
    copy_dir(&root.join("npm"), &npm)?;
    for entry in fs::read_dir(&sdk)? {
        let path = entry?.path();
        if path.file_name().is_some_and(|n| n != "cobrowse.js") {
            copy(&path, &npm.join(path.file_name().unwrap_or_default()))?;
        }
    }
    // After the npm copy: the package ships plain files.
    shrink::precompress(root, &sdk)?;
    shrink::precompress(root, &agent)?;
    println!("dist: {}", dist.display());
    Ok(())
}

fn bindgen(wasm: &Path, out: &Path) -> Result<()> {
    // Function names and producer notes are for debugging, not for the
    // customers' pages: they were over 100 KB of the visitor's wasm.
    run(Command::new("wasm-bindgen")
        .args([
            "--target",
            "web",
            "--remove-name-section",
            "--remove-producers-section",
        ])
        .arg("--out-dir")
        .arg(out)
        .arg(wasm))
}

/// Moves the JS modules the crate declares (wasm-bindgen's `snippets/`)
/// into the glue that imports them, so that the SDK stays the files the
/// loader, the relay and CONTRACT.md know (and one request fewer). A
/// snippet here is plain functions: `export` goes, the rest is copied once.
/// The glue imports a snippet two ways: by name (`import { f } from …`, for
/// functions it wraps) and whole (`import * as import1 from …`, handed to
/// the wasm, which imports the functions that need no wrapping straight
/// from the module): the whole import becomes an object of the exported
/// functions, under the name the glue gives the wasm.
fn fold_snippets(dir: &Path, glue: &Path) -> Result<()> {
    let snippets = dir.join("snippets");
    if !snippets.exists() {
        return Ok(());
    }
    let text = fs::read_to_string(glue)?;
    let mut out = String::with_capacity(text.len());
    // Per folded module: its exported functions, and the binding of its
    // first whole import (later ones, one per wasm import group, alias it).
    let mut folded: Vec<(String, Vec<String>, Option<String>)> = Vec::new();
    for line in text.lines() {
        let Some((rel, whole)) = snippet_import(line) else {
            out.push_str(line);
            out.push('\n');
            continue;
        };
        let at = match folded.iter().position(|(path, ..)| path == rel) {
            Some(at) => at,
            None => {
                let module = fs::read_to_string(dir.join(rel))
                    .with_context(|| format!("reading the snippet {rel}"))?;
                let mut names = Vec::new();
                for code in module.lines() {
                    let code = match code.strip_prefix("export ") {
                        Some(rest) => {
                            names.extend(exported_function(rest).map(str::to_owned));
                            rest
                        }
                        None => code,
                    };
                    out.push_str(code);
                    out.push('\n');
                }
                folded.push((rel.to_owned(), names, None));
                folded.len() - 1
            }
        };
        if let Some(binding) = whole {
            let (_, names, first) = &mut folded[at];
            match first {
                Some(first) => out.push_str(&format!("const {binding} = {first};\n")),
                None => {
                    out.push_str(&format!("const {binding} = {{ {} }};\n", names.join(", ")));
                    *first = Some(binding.to_owned());
                }
            }
        }
    }
    if out.contains("from \"./snippets/") || out.contains("from './snippets/") {
        anyhow::bail!("{}: a snippet import was left unfolded", glue.display());
    }
    fs::write(glue, out)?;
    fs::remove_dir_all(&snippets).with_context(|| format!("removing {}", snippets.display()))
}

/// The name of the function an `export` line declares: `function f(…`.
fn exported_function(rest: &str) -> Option<&str> {
    let name = rest.strip_prefix("function ")?.split('(').next()?.trim();
    (!name.is_empty()).then_some(name)
}

/// The path of the module a glue line imports, if it is a snippet's, and
/// the binding of a whole-module import: `import { f } from
/// './snippets/crate-hash/js/dom.js';` or `import * as import1 from "…"`.
fn snippet_import(line: &str) -> Option<(&str, Option<&str>)> {
    let rest = line.trim().strip_prefix("import ")?;
    let (what, from) = rest.split_once(" from ")?;
    let path = from.trim().trim_end_matches(';').trim_matches(['\'', '"']);
    let path = path
        .strip_prefix("./")
        .filter(|p| p.starts_with("snippets/"))?;
    let whole = what.trim().strip_prefix("* as ").map(str::trim);
    Some((path, whole))
}

fn copy(from: &Path, to: &Path) -> Result<()> {
    fs::copy(from, to)
        .map(|_| ())
        .with_context(|| format!("copying {} to {}", from.display(), to.display()))
}

fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    for entry in fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let entry = entry?;
        if entry.file_type()?.is_file() {
            copy(&entry.path(), &to.join(entry.file_name()))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{exported_function, snippet_import};

    #[test]
    fn only_snippet_imports_are_folded() {
        assert_eq!(
            snippet_import(
                "import { cbDomFirstChild, cbDomNodeType } from './snippets/visitor-wasm-1a2b/js/dom.js';"
            ),
            Some(("snippets/visitor-wasm-1a2b/js/dom.js", None))
        );
        assert_eq!(
            snippet_import("import * as import3 from \"./snippets/visitor-wasm-1a2b/js/dom.js\""),
            Some(("snippets/visitor-wasm-1a2b/js/dom.js", Some("import3")))
        );
        assert_eq!(
            snippet_import("import * as x from './visitor_wasm_bg.js';"),
            None
        );
        assert_eq!(snippet_import("let imports = {};"), None);
        assert_eq!(
            exported_function("function cbDomNodeType(n) { }"),
            Some("cbDomNodeType")
        );
        assert_eq!(exported_function("const x = 1;"), None);
    }
}
