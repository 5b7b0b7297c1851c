//! Whole conversions of synthetic model directories, checked by parsing the output the way
//! whisper.cpp's loader does.

use std::path::{Path, PathBuf};

use half::f16;

use super::ggml::read;
use super::testutil::{self as tu, values, Ct2Builder};
use super::{convert_ct2_dir, mel, quant, ConvertError, Quantization};

const N: usize = tu::STATE;

struct Converted {
    _dir: tempfile::TempDir,
    out: PathBuf,
    file: read::File,
}

fn convert(model: &Ct2Builder, q: Quantization) -> Converted {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = dir.path().join("ct2");
    std::fs::create_dir(&src).expect("mkdir");
    tu::write_dir(&src, model);
    let out = dir.path().join("out").join("ggml.bin");
    std::fs::create_dir(dir.path().join("out")).expect("mkdir");
    let summary = convert_ct2_dir(&src, &out, q).expect("converts");
    let bytes = std::fs::read(&out).expect("output exists");
    assert_eq!(summary.bytes_written, bytes.len() as u64);
    let file = read::parse(&bytes);
    assert_eq!(summary.n_tensors, file.tensors.len());
    Converted {
        _dir: dir,
        out,
        file,
    }
}

fn f32s(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

fn f16s(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(2)
        .map(|b| f16::from_le_bytes([b[0], b[1]]).to_f32())
        .collect()
}

/// Rows `rows` of a synthetic source variable with `cols` columns.
fn source_rows(
    name: &str,
    total_rows: usize,
    cols: usize,
    rows: std::ops::Range<usize>,
) -> Vec<f32> {
    values(name, total_rows * cols)[rows.start * cols..rows.end * cols].to_vec()
}

#[test]
fn f16_conversion_has_whisper_cpp_header_mel_vocab_and_tensors() {
    let c = convert(&tu::whisper_model(), Quantization::F16);
    let f = &c.file;
    let n = N as i32;
    assert_eq!(
        f.hparams,
        [
            12,
            tu::AUDIO_CTX as i32,
            n,
            1,
            2,
            tu::TEXT_CTX as i32,
            n,
            1,
            1,
            80,
            1
        ]
    );
    assert_eq!((f.n_mel, f.n_fft), (80, 201));
    assert_eq!(f.filters, mel::filters(80));
    let vocab: Vec<&[u8]> = f.vocab.iter().map(Vec::as_slice).collect();
    assert_eq!(vocab, [&b"!"[..], b" the", b"\n", "é".as_bytes()]);
    assert_eq!(
        f.tensors.len(),
        11 + 15 * tu::AUDIO_LAYERS + 24 * tu::TEXT_LAYERS
    );

    for t in &f.tensors {
        let conv = t.name.ends_with("conv1.weight") || t.name.ends_with("conv2.weight");
        let matrix = t.dims.len() == 2 && t.dims[0] > 1 && !t.name.contains("positional");
        let want = i32::from(conv || matrix);
        assert_eq!(t.ty, want, "{} {:?}", t.name, t.dims);
    }

    // Q|K|V of a self-attention block, split by rows.
    let src = "encoder/layer_1/self_attention/linear_0/weight";
    for (part, rows) in [("query", 0..N), ("key", N..2 * N), ("value", 2 * N..3 * N)] {
        let t = f.tensor(&format!("encoder.blocks.1.attn.{part}.weight"));
        assert_eq!(t.dims, [N, N]);
        assert_eq!(f16s(&t.data), source_rows(src, 3 * N, N, rows), "{part}");
    }
    let src = "encoder/layer_1/self_attention/linear_0/bias";
    let t = f.tensor("encoder.blocks.1.attn.value.bias");
    assert_eq!(f32s(&t.data), source_rows(src, 3 * N, 1, 2 * N..3 * N));
    // K|V of a cross-attention block.
    let src = "decoder/layer_0/attention/linear_1/weight";
    let t = f.tensor("decoder.blocks.0.cross_attn.value.weight");
    assert_eq!(f16s(&t.data), source_rows(src, 2 * N, N, N..2 * N));
    let t = f.tensor("decoder.blocks.0.cross_attn.out.bias");
    assert_eq!(
        f32s(&t.data),
        values("decoder/layer_0/attention/linear_2/bias", N)
    );
    // Renamed globals and the [n, 1] conv bias.
    let t = f.tensor("encoder.conv1.bias");
    assert_eq!(
        (t.dims.as_slice(), f32s(&t.data)),
        (&[1, N][..], values("encoder/conv1/bias", N))
    );
    let t = f.tensor("encoder.conv1.weight");
    assert_eq!(t.dims, [3, 80, N]);
    assert_eq!(f16s(&t.data), values("encoder/conv1/weight", N * 80 * 3));
    let t = f.tensor("encoder.ln_post.weight");
    assert_eq!(f32s(&t.data), values("encoder/layer_norm/gamma", N));
    let t = f.tensor("decoder.token_embedding.weight");
    assert_eq!(t.dims, [N, tu::VOCAB]);
    assert_eq!(
        f16s(&t.data),
        values("decoder/embeddings/weight", tu::VOCAB * N)
    );
    let t = f.tensor("decoder.positional_embedding");
    assert_eq!((t.dims.as_slice(), t.ty), (&[N, tu::TEXT_CTX][..], 0));
    let t = f.tensor("decoder.blocks.0.mlp.2.weight");
    assert_eq!(t.dims, [4 * N, N]);
    assert_eq!(
        f16s(&t.data),
        values("decoder/layer_0/ffn/linear_1/weight", 4 * N * N)
    );
}

#[test]
fn q8_0_conversion_quantises_exactly_the_matrices() {
    let c = convert(&tu::whisper_model(), Quantization::Q8_0);
    let f = &c.file;
    assert_eq!(f.hparams[10], 2007);
    for t in &f.tensors {
        let want = match t.name.as_str() {
            "encoder.conv1.weight" | "encoder.conv2.weight" => 1,
            "encoder.conv1.bias" | "encoder.conv2.bias" => 0,
            name if name.contains("positional") => 0,
            _ if t.dims.len() == 2 => 8,
            _ => 0,
        };
        assert_eq!(t.ty, want, "{}", t.name);
    }
    let t = f.tensor("encoder.blocks.0.attn.key.weight");
    let got = quant::decode_q8_0(&t.data);
    let want = source_rows(
        "encoder/layer_0/self_attention/linear_0/weight",
        3 * N,
        N,
        N..2 * N,
    );
    assert_eq!(got.len(), want.len());
    for (a, b) in got.iter().zip(&want) {
        // Values are in [-1, 1): one Q8_0 step is at most 1/127.
        assert!((a - b).abs() <= 0.5 / 127.0 + 1e-3, "{a} vs {b}");
    }
    let q8 = std::fs::metadata(&c.out).expect("out").len();
    let f16 = std::fs::metadata(&convert(&tu::whisper_model(), Quantization::F16).out)
        .expect("out")
        .len();
    assert!(q8 < f16, "q8_0 {q8} bytes, f16 {f16} bytes");
}

#[test]
fn int8_float32_and_bfloat16_sources_convert() {
    let mut b = tu::whisper_model();
    // int8 with a per-row scale: row r holds q = r - 32 for every column, scale = 127 / amax.
    let name = "encoder/layer_0/ffn/linear_0/weight";
    let q: Vec<i8> = (0..4 * N)
        .flat_map(|r| std::iter::repeat_n((r % 64) as i8 - 32, N))
        .collect();
    b.i8(name, &[4 * N, N], &q);
    let scales: Vec<f32> = (0..4 * N).map(|r| 2.0 + r as f32).collect();
    b.f32(
        "encoder/layer_0/ffn/linear_0/weight_scale",
        &[4 * N],
        &scales,
    );
    let bias = "encoder/layer_0/ffn/linear_0/bias";
    b.f32(bias, &[4 * N], &values(bias, 4 * N));
    let emb = "decoder/embeddings/weight";
    b.bf16(emb, &[tu::VOCAB, N], &values(emb, tu::VOCAB * N));

    let c = convert(&b, Quantization::F16);
    let t = c.file.tensor("encoder.blocks.0.mlp.0.weight");
    let got = f16s(&t.data);
    for (r, row) in got.chunks(N).enumerate() {
        let want = f16::from_f32(((r % 64) as f32 - 32.0) / (2.0 + r as f32)).to_f32();
        assert!(row.iter().all(|v| *v == want), "row {r}: {row:?} vs {want}");
    }
    let t = c.file.tensor("encoder.blocks.0.mlp.0.bias");
    assert_eq!(f32s(&t.data), values(bias, 4 * N));
    let t = c.file.tensor("decoder.token_embedding.weight");
    assert_eq!(f16s(&t.data), values(emb, tu::VOCAB * N));
}

/// Runs a conversion that must fail; checks that nothing was left behind.
fn convert_err(dir: &Path, q: Quantization) -> ConvertError {
    let out_dir = tempfile::tempdir().expect("tempdir");
    let out = out_dir.path().join("ggml.bin");
    let err = convert_ct2_dir(dir, &out, q).expect_err("must fail");
    let left: Vec<_> = std::fs::read_dir(out_dir.path()).expect("ls").collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    err
}

fn dir_with(model: &Ct2Builder) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    tu::write_dir(dir.path(), model);
    dir
}

