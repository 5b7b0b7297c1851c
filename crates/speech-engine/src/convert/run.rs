//! The conversion itself: check the whole model first, then stream the ggml file into a
//! temporary file next to the destination and rename it into place.

use std::fs::File;
use std::io::{BufWriter, Read, Seek, Write};
use std::path::Path;

use super::ct2::{Ct2Model, Tensor};
use super::ggml::{GgmlType, GgmlWriter};
use super::hparams::Hparams;
use super::layout::{self, Entry, Storage};
use super::quant::{self, Quantization};
use super::{mel, vocab, ConvertError};

/// The CTranslate2 weights file inside a model directory.
const MODEL_BIN: &str = "model.bin";
/// The only CTranslate2 spec this converter understands.
const WHISPER_SPEC: &str = "WhisperSpec";

/// What was converted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConvertSummary {
    /// Tensors written (167 for tiny: 11 globals, 15 per encoder and 24 per decoder block).
    pub n_tensors: usize,
    /// Vocabulary size of the model, special and timestamp tokens included.
    pub n_vocab: usize,
    /// Ordinary (byte-level) tokens written to the vocabulary block.
    pub n_base_tokens: usize,
    /// Mel bands of the input (80, or 128 for large-v3).
    pub n_mels: usize,
    /// Width of the encoder and the decoder.
    pub n_state: usize,
    pub n_audio_layer: usize,
    pub n_text_layer: usize,
    /// Whether whisper.cpp will treat it as multilingual (`n_vocab >= 51865`).
    pub multilingual: bool,
    /// Data type of the source weights (`float16`, `int8`, …).
    pub source_dtype: &'static str,
    pub quantization: Quantization,
    /// Size of the ggml file.
    pub bytes_written: u64,
}

/// Converts a CTranslate2 (faster-whisper) Whisper model directory (`model.bin` and
/// `tokenizer.json`, or CTranslate2's `vocabulary.json`/`vocabulary.txt`) into a whisper.cpp
/// ggml file. The file appears at `out_file` complete or not at all: it is written to a
/// temporary file in the same directory and renamed.
pub fn convert_ct2_dir(
    src_dir: &Path,
    out_file: &Path,
    quant: Quantization,
) -> Result<ConvertSummary, ConvertError> {
    if !src_dir.is_dir() {
        return Err(ConvertError::Missing {
            path: src_dir.to_owned(),
            what: "CTranslate2 model directory",
        });
    }
    let mut model = Ct2Model::open(&src_dir.join(MODEL_BIN))?;
    if model.spec != WHISPER_SPEC {
        return Err(ConvertError::unsupported(
            model.path(),
            format!(
                "spec {:?} is not a Whisper model ({WHISPER_SPEC})",
                model.spec
            ),
        ));
    }
    let h = Hparams::from_model(&mut model)?;
    tracing::debug!(
        path = %model.path().display(),
        revision = model.revision,
        hparams = ?h,
        "read CTranslate2 model"
    );
    let plan = layout::plan(&h);
    check_plan(&model, &plan, quant)?;
    warn_if_untied(&model);
    let (tokenizer, tokens) = vocab::load(src_dir)?;
    if tokens.len() > h.n_vocab {
        return Err(ConvertError::tokenizer(
            &tokenizer,
            format!(
                "{} ordinary tokens for a model of {} tokens",
                tokens.len(),
                h.n_vocab
            ),
        ));
    }
    let source_dtype = model.info("decoder/embeddings/weight")?.dtype.name();

    let (bytes_written, n_tensors) = write_atomically(out_file, |w| {
        write_all(w, &mut model, &h, &plan, &tokens, quant, out_file)
    })?;

    let summary = ConvertSummary {
        n_tensors,
        n_vocab: h.n_vocab,
        n_base_tokens: tokens.len(),
        n_mels: h.n_mels,
        n_state: h.n_audio_state,
        n_audio_layer: h.n_audio_layer,
        n_text_layer: h.n_text_layer,
        multilingual: h.n_vocab >= 51865,
        source_dtype,
        quantization: quant,
        bytes_written,
    };
    tracing::info!(
        src = %src_dir.display(),
        out = %out_file.display(),
        quantization = %quant,
        source_dtype,
        n_tensors,
        bytes_written,
        "converted CTranslate2 model to ggml"
    );
    Ok(summary)
}

