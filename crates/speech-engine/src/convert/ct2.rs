//! Reader for CTranslate2's `model.bin`: the header is indexed once (names, shapes, data
//! types, offsets), then variables are read one at a time, so memory stays at one tensor.
//!
//! Layout (CTranslate2 `specs/model_spec.py`, `_serialize`), little-endian:
//! u32 binary version, string spec name, u32 spec revision, u32 variable count, then per
//! variable: string name, u8 rank, rank × u32 dims, u8 dtype id, u32 byte count, raw data;
//! then u32 alias count and per alias two strings (alias, target variable). A string is a u16
//! length (counting a trailing NUL) followed by that many bytes.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, ErrorKind, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::dtype::{decode_float, dequantize, DType};
use super::ConvertError;

/// Oldest binary version with dtype ids in the variable records (older ones predate Whisper).
const MIN_BINARY_VERSION: u32 = 4;
/// Newest binary version whose layout is known (CTranslate2's `CURRENT_BINARY_VERSION`).
const MAX_BINARY_VERSION: u32 = 6;
/// No CTranslate2 variable has more dimensions than this; more means garbage.
const MAX_RANK: usize = 8;

/// Where one variable sits in the file.
#[derive(Clone, Debug)]
pub(crate) struct VarInfo {
    pub(crate) shape: Vec<usize>,
    pub(crate) dtype: DType,
    offset: u64,
    n_bytes: usize,
}

/// A variable decoded to f32, row-major.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Tensor {
    pub(crate) shape: Vec<usize>,
    pub(crate) data: Vec<f32>,
}

/// An opened `model.bin`.
pub(crate) struct Ct2Model<R> {
    path: PathBuf,
    reader: R,
    pub(crate) spec: String,
    pub(crate) revision: u32,
    vars: BTreeMap<String, VarInfo>,
    aliases: BTreeMap<String, String>,
}

impl Ct2Model<BufReader<File>> {
    /// Opens and indexes a `model.bin` file.
    pub(crate) fn open(path: &Path) -> Result<Self, ConvertError> {
        let file = File::open(path).map_err(|e| match e.kind() {
            ErrorKind::NotFound => ConvertError::Missing {
                path: path.to_owned(),
                what: "CTranslate2 weights",
            },
            _ => ConvertError::io(path, e),
        })?;
        Self::from_reader(BufReader::new(file), path)
    }
}

impl<R: Read + Seek> Ct2Model<R> {
    /// Indexes a `model.bin` held by `reader`; `path` only names it in errors.
    pub(crate) fn from_reader(mut reader: R, path: &Path) -> Result<Self, ConvertError> {
        let len = reader
            .seek(SeekFrom::End(0))
            .and_then(|len| reader.seek(SeekFrom::Start(0)).map(|_| len))
            .map_err(|e| ConvertError::io(path, e))?;
        let mut h = HeaderReader {
            r: &mut reader,
            path,
            pos: 0,
            len,
        };
        let version = h.u32("binary version")?;
        if !(MIN_BINARY_VERSION..=MAX_BINARY_VERSION).contains(&version) {
            return Err(ConvertError::unsupported(
                path,
                format!(
                    "binary version {version}, expected {MIN_BINARY_VERSION} to \
                     {MAX_BINARY_VERSION}: is this a CTranslate2 model.bin?"
                ),
            ));
        }
        let spec = h.string("spec name")?;
        let revision = h.u32("spec revision")?;
        let count = h.u32("variable count")?;
        let mut vars = BTreeMap::new();
        for i in 0..count {
            let name = h.string("variable name")?;
            let rank = usize::from(h.u8("variable rank")?);
            if rank > MAX_RANK {
                return Err(h.malformed(format!("variable {name:?} has rank {rank}")));
            }
            let mut shape = Vec::with_capacity(rank);
            for _ in 0..rank {
                shape.push(h.u32("variable dimension")? as usize);
            }
            let id = h.u8("variable dtype")?;
            let dtype = DType::from_id(id).ok_or_else(|| {
                ConvertError::unsupported(path, format!("variable {name:?} has dtype id {id}"))
            })?;
            let n_bytes = h.u32("variable byte count")? as usize;
            let expected = shape
                .iter()
                .try_fold(dtype.size(), |acc, &d| acc.checked_mul(d));
            if expected != Some(n_bytes) {
                return Err(h.malformed(format!(
                    "variable {name:?} ({} {shape:?}) declares {n_bytes} bytes",
                    dtype.name()
                )));
            }
            let offset = h.pos;
            h.skip(n_bytes as u64, &name)?;
            let info = VarInfo {
                shape,
                dtype,
                offset,
                n_bytes,
            };
            if vars.insert(name.clone(), info).is_some() {
                return Err(h.malformed(format!("variable {name:?} appears twice (record {i})")));
            }
        }
        let mut aliases = BTreeMap::new();
        let n_aliases = h.u32("alias count")?;
        for _ in 0..n_aliases {
            let alias = h.string("alias name")?;
            let target = h.string("alias target")?;
            if !vars.contains_key(&target) {
                return Err(h.malformed(format!(
                    "alias {alias:?} points to unknown variable {target:?}"
                )));
            }
            aliases.insert(alias, target);
        }
        Ok(Self {
            path: path.to_owned(),
            reader,
            spec,
            revision,
            vars,
            aliases,
        })
    }

