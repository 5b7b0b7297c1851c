//! The decoder thread of one container stream: symphonia's format reader and decoder, reading
//! from a [`ChannelReader`] that blocks until the owner hands over the next chunk (see
//! `reader`), and a [`Sink`] that resamples every decoded packet to 16 kHz mono.
//!
//! Hand-over protocol: the owner sends the bytes of one push (and [`Input::End`] at the end),
//! then collects [`Event`]s until [`Event::Starved`] — sent by the reader at the moment it has
//! consumed every input so far and is about to block, counting the inputs it has seen — or
//! [`Event::Done`]. So each push returns exactly the audio decodable from the bytes so far, and
//! at most one push of bytes is ever queued.

use std::panic::AssertUnwindSafe;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use symphonia::core::codecs::{self, DecoderOptions};
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::FormatOptions;
use symphonia::core::io::{MediaSourceStream, ReadOnlySource};
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;

use super::reader::{ChannelReader, Event, Input, Progress, Stop};
use super::SourceParams;
use crate::decode::{codec_name, header_problem, is_end_of_stream, Problem, Sink};
use crate::error::StreamDecodeError;
use crate::integrity;
use crate::resample::check_params;
use crate::sniff::AudioFormat;

/// What one hand-over produced.
#[derive(Default)]
pub(super) struct Round {
    pub audio: Vec<f32>,
    pub params: Option<SourceParams>,
    /// The decoder thread has finished (and been joined).
    pub done: bool,
}

/// What the decoder thread needs to know about its stream.
pub(super) struct Job {
    pub format: AudioFormat,
    /// The WAV format tag, to name an unsupported WAV codec.
    pub wav_tag: Option<u16>,
    /// Most bytes consumed without a packet of audio coming out.
    pub max_undecoded: u64,
    pub span: tracing::Span,
}

/// The owner's handle on a decoder thread. Dropping it closes the input channel, which makes the
/// thread's next read fail, and joins the thread.
pub(super) struct Worker {
    input: Option<Sender<Input>>,
    /// Inputs sent so far.
    sent: u64,
    events: Receiver<Event>,
    thread: Option<JoinHandle<()>>,
    timeout: Duration,
}

impl Worker {
    pub(super) fn spawn(job: Job, timeout: Duration) -> Result<Self, StreamDecodeError> {
        let (input_tx, input_rx) = mpsc::channel();
        let (events_tx, events_rx) = mpsc::channel();
        let progress = Arc::new(Progress::default());
        let reader = ChannelReader::new(
            input_rx,
            events_tx.clone(),
            Arc::clone(&progress),
            job.max_undecoded,
            job.format,
        );
        let thread = std::thread::Builder::new()
            // Linux shows at most 15 bytes of a thread name.
            .name("container-dec".into())
            .spawn(move || run(job, reader, events_tx, progress))
            .map_err(|e| StreamDecodeError::Thread {
                cause: format!("cannot start it ({e})"),
            })?;
        Ok(Self {
            input: Some(input_tx),
            sent: 0,
            events: events_rx,
            thread: Some(thread),
            timeout,
        })
    }

    /// Hands `bytes` (and the end of the stream, if `end`) to the decoder thread and waits until
    /// it has decoded all it can from them.
    pub(super) fn exchange(
        &mut self,
        bytes: Vec<u8>,
        end: bool,
    ) -> Result<Round, StreamDecodeError> {
        let Some(input) = &self.input else {
            return Ok(Round::default());
        };
        if bytes.is_empty() && !end {
            return Ok(Round::default()); // nothing handed over, so nothing to wait for
        }
        // A failed send means the thread has already stopped; its `Done` is waiting below.
        if !bytes.is_empty() {
            let _ = input.send(Input::Bytes(bytes));
            self.sent += 1;
        }
        if end {
            let _ = input.send(Input::End);
            self.sent += 1;
        }
        self.wait()
    }

