//! The token byte strings whisper.cpp wants, recovered from the model directory's tokenizer.
//!
//! Whisper's tokenizer is GPT-2's byte-level BPE: every byte of a token is shown as one
//! printable character (`bytes_to_unicode` in GPT-2's `encoder.py`), so `Ġthe` is `b" the"`.
//! whisper.cpp wants the raw bytes of the ordinary tokens, id by id, and adds the special
//! tokens (`<|endoftext|>`, languages, timestamps, …) itself.

use std::collections::HashMap;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::ConvertError;

/// Hugging Face tokenizer, as faster-whisper model directories ship it.
const TOKENIZER_JSON: &str = "tokenizer.json";
/// CTranslate2's own vocabulary files: one token per line, or a JSON list.
const VOCABULARY_TXT: &str = "vocabulary.txt";
const VOCABULARY_JSON: &str = "vocabulary.json";

/// GPT-2's byte → character map, inverted: index = character code, value = byte.
/// Characters above U+0143 never occur.
fn unicode_to_byte() -> [Option<u8>; 324] {
    let mut table = [None; 324];
    let mut next_extra = 256usize;
    for b in 0..=255u8 {
        let printable = matches!(b, b'!'..=b'~' | 0xA1..=0xAC | 0xAE..=0xFF);
        let code = if printable {
            usize::from(b)
        } else {
            next_extra += 1;
            next_extra - 1
        };
        table[code] = Some(b);
    }
    table
}

/// Undoes the byte-to-unicode map of one token; `None` if a character is not in the map.
pub(crate) fn token_bytes(table: &[Option<u8>; 324], token: &str) -> Option<Vec<u8>> {
    token
        .chars()
        .map(|c| table.get(c as usize).copied().flatten())
        .collect()
}

/// Loads the byte strings of the ordinary (non-special) tokens, in id order, from the first
/// of `tokenizer.json`, `vocabulary.json`, `vocabulary.txt` that exists in `dir`; returns
/// that file's path too.
pub(crate) fn load(dir: &Path) -> Result<(PathBuf, Vec<Vec<u8>>), ConvertError> {
    let tokenizer = dir.join(TOKENIZER_JSON);
    if let Some(text) = read_optional(&tokenizer)? {
        let tokens = from_tokenizer_json(&tokenizer, &text)?;
        return Ok((tokenizer, tokens));
    }
    let vocab_json = dir.join(VOCABULARY_JSON);
    if let Some(text) = read_optional(&vocab_json)? {
        let list: Vec<String> = serde_json::from_str(&text)
            .map_err(|e| ConvertError::tokenizer(&vocab_json, format!("not a JSON list: {e}")))?;
        let tokens = from_token_list(&vocab_json, list)?;
        return Ok((vocab_json, tokens));
    }
    let vocab_txt = dir.join(VOCABULARY_TXT);
    if let Some(text) = read_optional(&vocab_txt)? {
        let list = text.lines().map(str::to_owned).collect();
        let tokens = from_token_list(&vocab_txt, list)?;
        return Ok((vocab_txt, tokens));
    }
    Err(ConvertError::Missing {
        path: tokenizer,
        what: "tokenizer; no vocabulary.json or vocabulary.txt either",
    })
}

fn read_optional(path: &Path) -> Result<Option<String>, ConvertError> {
    match std::fs::read(path) {
        Ok(bytes) => String::from_utf8(bytes)
            .map(Some)
            .map_err(|_| ConvertError::tokenizer(path, "not UTF-8 text")),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(ConvertError::io(path, e)),
    }
}

#[derive(Deserialize)]
struct TokenizerJson {
    model: BpeModel,
    #[serde(default)]
    added_tokens: Vec<AddedToken>,
}

#[derive(Deserialize)]
struct BpeModel {
    #[serde(rename = "type")]
    kind: Option<String>,
    vocab: HashMap<String, u32>,
}

#[derive(Deserialize)]
struct AddedToken {
    id: u32,
    #[serde(default)]
    special: bool,
}

/// Parses a Hugging Face `tokenizer.json`. The ordinary tokens are the ids below the first
/// special added token (50256 `<|endoftext|>` for English-only models, 50257 for
/// multilingual ones); a gap in those ids gives an empty string, as whisper.cpp tolerates.
pub(crate) fn from_tokenizer_json(path: &Path, text: &str) -> Result<Vec<Vec<u8>>, ConvertError> {
    let parsed: TokenizerJson = serde_json::from_str(text)
        .map_err(|e| ConvertError::tokenizer(path, format!("not a tokenizer.json: {e}")))?;
    if let Some(kind) = parsed.model.kind.as_deref() {
        if kind != "BPE" {
            return Err(ConvertError::tokenizer(
                path,
                format!("model type {kind:?}, Whisper uses BPE"),
            ));
        }
    }
    let first_special = parsed
        .added_tokens
        .iter()
        .filter(|t| t.special)
        .map(|t| t.id)
        .min();
    let n_base = match first_special {
        Some(id) => id as usize,
        None => parsed
            .model
            .vocab
            .values()
            .max()
            .map_or(0, |&m| m as usize + 1),
    };
    if n_base == 0 {
        return Err(ConvertError::tokenizer(path, "no ordinary tokens"));
    }
    let mut by_id: Vec<Option<&str>> = vec![None; n_base];
    for (token, &id) in &parsed.model.vocab {
        if let Some(slot) = by_id.get_mut(id as usize) {
            *slot = Some(token);
        }
    }
    let missing = by_id.iter().filter(|t| t.is_none()).count();
    if missing * 2 > n_base {
        return Err(ConvertError::tokenizer(
            path,
            format!("{missing} of the first {n_base} token ids have no token"),
        ));
    }
    if missing > 0 {
        tracing::warn!(path = %path.display(), missing, "token ids without a token, written empty");
    }
    decode_all(path, by_id.into_iter().map(|t| t.unwrap_or("")))
}

