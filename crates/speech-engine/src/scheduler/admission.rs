//! Whether a new stream may start: refused (close 4102) when the machine cannot keep up,
//! so the running streams keep their latency instead of all falling behind.

use std::time::Duration;

use scribe_core::ErrorCode;

use super::config::SchedulerConfig;

/// Why a stream was not admitted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
pub enum AdmitError {
    /// The machine is at capacity; the client should be closed with 4102.
    #[error("at capacity: {0}")]
    AtCapacity(CapacityReason),
    /// A stream with this id is already admitted and open.
    #[error("stream already admitted")]
    AlreadyAdmitted,
}

impl AdmitError {
    /// The client-visible code: `AtCapacity` (4102 / 503) or `Conflict`.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::AtCapacity(_) => ErrorCode::AtCapacity,
            Self::AlreadyAdmitted => ErrorCode::Conflict,
        }
    }
}

/// Which limit refused a stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
pub enum CapacityReason {
    /// `max_streams` streams are open.
    #[error("stream limit reached")]
    MaxStreams,
    /// Jobs waited longer than `max_queue_wait` for a worker within `congestion_window`.
    #[error("decode queue congested")]
    QueueWait,
    /// A running stream lags more than `max_lag`.
    #[error("running streams lag behind")]
    Lag,
    /// The scheduler is shutting down.
    #[error("shutting down")]
    ShuttingDown,
}

impl CapacityReason {
    pub(crate) const ALL: [Self; 4] = [
        Self::MaxStreams,
        Self::QueueWait,
        Self::Lag,
        Self::ShuttingDown,
    ];

    /// Label value in metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MaxStreams => "max_streams",
            Self::QueueWait => "queue_wait",
            Self::Lag => "lag",
            Self::ShuttingDown => "shutting_down",
        }
    }

    pub(crate) fn index(self) -> usize {
        match self {
            Self::MaxStreams => 0,
            Self::QueueWait => 1,
            Self::Lag => 2,
            Self::ShuttingDown => 3,
        }
    }
}

/// The load figures admission looks at.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Load {
    /// Streams admitted and not yet closed.
    pub streams: usize,
    /// Longest wait for a worker within the congestion window, including jobs waiting now.
    pub max_queue_wait: Duration,
    /// Largest lag of any open stream now.
    pub max_lag: Duration,
}

/// Admits a stream when every limit has room; otherwise names the first limit hit.
pub(crate) fn decide(load: &Load, cfg: &SchedulerConfig) -> Result<(), CapacityReason> {
    if load.streams >= cfg.max_streams {
        return Err(CapacityReason::MaxStreams);
    }
    if load.max_queue_wait > cfg.max_queue_wait {
        return Err(CapacityReason::QueueWait);
    }
    if load.max_lag > cfg.max_lag {
        return Err(CapacityReason::Lag);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_limit_refuses_on_its_own() {
        let cfg = SchedulerConfig::for_cores(2);
        let calm = Load {
            streams: 1,
            max_queue_wait: Duration::from_millis(100),
            max_lag: Duration::from_millis(400),
        };
        assert_eq!(decide(&calm, &cfg), Ok(()));
        let full = Load {
            streams: cfg.max_streams,
            ..calm
        };
        assert_eq!(decide(&full, &cfg), Err(CapacityReason::MaxStreams));
        let congested = Load {
            max_queue_wait: cfg.max_queue_wait + Duration::from_millis(1),
            ..calm
        };
        assert_eq!(decide(&congested, &cfg), Err(CapacityReason::QueueWait));
        let lagging = Load {
            max_lag: cfg.max_lag + Duration::from_millis(1),
            ..calm
        };
        assert_eq!(decide(&lagging, &cfg), Err(CapacityReason::Lag));
        assert_eq!(
            AdmitError::AtCapacity(CapacityReason::Lag)
                .code()
                .ws_close_code(),
            4102
        );
    }
}
