//! Whole files → 16 kHz mono: identify the format by content, check the framing, demux and decode
//! with symphonia, and stream every decoded packet through a [`StreamResampler`].

use std::io::{Cursor, ErrorKind};
use std::path::Path;

use scribe_core::MonoAudio;
use symphonia::core::audio::{AudioBufferRef, SampleBuffer, SignalSpec};
use symphonia::core::codecs::{self, CodecType, DecoderOptions};
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::FormatOptions;
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;

use crate::error::{DecodeError, ParamsError};
use crate::integrity::{self, Damage};
use crate::resample::{check_params, StreamResampler};
use crate::sniff::{describe, sniff, AudioFormat, Unrecognised};

/// Decodes the audio file at `path` to 16 kHz mono. Every error names the file.
pub fn decode_file(path: &Path) -> Result<MonoAudio, DecodeError> {
    let bytes = std::fs::read(path).map_err(|cause| match cause.kind() {
        ErrorKind::NotFound => DecodeError::NotFound {
            path: path.to_owned(),
        },
        _ => DecodeError::Unreadable {
            path: path.to_owned(),
            cause,
        },
    })?;
    let format = identify(&bytes, path)?;
    decode_identified(bytes, format, path)
}

/// Decodes an in-memory file (an upload, say) to 16 kHz mono. `hint_name` is the file name used in
/// errors and for the extension check; the format itself is always sniffed from the bytes. The
/// bytes are copied once (symphonia needs an owned source).
pub fn decode_bytes(bytes: &[u8], hint_name: &str) -> Result<MonoAudio, DecodeError> {
    let path = Path::new(hint_name);
    let format = identify(bytes, path)?;
    decode_identified(bytes.to_vec(), format, path)
}

/// The decodable format of `bytes`, or why there is none. A known audio extension must agree with
/// the contents; an unknown or missing one is ignored.
fn identify(bytes: &[u8], path: &Path) -> Result<AudioFormat, DecodeError> {
    let path_buf = || path.to_owned();
    if bytes.is_empty() {
        return Err(DecodeError::Empty { path: path_buf() });
    }
    let Some(actual) = sniff(bytes) else {
        return Err(match describe(bytes) {
            Unrecognised::OtherMedia(format) => DecodeError::UnsupportedFormat {
                path: path_buf(),
                format,
            },
            Unrecognised::NotAudio(looks_like) => DecodeError::NotAudio {
                path: path_buf(),
                looks_like,
            },
        });
    };
    let claimed = path
        .extension()
        .and_then(|ext| ext.to_str())
        .and_then(AudioFormat::from_extension);
    if let Some(claimed) = claimed.filter(|&claimed| claimed != actual) {
        return Err(DecodeError::Mislabelled {
            path: path_buf(),
            extension: claimed,
            actual,
        });
    }
    if !actual.is_decodable() {
        return Err(DecodeError::UnsupportedFormat {
            path: path_buf(),
            format: format!("{actual} is recognised but cannot be decoded yet"),
        });
    }
    Ok(actual)
}

/// Why decoding failed, before the file name (or the stream) is attached.
pub(crate) enum Problem {
    Truncated(String),
    Corrupt(String),
    UnsupportedCodec(String),
    ZeroLength,
    Params(ParamsError),
    Panicked,
}

impl Problem {
    fn into_error(self, path: &Path, format: AudioFormat) -> DecodeError {
        let path = path.to_owned();
        match self {
            Self::Truncated(detail) => DecodeError::Truncated {
                path,
                format,
                detail,
            },
            Self::Corrupt(detail) => DecodeError::Corrupt {
                path,
                format,
                detail,
            },
            Self::UnsupportedCodec(codec) => DecodeError::UnsupportedCodec {
                path,
                format,
                codec,
            },
            Self::ZeroLength => DecodeError::ZeroLength { path, format },
            Self::Params(problem) => DecodeError::BadParameters { path, problem },
            Self::Panicked => DecodeError::DecoderPanicked { path, format },
        }
    }
}

impl From<Damage> for Problem {
    fn from(damage: Damage) -> Self {
        match damage {
            Damage::Truncated(detail) => Self::Truncated(detail),
            Damage::Corrupt(detail) => Self::Corrupt(detail),
        }
    }
}

