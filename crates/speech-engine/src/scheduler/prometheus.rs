//! [`MetricsSnapshot`] in the Prometheus text exposition format (version 0.0.4), metric names
//! prefixed `nexus_scribe_`.

use super::metrics::{HistogramSnapshot, MetricsSnapshot};

/// The `Content-Type` of [`MetricsSnapshot::to_prometheus`]'s output.
pub const PROMETHEUS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

impl MetricsSnapshot {
    /// The snapshot as Prometheus text: `# HELP` and `# TYPE` per family, then its samples.
    pub fn to_prometheus(&self) -> String {
        let mut out = Out(String::with_capacity(4096));
        self.render_gauges(&mut out);
        self.render_histograms(&mut out);
        self.render_counters(&mut out);
        out.0
    }

    fn render_gauges(&self, out: &mut Out) {
        out.family("scheduler_workers", "gauge", "Decoding worker threads.");
        out.sample("scheduler_workers", &[], self.workers as f64);
        out.family(
            "scheduler_threads_per_worker",
            "gauge",
            "Inference threads each worker gives whisper.cpp.",
        );
        out.sample(
            "scheduler_threads_per_worker",
            &[],
            self.threads_per_worker as f64,
        );
        out.family("streams", "gauge", "Streams admitted and not closed.");
        out.sample("streams", &[], self.streams.len() as f64);
        out.family(
            "stream_lag_seconds",
            "gauge",
            "Age of the oldest audio a stream still waits to see decoded (0 when caught up).",
        );
        for s in &self.streams {
            out.sample(
                "stream_lag_seconds",
                &[("stream", &s.id)],
                s.lag.as_secs_f64(),
            );
        }
        out.family(
            "stream_queue_depth",
            "gauge",
            "Decode jobs a stream has waiting.",
        );
        for s in &self.streams {
            out.sample(
                "stream_queue_depth",
                &[("stream", &s.id)],
                s.queue_depth as f64,
            );
        }
        out.family("queue_depth", "gauge", "Decode jobs waiting for a worker.");
        out.sample("queue_depth", &[], self.queue_depth as f64);
        out.family("jobs_in_flight", "gauge", "Decode jobs running now.");
        out.sample("jobs_in_flight", &[], self.in_flight as f64);
        out.family(
            "worker_busy_ratio",
            "gauge",
            "Fraction of workers decoding, exponentially smoothed over time.",
        );
        out.sample("worker_busy_ratio", &[], self.busy_fraction);
        out.family(
            "real_time_factor",
            "gauge",
            "Decode wall time per second of audio, smoothed over recent jobs.",
        );
        if let Some(rtf) = self.real_time_factor {
            out.sample("real_time_factor", &[], rtf);
        }
        out.family(
            "worker_real_time_factor",
            "gauge",
            "Decode wall time per second of audio per worker, smoothed over its recent jobs.",
        );
        for (i, rtf) in self.worker_real_time_factor.iter().enumerate() {
            if let Some(rtf) = rtf {
                out.sample(
                    "worker_real_time_factor",
                    &[("worker", &i.to_string())],
                    *rtf,
                );
            }
        }
    }

    fn render_histograms(&self, out: &mut Out) {
        out.family(
            "decode_latency_seconds",
            "histogram",
            "Time from submitting a decode job to its result.",
        );
        out.histogram(
            "decode_latency_seconds",
            &[("kind", "partial")],
            &self.partial_latency,
        );
        out.histogram(
            "decode_latency_seconds",
            &[("kind", "final")],
            &self.final_latency,
        );
        out.family(
            "queue_wait_seconds",
            "histogram",
            "Time a ready job waited for a free worker.",
        );
        out.histogram("queue_wait_seconds", &[], &self.queue_wait);
    }

    fn render_counters(&self, out: &mut Out) {
        out.family("streams_admitted_total", "counter", "Streams admitted.");
        out.sample("streams_admitted_total", &[], self.streams_admitted as f64);
        out.family(
            "streams_refused_total",
            "counter",
            "Streams refused (close 4102), by the limit that refused them.",
        );
        for (reason, n) in &self.streams_refused {
            out.sample(
                "streams_refused_total",
                &[("reason", reason.as_str())],
                *n as f64,
            );
        }
        out.family(
            "jobs_total",
            "counter",
            "Decode jobs by kind and how they ended.",
        );
        for j in &self.jobs {
            let labels = [("kind", j.kind.as_str()), ("outcome", j.outcome)];
            out.sample("jobs_total", &labels, j.count as f64);
        }
        out.family(
            "decoded_audio_seconds_total",
            "counter",
            "Seconds of audio decoded successfully.",
        );
        out.sample("decoded_audio_seconds_total", &[], self.audio_seconds_total);
        out.family(
            "decode_seconds_total",
            "counter",
            "Worker seconds spent decoding.",
        );
        out.sample("decode_seconds_total", &[], self.decode_seconds_total);
    }
}

const PREFIX: &str = "nexus_scribe_";

struct Out(String);

impl Out {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        self.0.push_str(&format!("# HELP {PREFIX}{name} {help}\n"));
        self.0.push_str(&format!("# TYPE {PREFIX}{name} {kind}\n"));
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.0.push_str(PREFIX);
        self.0.push_str(name);
        if !labels.is_empty() {
            let parts: Vec<String> = labels
                .iter()
                .map(|(k, v)| format!("{k}=\"{}\"", escape_label(v)))
                .collect();
            self.0.push('{');
            self.0.push_str(&parts.join(","));
            self.0.push('}');
        }
        self.0.push(' ');
        self.0.push_str(&format_value(value));
        self.0.push('\n');
    }

    fn histogram(&mut self, name: &str, labels: &[(&str, &str)], h: &HistogramSnapshot) {
        let bucket = format!("{name}_bucket");
        let bounds = h.buckets.iter().map(|(b, n)| (format_value(*b), *n));
        for (le, n) in bounds.chain([("+Inf".to_owned(), h.count)]) {
            let mut with_le = labels.to_vec();
            with_le.push(("le", &le));
            self.sample(&bucket, &with_le, n as f64);
        }
        self.sample(&format!("{name}_sum"), labels, h.sum);
        self.sample(&format!("{name}_count"), labels, h.count as f64);
    }
}

/// Label values escape backslash, double quote and line feed.
fn escape_label(v: &str) -> String {
    let mut s = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    s
}

fn format_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        format!("{v}")
    }
}