    /// The file this model was read from.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// All variable and alias names.
    pub(crate) fn names(&self) -> impl Iterator<Item = &str> {
        self.vars
            .keys()
            .chain(self.aliases.keys())
            .map(String::as_str)
    }

    /// Whether a variable (or an alias of one) exists.
    pub(crate) fn contains(&self, name: &str) -> bool {
        self.resolve(name).is_some()
    }

    /// Shape and type of a variable, following aliases.
    pub(crate) fn info(&self, name: &str) -> Result<&VarInfo, ConvertError> {
        self.resolve(name)
            .ok_or_else(|| ConvertError::MissingVariable {
                path: self.path.clone(),
                name: name.to_owned(),
            })
    }

    /// The name an alias points to, or the name itself.
    pub(crate) fn target<'a>(&'a self, name: &'a str) -> &'a str {
        self.aliases.get(name).map_or(name, String::as_str)
    }

    fn resolve(&self, name: &str) -> Option<&VarInfo> {
        self.vars.get(self.target(name))
    }

    fn read_bytes(&mut self, name: &str) -> Result<(VarInfo, Vec<u8>), ConvertError> {
        let info = self.info(name)?.clone();
        let mut buf = vec![0; info.n_bytes];
        self.reader
            .seek(SeekFrom::Start(info.offset))
            .and_then(|_| self.reader.read_exact(&mut buf))
            .map_err(|e| match e.kind() {
                ErrorKind::UnexpectedEof => {
                    ConvertError::malformed(&self.path, format!("variable {name:?} is truncated"))
                }
                _ => ConvertError::io(&self.path, e),
            })?;
        Ok((info, buf))
    }

    /// Reads a variable as f32. Integer weights (CTranslate2 int8/int16 quantisation) are
    /// dequantised with their `<name>_scale` companion: `value = q / scale`, the scale being
    /// per output row (int8) or one scalar (int16).
    pub(crate) fn read_f32(&mut self, name: &str) -> Result<Tensor, ConvertError> {
        let (info, bytes) = self.read_bytes(name)?;
        let data = match info.dtype {
            DType::F32 | DType::F16 | DType::BF16 => decode_float(info.dtype, &bytes),
            DType::I8 | DType::I16 => {
                let scale_name = format!("{name}_scale");
                if !self.contains(&scale_name) {
                    return Err(ConvertError::unsupported(
                        &self.path,
                        format!(
                            "variable {name:?} is {} without {scale_name:?}",
                            info.dtype.name()
                        ),
                    ));
                }
                let scale = self.read_float(&scale_name)?;
                dequantize(
                    &self.path,
                    name,
                    (info.dtype, &info.shape),
                    &bytes,
                    &scale.data,
                )?
            }
            DType::I32 => {
                return Err(ConvertError::unsupported(
                    &self.path,
                    format!("variable {name:?} holds int32, not weights"),
                ))
            }
        };
        Ok(Tensor {
            shape: info.shape,
            data,
        })
    }

    /// Reads a variable that must be stored as floating point.
    fn read_float(&mut self, name: &str) -> Result<Tensor, ConvertError> {
        let (info, bytes) = self.read_bytes(name)?;
        match info.dtype {
            DType::F32 | DType::F16 | DType::BF16 => Ok(Tensor {
                data: decode_float(info.dtype, &bytes),
                shape: info.shape,
            }),
            other => Err(ConvertError::unsupported(
                &self.path,
                format!("variable {name:?} is {}, expected a float", other.name()),
            )),
        }
    }