fn decode_identified(
    bytes: Vec<u8>,
    format: AudioFormat,
    path: &Path,
) -> Result<MonoAudio, DecodeError> {
    let checked = match format {
        AudioFormat::Wav => check_wav(&bytes),
        AudioFormat::Ogg => integrity::check_ogg(&bytes).map_err(Problem::from),
        AudioFormat::Mp3 => integrity::check_mp3(&bytes).map_err(Problem::from),
        AudioFormat::Flac | AudioFormat::WebM => Ok(()),
    };
    checked
        .and_then(|()| contain_panics(|| demux_and_decode(bytes, format)))
        .map(MonoAudio::new)
        .map_err(|problem| problem.into_error(path, format))
}

/// Runs third-party decoding with panics turned into an error. This is only the backstop: the one
/// known panic (symphonia's `TimeBase::new` on a WAV with a zero sample rate) is refused by
/// [`check_wav`] before symphonia runs, and fuzzing found no other.
/// Everything the closure owns is dropped on a panic, so no broken state survives it. (With
/// `panic = "abort"` this guard does nothing.)
fn contain_panics<T>(decode: impl FnOnce() -> Result<T, Problem>) -> Result<T, Problem> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(decode)).unwrap_or_else(|_| {
        tracing::warn!("audio decoder panicked on malformed input; contained");
        Err(Problem::Panicked)
    })
}

/// Rejects WAV headers with parameters symphonia would choke on (it panics on a zero rate).
fn check_wav(bytes: &[u8]) -> Result<(), Problem> {
    let fmt = integrity::wav_fmt(bytes)?;
    check_params(fmt.sample_rate, usize::from(fmt.channels)).map_err(Problem::Params)
}

fn demux_and_decode(bytes: Vec<u8>, format: AudioFormat) -> Result<Vec<f32>, Problem> {
    let wav_tag = match format {
        AudioFormat::Wav => integrity::wav_fmt(&bytes).ok().map(|fmt| fmt.tag),
        _ => None,
    };
    // The declared length is exact for every container except MP3 without a Xing/Info/VBRI tag,
    // where symphonia only estimates it from the bitrate.
    let length_is_exact = format != AudioFormat::Mp3 || integrity::mp3_has_length_tag(&bytes);
    let source = MediaSourceStream::new(Box::new(Cursor::new(bytes)), Default::default());
    let mut hint = Hint::new();
    hint.with_extension(format.extension());
    let options = FormatOptions {
        enable_gapless: true,
        ..Default::default()
    };
    let mut reader = symphonia::default::get_probe()
        .format(&hint, source, &options, &MetadataOptions::default())
        .map_err(|e| header_problem(e, format, wav_tag))?
        .format;

    let track = reader
        .tracks()
        .iter()
        .find(|t| t.codec_params.codec != codecs::CODEC_TYPE_NULL)
        .ok_or_else(|| Problem::Corrupt("the container holds no audio track".into()))?;
    let track_id = track.id;
    let params = track.codec_params.clone();
    if let Some(rate) = params.sample_rate {
        let channels = params.channels.map_or(1, |c| c.count());
        check_params(rate, channels).map_err(Problem::Params)?;
    }
    let mut decoder = symphonia::default::get_codecs()
        .make(&params, &DecoderOptions::default())
        .map_err(|e| match e {
            SymphoniaError::Unsupported(_) => Problem::UnsupportedCodec(match wav_tag {
                Some(tag) => integrity::wav_codec_name(tag),
                None => codec_name(params.codec),
            }),
            other => Problem::Corrupt(format!("bad codec setup ({other})")),
        })?;

    let declared = params.n_frames.filter(|_| length_is_exact);
    let mut sink = Sink::new(declared);
    let mut next_ts = None;
    loop {
        let packet = match reader.next_packet() {
            Ok(packet) => packet,
            Err(e) if is_end_of_stream(&e) => break,
            Err(SymphoniaError::ResetRequired) => {
                return Err(Problem::Corrupt(
                    "a second stream starts mid-file (chained streams are not supported)".into(),
                ));
            }
            Err(e) => return Err(Problem::Corrupt(e.to_string())),
        };
        if packet.track_id() != track_id {
            continue;
        }
        // The FLAC reader silently resyncs past damaged frames; a jump in the frame numbers
        // is the only trace they leave.
        if let Some(expected) =
            next_ts.filter(|&ts| format == AudioFormat::Flac && packet.ts() > ts)
        {
            return Err(Problem::Corrupt(format!(
                "{} samples are missing after sample {expected} (a damaged frame was skipped)",
                packet.ts() - expected
            )));
        }
        next_ts = Some(packet.ts() + packet.dur());
        match decoder.decode(&packet) {
            Ok(decoded) => sink.add(decoded)?,
            Err(e) => {
                // A bad packet that is also the last one is where the file was cut off.
                let last = matches!(reader.next_packet(), Err(ref next) if is_end_of_stream(next));
                return Err(if last || is_end_of_stream(&e) {
                    Problem::Truncated(format!("the last packet is incomplete ({e})"))
                } else {
                    Problem::Corrupt(format!("undecodable packet ({e})"))
                });
            }
        }
    }

    if let Some(active) = &sink.active {
        tracing::debug!(
            %format,
            rate = active.spec.rate,
            channels = active.spec.channels.count(),
            frames = sink.frames,
            "decoded audio"
        );
    }
    if let Some(declared) = declared.filter(|&n| sink.frames < n) {
        return Err(Problem::Truncated(format!(
            "the header declares {declared} samples per channel but only {} are present",
            sink.frames
        )));
    }
    sink.finish()
}

