//! An evaluation folder's `manifest.tsv`: which files, how long, what was said.

use std::collections::HashSet;
use std::path::Path;

use anyhow::{bail, Context as _};

/// One row of the manifest.
#[derive(Clone, Debug, PartialEq)]
pub struct Utterance {
    /// File name, relative to the evaluation folder.
    pub file: String,
    pub duration_s: f64,
    /// Reference transcript with its original casing and punctuation.
    pub reference: String,
}

/// Reads `<dir>/manifest.tsv`.
pub fn load(dir: &Path) -> anyhow::Result<Vec<Utterance>> {
    let path = dir.join("manifest.tsv");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    parse(&text).with_context(|| format!("parsing {}", path.display()))
}

/// Parses a tab-separated manifest (no quoting) whose header names at least the columns `file`,
/// `duration_seconds` and `reference_text`, in any order.
pub fn parse(text: &str) -> anyhow::Result<Vec<Utterance>> {
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let Some((_, header)) = lines.next() else {
        bail!("the manifest is empty");
    };
    let columns: Vec<&str> = header.split('\t').map(str::trim).collect();
    let column = |name: &str| {
        columns
            .iter()
            .position(|c| *c == name)
            .with_context(|| format!("the header has no `{name}` column"))
    };
    let (file_col, duration_col, text_col) = (
        column("file")?,
        column("duration_seconds")?,
        column("reference_text")?,
    );
    let mut seen = HashSet::new();
    let mut rows = Vec::new();
    for (i, line) in lines {
        let n = i + 1;
        let fields: Vec<&str> = line.split('\t').collect();
        if fields.len() != columns.len() {
            bail!(
                "line {n}: {} fields, the header has {}",
                fields.len(),
                columns.len()
            );
        }
        let file = fields[file_col].trim();
        if file.is_empty() {
            bail!("line {n}: empty file name");
        }
        if !seen.insert(file) {
            bail!("line {n}: {file} is listed twice");
        }
        let duration_s: f64 = fields[duration_col].trim().parse().with_context(|| {
            format!(
                "line {n}: duration {:?} is not a number",
                fields[duration_col]
            )
        })?;
        if !duration_s.is_finite() || duration_s <= 0.0 {
            bail!("line {n}: duration {duration_s} is not positive");
        }
        rows.push(Utterance {
            file: file.to_owned(),
            duration_s,
            reference: fields[text_col].trim().to_owned(),
        });
    }
    if rows.is_empty() {
        bail!("the manifest lists no files");
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "file\tduration_seconds\treference_text\tsource\tlicense\n";

    #[test]
    fn reads_rows_with_punctuation_kept() {
        let text = format!(
            "{HEADER}a.flac\t9.655\tPrinting, in the only sense (with which)\tsrc\tPD\r\n\nb.flac\t1.9\tin being modern.\tsrc\tPD\n"
        );
        let rows = parse(&text).expect("valid manifest");
        assert_eq!(
            rows,
            vec![
                Utterance {
                    file: "a.flac".into(),
                    duration_s: 9.655,
                    reference: "Printing, in the only sense (with which)".into()
                },
                Utterance {
                    file: "b.flac".into(),
                    duration_s: 1.9,
                    reference: "in being modern.".into()
                },
            ]
        );
    }

    #[test]
    fn columns_are_found_by_name() {
        let rows = parse("reference_text\tfile\tduration_seconds\nhello there\tx.wav\t2\n")
            .expect("valid");
        assert_eq!(rows[0].file, "x.wav");
        assert_eq!(rows[0].reference, "hello there");
        assert!((rows[0].duration_s - 2.0).abs() < 1e-12);
    }

    #[test]
    fn rejects_bad_manifests() {
        for (text, why) in [
            ("", "empty"),
            (HEADER, "lists no files"),
            ("file\treference_text\nx\ty\n", "duration_seconds"),
            (&format!("{HEADER}a.flac\t1.0\thi\n") as &str, "fields"),
            (&format!("{HEADER}a.flac\tlong\thi\ts\tl\n"), "not a number"),
            (&format!("{HEADER}a.flac\t0\thi\ts\tl\n"), "not positive"),
            (
                &format!("{HEADER}a.flac\t1\thi\ts\tl\na.flac\t1\tho\ts\tl\n"),
                "twice",
            ),
        ] {
            let err = parse(text).expect_err(why);
            assert!(format!("{err:#}").contains(why), "{why}: got {err:#}");
        }
    }
}
