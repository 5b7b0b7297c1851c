//! Test helpers: CTranslate2 `model.bin` files and whole Whisper model directories built in
//! memory, with small dimensions and recognisable values.

use std::path::Path;

use half::{bf16, f16};

/// One variable record.
struct Var {
    name: String,
    shape: Vec<usize>,
    dtype: u8,
    data: Vec<u8>,
}

/// Builds a `model.bin` byte by byte, following CTranslate2's `_serialize`.
pub(crate) struct Ct2Builder {
    pub(crate) version: u32,
    pub(crate) spec: String,
    pub(crate) revision: u32,
    vars: Vec<Var>,
    aliases: Vec<(String, String)>,
}

impl Ct2Builder {
    pub(crate) fn new(spec: &str) -> Self {
        Self {
            version: 6,
            spec: spec.to_owned(),
            revision: 3,
            vars: Vec::new(),
            aliases: Vec::new(),
        }
    }

    pub(crate) fn raw(&mut self, name: &str, shape: &[usize], dtype: u8, data: Vec<u8>) {
        self.vars.retain(|v| v.name != name);
        self.vars.push(Var {
            name: name.to_owned(),
            shape: shape.to_vec(),
            dtype,
            data,
        });
    }

    pub(crate) fn f32(&mut self, name: &str, shape: &[usize], values: &[f32]) {
        let data = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.raw(name, shape, 0, data);
    }

    pub(crate) fn f16(&mut self, name: &str, shape: &[usize], values: &[f32]) {
        let data = values
            .iter()
            .flat_map(|v| f16::from_f32(*v).to_le_bytes())
            .collect();
        self.raw(name, shape, 4, data);
    }

    pub(crate) fn bf16(&mut self, name: &str, shape: &[usize], values: &[f32]) {
        let data = values
            .iter()
            .flat_map(|v| bf16::from_f32(*v).to_le_bytes())
            .collect();
        self.raw(name, shape, 5, data);
    }

    pub(crate) fn i8(&mut self, name: &str, shape: &[usize], values: &[i8]) {
        let data = values.iter().map(|v| *v as u8).collect();
        self.raw(name, shape, 1, data);
    }

    pub(crate) fn i16_scalar(&mut self, name: &str, value: i16) {
        self.raw(name, &[], 2, value.to_le_bytes().to_vec());
    }

    pub(crate) fn alias(&mut self, alias: &str, target: &str) {
        self.aliases.push((alias.to_owned(), target.to_owned()));
    }

    pub(crate) fn remove(&mut self, name: &str) {
        self.vars.retain(|v| v.name != name);
    }

    pub(crate) fn bytes(&self) -> Vec<u8> {
        fn string(out: &mut Vec<u8>, s: &str) {
            let n = u16::try_from(s.len() + 1).expect("short string");
            out.extend(n.to_le_bytes());
            out.extend(s.as_bytes());
            out.push(0);
        }
        let mut out = Vec::new();
        out.extend(self.version.to_le_bytes());
        string(&mut out, &self.spec);
        out.extend(self.revision.to_le_bytes());
        let mut vars: Vec<&Var> = self.vars.iter().collect();
        vars.sort_by(|a, b| a.name.cmp(&b.name));
        out.extend(u32::try_from(vars.len()).expect("few").to_le_bytes());
        for v in vars {
            string(&mut out, &v.name);
            out.push(u8::try_from(v.shape.len()).expect("small rank"));
            for d in &v.shape {
                out.extend(u32::try_from(*d).expect("small dim").to_le_bytes());
            }
            out.push(v.dtype);
            out.extend(u32::try_from(v.data.len()).expect("small").to_le_bytes());
            out.extend(&v.data);
        }
        out.extend(
            u32::try_from(self.aliases.len())
                .expect("few")
                .to_le_bytes(),
        );
        for (a, t) in &self.aliases {
            string(&mut out, a);
            string(&mut out, t);
        }
        out
    }
}

/// Dimensions of the synthetic Whisper.
pub(crate) const STATE: usize = 64;
pub(crate) const MELS: usize = 80;
pub(crate) const AUDIO_CTX: usize = 6;
pub(crate) const TEXT_CTX: usize = 5;
pub(crate) const VOCAB: usize = 12;
pub(crate) const AUDIO_LAYERS: usize = 2;
pub(crate) const TEXT_LAYERS: usize = 1;
/// Ordinary tokens of the synthetic tokenizer (ids 0..N_BASE; N_BASE is `<|endoftext|>`).
pub(crate) const BASE_TOKENS: [&str; 4] = ["!", "Ġthe", "Ċ", "Ã©"];