    /// Reads a one-element integer variable (such as `encoder/num_heads`); `None` if absent.
    pub(crate) fn read_int_scalar(&mut self, name: &str) -> Result<Option<i64>, ConvertError> {
        if !self.contains(name) {
            return Ok(None);
        }
        let (info, b) = self.read_bytes(name)?;
        let value = match (info.dtype, b.as_slice()) {
            (DType::I8, [x]) => i64::from(i8::from_le_bytes([*x])),
            (DType::I16, [a, b]) => i64::from(i16::from_le_bytes([*a, *b])),
            (DType::I32, [a, b, c, d]) => i64::from(i32::from_le_bytes([*a, *b, *c, *d])),
            _ => {
                return Err(ConvertError::malformed(
                    &self.path,
                    format!(
                        "variable {name:?} should be one integer, is {} {:?}",
                        info.dtype.name(),
                        info.shape
                    ),
                ))
            }
        };
        Ok(Some(value))
    }
}

/// Bounds-checked reading of the header fields.
struct HeaderReader<'a, R> {
    r: &'a mut R,
    path: &'a Path,
    pos: u64,
    len: u64,
}

impl<R: Read + Seek> HeaderReader<'_, R> {
    fn malformed(&self, reason: String) -> ConvertError {
        ConvertError::malformed(self.path, reason)
    }

    fn need(&self, n: u64, what: &str) -> Result<(), ConvertError> {
        if self.len.saturating_sub(self.pos) < n {
            return Err(self.malformed(format!(
                "truncated: {what} at byte {} needs {n} bytes, the file has {}",
                self.pos, self.len
            )));
        }
        Ok(())
    }

    fn bytes<const N: usize>(&mut self, what: &str) -> Result<[u8; N], ConvertError> {
        self.need(N as u64, what)?;
        let mut buf = [0; N];
        self.r
            .read_exact(&mut buf)
            .map_err(|e| ConvertError::io(self.path, e))?;
        self.pos += N as u64;
        Ok(buf)
    }

    fn u8(&mut self, what: &str) -> Result<u8, ConvertError> {
        Ok(self.bytes::<1>(what)?[0])
    }

    fn u32(&mut self, what: &str) -> Result<u32, ConvertError> {
        Ok(u32::from_le_bytes(self.bytes(what)?))
    }

    fn string(&mut self, what: &str) -> Result<String, ConvertError> {
        let n = usize::from(u16::from_le_bytes(self.bytes(what)?));
        self.need(n as u64, what)?;
        let mut buf = vec![0; n];
        self.r
            .read_exact(&mut buf)
            .map_err(|e| ConvertError::io(self.path, e))?;
        self.pos += n as u64;
        if buf.last() == Some(&0) {
            buf.pop();
        }
        String::from_utf8(buf).map_err(|_| {
            self.malformed(format!(
                "{what} at byte {} is not UTF-8",
                self.pos - n as u64
            ))
        })
    }

    fn skip(&mut self, n: u64, name: &str) -> Result<(), ConvertError> {
        self.need(n, &format!("data of variable {name:?}"))?;
        let delta = i64::try_from(n).map_err(|_| self.malformed(format!("{name:?} too large")))?;
        self.r
            .seek(SeekFrom::Current(delta))
            .map_err(|e| ConvertError::io(self.path, e))?;
        self.pos += n;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use super::*;
    use crate::convert::testutil::Ct2Builder;

    fn open(bytes: Vec<u8>) -> Result<Ct2Model<Cursor<Vec<u8>>>, ConvertError> {
        Ct2Model::from_reader(Cursor::new(bytes), Path::new("/m/model.bin"))
    }

    fn sample() -> Ct2Builder {
        let mut b = Ct2Builder::new("WhisperSpec");
        b.f32("a/f32", &[2, 2], &[1.0, -2.0, 3.5, 0.25]);
        b.f16("a/f16", &[3], &[0.5, -1.0, 65504.0]);
        b.bf16("a/bf16", &[2], &[1.5, -256.0]);
        b.i8("q/weight", &[2, 3], &[127, -127, 0, 10, 20, -30]);
        b.f32("q/weight_scale", &[2], &[127.0, 10.0]);
        b.i16_scalar("encoder/num_heads", 6);
        b.alias("b/f32", "a/f32");
        b
    }

    #[test]
    fn reads_header_variables_and_aliases() {
        let mut m = open(sample().bytes()).expect("parses");
        assert_eq!((m.spec.as_str(), m.revision), ("WhisperSpec", 3));
        let mut names: Vec<&str> = m.names().collect();
        names.sort_unstable();
        assert_eq!(
            names,
            [
                "a/bf16",
                "a/f16",
                "a/f32",
                "b/f32",
                "encoder/num_heads",
                "q/weight",
                "q/weight_scale"
            ]
        );
        assert_eq!(m.info("b/f32").expect("alias").shape, [2, 2]);
        assert_eq!(m.target("b/f32"), "a/f32");
        let t = m.read_f32("b/f32").expect("alias reads its target");
        assert_eq!(t.data, [1.0, -2.0, 3.5, 0.25]);
        assert_eq!(m.read_f32("a/f16").expect("f16").data, [0.5, -1.0, 65504.0]);
        assert_eq!(m.read_f32("a/bf16").expect("bf16").data, [1.5, -256.0]);
        assert_eq!(
            m.read_int_scalar("encoder/num_heads").expect("i16"),
            Some(6)
        );
        assert_eq!(
            m.read_int_scalar("decoder/num_heads").expect("absent"),
            None
        );
    }

    #[test]
    fn int8_weights_are_dequantised_per_row() {
        let mut m = open(sample().bytes()).expect("parses");
        let t = m.read_f32("q/weight").expect("int8");
        assert_eq!(t.shape, [2, 3]);
        assert_eq!(t.data, [1.0, -1.0, 0.0, 1.0, 2.0, -3.0]);
    }

    #[test]
    fn int8_without_scale_is_unsupported() {
        let mut b = sample();
        b.remove("q/weight_scale");
        let mut m = open(b.bytes()).expect("parses");
        let err = m.read_f32("q/weight").expect_err("no scale");
        assert!(err.to_string().contains("weight_scale"), "{err}");
    }

    #[test]
    fn missing_variable_is_named() {
        let mut m = open(sample().bytes()).expect("parses");
        let err = m.read_f32("nope").expect_err("missing");
        assert_eq!(
            err.to_string(),
            "/m/model.bin: variable \"nope\" is missing"
        );
    }

    #[test]
    fn every_truncation_is_a_clean_error() {
        let bytes = sample().bytes();
        for cut in 0..bytes.len() {
            let err = open(bytes[..cut].to_vec())
                .map(|_| ())
                .expect_err("truncated file must not parse");
            let msg = err.to_string();
            assert!(
                msg.starts_with("/m/model.bin: malformed: truncated"),
                "cut {cut}: {msg}"
            );
        }
    }

    #[test]
    fn garbage_is_refused_without_panicking() {
        // An ELF header, a ggml file, text, and pseudo-random bytes.
        let mut inputs: Vec<Vec<u8>> = vec![
            b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0".to_vec(),
            0x6767_6d6cu32.to_le_bytes().repeat(8),
            b"{\"architectures\": [\"WhisperForConditionalGeneration\"]}".to_vec(),
        ];
        let mut s = 0x2545_f491_4f6c_dd1du64;
        for len in [3usize, 17, 256, 4096] {
            let mut v = 6u32.to_le_bytes().to_vec(); // a plausible version, then noise
            v.extend((0..len).map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                s as u8
            }));
            inputs.push(v);
        }
        for input in inputs {
            let err = open(input).map(|_| ()).expect_err("garbage");
            assert!(
                matches!(
                    err,
                    ConvertError::Malformed { .. } | ConvertError::Unsupported { .. }
                ),
                "{err}"
            );
        }
    }

    #[test]
    fn unknown_binary_version_and_dtype_are_unsupported() {
        let mut b = sample();
        b.version = 7;
        let err = open(b.bytes()).map(|_| ()).expect_err("version 7");
        assert!(err.to_string().contains("binary version 7"), "{err}");

        let mut b = Ct2Builder::new("WhisperSpec");
        b.raw("x", &[1], 9, vec![0]);
        let err = open(b.bytes()).map(|_| ()).expect_err("dtype 9");
        assert!(err.to_string().contains("dtype id 9"), "{err}");
    }

    #[test]
    fn inconsistent_records_are_malformed() {
        let mut b = Ct2Builder::new("WhisperSpec");
        b.raw("x", &[2, 2], 0, vec![0; 12]); // 4 floats need 16 bytes
        let err = open(b.bytes()).map(|_| ()).expect_err("byte count");
        assert!(err.to_string().contains("declares 12 bytes"), "{err}");

        let mut b = Ct2Builder::new("WhisperSpec");
        b.f32("x", &[1], &[1.0]);
        b.alias("y", "z");
        let err = open(b.bytes()).map(|_| ()).expect_err("dangling alias");
        assert!(err.to_string().contains("unknown variable \"z\""), "{err}");
    }
}
