//! Whisper's dimensions, read off the shapes of a CTranslate2 model's variables.

use std::collections::BTreeSet;
use std::io::{Read, Seek};

use super::ct2::Ct2Model;
use super::ConvertError;

/// Width of one attention head in every Whisper size; the fallback when the model does not
/// store its head count.
const HEAD_DIM: usize = 64;

/// whisper.cpp's `whisper_hparams`, minus `ftype` (which depends on the output encoding).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Hparams {
    pub(crate) n_vocab: usize,
    pub(crate) n_audio_ctx: usize,
    pub(crate) n_audio_state: usize,
    pub(crate) n_audio_head: usize,
    pub(crate) n_audio_layer: usize,
    pub(crate) n_text_ctx: usize,
    pub(crate) n_text_state: usize,
    pub(crate) n_text_head: usize,
    pub(crate) n_text_layer: usize,
    pub(crate) n_mels: usize,
}

impl Hparams {
    /// The header fields in whisper.cpp's order (`ftype` excluded).
    pub(crate) fn fields(&self) -> [usize; 10] {
        [
            self.n_vocab,
            self.n_audio_ctx,
            self.n_audio_state,
            self.n_audio_head,
            self.n_audio_layer,
            self.n_text_ctx,
            self.n_text_state,
            self.n_text_head,
            self.n_text_layer,
            self.n_mels,
        ]
    }

    /// Reads the dimensions from the conv, embedding and position-encoding shapes and counts
    /// the layers.
    pub(crate) fn from_model<R: Read + Seek>(m: &mut Ct2Model<R>) -> Result<Self, ConvertError> {
        let [n_audio_state, n_mels, kernel] = dims(m, "encoder/conv1/weight")?;
        if kernel != 3 {
            return Err(shape_error(
                m,
                "encoder/conv1/weight",
                &[n_audio_state, n_mels, 3],
            ));
        }
        let [n_audio_ctx, pe_state] = dims(m, "encoder/position_encodings/encodings")?;
        if pe_state != n_audio_state {
            let name = "encoder/position_encodings/encodings";
            return Err(shape_error(m, name, &[n_audio_ctx, n_audio_state]));
        }
        let [n_vocab, n_text_state] = dims(m, "decoder/embeddings/weight")?;
        let [n_text_ctx, pe_state] = dims(m, "decoder/position_encodings/encodings")?;
        if pe_state != n_text_state {
            let name = "decoder/position_encodings/encodings";
            return Err(shape_error(m, name, &[n_text_ctx, n_text_state]));
        }
        if n_text_state != n_audio_state {
            return Err(ConvertError::unsupported(
                m.path(),
                format!(
                    "decoder width {n_text_state} differs from encoder width {n_audio_state} \
                     (whisper.cpp needs them equal)"
                ),
            ));
        }
        let h = Self {
            n_vocab,
            n_audio_ctx,
            n_audio_state,
            n_audio_head: heads(m, "encoder", n_audio_state)?,
            n_audio_layer: layers(m, "encoder")?,
            n_text_ctx,
            n_text_state,
            n_text_head: heads(m, "decoder", n_text_state)?,
            n_text_layer: layers(m, "decoder")?,
            n_mels,
        };
        if h.fields()
            .iter()
            .any(|&v| v == 0 || i32::try_from(v).is_err())
        {
            return Err(ConvertError::malformed(
                m.path(),
                format!("implausible model dimensions {h:?}"),
            ));
        }
        Ok(h)
    }
}

fn dims<R: Read + Seek, const N: usize>(
    m: &Ct2Model<R>,
    name: &str,
) -> Result<[usize; N], ConvertError> {
    let shape = &m.info(name)?.shape;
    shape
        .as_slice()
        .try_into()
        .map_err(|_| ConvertError::Shape {
            path: m.path().to_owned(),
            name: name.to_owned(),
            found: shape.clone(),
            expected: vec![0; N],
        })
}

fn shape_error<R>(m: &Ct2Model<R>, name: &str, expected: &[usize]) -> ConvertError
where
    R: Read + Seek,
{
    ConvertError::Shape {
        path: m.path().to_owned(),
        name: name.to_owned(),
        found: m.info(name).map(|i| i.shape.clone()).unwrap_or_default(),
        expected: expected.to_vec(),
    }
}

/// `<stack>/num_heads` when stored (it is in CTranslate2's Whisper spec), else width / 64.
fn heads<R: Read + Seek>(
    m: &mut Ct2Model<R>,
    stack: &str,
    state: usize,
) -> Result<usize, ConvertError> {
    let stored = m.read_int_scalar(&format!("{stack}/num_heads"))?;
    let n = match stored {
        Some(n) => usize::try_from(n).unwrap_or(0),
        None => state / HEAD_DIM,
    };
    if n == 0 || !state.is_multiple_of(n) {
        return Err(ConvertError::malformed(
            m.path(),
            format!("{stack}: {n} attention heads do not divide width {state}"),
        ));
    }
    Ok(n)
}

/// Number of `<stack>/layer_<i>/…` layers; they must be numbered 0..n without gaps.
fn layers<R: Read + Seek>(m: &Ct2Model<R>, stack: &str) -> Result<usize, ConvertError> {
    let prefix = format!("{stack}/layer_");
    let found: BTreeSet<usize> = m
        .names()
        .filter_map(|n| n.strip_prefix(&prefix)?.split('/').next()?.parse().ok())
        .collect();
    let n = found.len();
    if n == 0 {
        return Err(ConvertError::MissingVariable {
            path: m.path().to_owned(),
            name: format!("{prefix}0/…"),
        });
    }
    if found.last() != Some(&(n - 1)) {
        return Err(ConvertError::malformed(
            m.path(),
            format!("{stack} layers are not numbered 0..{n}: {found:?}"),
        ));
    }
    Ok(n)
}
