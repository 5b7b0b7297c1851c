//! Scheduler behaviour with a fake engine: ordering, coalescing, admission, metrics text,
//! shutdown and panic isolation.

mod admission;
mod fake;
mod lifecycle;
mod metrics_text;
mod ordering;
