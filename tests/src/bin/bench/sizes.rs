//! Transfer sizes: the visitor's script and wasm as a site serves them
//! against rrweb's record bundle, raw, gzip and brotli. Also installs rrweb
//! (the npm client, into the bench's cache folder) and finds its bundles.
//!
//! Owns: the install, the compression and its rows. Does not own: the
//! artifacts (`cargo xtask dist` builds them).

use std::{
    io::Write as _,
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{bail, Context, Result};

use crate::report::{Row, Runs, Section, Target, Unit};

/// The versions measured against; the record-only bundle is published as
/// its own package, and the full package carries `record()` for the page.
const PACKAGES: [&str; 2] = ["rrweb@2.2.2", "@rrweb/record@2.1.6"];

pub struct Rrweb {
    /// The full rrweb build that pages load (`window.rrweb.record`).
    pub full: PathBuf,
    /// The record-only minified bundle, what a site would ship to record.
    pub record: PathBuf,
}

/// Installs rrweb into `cache` unless already there.
pub fn install_rrweb(cache: &Path) -> Result<Rrweb> {
    let modules = cache.join("node_modules");
    let found = Rrweb {
        full: modules.join("rrweb/dist/rrweb.umd.min.cjs"),
        record: modules.join("@rrweb/record/dist/record.umd.min.cjs"),
    };
    if found.full.is_file() && found.record.is_file() {
        return Ok(found);
    }
    std::fs::create_dir_all(cache)?;
    println!("installing {} into {}", PACKAGES.join(" "), cache.display());
    let status = Command::new("npm")
        .args(["install", "--no-audit", "--no-fund", "--prefix"])
        .arg(cache)
        .args(PACKAGES)
        .status()
        .context("running npm (install Node.js and npm to run the benchmark)")?;
    if !status.success() {
        bail!("npm install {} failed with {status}", PACKAGES.join(" "));
    }
    for file in [&found.full, &found.record] {
        if !file.is_file() {
            bail!(
                "{} is missing after npm install: the package layout changed",
                file.display()
            );
        }
    }
    Ok(found)
}

pub fn gzip(bytes: &[u8]) -> Result<usize> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(bytes)?;
    Ok(enc.finish()?.len())
}

pub fn brotli(bytes: &[u8]) -> Result<usize> {
    let mut out = Vec::new();
    let params = brotli::enc::BrotliEncoderParams {
        quality: 11,
        lgwin: 22,
        ..Default::default()
    };
    brotli::BrotliCompress(&mut &bytes[..], &mut out, &params)?;
    Ok(out.len())
}

struct Sized {
    raw: usize,
    gzip: usize,
    brotli: usize,
}

fn measure(files: &[PathBuf]) -> Result<Sized> {
    let mut total = Sized {
        raw: 0,
        gzip: 0,
        brotli: 0,
    };
    // Each file is compressed on its own: a site serves them as separate
    // responses.
    for file in files {
        let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
        total.raw += bytes.len();
        total.gzip += gzip(&bytes)?;
        total.brotli += brotli(&bytes)?;
    }
    Ok(total)
}

pub fn section(dist: &Path, rrweb: &Rrweb) -> Result<Section> {
    let sdk = dist.join("sdk");
    let ours_files: Vec<PathBuf> = ["cobrowse.js", "visitor_wasm.js", "visitor_wasm_bg.wasm"]
        .iter()
        .map(|f| sdk.join(f))
        .collect();
    for f in &ours_files {
        if !f.is_file() {
            bail!("{} is missing: run `cargo xtask dist`", f.display());
        }
    }
    let ours = measure(&ours_files)?;
    let theirs = measure(std::slice::from_ref(&rrweb.record))?;
    let full = measure(std::slice::from_ref(&rrweb.full))?;
    let wasm = measure(&ours_files[2..])?;
    let loader = measure(&ours_files[..1])?;
    let row = |what: &str, a: usize, b: usize, target: Target, target_text: &str| Row {
        what: what.into(),
        ours: Unit::Bytes.fmt(a as f64),
        rrweb: Unit::Bytes.fmt(b as f64),
        judged: Runs(vec![a as f64 / b as f64]),
        unit: Unit::Ratio,
        target,
        target_text: target_text.into(),
    };
    Ok(Section {
        title: "Sizes: what a site serves to record".into(),
        rows: vec![
            row("raw", ours.raw, theirs.raw, Target::None, ""),
            row("gzip -9", ours.gzip, theirs.gzip, Target::AtMost(1.0), "≤ 1.0×"),
            row("brotli q11", ours.brotli, theirs.brotli, Target::None, ""),
            row(
                "gzip -9, loaded with the page",
                loader.gzip,
                theirs.gzip,
                Target::None,
                "",
            ),
        ],
        notes: vec![
            "ours: cobrowse.js + visitor_wasm.js + visitor_wasm_bg.wasm from target/dist/sdk, each compressed on its own and summed; rrweb: @rrweb/record 2.1.6 `record.umd.min.cjs`.".into(),
            "loaded with the page: what a page pays before any session, ours cobrowse.js alone (it fetches the glue and the wasm on `Cobrowse.start()`, or at once when the tab's previous page left a session to continue), rrweb its whole record bundle (it records from the page's load).".into(),
            format!(
                "of ours, the wasm alone: {} raw, {} gzip, {} brotli. rrweb's full 2.2.2 bundle (`rrweb.umd.min.cjs`, recorder and replayer, what the pages below load): {} raw, {} gzip.",
                Unit::Bytes.fmt(wasm.raw as f64),
                Unit::Bytes.fmt(wasm.gzip as f64),
                Unit::Bytes.fmt(wasm.brotli as f64),
                Unit::Bytes.fmt(full.raw as f64),
                Unit::Bytes.fmt(full.gzip as f64)
            ),
        ]
        .into_iter()
        .chain(shrink_log(dist))
        .collect(),
    })
}

/// What `cargo xtask dist` did to these files (wasm-opt kept or dropped,
/// terser), from the log it leaves beside target/dist; nothing if absent.
fn shrink_log(dist: &Path) -> Option<String> {
    let text = std::fs::read_to_string(dist.with_file_name("dist-shrink.txt")).ok()?;
    let lines: Vec<&str> = text.lines().filter(|l| !l.starts_with("agent")).collect();
    (!lines.is_empty()).then(|| format!("what dist did to them: {}.", lines.join("; ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compressors_shrink_repetitive_input() -> Result<()> {
        let text = "the same line again\n".repeat(1000);
        let (g, b) = (gzip(text.as_bytes())?, brotli(text.as_bytes())?);
        assert!(g < 200 && b < 200, "gzip {g}, brotli {b}");
        assert!(g > 20 && b > 5);
        Ok(())
    }
}
