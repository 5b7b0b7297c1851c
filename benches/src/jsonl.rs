//! The engines' standard output: JSON Lines, one `{"file", "text", ...}` object per transcribed
//! file (the `nexus-scribe transcribe --format json` contract, which the faster-whisper script
//! copies). A file that failed has no line.

use std::collections::HashMap;

use anyhow::{bail, Context as _};
use serde::Deserialize;

/// The fields of one output line the benchmark uses; the others (segments, ...) are ignored.
#[derive(Debug, Deserialize)]
struct Line {
    file: String,
    text: String,
}

/// Parses `stdout` and returns the text for each of `inputs` (paths exactly as passed to the
/// engine), `None` where the engine printed no line for that file.
///
/// A line that is not such an object, names a file that was not asked for, or repeats a file is an
/// error: the output broke the contract and no figure from it can be trusted.
pub fn texts_for(inputs: &[String], stdout: &str) -> anyhow::Result<Vec<Option<String>>> {
    let index: HashMap<&str, usize> = inputs
        .iter()
        .enumerate()
        .map(|(i, f)| (f.as_str(), i))
        .collect();
    let mut texts: Vec<Option<String>> = vec![None; inputs.len()];
    for (i, raw) in stdout.lines().enumerate() {
        if raw.trim().is_empty() {
            continue;
        }
        let line: Line = serde_json::from_str(raw).with_context(|| {
            let shown: String = raw.chars().take(80).collect();
            format!(
                "output line {} is not a transcript object: {shown:?}",
                i + 1
            )
        })?;
        let Some(&k) = index.get(line.file.as_str()) else {
            bail!(
                "output line {} is for {:?}, which was not an input",
                i + 1,
                line.file
            );
        };
        if texts[k].is_some() {
            bail!("output line {} repeats {:?}", i + 1, line.file);
        }
        texts[k] = Some(line.text);
    }
    Ok(texts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs() -> Vec<String> {
        vec!["/e/a.flac".into(), "/e/b.flac".into(), "/e/c.flac".into()]
    }

    #[test]
    fn matches_lines_to_inputs() {
        let out = concat!(
            r#"{"file":"/e/a.flac","text":"Hello there.","language":"en","duration_ms":1000,"segments":[{"start_ms":0,"end_ms":900,"text":" Hello there.","words":[]}]}"#,
            "\n",
            r#"{"file":"/e/b.flac","text":"Second one","language":"en","duration_ms":2000,"segments":[]}"#,
            "\n",
            r#"{"file":"/e/c.flac","text":"","language":"en","duration_ms":10,"segments":[]}"#,
            "\n",
        );
        let got = texts_for(&inputs(), out).expect("valid output");
        assert_eq!(
            got,
            vec![
                Some("Hello there.".into()),
                Some("Second one".into()),
                Some(String::new())
            ]
        );
    }

    #[test]
    fn a_failed_file_has_no_line() {
        let out = "{\"file\":\"/e/c.flac\",\"text\":\"third\"}\n\n{\"file\":\"/e/a.flac\",\"text\":\"first\"}\n";
        let got = texts_for(&inputs(), out).expect("valid output");
        assert_eq!(got, vec![Some("first".into()), None, Some("third".into())]);
        assert_eq!(
            texts_for(&inputs(), "").expect("empty output"),
            vec![None, None, None]
        );
    }

    #[test]
    fn contract_violations_are_errors() {
        for (out, why) in [
            ("not json\n", "not a transcript object"),
            ("{\"file\":\"/e/a.flac\"}\n", "not a transcript object"),
            ("{\"file\":\"/e/z.flac\",\"text\":\"x\"}\n", "not an input"),
            ("{\"file\":\"/e/a.flac\",\"text\":\"x\"}\n{\"file\":\"/e/a.flac\",\"text\":\"y\"}\n", "repeats"),
        ] {
            let err = texts_for(&inputs(), out).expect_err(why);
            assert!(format!("{err:#}").contains(why), "{why}: got {err:#}");
        }
    }
}
