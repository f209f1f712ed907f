//! Figures, their medians and spreads, the targets they are held to, and the
//! table printed to the terminal and written to `bench/RESULTS.md`.
//!
//! Owns: formatting and the pass/fail decision. Does not own: measuring.

use std::fmt::Write as _;

/// Several runs of one figure.
#[derive(Debug, Clone, Default)]
pub struct Runs(pub Vec<f64>);

impl Runs {
    pub fn push(&mut self, v: f64) {
        self.0.push(v);
    }

    pub fn median(&self) -> Option<f64> {
        let mut v: Vec<f64> = self.0.iter().copied().filter(|x| x.is_finite()).collect();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        let n = v.len();
        Some(if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        })
    }

    fn min_max(&self) -> Option<(f64, f64)> {
        let v = self.0.iter().copied().filter(|x| x.is_finite());
        let min = v.clone().reduce(f64::min)?;
        let max = v.reduce(f64::max)?;
        Some((min, max))
    }

    /// `median [min–max]` in `unit`, or `—` when nothing was measured.
    pub fn show(&self, unit: Unit) -> String {
        match (self.median(), self.min_max()) {
            (Some(m), Some((lo, hi))) if self.0.len() > 1 && lo != hi => {
                format!("{} [{}–{}]", unit.fmt(m), unit.fmt(lo), unit.fmt(hi))
            }
            (Some(m), _) => unit.fmt(m),
            _ => "—".into(),
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub enum Unit {
    Ms,
    Bytes,
    Ratio,
    PerSecond,
}

impl Unit {
    pub fn fmt(self, v: f64) -> String {
        match self {
            Unit::Ms if v.abs() >= 100.0 => format!("{v:.0} ms"),
            Unit::Ms => format!("{v:.1} ms"),
            Unit::Bytes if v >= 1_000_000.0 => format!("{:.2} MB", v / 1_000_000.0),
            Unit::Bytes if v >= 1_000.0 => format!("{:.1} KB", v / 1_000.0),
            Unit::Bytes => format!("{v:.0} B"),
            Unit::Ratio => format!("{v:.2}×"),
            Unit::PerSecond if v >= 1_000.0 => format!("{:.1}k/s", v / 1_000.0),
            Unit::PerSecond => format!("{v:.0}/s"),
        }
    }
}

/// What a figure must be to pass.
#[derive(Debug, Clone, Copy)]
pub enum Target {
    /// The median must be at most this.
    AtMost(f64),
    /// The median must be at least this.
    AtLeast(f64),
    /// Shown for information only.
    None,
}

/// One line of the table.
#[derive(Debug, Clone)]
pub struct Row {
    pub what: String,
    pub ours: String,
    pub rrweb: String,
    /// The figure held to the target (a ratio or an absolute figure).
    pub judged: Runs,
    pub unit: Unit,
    pub target: Target,
    pub target_text: String,
}

impl Row {
    /// Ours against rrweb (or the bench's limit), judged by the ratio of
    /// each run's pair, which must be at most `limit`.
    pub fn ratio_at_most(what: String, ours: &Runs, theirs: &Runs, unit: Unit, limit: f64) -> Row {
        Row {
            what,
            ours: ours.show(unit),
            rrweb: theirs.show(unit),
            judged: ratios(ours, theirs),
            unit: Unit::Ratio,
            target: Target::AtMost(limit),
            target_text: format!("≤ {limit:.1}×"),
        }
    }

    pub fn pass(&self) -> Option<bool> {
        match self.target {
            Target::AtMost(limit) => self.judged.median().map(|m| m <= limit),
            Target::AtLeast(limit) => self.judged.median().map(|m| m >= limit),
            Target::None => None,
        }
    }

    fn mark(&self) -> &'static str {
        match (self.target, self.pass()) {
            (Target::None, _) => "",
            (_, Some(true)) => "PASS",
            (_, Some(false)) => "FAIL",
            (_, None) => "n/a",
        }
    }
}

/// A titled group of rows.
pub struct Section {
    pub title: String,
    pub rows: Vec<Row>,
    /// Notes printed under the table (how it was measured, caveats).
    pub notes: Vec<String>,
}

const HEAD: [&str; 6] = ["measure", "ours", "rrweb", "judged", "target", "mark"];

fn cells(row: &Row) -> [String; 6] {
    [
        row.what.clone(),
        row.ours.clone(),
        row.rrweb.clone(),
        row.judged.show(row.unit),
        row.target_text.clone(),
        row.mark().to_owned(),
    ]
}

/// The table as plain text, columns padded.
pub fn terminal(sections: &[Section]) -> String {
    let mut out = String::new();
    for section in sections {
        let mut widths = HEAD.map(|h| h.chars().count());
        let rows: Vec<[String; 6]> = section.rows.iter().map(cells).collect();
        for r in &rows {
            for (w, c) in widths.iter_mut().zip(r) {
                *w = (*w).max(c.chars().count());
            }
        }
        let _ = writeln!(out, "\n{}", section.title);
        let line = |cols: &[String; 6]| {
            cols.iter()
                .zip(widths)
                .map(|(c, w)| format!("{c:<w$}"))
                .collect::<Vec<_>>()
                .join(" | ")
        };
        let _ = writeln!(out, "{}", line(&HEAD.map(str::to_owned)));
        let _ = writeln!(out, "{}", widths.map(|w| "-".repeat(w)).join("-+-"));
        for r in &rows {
            let _ = writeln!(out, "{}", line(r));
        }
    }
    out
}

/// The table as Markdown, with each section's notes.
pub fn markdown(sections: &[Section]) -> String {
    let mut out = String::new();
    for section in sections {
        let _ = writeln!(out, "\n## {}\n", section.title);
        let _ = writeln!(out, "| {} |", HEAD.join(" | "));
        let _ = writeln!(out, "|{}", "---|".repeat(HEAD.len()));
        for row in &section.rows {
            let c = cells(row).map(|c| c.replace('|', "\\|"));
            let _ = writeln!(out, "| {} |", c.join(" | "));
        }
        if !section.notes.is_empty() {
            out.push('\n');
            for note in &section.notes {
                let _ = writeln!(out, "- {note}");
            }
        }
    }
    out
}

/// The `p`-th percentile (nearest rank) of ascending `sorted`; NaN if empty.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// `ours / rrweb` run by run (the two measured back to back).
pub fn ratios(ours: &Runs, theirs: &Runs) -> Runs {
    Runs(
        ours.0
            .iter()
            .zip(&theirs.0)
            .map(|(a, b)| if *b > 0.0 { a / b } else { f64::NAN })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_spread() {
        let r = Runs(vec![3.0, 1.0, 2.0]);
        assert_eq!(r.median(), Some(2.0));
        assert_eq!(r.show(Unit::Ms), "2.0 ms [1.0 ms–3.0 ms]");
        assert_eq!(Runs(vec![1.0, 4.0]).median(), Some(2.5));
        assert_eq!(Runs::default().show(Unit::Ms), "—");
    }

    #[test]
    fn percentiles_by_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), 50.0);
        assert_eq!(percentile(&v, 99.0), 99.0);
        assert_eq!(percentile(&v, 100.0), 100.0);
        assert_eq!(percentile(&[7.0], 99.0), 7.0);
        assert!(percentile(&[], 50.0).is_nan());
    }

    #[test]
    fn marks_follow_the_median() {
        let row = |v: Vec<f64>| Row {
            what: "x".into(),
            ours: String::new(),
            rrweb: String::new(),
            judged: Runs(v),
            unit: Unit::Ratio,
            target: Target::AtMost(1.0),
            target_text: "≤ 1.0×".into(),
        };
        assert_eq!(row(vec![0.5, 2.0, 0.9]).mark(), "PASS");
        assert_eq!(row(vec![1.5, 2.0, 0.9]).mark(), "FAIL");
        assert_eq!(row(vec![]).mark(), "n/a");
        let at_least = |v: Vec<f64>| Row {
            target: Target::AtLeast(0.8),
            ..row(v)
        };
        assert_eq!(at_least(vec![0.7, 0.9, 0.85]).mark(), "PASS");
        assert_eq!(at_least(vec![0.7, 0.9, 0.75]).mark(), "FAIL");
        assert_eq!(Unit::PerSecond.fmt(12_345.0), "12.3k/s");
        assert!(markdown(&[Section {
            title: "t".into(),
            rows: vec![row(vec![1.0])],
            notes: vec![]
        }])
        .contains("| x |  |  | 1.00× | ≤ 1.0× | PASS |"));
    }
}