    /// Collects events until the thread has consumed every input sent, or has finished.
    fn wait(&mut self) -> Result<Round, StreamDecodeError> {
        let mut round = Round::default();
        let deadline = Instant::now() + self.timeout;
        loop {
            let wait = deadline.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(wait) {
                Ok(Event::Params(params)) => round.params = Some(params),
                Ok(Event::Audio(samples)) => round.audio.extend(samples),
                Ok(Event::Starved(received)) if received == self.sent => return Ok(round),
                Ok(Event::Starved(_)) => {} // sent before our latest input arrived
                Ok(Event::Done(result)) => {
                    self.join();
                    round.done = true;
                    return result.map(|()| round);
                }
                Err(RecvTimeoutError::Timeout) => {
                    tracing::error!(
                        timeout_s = self.timeout.as_secs(),
                        "container decoder thread stalled; abandoning it"
                    );
                    // Not joined: it may never return. Closing its input ends it if it does.
                    self.input = None;
                    self.thread = None;
                    return Err(StreamDecodeError::Stalled {
                        secs: self.timeout.as_secs(),
                    });
                }
                Err(RecvTimeoutError::Disconnected) => {
                    self.join();
                    return Err(StreamDecodeError::Thread {
                        cause: "it ended without a result".into(),
                    });
                }
            }
        }
    }

    fn join(&mut self) {
        self.input = None;
        if let Some(thread) = self.thread.take() {
            // The thread catches decoder panics itself; a panic escaping it was already reported
            // by the panic hook.
            let _ = thread.join();
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.join();
    }
}

/// The decoder thread's body: decode, then report how it ended (unless the owner is gone).
fn run(job: Job, reader: ChannelReader, events: Sender<Event>, progress: Arc<Progress>) {
    let span = job.span.clone();
    let _entered = span.enter();
    let format = job.format;
    // Everything the closure owns (the reader, symphonia's state) is dropped on a panic, so no
    // broken state survives it. (With `panic = "abort"` this guard does nothing.)
    let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| {
        decode(&job, reader, &events, &progress)
    }));
    let result = match outcome {
        Ok(Ok(())) => Ok(()),
        Ok(Err(Stop::Cancelled)) => return,
        Ok(Err(Stop::Failed(e))) => Err(e),
        Err(_) => {
            tracing::warn!(%format, "audio decoder panicked on a container stream; contained");
            Err(StreamDecodeError::DecoderPanicked { format })
        }
    };
    let _ = events.send(Event::Done(result));
}

