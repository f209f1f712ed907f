//! `cargo xtask fidelity`'s driver: for every `*.html` in each folder
//! given (default: rrweb's record and snapshot fixtures in
//! `../shared/corpus`), the page is loaded directly in headless Chromium and
//! through the whole path into the console's iframe at the same viewport,
//! compared in pixels and DOM (`e2e::fidelity::compare_page`, the same
//! comparison as the end-to-end test), and a table of per-page differences
//! is printed. Exits non-zero if any page fails.
//!
//! Owns: choosing the pages, the table, the exit status. Does not own: the
//! comparison (`e2e::fidelity`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use e2e::fidelity::{compare_page, Options, PageReport, MAX_DIFFERING};
use e2e::scenario::World;

const USAGE: &str =
    "usage: cargo xtask fidelity [FOLDER ...] [--threshold PCT] [--only NAME[,NAME]]";
/// A page that takes longer than this is stuck (a page that never settles).
const PAGE_TIMEOUT: Duration = Duration::from_secs(150);

#[derive(Debug, PartialEq)]
struct Args {
    folders: Vec<PathBuf>,
    /// Share of pixels (0–1) that may differ for a page to pass.
    threshold: f64,
    only: Vec<String>,
}

fn parse(args: &[String], root: &Path) -> Result<Args> {
    let mut out = Args {
        folders: Vec::new(),
        threshold: MAX_DIFFERING,
        only: Vec::new(),
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--threshold" => {
                let pct: f64 = it
                    .next()
                    .context("--threshold needs a percentage")?
                    .trim_end_matches('%')
                    .parse()
                    .context("--threshold takes a percentage such as 0.2")?;
                if !(0.0..=100.0).contains(&pct) {
                    bail!("--threshold {pct} is not a percentage (0 to 100)");
                }
                out.threshold = pct / 100.0;
            }
            "--only" => out.only.extend(
                it.next()
                    .context("--only needs a page name")?
                    .split(',')
                    .map(|n| n.trim().to_owned())
                    .filter(|n| !n.is_empty()),
            ),
            "-h" | "--help" => bail!("{USAGE}"),
            flag if flag.starts_with('-') => bail!("unknown option {flag:?}\n{USAGE}"),
            folder => out.folders.push(PathBuf::from(folder)),
        }
    }
    if out.folders.is_empty() {
        let corpus = root.join("../shared/corpus/rrweb");
        out.folders = vec![corpus.join("record"), corpus.join("snapshot/html")];
    }
    Ok(out)
}

/// Whether `page` (a file name) is one `--only` asks for (with or without
/// `.html`); every page when `--only` is absent.
fn chosen(only: &[String], page: &str) -> bool {
    only.is_empty()
        || only
            .iter()
            .any(|o| o == page || format!("{o}.html") == page)
}

/// One row of the table.
struct Row {
    folder: String,
    page: String,
    /// The worst difference over the page's comparisons (as loaded, after
    /// changes), or why it could not be compared.
    outcome: Result<(f64, Option<bool>, Vec<String>), String>,
}

impl Row {
    fn passed(&self, threshold: f64) -> bool {
        matches!(&self.outcome, Ok((share, _, _)) if *share <= threshold)
    }
}

fn row(folder: &str, page: &str, report: Result<PageReport>) -> Row {
    let outcome = report
        .map(|r| {
            let worst = r
                .diffs
                .iter()
                .map(|(_, d)| d.differing_share())
                .fold(0.0, f64::max);
            let mut notes = r.notes;
            if let Some(Some(at)) = &r.dom {
                notes.push(format!("DOM: {}", one_line(at, 240)));
            }
            (worst, r.dom.map(|d| d.is_none()), notes)
        })
        .map_err(|e| one_line(&format!("{e:#}"), 300));
    Row {
        folder: folder.to_owned(),
        page: page.to_owned(),
        outcome,
    }
}

fn one_line(s: &str, max: usize) -> String {
    let flat = s.split_whitespace().collect::<Vec<_>>().join(" ");
    match flat.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &flat[..cut]),
        None => flat,
    }
}

/// The table: page, differing pixels, DOM equal, pass/fail; then a
/// sentence for each page that could not go live and the notes.
fn table(rows: &[Row], threshold: f64) -> String {
    let width = rows
        .iter()
        .map(|r| r.folder.len() + r.page.len() + 1)
        .max()
        .unwrap_or(4)
        .max(4);
    let mut out = format!(
        "{:<width$}  {:>9}  {:>9}  {}\n",
        "page", "pixels %", "DOM equal", "result"
    );
    for r in rows {
        let name = format!("{}/{}", r.folder, r.page);
        let (pct, dom) = match &r.outcome {
            Ok((share, dom, _)) => (
                format!("{:.3}", share * 100.0),
                match dom {
                    Some(true) => "yes",
                    Some(false) => "no",
                    None => "-",
                },
            ),
            Err(_) => ("-".into(), "-"),
        };
        let result = match (&r.outcome, r.passed(threshold)) {
            (Err(_), _) => "FAIL (not live)",
            (_, true) => "pass",
            (_, false) => "FAIL",
        };
        out.push_str(&format!("{name:<width$}  {pct:>9}  {dom:>9}  {result}\n"));
    }
    let passed = rows.iter().filter(|r| r.passed(threshold)).count();
    out.push_str(&format!(
        "\n{passed} of {} pages within {:.3}% differing pixels\n",
        rows.len(),
        threshold * 100.0
    ));
    for r in rows {
        match &r.outcome {
            Err(why) => out.push_str(&format!(
                "\n{}/{} could not be compared: {why}",
                r.folder, r.page
            )),
            Ok((_, _, notes)) => {
                for note in notes {
                    out.push_str(&format!("\n{}/{}: {note}", r.folder, r.page));
                }
            }
        }
    }
    out.push('\n');
    out
}