/// Writes through `write` into a temporary file next to `out_file`, then renames it over
/// `out_file`; on any error the temporary file is removed. Returns bytes and tensors written.
fn write_atomically(
    out_file: &Path,
    write: impl FnOnce(&mut GgmlWriter<BufWriter<&File>>) -> Result<(), ConvertError>,
) -> Result<(u64, usize), ConvertError> {
    let dir = match out_file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut builder = tempfile::Builder::new();
    builder.prefix(".ggml-convert-").suffix(".part");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // Like `File::create` (0666 less the umask), not tempfile's owner-only 0600.
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    let tmp = builder
        .tempfile_in(dir)
        .map_err(|e| ConvertError::io(dir, e))?;
    let mut w = GgmlWriter::new(BufWriter::with_capacity(1 << 20, tmp.as_file()));
    write(&mut w)?;
    let counts = w.counts();
    w.into_inner()
        .into_inner()
        .map_err(|e| e.into_error())
        .and_then(File::sync_all)
        .map_err(|e| ConvertError::io(tmp.path(), e))?;
    tmp.persist(out_file)
        .map_err(|e| ConvertError::io(out_file, e.error))?;
    Ok(counts)
}

/// Checks every source variable's presence and shape before anything is written.
fn check_plan<R: Read + Seek>(
    model: &Ct2Model<R>,
    plan: &[Entry],
    quant: Quantization,
) -> Result<(), ConvertError> {
    for e in plan {
        let info = model.info(&e.source)?;
        if info.shape != e.source_shape {
            return Err(ConvertError::Shape {
                path: model.path().to_owned(),
                name: e.source.clone(),
                found: info.shape.clone(),
                expected: e.source_shape.clone(),
            });
        }
        let row = e.dims.first().copied().unwrap_or(0);
        if quant == Quantization::Q8_0
            && e.storage == Storage::Matrix
            && !row.is_multiple_of(quant::QK8_0)
        {
            return Err(ConvertError::unsupported(
                model.path(),
                format!(
                    "{}: rows of {row} values cannot be cut in Q8_0 blocks of 32",
                    e.source
                ),
            ));
        }
    }
    Ok(())
}

/// whisper.cpp computes the logits with the token embedding; say so if the model had its own
/// output projection.
fn warn_if_untied<R: Read + Seek>(model: &Ct2Model<R>) {
    let projection = "decoder/projection/weight";
    let untied =
        model.contains(projection) && model.target(projection) != "decoder/embeddings/weight";
    if untied || model.contains("decoder/projection/bias") {
        tracing::warn!(
            path = %model.path().display(),
            "output projection differs from the token embedding; whisper.cpp will use the embedding"
        );
    }
}

fn write_all<W: Write, R: Read + Seek>(
    w: &mut GgmlWriter<W>,
    model: &mut Ct2Model<R>,
    h: &Hparams,
    plan: &[Entry],
    tokens: &[Vec<u8>],
    quant: Quantization,
    out_file: &Path,
) -> Result<(), ConvertError> {
    let io = |e| ConvertError::io(out_file, e);
    w.header(h, quant).map_err(io)?;
    w.mel_filters(h.n_mels, mel::N_FREQ, &mel::filters(h.n_mels))
        .map_err(io)?;
    w.vocab(tokens).map_err(io)?;

    let mut cache: Option<(String, Tensor)> = None;
    let mut buf = Vec::new();
    for e in plan {
        let src = source(&mut cache, model, &e.source)?;
        let row_len: usize = src.shape.iter().skip(1).product();
        let values = src
            .data
            .get(e.rows.start * row_len..e.rows.end * row_len)
            .ok_or_else(|| ConvertError::Shape {
                path: model.path().to_owned(),
                name: e.source.clone(),
                found: src.shape.clone(),
                expected: e.source_shape.clone(),
            })?;
        buf.clear();
        let ty = match (e.storage, quant) {
            (Storage::F32, _) => {
                quant::encode_f32(values, &mut buf);
                GgmlType::F32
            }
            (Storage::Conv, _) | (Storage::Matrix, Quantization::F16) => {
                quant::encode_f16(values, &mut buf);
                GgmlType::F16
            }
            (Storage::Matrix, Quantization::Q8_0) => {
                quant::encode_q8_0(values, &mut buf);
                GgmlType::Q8_0
            }
        };
        w.tensor(&e.name, &e.dims, ty, &buf).map_err(io)?;
    }
    Ok(())
}

/// Reads a variable, reusing the previous one when consecutive tensors share it (the fused
/// Q|K|V and K|V projections).
fn source<'c, R: Read + Seek>(
    cache: &'c mut Option<(String, Tensor)>,
    model: &mut Ct2Model<R>,
    name: &str,
) -> Result<&'c Tensor, ConvertError> {
    let entry = match cache.take() {
        Some((cached, t)) if cached == name => cache.insert((cached, t)),
        _ => cache.insert((name.to_owned(), model.read_f32(name)?)),
    };
    Ok(&entry.1)
}
