//! The hand-over between a container stream and its decoder thread: the messages each way, and
//! the blocking [`ChannelReader`] symphonia reads from, which also enforces the stream's byte
//! limits.

use std::io::{self, Read};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, Sender, TryRecvError};
use std::sync::{Arc, Mutex, PoisonError};

use super::SourceParams;
use crate::error::StreamDecodeError;
use crate::sniff::AudioFormat;

/// Owner → decoder thread.
pub(super) enum Input {
    Bytes(Vec<u8>),
    /// No more bytes: decode what is left, flush and stop.
    End,
    /// Makes the reader panic inside symphonia, to test that the panic is contained.
    #[cfg(test)]
    Panic,
}

/// Decoder thread → owner.
pub(super) enum Event {
    /// The source's rate and channel count, once the header is read.
    Params(SourceParams),
    /// Newly decoded 16 kHz mono samples.
    Audio(Vec<f32>),
    /// Every byte handed over has been consumed; the thread waits for more. Carries the number
    /// of inputs received so far, so a `Starved` sent before the latest input arrived (the
    /// thread starts reading before the first bytes are sent) is recognised as stale.
    Starved(u64),
    /// The thread is done: the audio ended (`Ok`) or could not be decoded further.
    Done(Result<(), StreamDecodeError>),
}

/// Bookkeeping shared by the reader and the decode loop (both on the decoder thread; atomics
/// only because symphonia requires its source to be `Sync`).
#[derive(Default)]
pub(super) struct Progress {
    /// Bytes handed to symphonia so far.
    pub(super) fed: AtomicU64,
    /// `fed` when a packet last produced audio.
    pub(super) last_audio: AtomicU64,
    /// `fed` when the demuxer last returned a packet.
    pub(super) last_packet: AtomicU64,
    /// Most bytes allowed between packets (0: no such check).
    pub(super) max_packet_gap: AtomicU64,
    /// The owner has sent [`Input::End`].
    pub(super) input_ended: AtomicBool,
    /// Why the reader refuses to read on, once it does.
    pub(super) stop: Mutex<Option<Stop>>,
}

/// Why decoding stopped early.
pub(super) enum Stop {
    /// The owner dropped the stream: end quietly.
    Cancelled,
    Failed(StreamDecodeError),
}

impl Progress {
    pub(super) fn fed(&self) -> u64 {
        self.fed.load(Ordering::Relaxed)
    }

    pub(super) fn mark_packet(&self) {
        self.last_packet.store(self.fed(), Ordering::Relaxed);
    }

    pub(super) fn mark_audio(&self) {
        self.last_audio.store(self.fed(), Ordering::Relaxed);
    }

    pub(super) fn set_stop(&self, stop: Stop) {
        let mut slot = self.stop.lock().unwrap_or_else(PoisonError::into_inner);
        slot.get_or_insert(stop);
    }

    /// The reason the reader stopped, if it did: it explains the symphonia error that follows.
    pub(super) fn take_stop(&self) -> Option<Stop> {
        self.stop
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }

    pub(super) fn is_stopped(&self) -> bool {
        self.stop
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some()
    }
}

/// A blocking `Read` over the chunks the owner sends.
pub(super) struct ChannelReader {
    /// In a mutex only so the reader is `Sync` (symphonia's `MediaSource` bound); `get_mut`
    /// reaches it without locking.
    input: Mutex<Receiver<Input>>,
    events: Sender<Event>,
    /// Inputs received so far.
    received: u64,
    chunk: Vec<u8>,
    at: usize,
    ended: bool,
    progress: Arc<Progress>,
    limit: u64,
    format: AudioFormat,
}

impl ChannelReader {
    /// A reader of `input` that reports to `events`, stopping after `limit` bytes without audio.
    pub(super) fn new(
        input: Receiver<Input>,
        events: Sender<Event>,
        progress: Arc<Progress>,
        limit: u64,
        format: AudioFormat,
    ) -> Self {
        Self {
            input: Mutex::new(input),
            events,
            received: 0,
            chunk: Vec::new(),
            at: 0,
            ended: false,
            progress,
            limit,
            format,
        }
    }

    /// Refuses to read on when the stream was dropped, a limit was hit before, or the bytes
    /// consumed without audio (or, for FLAC, without any frame) exceed their limit.
    fn check_limits(&self) -> io::Result<()> {
        let p = &self.progress;
        if p.is_stopped() {
            return Err(io::Error::other("decoding stopped"));
        }
        let fed = p.fed();
        let since_audio = fed - p.last_audio.load(Ordering::Relaxed);
        let last_packet = p.last_packet.load(Ordering::Relaxed);
        let gap = p.max_packet_gap.load(Ordering::Relaxed);
        let failure = if since_audio > self.limit {
            StreamDecodeError::TooMuchBuffered { limit: self.limit }
        } else if gap > 0 && fed - last_packet > gap {
            StreamDecodeError::Corrupt {
                format: self.format,
                // `fed` runs ahead of the parser by its read-ahead, so the last good frame
                // ends at or before `last_packet`, not exactly there.
                detail: format!(
                    "no valid frame in {} bytes (the last valid one ends by byte {last_packet})",
                    fed - last_packet
                ),
            }
        } else {
            return Ok(());
        };
        p.set_stop(Stop::Failed(failure));
        Err(io::Error::other("container stream limit reached"))
    }

    /// Waits for the next chunk, telling the owner first that everything so far is consumed.
    fn next_chunk(&mut self) -> io::Result<()> {
        let input = self.input.get_mut().unwrap_or_else(PoisonError::into_inner);
        let next = match input.try_recv() {
            Ok(next) => Some(next),
            Err(TryRecvError::Empty) => {
                let _ = self.events.send(Event::Starved(self.received));
                input.recv().ok()
            }
            Err(TryRecvError::Disconnected) => None,
        };
        if next.is_some() {
            self.received += 1;
        }
        match next {
            Some(Input::Bytes(bytes)) => {
                self.chunk = bytes;
                self.at = 0;
            }
            Some(Input::End) => {
                self.ended = true;
                self.progress.input_ended.store(true, Ordering::Relaxed);
            }
            #[cfg(test)]
            Some(Input::Panic) => panic!("injected decoder panic"),
            None => {
                self.progress.set_stop(Stop::Cancelled);
                return Err(io::Error::other("container stream dropped"));
            }
        }
        Ok(())
    }
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        self.check_limits()?;
        while self.at == self.chunk.len() {
            if self.ended {
                return Ok(0);
            }
            self.next_chunk()?;
        }
        let n = buf.len().min(self.chunk.len() - self.at);
        buf[..n].copy_from_slice(&self.chunk[self.at..self.at + n]);
        self.at += n;
        self.progress.fed.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}
