//! Writer for whisper.cpp's ggml model file, the legacy (pre-GGUF) layout that
//! `models/convert-pt-to-ggml.py` writes and `whisper_model_load` reads. Little-endian:
//!
//! - u32 magic `0x67676d6c` ("ggml");
//! - 11 × i32 hparams: n_vocab, n_audio_ctx, n_audio_state, n_audio_head, n_audio_layer,
//!   n_text_ctx, n_text_state, n_text_head, n_text_layer, n_mels, ftype, where ftype is the
//!   ggml file type plus 1000 × the quantisation version for quantised files;
//! - mel filters: i32 n_mel, i32 n_fft, n_mel × n_fft × f32;
//! - vocabulary: i32 count, then per token u32 length and the bytes;
//! - tensors until end of file: i32 n_dims, i32 name length, i32 ggml type, n_dims × i32
//!   dimensions (innermost first), the name, the data. No alignment padding.

use std::io::{self, Write};

use super::hparams::Hparams;
use super::Quantization;

/// `GGML_FILE_MAGIC`.
pub(crate) const MAGIC: u32 = 0x6767_6d6c;
/// `GGML_QNT_VERSION`: the Q8_0 block format of current ggml.
const QNT_VERSION: i32 = 2;
/// `GGML_QNT_VERSION_FACTOR`.
const QNT_VERSION_FACTOR: i32 = 1000;
/// `GGML_FTYPE_MOSTLY_F16`.
const FTYPE_MOSTLY_F16: i32 = 1;
/// `GGML_FTYPE_MOSTLY_Q8_0`.
const FTYPE_MOSTLY_Q8_0: i32 = 7;

/// ggml tensor types used here (`enum ggml_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum GgmlType {
    F32 = 0,
    F16 = 1,
    Q8_0 = 8,
}

/// The `ftype` header field whisper.cpp expects for a weight encoding: plain for f16 (as
/// `convert-pt-to-ggml.py` writes it), with the quantisation version for Q8_0 (as
/// whisper.cpp's `quantize` tool writes it).
pub(crate) fn ftype(q: Quantization) -> i32 {
    match q {
        Quantization::F16 => FTYPE_MOSTLY_F16,
        Quantization::Q8_0 => QNT_VERSION * QNT_VERSION_FACTOR + FTYPE_MOSTLY_Q8_0,
    }
}

/// Streams a ggml model file, counting what it writes.
pub(crate) struct GgmlWriter<W> {
    w: W,
    bytes: u64,
    tensors: usize,
}

impl<W: Write> GgmlWriter<W> {
    pub(crate) fn new(w: W) -> Self {
        Self {
            w,
            bytes: 0,
            tensors: 0,
        }
    }

    fn put(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.w.write_all(bytes)?;
        self.bytes += bytes.len() as u64;
        Ok(())
    }

    fn put_i32(&mut self, v: usize) -> io::Result<()> {
        let v = i32::try_from(v).map_err(|_| invalid(format!("{v} does not fit an i32")))?;
        self.put(&v.to_le_bytes())
    }

    /// Magic and hyper-parameters.
    pub(crate) fn header(&mut self, h: &Hparams, q: Quantization) -> io::Result<()> {
        self.put(&MAGIC.to_le_bytes())?;
        for v in h.fields() {
            self.put_i32(v)?;
        }
        self.put(&ftype(q).to_le_bytes())
    }

    /// The mel filterbank, `n_mel` rows of `n_fft` bins.
    pub(crate) fn mel_filters(
        &mut self,
        n_mel: usize,
        n_fft: usize,
        data: &[f32],
    ) -> io::Result<()> {
        if n_mel.checked_mul(n_fft) != Some(data.len()) {
            return Err(invalid(format!(
                "{} filter values for {n_mel} × {n_fft}",
                data.len()
            )));
        }
        self.put_i32(n_mel)?;
        self.put_i32(n_fft)?;
        let mut buf = Vec::new();
        super::quant::encode_f32(data, &mut buf);
        self.put(&buf)
    }

    /// The ordinary tokens' byte strings, in id order.
    pub(crate) fn vocab(&mut self, tokens: &[Vec<u8>]) -> io::Result<()> {
        self.put_i32(tokens.len())?;
        for t in tokens {
            let len = u32::try_from(t.len()).map_err(|_| invalid("token too long".into()))?;
            self.put(&len.to_le_bytes())?;
            self.put(t)?;
        }
        Ok(())
    }

    /// One tensor record; `data` must already be in `ty`'s encoding.
    pub(crate) fn tensor(
        &mut self,
        name: &str,
        dims: &[usize],
        ty: GgmlType,
        data: &[u8],
    ) -> io::Result<()> {
        let n: usize = dims.iter().product();
        let expected = match ty {
            GgmlType::F32 => n * 4,
            GgmlType::F16 => n * 2,
            GgmlType::Q8_0 => n / super::quant::QK8_0 * super::quant::Q8_0_BLOCK_BYTES,
        };
        // whisper.cpp multiplies the dimensions in an i32.
        if expected != data.len() || i32::try_from(n).is_err() {
            return Err(invalid(format!(
                "tensor {name}: {} bytes for {dims:?} as {ty:?}",
                data.len()
            )));
        }
        self.put_i32(dims.len())?;
        self.put_i32(name.len())?;
        self.put(&(ty as i32).to_le_bytes())?;
        for &d in dims {
            self.put_i32(d)?;
        }
        self.put(name.as_bytes())?;
        self.put(data)?;
        self.tensors += 1;
        Ok(())
    }