#[test]
fn missing_inputs_are_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    let nowhere = dir.path().join("nowhere");
    let err = convert_err(&nowhere, Quantization::F16);
    assert!(matches!(err, ConvertError::Missing { .. }), "{err}");
    assert!(err.to_string().contains("nowhere"), "{err}");

    let err = convert_err(dir.path(), Quantization::F16);
    assert!(err.to_string().contains("model.bin: not found"), "{err}");

    let dir = dir_with(&tu::whisper_model());
    std::fs::remove_file(dir.path().join("tokenizer.json")).expect("rm");
    let err = convert_err(dir.path(), Quantization::F16);
    assert!(
        err.to_string().contains("tokenizer.json: not found"),
        "{err}"
    );
}

#[test]
fn a_non_whisper_spec_is_refused() {
    let mut b = tu::whisper_model();
    b.spec = "TransformerSpec".into();
    let err = convert_err(dir_with(&b).path(), Quantization::F16);
    assert_eq!(
        err.to_string().rsplit_once("model.bin: ").map(|p| p.1),
        Some("unsupported: spec \"TransformerSpec\" is not a Whisper model (WhisperSpec)")
    );
}

#[test]
fn truncated_or_garbage_model_bin_fails_cleanly() {
    let bytes = tu::whisper_model().bytes();
    let dir = dir_with(&tu::whisper_model());
    let model_bin = dir.path().join("model.bin");
    for cut in [0, 3, 4, 20, 100, bytes.len() / 2, bytes.len() - 1] {
        std::fs::write(&model_bin, &bytes[..cut]).expect("write");
        let err = convert_err(dir.path(), Quantization::Q8_0);
        assert!(
            err.to_string().contains("malformed: truncated"),
            "cut {cut}: {err}"
        );
    }
    std::fs::write(&model_bin, b"PK\x03\x04 this is a zip, not a model").expect("write");
    let err = convert_err(dir.path(), Quantization::F16);
    assert!(matches!(err, ConvertError::Unsupported { .. }), "{err}");
}

