//! Which CTranslate2 variable becomes which whisper.cpp tensor, in what shape and encoding.
//!
//! CTranslate2's Whisper spec (`specs/whisper_spec.py`, filled by the Transformers converter's
//! `WhisperLoader`) fuses projections: self-attention `linear_0` is Q|K|V stacked by rows,
//! cross-attention `linear_0` is Q and `linear_1` is K|V, and the last linear is the output
//! projection. The key projection has no bias in Whisper; CTranslate2 stores zeros for it,
//! and whisper.cpp has no tensor for it (a key bias would not change attention anyway: it
//! adds the same `q·b` to every score of a query, which softmax ignores). Weights are not
//! rescaled on either side: both apply `1/sqrt(head_dim)` at run time.
//!
//! ggml dimensions are written innermost first, i.e. the reverse of the row-major shape.

use std::ops::Range;

use super::hparams::Hparams;

/// How whisper.cpp stores a tensor (`whisper_model_load` decides, the file must agree).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Storage {
    /// Biases, norms, positional embeddings: always f32.
    F32,
    /// Convolution kernels: f16 unless the whole model is f32.
    Conv,
    /// 2-D weight matrices and the token embedding: the model's weight type (f16 or Q8_0).
    Matrix,
}

/// One tensor of the output file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Entry {
    /// whisper.cpp's name.
    pub(crate) name: String,
    /// The CTranslate2 variable it comes from.
    pub(crate) source: String,
    /// The shape the source variable must have.
    pub(crate) source_shape: Vec<usize>,
    /// Rows (along the source's first dimension) taken from the source.
    pub(crate) rows: Range<usize>,
    /// ggml dimensions, innermost first.
    pub(crate) dims: Vec<usize>,
    pub(crate) storage: Storage,
}

/// The output tensors for a model of these dimensions: encoder, then decoder.
pub(crate) fn plan(h: &Hparams) -> Vec<Entry> {
    let mut p = Plan(Vec::new());
    let (a, t) = (h.n_audio_state, h.n_text_state);

    p.whole(
        "encoder.positional_embedding",
        "encoder/position_encodings/encodings",
        &[h.n_audio_ctx, a],
        Storage::F32,
    );
    for conv in ["conv1", "conv2"] {
        let n_in = if conv == "conv1" { h.n_mels } else { a };
        p.whole(
            &format!("encoder.{conv}.weight"),
            &format!("encoder/{conv}/weight"),
            &[a, n_in, 3],
            Storage::Conv,
        );
        // The conv bias is [n_state, 1] in whisper.cpp so it broadcasts over time.
        p.push(
            &format!("encoder.{conv}.bias"),
            &format!("encoder/{conv}/bias"),
            &[a],
            0..a,
            vec![1, a],
            Storage::F32,
        );
    }
    p.layer_norm("encoder.ln_post", "encoder/layer_norm", a);
    for i in 0..h.n_audio_layer {
        let (out, src) = (format!("encoder.blocks.{i}"), format!("encoder/layer_{i}"));
        p.self_attention(&out, &src, a);
        p.ffn(&out, &src, a);
    }

    p.whole(
        "decoder.positional_embedding",
        "decoder/position_encodings/encodings",
        &[h.n_text_ctx, t],
        Storage::F32,
    );
    p.whole(
        "decoder.token_embedding.weight",
        "decoder/embeddings/weight",
        &[h.n_vocab, t],
        Storage::Matrix,
    );
    p.layer_norm("decoder.ln", "decoder/layer_norm", t);
    for i in 0..h.n_text_layer {
        let (out, src) = (format!("decoder.blocks.{i}"), format!("decoder/layer_{i}"));
        p.self_attention(&out, &src, t);
        let (x_out, x_src) = (format!("{out}.cross_attn"), format!("{src}/attention"));
        p.layer_norm(
            &format!("{out}.cross_attn_ln"),
            &format!("{x_src}/layer_norm"),
            t,
        );
        p.linear(
            &format!("{x_out}.query"),
            &format!("{x_src}/linear_0"),
            t,
            t,
        );
        p.fused(&x_out, &format!("{x_src}/linear_1"), &["key", "value"], t);
        p.linear(&format!("{x_out}.out"), &format!("{x_src}/linear_2"), t, t);
        p.ffn(&out, &src, t);
    }
    p.0
}

struct Plan(Vec<Entry>);

impl Plan {
    fn push(
        &mut self,
        name: &str,
        source: &str,
        source_shape: &[usize],
        rows: Range<usize>,
        dims: Vec<usize>,
        storage: Storage,
    ) {
        self.0.push(Entry {
            name: name.to_owned(),
            source: source.to_owned(),
            source_shape: source_shape.to_vec(),
            rows,
            dims,
            storage,
        });
    }

    fn whole(&mut self, name: &str, source: &str, shape: &[usize], storage: Storage) {
        let dims = shape.iter().rev().copied().collect();
        self.push(name, source, shape, 0..shape[0], dims, storage);
    }

    fn layer_norm(&mut self, out: &str, src: &str, n: usize) {
        self.whole(
            &format!("{out}.weight"),
            &format!("{src}/gamma"),
            &[n],
            Storage::F32,
        );
        self.whole(
            &format!("{out}.bias"),
            &format!("{src}/beta"),
            &[n],
            Storage::F32,
        );
    }

    fn linear(&mut self, out: &str, src: &str, n_out: usize, n_in: usize) {
        let weight = format!("{src}/weight");
        self.whole(
            &format!("{out}.weight"),
            &weight,
            &[n_out, n_in],
            Storage::Matrix,
        );
        self.whole(
            &format!("{out}.bias"),
            &format!("{src}/bias"),
            &[n_out],
            Storage::F32,
        );
    }