/// CTranslate2's vocabulary list: the ordinary tokens are those before the first `<|…|>`.
fn from_token_list(path: &Path, tokens: Vec<String>) -> Result<Vec<Vec<u8>>, ConvertError> {
    let n_base = tokens
        .iter()
        .position(|t| t.starts_with("<|") && t.ends_with("|>"))
        .unwrap_or(tokens.len());
    if n_base == 0 {
        return Err(ConvertError::tokenizer(path, "no ordinary tokens"));
    }
    decode_all(path, tokens.iter().take(n_base).map(String::as_str))
}

fn decode_all<'a>(
    path: &Path,
    tokens: impl Iterator<Item = &'a str>,
) -> Result<Vec<Vec<u8>>, ConvertError> {
    let table = unicode_to_byte();
    tokens
        .enumerate()
        .map(|(id, t)| {
            token_bytes(&table, t).ok_or_else(|| {
                ConvertError::tokenizer(path, format!("token {id} {t:?} is not byte-level BPE"))
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_map_is_a_bijection_on_all_256_bytes() {
        let table = unicode_to_byte();
        let mut seen = [false; 256];
        for b in table.iter().flatten() {
            assert!(!seen[usize::from(*b)], "byte {b} mapped twice");
            seen[usize::from(*b)] = true;
        }
        assert!(seen.iter().all(|s| *s));
    }

    #[test]
    fn gpt2_characters_become_their_bytes() {
        let table = unicode_to_byte();
        let cases: &[(&str, &[u8])] = &[
            ("Ġthe", b" the"),
            ("Hello", b"Hello"),
            ("Ċ", b"\n"),
            ("ĉ", b"\t"),
            ("Ā", b"\0"),
            ("ł", &[0xA0]),
            ("Ń", &[0xAD]),
            // "é" is bytes C3 A9, shown as "Ã©".
            ("Ã©", "é".as_bytes()),
            ("ĠâĢĶ", " —".as_bytes()),
        ];
        for (token, bytes) in cases {
            assert_eq!(
                token_bytes(&table, token).as_deref(),
                Some(*bytes),
                "{token}"
            );
        }
        // U+0144 and beyond (and characters such as CJK) are not byte-level encodings.
        assert_eq!(token_bytes(&table, "ń"), None);
        assert_eq!(token_bytes(&table, "日"), None);
    }

    fn tokenizer_json(vocab: &[(&str, u32)], specials: &[(&str, u32)]) -> String {
        let vocab: serde_json::Map<String, serde_json::Value> = vocab
            .iter()
            .map(|(t, id)| ((*t).to_owned(), (*id).into()))
            .collect();
        let added: Vec<serde_json::Value> = specials
            .iter()
            .map(|(t, id)| serde_json::json!({"id": id, "content": t, "special": true}))
            .collect();
        serde_json::json!({
            "added_tokens": added,
            "model": {"type": "BPE", "vocab": vocab, "merges": []},
        })
        .to_string()
    }

    #[test]
    fn tokenizer_json_gives_ordinary_tokens_in_id_order() {
        let text = tokenizer_json(
            &[("!", 0), ("Ġthe", 2), ("a", 1), ("<|endoftext|>", 3)],
            &[("<|endoftext|>", 3), ("<|startoftranscript|>", 4)],
        );
        let got = from_tokenizer_json(Path::new("tokenizer.json"), &text).expect("parses");
        assert_eq!(got, vec![b"!".to_vec(), b"a".to_vec(), b" the".to_vec()]);
    }

    #[test]
    fn tokenizer_json_errors_name_the_file() {
        let err =
            from_tokenizer_json(Path::new("/m/tokenizer.json"), "{ not json").expect_err("garbage");
        let msg = err.to_string();
        assert!(msg.starts_with("/m/tokenizer.json: "), "{msg}");

        let text = tokenizer_json(&[("日本", 0)], &[("<|endoftext|>", 1)]);
        let err = from_tokenizer_json(Path::new("t.json"), &text).expect_err("not byte-level");
        assert!(err.to_string().contains("not byte-level"), "{err}");

        let text = r#"{"model": {"type": "Unigram", "vocab": {}}}"#;
        let err = from_tokenizer_json(Path::new("t.json"), text).expect_err("unigram");
        assert!(err.to_string().contains("Unigram"), "{err}");
    }

    #[test]
    fn falls_back_to_vocabulary_txt_and_reports_a_missing_tokenizer() {
        let dir = tempfile::tempdir().expect("tempdir");
        let err = load(dir.path()).expect_err("empty dir");
        assert!(matches!(err, ConvertError::Missing { .. }), "{err}");
        assert!(err.to_string().contains("tokenizer.json"), "{err}");

        std::fs::write(
            dir.path().join(VOCABULARY_TXT),
            "Ġa\nb\n<|endoftext|>\n<|startoftranscript|>\n",
        )
        .expect("write");
        let (path, got) = load(dir.path()).expect("vocabulary.txt");
        assert_eq!(path, dir.path().join(VOCABULARY_TXT));
        assert_eq!(got, vec![b" a".to_vec(), b"b".to_vec()]);
    }
}
