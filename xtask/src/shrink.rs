//! Shrinking what `cargo xtask dist` ships: binaryen's `wasm-opt` over the
//! wasm and terser over the JS (the wasm-bindgen glue and the script-tag
//! loader). Both come from the npm registry (Debian's binaryen is years
//! behind the wasm features rustc emits) and `cargo xtask setup` installs
//! them into a cache folder, [`TOOLS`]; where they are missing (no Node.js
//! on the machine), dist says so and ships the files as they are.
//!
//! Also short import names in the wasm and its glue (imports.rs), and the
//! `.gz`/`.br` copies the relay serves.
//!
//! Owns: the tool versions, their install, the passes and the keep-or-drop
//! decision. Does not own: the build (dist.rs).

use std::{
    io::Write as _,
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{bail, Context, Result};

use crate::util::{self, run};

/// The cache folder, under the workspace root.
pub const TOOLS: &str = "target/web-tools";
/// What the last dist did, line by line, for `cargo xtask bench`'s sizes
/// section (beside target/dist, not in it: the relay serves that folder).
pub const LOG: &str = "target/dist-shrink.txt";
/// Pinned: a new optimiser is a new shipped artifact, measured before it ships.
const PACKAGES: [(&str, &str); 2] = [("binaryen", "132.0.0"), ("terser", "5.51.2")];

/// Installs the npm packages into [`TOOLS`] unless they are there already.
/// Not fatal: a machine without npm still builds, unoptimised.
pub fn install(root: &Path) -> Result<()> {
    let dir = root.join(TOOLS);
    if PACKAGES.iter().all(|(name, v)| installed(&dir, name, v)) {
        return Ok(());
    }
    if util::output("npm", &["--version"]).is_none() {
        println!(
            "note: npm is missing, so `cargo xtask dist` cannot shrink the shipped wasm and JS \
             (install Node.js and npm, then run `cargo xtask setup`)"
        );
        return Ok(());
    }
    let specs: Vec<String> = PACKAGES.iter().map(|(n, v)| format!("{n}@{v}")).collect();
    util::step(&format!(
        "installing {} into {TOOLS} (what dist shrinks the browser artifacts with)",
        specs.join(" ")
    ));
    std::fs::create_dir_all(&dir)?;
    run(Command::new("npm")
        .args([
            "install",
            "--no-audit",
            "--no-fund",
            "--no-save",
            "--prefix",
        ])
        .arg(&dir)
        .args(&specs))
    .context("npm could not install the optimisers")
}

fn installed(dir: &Path, name: &str, version: &str) -> bool {
    let manifest = dir.join("node_modules").join(name).join("package.json");
    std::fs::read_to_string(manifest)
        .is_ok_and(|text| text.contains(&format!("\"version\": \"{version}\"")))
}

fn bin(root: &Path, name: &str) -> Option<PathBuf> {
    let path = root.join(TOOLS).join("node_modules/.bin").join(name);
    path.is_file().then_some(path)
}

/// The wasm features rustc's wasm32 target emits today; wasm-opt refuses a
/// module using a feature it was not told about.
const FEATURES: [&str; 6] = [
    "--enable-bulk-memory",
    "--enable-nontrapping-float-to-int",
    "--enable-sign-ext",
    "--enable-reference-types",
    "--enable-multivalue",
    "--enable-mutable-globals",
];

/// Runs `wasm-opt` with `passes` over `wasm` in place, and keeps its output
/// only if it is smaller gzipped (what a site actually transfers): on the
/// visitor's size-optimised (`opt-level = "z"`) wasm, binaryen's output was
/// measured smaller raw but larger gzipped (see bench/ANALYSIS.md).
pub fn wasm(root: &Path, wasm: &Path, passes: &[&str]) -> Result<()> {
    let name = display_name(wasm);
    let Some(opt) = bin(root, "wasm-opt") else {
        return note(
            root,
            &format!(
                "{name}: no wasm-opt in {TOOLS}, shipped unoptimised (run `cargo xtask setup`)"
            ),
        );
    };
    let out = wasm.with_extension("opt.wasm");
    // A wasm-opt that cannot read what a newer rustc emits must not stop
    // the build: the file ships as it is, and the log says why.
    if let Err(e) = run(Command::new(&opt)
        .args(passes)
        .args(FEATURES)
        .arg(wasm)
        .arg("-o")
        .arg(&out))
    {
        let _ = std::fs::remove_file(&out);
        return note(
            root,
            &format!("{name}: wasm-opt failed, shipped unoptimised ({e:#})"),
        );
    }
    let (before, after) = (std::fs::read(wasm)?, std::fs::read(&out)?);
    let (gz_before, gz_after) = (gzip(&before)?, gzip(&after)?);
    let keep = gz_after < gz_before;
    note(
        root,
        &format!(
            "{name}: wasm-opt {}: {} → {} bytes raw, {} → {} gzip -9: {}",
            passes.join(" "),
            before.len(),
            after.len(),
            gz_before,
            gz_after,
            if keep {
                "kept"
            } else {
                "dropped (larger gzipped)"
            }
        ),
    )?;
    if keep {
        std::fs::rename(&out, wasm)?;
    } else {
        std::fs::remove_file(&out)?;
    }
    Ok(())
}

/// Minifies a JS file in place with terser: whitespace, comments and local
/// names only (property names and exports stay, so the wasm's imports and
/// the public API keep their names). Not terser's `--compress`: it drops
/// stores to variables nothing reads, and the loader holds the resumed
/// `Session` in exactly such a variable so that the garbage collector does
/// not free it (and end the session); compress saved ~0.2 KB gzip.
/// `module`: the file is an ES module.
pub fn js(root: &Path, file: &Path, module: bool) -> Result<()> {
    let name = display_name(file);
    let Some(terser) = bin(root, "terser") else {
        return note(
            root,
            &format!("{name}: no terser in {TOOLS}, shipped unminified (run `cargo xtask setup`)"),
        );
    };
    let before = std::fs::metadata(file)?.len();
    let out = file.with_extension("min.js");
    let mut cmd = Command::new(terser);
    cmd.arg(file).args(["--mangle", "--comments", "false"]);
    if module {
        cmd.arg("--module");
    }
    let after = match run(cmd.arg("--output").arg(&out)) {
        Ok(()) => std::fs::metadata(&out)?.len(),
        Err(e) => {
            let _ = std::fs::remove_file(&out);
            return note(
                root,
                &format!("{name}: terser failed, shipped unminified ({e:#})"),
            );
        }
    };
    if after == 0 {
        bail!("terser left {name} empty");
    }
    std::fs::rename(&out, file)?;
    note(
        root,
        &format!("{name}: terser: {before} → {after} bytes raw"),
    )
}

/// Gives the imports `wasm` takes from its glue (the ES module `glue`,
/// imported by the wasm as `./` + its file name with `_bg.js`) short names in
/// both files; see imports.rs. Leaves both alone if they do not match.
pub fn imports(root: &Path, wasm: &Path, glue: &Path) -> Result<()> {
    let name = display_name(wasm);
    let module = format!("./{}", display_name(glue).replace(".js", "_bg.js"));
    let (bytes, text) = (std::fs::read(wasm)?, std::fs::read_to_string(glue)?);
    match crate::imports::shorten(&bytes, &text, &module) {
        Ok((short_wasm, short_glue)) => {
            let line = format!(
                "{name}: short import names: wasm {} → {} bytes, glue {} → {} bytes raw",
                bytes.len(),
                short_wasm.len(),
                text.len(),
                short_glue.len()
            );
            std::fs::write(wasm, short_wasm)?;
            std::fs::write(glue, short_glue)?;
            note(root, &line)
        }
        Err(e) => note(
            root,
            &format!("{name}: import names kept as they were ({e:#})"),
        ),
    }
}

/// Writes `FILE.gz` (gzip -9) and `FILE.br` (brotli q11) beside every
/// `.js`, `.wasm` and `.css` in `dir`, which the relay sends to browsers that
/// accept them: compressed once here rather than on every request.
pub fn precompress(root: &Path, dir: &Path) -> Result<()> {
    let (mut raw, mut gz, mut br) = (0, 0, 0);
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        if !matches!(ext, "js" | "wasm" | "css") {
            continue;
        }
        let bytes = std::fs::read(&path)?;
        let gzipped = gzip_bytes(&bytes)?;
        let mut brotlied = Vec::new();
        let params = brotli::enc::BrotliEncoderParams {
            quality: 11,
            lgwin: 22,
            ..Default::default()
        };
        brotli::BrotliCompress(&mut &bytes[..], &mut brotlied, &params)?;
        let with = |suffix: &str| {
            let mut name = path.as_os_str().to_owned();
            name.push(suffix);
            PathBuf::from(name)
        };
        std::fs::write(with(".gz"), &gzipped)?;
        std::fs::write(with(".br"), &brotlied)?;
        (raw, gz, br) = (raw + bytes.len(), gz + gzipped.len(), br + brotlied.len());
    }
    note(
        root,
        &format!(
            "{}/: precompressed: {raw} bytes raw, {gz} as .gz, {br} as .br",
            display_name(dir)
        ),
    )
}

/// Starts [`LOG`] afresh for this dist.
pub fn reset_log(root: &Path) -> Result<()> {
    std::fs::write(root.join(LOG), "").context("writing the dist's shrink log")
}

/// Says what was done, and keeps it in [`LOG`].
fn note(root: &Path, line: &str) -> Result<()> {
    println!("{line}");
    let mut log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(root.join(LOG))?;
    writeln!(log, "{line}")?;
    Ok(())
}

fn display_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn gzip(bytes: &[u8]) -> Result<usize> {
    Ok(gzip_bytes(bytes)?.len())
}

fn gzip_bytes(bytes: &[u8]) -> Result<Vec<u8>> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(bytes)?;
    Ok(enc.finish()?)
}