    /// Splits a row-stacked projection into `parts` of `n` rows each; `key` gets no bias.
    /// Weights first, then biases, so each source variable is read once in a row.
    fn fused(&mut self, out: &str, src: &str, parts: &[&str], n: usize) {
        let total = parts.len() * n;
        for (j, part) in parts.iter().enumerate() {
            self.push(
                &format!("{out}.{part}.weight"),
                &format!("{src}/weight"),
                &[total, n],
                j * n..(j + 1) * n,
                vec![n, n],
                Storage::Matrix,
            );
        }
        for (j, part) in parts.iter().enumerate().filter(|(_, p)| **p != "key") {
            self.push(
                &format!("{out}.{part}.bias"),
                &format!("{src}/bias"),
                &[total],
                j * n..(j + 1) * n,
                vec![n],
                Storage::F32,
            );
        }
    }

    fn self_attention(&mut self, out: &str, src: &str, n: usize) {
        let src = format!("{src}/self_attention");
        self.layer_norm(&format!("{out}.attn_ln"), &format!("{src}/layer_norm"), n);
        let attn = format!("{out}.attn");
        self.fused(
            &attn,
            &format!("{src}/linear_0"),
            &["query", "key", "value"],
            n,
        );
        self.linear(&format!("{attn}.out"), &format!("{src}/linear_1"), n, n);
    }

    fn ffn(&mut self, out: &str, src: &str, n: usize) {
        let src = format!("{src}/ffn");
        self.layer_norm(&format!("{out}.mlp_ln"), &format!("{src}/layer_norm"), n);
        self.linear(
            &format!("{out}.mlp.0"),
            &format!("{src}/linear_0"),
            4 * n,
            n,
        );
        self.linear(
            &format!("{out}.mlp.2"),
            &format!("{src}/linear_1"),
            n,
            4 * n,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> Hparams {
        Hparams {
            n_vocab: 51864,
            n_audio_ctx: 1500,
            n_audio_state: 384,
            n_audio_head: 6,
            n_audio_layer: 4,
            n_text_ctx: 448,
            n_text_state: 384,
            n_text_head: 6,
            n_text_layer: 4,
            n_mels: 80,
        }
    }

    fn find<'a>(plan: &'a [Entry], name: &str) -> &'a Entry {
        plan.iter().find(|e| e.name == name).expect(name)
    }

    #[test]
    fn tensor_count_matches_whisper_cpp() {
        let plan = plan(&tiny());
        // 7 encoder + 4 decoder globals, 15 per encoder block, 24 per decoder block.
        assert_eq!(plan.len(), 7 + 4 + 15 * 4 + 24 * 4);
        let mut names: Vec<_> = plan.iter().map(|e| e.name.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), plan.len(), "names are unique");
    }

    #[test]
    fn shapes_and_storage_follow_whisper_model_load() {
        let plan = plan(&tiny());
        let cases: &[(&str, &[usize], Storage)] = &[
            ("encoder.positional_embedding", &[384, 1500], Storage::F32),
            ("encoder.conv1.weight", &[3, 80, 384], Storage::Conv),
            ("encoder.conv1.bias", &[1, 384], Storage::F32),
            ("encoder.conv2.weight", &[3, 384, 384], Storage::Conv),
            ("encoder.ln_post.bias", &[384], Storage::F32),
            (
                "encoder.blocks.3.attn.key.weight",
                &[384, 384],
                Storage::Matrix,
            ),
            (
                "encoder.blocks.0.mlp.0.weight",
                &[384, 1536],
                Storage::Matrix,
            ),
            ("encoder.blocks.0.mlp.0.bias", &[1536], Storage::F32),
            (
                "encoder.blocks.0.mlp.2.weight",
                &[1536, 384],
                Storage::Matrix,
            ),
            (
                "decoder.token_embedding.weight",
                &[384, 51864],
                Storage::Matrix,
            ),
            ("decoder.positional_embedding", &[384, 448], Storage::F32),
            (
                "decoder.blocks.1.cross_attn.value.bias",
                &[384],
                Storage::F32,
            ),
            (
                "decoder.blocks.1.cross_attn_ln.weight",
                &[384],
                Storage::F32,
            ),
        ];
        for (name, dims, storage) in cases {
            let e = find(&plan, name);
            assert_eq!((e.dims.as_slice(), e.storage), (*dims, *storage), "{name}");
        }
        assert!(!plan.iter().any(|e| e.name.ends_with("key.bias")));
    }

    #[test]
    fn fused_projections_are_split_by_rows() {
        let plan = plan(&tiny());
        let v = find(&plan, "encoder.blocks.0.attn.value.weight");
        assert_eq!(v.source, "encoder/layer_0/self_attention/linear_0/weight");
        assert_eq!(
            (v.source_shape.as_slice(), v.rows.clone()),
            (&[1152, 384][..], 768..1152)
        );
        let k = find(&plan, "decoder.blocks.2.cross_attn.key.weight");
        assert_eq!(k.source, "decoder/layer_2/attention/linear_1/weight");
        assert_eq!(k.rows, 0..384);
        let q = find(&plan, "decoder.blocks.2.cross_attn.query.bias");
        assert_eq!(q.source, "decoder/layer_2/attention/linear_0/bias");
        let o = find(&plan, "decoder.blocks.2.cross_attn.out.weight");
        assert_eq!(o.source, "decoder/layer_2/attention/linear_2/weight");
        let o = find(&plan, "decoder.blocks.2.attn.out.weight");
        assert_eq!(o.source, "decoder/layer_2/self_attention/linear_1/weight");
        let ln = find(&plan, "encoder.blocks.1.mlp_ln.bias");
        assert_eq!(ln.source, "encoder/layer_1/ffn/layer_norm/beta");
    }
}