fn pages(folder: &Path, only: &[String]) -> Result<Vec<String>> {
    let mut pages: Vec<String> = std::fs::read_dir(folder)
        .with_context(|| format!("reading {}", folder.display()))?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".html") && chosen(only, n))
        .collect();
    pages.sort();
    Ok(pages)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .context("tests/ has a parent")?
        .to_path_buf();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args = parse(&args, &root)?;
    let mut rows = Vec::new();
    for folder in &args.folders {
        let folder = folder
            .canonicalize()
            .with_context(|| format!("{} is not a folder", folder.display()))?;
        // The folder's last two names: `record` and `snapshot/html` both
        // say where they are from.
        let label = folder
            .iter()
            .rev()
            .take(2)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .map(|n| n.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("/");
        let list = pages(&folder, &args.only)?;
        if list.is_empty() {
            continue;
        }
        let world = World::start_pages(&folder).await?;
        let opts = Options {
            require_own_images: false,
            compare_dom: true,
            screenshots: root.join("target/fidelity-screenshots").join(&label),
            prefix: "page".into(),
        };
        for page in &list {
            eprintln!("[fidelity] {label}/{page}");
            let report = tokio::time::timeout(PAGE_TIMEOUT, compare_page(&world, page, &opts))
                .await
                .unwrap_or_else(|_| {
                    Err(anyhow::anyhow!(
                        "no answer within {PAGE_TIMEOUT:?} (a page that never settles)"
                    ))
                });
            let r = row(&label, page, report);
            if let Ok((share, dom, _)) = &r.outcome {
                eprintln!(
                    "[fidelity]   {:.3}% differ, DOM equal: {dom:?}",
                    share * 100.0
                );
            }
            rows.push(r);
        }
        world.stop().await;
    }
    if rows.is_empty() {
        bail!(
            "no *.html page in {:?} (--only {:?})",
            args.folders,
            args.only
        );
    }
    print!("{}", table(&rows, args.threshold));
    println!(
        "screenshots: {}",
        root.join("target/fidelity-screenshots").display()
    );
    let failed = rows.iter().filter(|r| !r.passed(args.threshold)).count();
    if failed > 0 {
        // The table says which and why; an error's backtrace would only
        // bury it.
        eprintln!("{failed} of {} pages failed", rows.len());
        std::process::exit(1);
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::expect_used)] // a failed expectation fails the test
mod tests {
    use super::*;

    fn strings(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn without_folders_the_rrweb_corpus_beside_the_project_is_used() {
        let args = parse(&[], Path::new("/p")).expect("parses");
        assert_eq!(
            args.folders,
            vec![
                PathBuf::from("/p/../shared/corpus/rrweb/record"),
                PathBuf::from("/p/../shared/corpus/rrweb/snapshot/html")
            ]
        );
        assert_eq!(args.threshold, MAX_DIFFERING);
    }

    #[test]
    fn threshold_is_a_percentage_and_only_takes_names() {
        let args = parse(
            &strings(&["pages", "--threshold", "1.5", "--only", "a,b.html"]),
            Path::new("/p"),
        )
        .expect("parses");
        assert_eq!(args.folders, vec![PathBuf::from("pages")]);
        assert!((args.threshold - 0.015).abs() < 1e-12);
        assert!(chosen(&args.only, "a.html") && chosen(&args.only, "b.html"));
        assert!(!chosen(&args.only, "c.html"));
        assert!(parse(&strings(&["--threshold", "x"]), Path::new("/p")).is_err());
        assert!(parse(&strings(&["--threshold", "101"]), Path::new("/p")).is_err());
        assert!(parse(&strings(&["--bogus"]), Path::new("/p")).is_err());
    }

    #[test]
    fn table_marks_pages_over_the_threshold_and_says_why_one_was_not_live() {
        let rows = vec![
            Row {
                folder: "f".into(),
                page: "good.html".into(),
                outcome: Ok((0.001, Some(true), vec![])),
            },
            Row {
                folder: "f".into(),
                page: "bad.html".into(),
                outcome: Ok((0.05, Some(false), vec!["DOM: at document/0".into()])),
            },
            Row {
                folder: "f".into(),
                page: "dead.html".into(),
                outcome: Err("did not go live: timed out".into()),
            },
        ];
        let t = table(&rows, 0.002);
        let line = |p: &str| t.lines().find(|l| l.starts_with(p)).expect(p).to_owned();
        assert!(line("f/good.html").ends_with("pass"), "{t}");
        assert!(line("f/bad.html").contains("5.000"), "{t}");
        assert!(line("f/bad.html").ends_with("FAIL"), "{t}");
        assert!(line("f/dead.html").ends_with("FAIL (not live)"), "{t}");
        assert!(t.contains("1 of 3 pages"), "{t}");
        assert!(
            t.contains("f/dead.html could not be compared: did not go live"),
            "{t}"
        );
    }
}