/// Deterministic values for a variable: distinct per name and position, exactly representable
/// in f16 (multiples of 1/256 in [-1, 1)).
pub(crate) fn values(name: &str, n: usize) -> Vec<f32> {
    let seed = name
        .bytes()
        .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
    (0..n)
        .map(|i| {
            let k = seed.wrapping_add(u32::try_from(i).expect("small").wrapping_mul(97)) % 512;
            (k as f32 - 256.0) / 256.0
        })
        .collect()
}

/// Every variable of CTranslate2's Whisper spec for the synthetic dimensions, as
/// `(name, shape)`; values come from [`values`].
pub(crate) fn whisper_variables() -> Vec<(String, Vec<usize>)> {
    let n = STATE;
    let mut v: Vec<(String, Vec<usize>)> = Vec::new();
    let mut add = |name: String, shape: &[usize]| v.push((name, shape.to_vec()));
    let norm = |add: &mut dyn FnMut(String, &[usize]), p: &str| {
        add(format!("{p}/gamma"), &[n]);
        add(format!("{p}/beta"), &[n]);
    };
    let linear = |add: &mut dyn FnMut(String, &[usize]), p: &str, out: usize, inp: usize| {
        add(format!("{p}/weight"), &[out, inp]);
        add(format!("{p}/bias"), &[out]);
    };
    add("encoder/conv1/weight".into(), &[n, MELS, 3]);
    add("encoder/conv1/bias".into(), &[n]);
    add("encoder/conv2/weight".into(), &[n, n, 3]);
    add("encoder/conv2/bias".into(), &[n]);
    add(
        "encoder/position_encodings/encodings".into(),
        &[AUDIO_CTX, n],
    );
    norm(&mut add, "encoder/layer_norm");
    add("decoder/embeddings/weight".into(), &[VOCAB, n]);
    add(
        "decoder/position_encodings/encodings".into(),
        &[TEXT_CTX, n],
    );
    norm(&mut add, "decoder/layer_norm");
    for (stack, layers) in [("encoder", AUDIO_LAYERS), ("decoder", TEXT_LAYERS)] {
        for i in 0..layers {
            let l = format!("{stack}/layer_{i}");
            norm(&mut add, &format!("{l}/self_attention/layer_norm"));
            linear(&mut add, &format!("{l}/self_attention/linear_0"), 3 * n, n);
            linear(&mut add, &format!("{l}/self_attention/linear_1"), n, n);
            norm(&mut add, &format!("{l}/ffn/layer_norm"));
            linear(&mut add, &format!("{l}/ffn/linear_0"), 4 * n, n);
            linear(&mut add, &format!("{l}/ffn/linear_1"), n, 4 * n);
            if stack == "decoder" {
                norm(&mut add, &format!("{l}/attention/layer_norm"));
                linear(&mut add, &format!("{l}/attention/linear_0"), n, n);
                linear(&mut add, &format!("{l}/attention/linear_1"), 2 * n, n);
                linear(&mut add, &format!("{l}/attention/linear_2"), n, n);
            }
        }
    }
    v
}

/// A synthetic Whisper `model.bin` in f16, with the scalars and the tied projection alias a
/// real CTranslate2 export has.
pub(crate) fn whisper_model() -> Ct2Builder {
    let mut b = Ct2Builder::new("WhisperSpec");
    for (name, shape) in whisper_variables() {
        let n = shape.iter().product();
        b.f16(&name, &shape, &values(&name, n));
    }
    b.i16_scalar("encoder/num_heads", 1);
    b.i16_scalar("decoder/num_heads", 1);
    b.raw("decoder/scale_embeddings", &[], 1, vec![0]);
    b.alias("decoder/projection/weight", "decoder/embeddings/weight");
    b
}

/// A `tokenizer.json` with [`BASE_TOKENS`] and two special tokens.
pub(crate) fn tokenizer_json() -> String {
    let mut vocab = serde_json::Map::new();
    for (id, t) in BASE_TOKENS.iter().enumerate() {
        vocab.insert((*t).to_owned(), id.into());
    }
    let eot = BASE_TOKENS.len();
    vocab.insert("<|endoftext|>".into(), eot.into());
    serde_json::json!({
        "version": "1.0",
        "added_tokens": [
            {"id": eot, "content": "<|endoftext|>", "special": true},
            {"id": eot + 1, "content": "<|startoftranscript|>", "special": true},
        ],
        "model": {"type": "BPE", "vocab": vocab, "merges": []},
    })
    .to_string()
}

/// Writes a model directory: `model.bin` from `model`, `tokenizer.json`, `config.json`.
pub(crate) fn write_dir(dir: &Path, model: &Ct2Builder) {
    std::fs::write(dir.join("model.bin"), model.bytes()).expect("write model.bin");
    std::fs::write(dir.join("tokenizer.json"), tokenizer_json()).expect("write tokenizer");
    std::fs::write(dir.join("config.json"), "{}").expect("write config");
}