fn decode(
    job: &Job,
    reader: ChannelReader,
    events: &Sender<Event>,
    progress: &Progress,
) -> Result<(), Stop> {
    let format = job.format;
    let failed = |e: StreamDecodeError| progress.take_stop().unwrap_or(Stop::Failed(e));
    let corrupt = |detail: String| StreamDecodeError::Corrupt { format, detail };

    let source = MediaSourceStream::new(Box::new(ReadOnlySource::new(reader)), Default::default());
    let mut hint = Hint::new();
    hint.with_extension(format.extension());
    let options = FormatOptions {
        enable_gapless: true,
        ..Default::default()
    };
    let mut demuxer = match symphonia::default::get_probe().format(
        &hint,
        source,
        &options,
        &MetadataOptions::default(),
    ) {
        Ok(probed) => probed.format,
        Err(e) if is_end_of_stream(&e) => {
            return Err(failed(StreamDecodeError::Truncated {
                format,
                detail: format!("the stream ends inside the {format} header"),
            }))
        }
        Err(e) => {
            return Err(failed(stream_error(
                header_problem(e, format, job.wav_tag),
                format,
            )))
        }
    };

    let track = demuxer
        .tracks()
        .iter()
        .find(|t| t.codec_params.codec != codecs::CODEC_TYPE_NULL)
        .ok_or_else(|| failed(corrupt("the container holds no audio track".into())))?;
    let track_id = track.id;
    let params = track.codec_params.clone();
    let Some(rate) = params.sample_rate else {
        return Err(failed(corrupt("the header gives no sample rate".into())));
    };
    let channels = params.channels.map_or(1, |c| c.count());
    check_params(rate, channels)
        .map_err(|problem| failed(StreamDecodeError::BadParameters { format, problem }))?;
    let _ = events.send(Event::Params(SourceParams {
        sample_rate: rate,
        channels,
    }));
    let mut decoder = symphonia::default::get_codecs()
        .make(&params, &DecoderOptions::default())
        .map_err(|e| {
            failed(match e {
                SymphoniaError::Unsupported(_) => StreamDecodeError::UnsupportedCodec {
                    format,
                    codec: match job.wav_tag {
                        Some(tag) => integrity::wav_codec_name(tag),
                        None => codec_name(params.codec),
                    },
                },
                other => corrupt(format!("bad codec setup ({other})")),
            })
        })?;
    if format == AudioFormat::Flac {
        let gap = flac_max_packet_gap(
            params.extra_data.as_deref(),
            params.bits_per_sample,
            channels,
        );
        progress.mark_packet();
        progress.max_packet_gap.store(gap, Ordering::Relaxed);
    }

    let mut sink = Sink::new(params.n_frames);
    let mut next_ts = None;
    let (mut ogg_first_ts, mut ogg_frames) = (None, 0u64);
    let seconds = |ts: u64| ts as f64 / f64::from(rate);
    loop {
        let packet = match demuxer.next_packet() {
            Ok(packet) => packet,
            Err(e) if progress.is_stopped() => return Err(failed(corrupt(e.to_string()))),
            Err(e) if is_end_of_stream(&e) => break,
            Err(SymphoniaError::ResetRequired) => {
                return Err(failed(corrupt(
                    "a second stream starts mid-stream (chained streams are not supported)".into(),
                )))
            }
            Err(e) => return Err(failed(corrupt(e.to_string()))),
        };
        progress.mark_packet();
        if packet.track_id() != track_id {
            continue;
        }
        // The FLAC reader silently resyncs past damaged frames; a jump in the frame numbers
        // is the only trace they leave.
        if let Some(expected) =
            next_ts.filter(|&ts| format == AudioFormat::Flac && packet.ts() > ts)
        {
            return Err(failed(corrupt(format!(
                "{} samples are missing after {:.2} s (a damaged frame was skipped)",
                packet.ts() - expected,
                seconds(expected)
            ))));
        }
        // Read without seeking, the Ogg reader cannot trim the padding of the last packet (it
        // learns the stream's length by seeking to the end). The padding shows as packets that
        // add up to more than the last page's granule position says: that excess is held back
        // from the resampler and dropped at the end, as the whole-file decode trims it.
        if format == AudioFormat::Ogg {
            let first = *ogg_first_ts.get_or_insert(packet.ts());
            ogg_frames += packet.dur();
            let end = (packet.ts() + packet.dur()).saturating_sub(first);
            let excess = ogg_frames.saturating_sub(end);
            if excess <= MAX_OGG_END_TRIM {
                sink.trim_end(excess as usize);
            }
        }
        next_ts = Some(packet.ts() + packet.dur());
        match decoder.decode(&packet) {
            Ok(decoded) => {
                let had_audio = decoded.frames() > 0;
                sink.add(decoded)
                    .map_err(|problem| failed(stream_error(problem, format)))?;
                if had_audio {
                    progress.mark_audio();
                }
                let samples = sink.take_output();
                if !samples.is_empty() {
                    let _ = events.send(Event::Audio(samples));
                }
            }
            Err(e) => {
                // A bad packet that is also the last one is where the stream was cut off.
                let input_ended = progress.input_ended.load(Ordering::Relaxed);
                if input_ended
                    && matches!(demuxer.next_packet(), Err(ref next) if is_end_of_stream(next))
                {
                    tracing::debug!(%format, "dropped the incomplete last packet of a container stream");
                    break;
                }
                return Err(failed(corrupt(format!(
                    "undecodable packet at {:.2} s ({e})",
                    seconds(packet.ts())
                ))));
            }
        }
    }
    let tail = sink.flush();
    if !tail.is_empty() {
        let _ = events.send(Event::Audio(tail));
    }
    if let Some(declared) = params
        .n_frames
        .filter(|&n| sink.frames() < n && n < u64::from(u32::MAX))
    {
        tracing::debug!(%format, declared, decoded = sink.frames(), "container stream ended before its declared length");
    }
    Ok(())
}

/// Most end padding trimmed from an Ogg stream: one packet of the largest Vorbis block. More
/// than that is not padding but a stream with gaps in its granule positions, left alone.
const MAX_OGG_END_TRIM: u64 = 8192;

/// A crate-internal decode problem as a stream error.
fn stream_error(problem: Problem, format: AudioFormat) -> StreamDecodeError {
    match problem {
        Problem::Truncated(detail) => StreamDecodeError::Truncated { format, detail },
        Problem::Corrupt(detail) => StreamDecodeError::Corrupt { format, detail },
        Problem::UnsupportedCodec(codec) => StreamDecodeError::UnsupportedCodec { format, codec },
        Problem::ZeroLength => StreamDecodeError::Corrupt {
            format,
            detail: "the stream holds no audio".into(),
        },
        Problem::Params(problem) => StreamDecodeError::BadParameters { format, problem },
        Problem::Panicked => StreamDecodeError::DecoderPanicked { format },
    }
}