#[test]
fn missing_or_misshapen_variables_are_named() {
    let mut b = tu::whisper_model();
    b.remove("decoder/layer_0/attention/linear_2/bias");
    let err = convert_err(dir_with(&b).path(), Quantization::F16);
    assert!(
        err.to_string()
            .ends_with("variable \"decoder/layer_0/attention/linear_2/bias\" is missing"),
        "{err}"
    );

    let mut b = tu::whisper_model();
    let name = "encoder/layer_1/self_attention/linear_0/weight";
    b.f16(name, &[2 * N, N], &values(name, 2 * N * N));
    let err = convert_err(dir_with(&b).path(), Quantization::F16);
    assert!(matches!(err, ConvertError::Shape { .. }), "{err}");
    assert!(
        err.to_string().contains("[128, 64], expected [192, 64]"),
        "{err}"
    );
}

#[test]
fn existing_output_is_replaced_atomically() {
    let dir = dir_with(&tu::whisper_model());
    let out_dir = tempfile::tempdir().expect("tempdir");
    let out = out_dir.path().join("ggml.bin");
    std::fs::write(&out, b"old").expect("write");
    convert_ct2_dir(dir.path(), &out, Quantization::Q8_0).expect("converts");
    let names: Vec<_> = std::fs::read_dir(out_dir.path())
        .expect("ls")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(names, ["ggml.bin"], "no temporary file left");
    assert_ne!(std::fs::read(&out).expect("read"), b"old");
}
