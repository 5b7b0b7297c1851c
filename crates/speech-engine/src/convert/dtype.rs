//! CTranslate2's element types and their decoding to f32, integer weights dequantised.

use std::path::Path;

use super::ConvertError;

/// Element types of CTranslate2 variables, in the order of their ids in the file
/// (`_dtype_to_type_id` in `specs/model_spec.py`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DType {
    F32,
    I8,
    I16,
    I32,
    F16,
    BF16,
}

impl DType {
    pub(crate) fn from_id(id: u8) -> Option<Self> {
        Some(match id {
            0 => Self::F32,
            1 => Self::I8,
            2 => Self::I16,
            3 => Self::I32,
            4 => Self::F16,
            5 => Self::BF16,
            _ => return None,
        })
    }

    pub(crate) fn size(self) -> usize {
        match self {
            Self::I8 => 1,
            Self::I16 | Self::F16 | Self::BF16 => 2,
            Self::F32 | Self::I32 => 4,
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::F32 => "float32",
            Self::I8 => "int8",
            Self::I16 => "int16",
            Self::I32 => "int32",
            Self::F16 => "float16",
            Self::BF16 => "bfloat16",
        }
    }
}

/// Decodes little-endian floats of a float `dtype` (f16, bf16, else f32).
pub(crate) fn decode_float(dtype: DType, bytes: &[u8]) -> Vec<f32> {
    match dtype {
        DType::F16 => bytes
            .chunks_exact(2)
            .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32())
            .collect(),
        DType::BF16 => bytes
            .chunks_exact(2)
            .map(|c| half::bf16::from_le_bytes([c[0], c[1]]).to_f32())
            .collect(),
        _ => bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
    }
}

/// Dequantises CTranslate2 int8/int16 weights: `value = q / scale`, with one scale per row
/// (along the first dimension) or a single scale for the whole variable.
pub(crate) fn dequantize(
    path: &Path,
    name: &str,
    (dtype, shape): (DType, &[usize]),
    bytes: &[u8],
    scale: &[f32],
) -> Result<Vec<f32>, ConvertError> {
    let values: Vec<f32> = match dtype {
        DType::I8 => bytes.iter().map(|&b| f32::from(b as i8)).collect(),
        _ => bytes
            .chunks_exact(2)
            .map(|c| f32::from(i16::from_le_bytes([c[0], c[1]])))
            .collect(),
    };
    let rows = shape.first().copied().unwrap_or(1);
    if scale.len() != 1 && scale.len() != rows {
        return Err(ConvertError::Shape {
            path: path.to_owned(),
            name: format!("{name}_scale"),
            found: vec![scale.len()],
            expected: vec![rows],
        });
    }
    if let Some(bad) = scale.iter().find(|s| !s.is_finite() || **s == 0.0) {
        return Err(ConvertError::malformed(
            path,
            format!("variable {name:?} has quantisation scale {bad}"),
        ));
    }
    if values.is_empty() {
        return Ok(values);
    }
    let row_len = values.len() / rows.max(1);
    Ok(values
        .chunks(row_len.max(1))
        .enumerate()
        .flat_map(|(r, row)| {
            let s = scale.get(if scale.len() == 1 { 0 } else { r });
            let s = s.copied().unwrap_or(f32::NAN);
            row.iter().map(move |&q| q / s)
        })
        .collect())
}