/// Collects decoded packets and resamples them as they come, so the full-rate audio is never held.
/// Whole files take the output at the end ([`Sink::finish`]); streams take it after every packet
/// ([`Sink::take_output`]).
pub(crate) struct Sink {
    active: Option<Active>,
    output: Vec<f32>,
    /// Frames decoded so far (before the `limit` cut).
    frames: u64,
    /// The declared length; decoders may pad the last packet past it.
    limit: Option<u64>,
    /// Frames kept back from the resampler (`trim_end`), interleaved in `held`.
    hold: usize,
    held: Vec<f32>,
}

/// Per-stream state, fixed by the first decoded packet.
struct Active {
    spec: SignalSpec,
    interleaved: SampleBuffer<f32>,
    resampler: StreamResampler,
}

impl Sink {
    pub(crate) fn new(limit: Option<u64>) -> Self {
        Self {
            active: None,
            output: Vec::new(),
            frames: 0,
            limit,
            hold: 0,
            held: Vec::new(),
        }
    }

    /// Interleaves one decoded packet, cuts it at the declared length and resamples it.
    pub(crate) fn add(&mut self, decoded: AudioBufferRef<'_>) -> Result<(), Problem> {
        let spec = *decoded.spec();
        let frames = decoded.frames();
        if frames == 0 {
            return Ok(());
        }
        let capacity = decoded.capacity().max(frames);
        let active = match &mut self.active {
            Some(active) if active.spec == spec => active,
            Some(active) => {
                return Err(Problem::Corrupt(format!(
                    "the stream changes from {} Hz/{} channels to {} Hz/{} channels mid-file",
                    active.spec.rate,
                    active.spec.channels.count(),
                    spec.rate,
                    spec.channels.count()
                )));
            }
            None => self.active.insert(Active {
                spec,
                interleaved: SampleBuffer::new(capacity as u64, spec),
                resampler: StreamResampler::new(spec.rate, spec.channels.count())
                    .map_err(Problem::Params)?,
            }),
        };
        let channels = spec.channels.count();
        if active.interleaved.capacity() < capacity * channels {
            active.interleaved = SampleBuffer::new(capacity as u64, spec);
        }
        active.interleaved.copy_interleaved_ref(decoded);
        let keep = match self.limit {
            Some(limit) => usize::try_from(limit.saturating_sub(self.frames))
                .map_or(frames, |left| left.min(frames)),
            None => frames,
        };
        let samples = &active.interleaved.samples()[..keep * channels];
        if self.hold == 0 {
            self.output.extend(active.resampler.push(samples));
        } else {
            self.held.extend_from_slice(samples);
            let release = self.held.len().saturating_sub(self.hold * channels);
            self.output
                .extend(active.resampler.push(&self.held[..release]));
            self.held.drain(..release);
        }
        self.frames += frames as u64;
        Ok(())
    }