/// Most bytes a FLAC stream may run between two frames: twice the largest frame its STREAMINFO
/// allows (every subframe verbatim, the side channel one bit wider), plus symphonia's read-ahead.
/// The FLAC reader skips damaged data silently; without this a stream of garbage after a valid
/// start would only be caught by the much larger no-audio limit.
fn flac_max_packet_gap(stream_info: Option<&[u8]>, bits: Option<u32>, channels: usize) -> u64 {
    const READ_AHEAD: u64 = 128 * 1024;
    let (max_block, max_frame) = match stream_info {
        Some(info) if info.len() >= 10 => (
            u64::from(u16::from_be_bytes([info[2], info[3]])),
            u64::from(u32::from_be_bytes([0, info[7], info[8], info[9]])),
        ),
        _ => (0, 0),
    };
    let max_block = if max_block == 0 { 65_535 } else { max_block };
    let bits = u64::from(bits.unwrap_or(32)) + 1;
    let verbatim = 18 + channels as u64 * (3 + (max_block * bits).div_ceil(8));
    2 * verbatim.max(max_frame) + READ_AHEAD
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wav_job() -> Job {
        Job {
            format: AudioFormat::Wav,
            wav_tag: Some(1),
            max_undecoded: 1 << 20,
            span: tracing::Span::none(),
        }
    }

    /// A 16 kHz mono 16-bit WAV header of unknown length, then `frames` frames of a ramp.
    fn wav(frames: usize) -> Vec<u8> {
        let mut bytes = b"RIFF\xff\xff\xff\xffWAVEfmt \x10\0\0\0\x01\0\x01\0".to_vec();
        bytes.extend_from_slice(&16_000u32.to_le_bytes());
        bytes.extend_from_slice(&32_000u32.to_le_bytes());
        bytes.extend_from_slice(b"\x02\0\x10\0data\xff\xff\xff\xff");
        for i in 0..frames {
            bytes.extend_from_slice(&((i % 1000) as i16 * 10).to_le_bytes());
        }
        bytes
    }

    #[test]
    fn a_round_returns_everything_decodable_even_after_an_early_starved() {
        let mut worker = Worker::spawn(wav_job(), Duration::from_secs(10)).expect("spawn");
        // The thread is idle and has announced it is starved before anything was sent.
        std::thread::sleep(Duration::from_millis(50));
        let round = worker.exchange(wav(16_000), false).expect("valid WAV");
        // 1 s of 16 kHz audio: all of it but the packet still being read is out already.
        assert!(round.audio.len() >= 16_000 - 1152, "{}", round.audio.len());
        assert_eq!(
            round.params,
            Some(SourceParams {
                sample_rate: 16_000,
                channels: 1
            })
        );
        let rest = worker.exchange(Vec::new(), true).expect("clean end");
        assert!(rest.done);
        assert_eq!(round.audio.len() + rest.audio.len(), 16_000);
    }

    #[test]
    fn a_panic_inside_the_decoder_becomes_an_error() {
        let mut worker = Worker::spawn(wav_job(), Duration::from_secs(10)).expect("spawn");
        worker.exchange(wav(100), false).expect("valid WAV");
        worker
            .input
            .as_ref()
            .expect("open")
            .send(Input::Panic)
            .expect("the thread is alive");
        worker.sent += 1;
        assert_eq!(
            worker.wait().err(),
            Some(StreamDecodeError::DecoderPanicked {
                format: AudioFormat::Wav
            })
        );
        assert!(worker.thread.is_none(), "the thread has been joined");
    }

    #[test]
    fn flac_gap_covers_the_largest_possible_frame() {
        // 4096-sample blocks, 16-bit stereo: a verbatim frame is under 18 KB.
        let mut info = [0u8; 34];
        info[2..4].copy_from_slice(&4096u16.to_be_bytes());
        let gap = flac_max_packet_gap(Some(&info), Some(16), 2);
        assert!(
            (128 * 1024 + 2 * 17_000..128 * 1024 + 2 * 18_000).contains(&gap),
            "{gap}"
        );
        // Unknown block size: the format's maximum.
        assert!(flac_max_packet_gap(None, None, 8) > 2 * 65_535 * 8 * 4);
    }
}