    /// Bytes and tensors written so far.
    pub(crate) fn counts(&self) -> (u64, usize) {
        (self.bytes, self.tensors)
    }

    pub(crate) fn into_inner(self) -> W {
        self.w
    }
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

/// A parsed ggml file, for tests: the same walk `whisper_model_load` does.
#[cfg(test)]
pub(crate) mod read {
    pub(crate) struct Tensor {
        pub(crate) name: String,
        pub(crate) dims: Vec<usize>,
        pub(crate) ty: i32,
        pub(crate) data: Vec<u8>,
    }

    pub(crate) struct File {
        pub(crate) hparams: [i32; 11],
        pub(crate) n_mel: usize,
        pub(crate) n_fft: usize,
        pub(crate) filters: Vec<f32>,
        pub(crate) vocab: Vec<Vec<u8>>,
        pub(crate) tensors: Vec<Tensor>,
    }

    impl File {
        pub(crate) fn tensor(&self, name: &str) -> &Tensor {
            self.tensors.iter().find(|t| t.name == name).expect(name)
        }
    }

    struct Cur<'a>(&'a [u8]);

    impl Cur<'_> {
        fn take(&mut self, n: usize) -> Vec<u8> {
            let (a, b) = self.0.split_at(n);
            self.0 = b;
            a.to_vec()
        }
        fn i32(&mut self) -> i32 {
            let b = self.take(4);
            i32::from_le_bytes([b[0], b[1], b[2], b[3]])
        }
        fn len(&mut self) -> usize {
            usize::try_from(self.i32()).expect("non-negative")
        }
    }

    pub(crate) fn parse(bytes: &[u8]) -> File {
        let mut c = Cur(bytes);
        assert_eq!(c.i32() as u32, super::MAGIC, "magic");
        let mut hparams = [0; 11];
        for h in &mut hparams {
            *h = c.i32();
        }
        let (n_mel, n_fft) = (c.len(), c.len());
        let filters = c
            .take(n_mel * n_fft * 4)
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        let n_vocab = c.len();
        let vocab = (0..n_vocab)
            .map(|_| {
                let n = c.len();
                c.take(n)
            })
            .collect();
        let mut tensors = Vec::new();
        while !c.0.is_empty() {
            let (n_dims, name_len, ty) = (c.len(), c.len(), c.i32());
            let dims: Vec<usize> = (0..n_dims).map(|_| c.len()).collect();
            let name = String::from_utf8(c.take(name_len)).expect("utf-8 name");
            let n: usize = dims.iter().product();
            let size = match ty {
                0 => n * 4,
                1 => n * 2,
                8 => n / 32 * 34,
                other => panic!("unexpected type {other}"),
            };
            let data = c.take(size);
            tensors.push(Tensor {
                name,
                dims,
                ty,
                data,
            });
        }
        File {
            hparams,
            n_mel,
            n_fft,
            filters,
            vocab,
            tensors,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ftype_encodes_the_quantisation_version_like_whisper_cpp_quantize() {
        assert_eq!(ftype(Quantization::F16), 1);
        assert_eq!(ftype(Quantization::Q8_0), 2007);
        // whisper_model_load: qntvr = ftype / 1000, ftype %= 1000 -> GGML_FTYPE_MOSTLY_Q8_0.
        assert_eq!(
            (
                ftype(Quantization::Q8_0) / 1000,
                ftype(Quantization::Q8_0) % 1000
            ),
            (2, 7)
        );
    }

    #[test]
    fn tensor_record_layout() {
        let mut w = GgmlWriter::new(Vec::new());
        w.tensor("a.b", &[2, 1], GgmlType::F16, &[1, 2, 3, 4])
            .expect("write");
        assert_eq!(w.counts(), (4 * 5 + 3 + 4, 1));
        let bytes = w.into_inner();
        let ints: Vec<i32> = bytes[..20]
            .chunks_exact(4)
            .map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        assert_eq!(ints, [2, 3, 1, 2, 1]);
        assert_eq!(&bytes[20..], b"a.b\x01\x02\x03\x04");
    }

    #[test]
    fn tensor_with_wrong_data_size_is_refused() {
        let mut w = GgmlWriter::new(Vec::new());
        let err = w
            .tensor("x", &[32, 2], GgmlType::Q8_0, &[0; 34])
            .expect_err("two blocks needed");
        assert!(err.to_string().contains("tensor x"), "{err}");
        assert_eq!(w.counts(), (0, 0));
    }
}