    /// From now on keeps the last `frames` decoded frames back from the resampler; whatever is
    /// still held at [`Sink::flush`] is dropped. For a stream that learns its end padding only
    /// after decoding has begun (an Ogg stream's last page, read without seeking).
    pub(crate) fn trim_end(&mut self, frames: usize) {
        self.hold = frames;
    }

    /// The 16 kHz output produced since the last call.
    pub(crate) fn take_output(&mut self) -> Vec<f32> {
        std::mem::take(&mut self.output)
    }

    /// Frames decoded so far, per channel, at the source rate.
    pub(crate) fn frames(&self) -> u64 {
        self.frames
    }

    /// Flushes the resampler at the end of a stream and returns the output not yet taken.
    pub(crate) fn flush(&mut self) -> Vec<f32> {
        if let Some(active) = self.active.as_mut() {
            self.output.extend(active.resampler.finish());
        }
        self.take_output()
    }

    fn finish(mut self) -> Result<Vec<f32>, Problem> {
        let Some(active) = self.active.as_mut() else {
            return Err(Problem::ZeroLength);
        };
        self.output.extend(active.resampler.finish());
        if self.output.is_empty() {
            return Err(Problem::ZeroLength);
        }
        Ok(self.output)
    }
}

pub(crate) fn is_end_of_stream(e: &SymphoniaError) -> bool {
    matches!(e, SymphoniaError::IoError(io) if io.kind() == ErrorKind::UnexpectedEof)
}

/// Maps an error from reading the container header.
pub(crate) fn header_problem(
    e: SymphoniaError,
    format: AudioFormat,
    wav_tag: Option<u16>,
) -> Problem {
    match (e, wav_tag) {
        (e, _) if is_end_of_stream(&e) => {
            Problem::Truncated(format!("the file ends inside the {format} header"))
        }
        // "wav: unsupported wave format" / "wav: unsupported fmt_ext sub-type"
        (SymphoniaError::Unsupported(msg), Some(tag)) if msg.contains("unsupported") => {
            Problem::UnsupportedCodec(integrity::wav_codec_name(tag))
        }
        // "ogg (vorbis): only vorbis 1 is supported"
        (SymphoniaError::Unsupported(msg), None) if msg.contains("only vorbis 1") => {
            Problem::UnsupportedCodec("Vorbis (a version other than 1)".into())
        }
        (other, _) => Problem::Corrupt(format!("unreadable {format} header ({other})")),
    }
}

/// A readable name for a codec symphonia knows of but cannot decode here.
pub(crate) fn codec_name(codec: CodecType) -> String {
    let name = match codec {
        codecs::CODEC_TYPE_OPUS => "Opus",
        codecs::CODEC_TYPE_AAC => "AAC",
        codecs::CODEC_TYPE_ALAC => "ALAC",
        codecs::CODEC_TYPE_SPEEX => "Speex",
        codecs::CODEC_TYPE_MP1 => "MPEG layer I",
        codecs::CODEC_TYPE_MP2 => "MPEG layer II",
        codecs::CODEC_TYPE_ADPCM_MS => "Microsoft ADPCM",
        codecs::CODEC_TYPE_ADPCM_IMA_WAV => "IMA ADPCM",
        codecs::CODEC_TYPE_WAVPACK => "WavPack",
        _ => return format!("with codec id {codec}"),
    };
    name.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panicking_decoder_becomes_an_error_naming_the_file() {
        let result: Result<(), Problem> = contain_panics(|| panic!("decoder bug"));
        let Err(problem) = result else {
            panic!("the panic was not turned into an error");
        };
        let err = problem.into_error(Path::new("evil.mp3"), AudioFormat::Mp3);
        assert_eq!(
            err.to_string(),
            "evil.mp3: the MP3 decoder failed on malformed data"
        );
    }
}
