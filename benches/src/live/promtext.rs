//! Reading the server's `/metrics` (Prometheus text format): samples by name and labels, and
//! quantiles estimated from histogram buckets as Prometheus's `histogram_quantile` does.

use std::collections::BTreeMap;

/// One sample line.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// A parsed exposition.
#[derive(Clone, Debug, Default)]
pub struct Metrics(pub Vec<Sample>);

impl Metrics {
    pub fn parse(text: &str) -> Self {
        Self(text.lines().filter_map(parse_line).collect())
    }

    /// Samples of `name` whose labels include all of `labels`.
    pub fn find<'a>(
        &'a self,
        name: &'a str,
        labels: &'a [(&'a str, &'a str)],
    ) -> impl Iterator<Item = &'a Sample> + 'a {
        self.0.iter().filter(move |s| {
            s.name == name
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).is_some_and(|x| x == v))
        })
    }

    /// The first matching sample's value.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        self.find(name, labels).next().map(|s| s.value)
    }

    /// Largest value of the matching samples.
    pub fn max(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        self.find(name, labels).map(|s| s.value).reduce(f64::max)
    }

    /// Mean of a histogram (`_sum / _count`).
    pub fn histogram_mean(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let count = self.value(&format!("{name}_count"), labels)?;
        let sum = self.value(&format!("{name}_sum"), labels)?;
        (count > 0.0).then(|| sum / count)
    }

    /// Quantile `q` of a histogram, interpolating linearly inside the bucket it falls in; the
    /// largest finite bound when it falls in the `+Inf` bucket.
    pub fn histogram_quantile(&self, name: &str, labels: &[(&str, &str)], q: f64) -> Option<f64> {
        let mut buckets: Vec<(f64, f64)> = self
            .find(&format!("{name}_bucket"), labels)
            .filter_map(|s| {
                let le = s.labels.get("le")?;
                let bound = if le == "+Inf" {
                    f64::INFINITY
                } else {
                    le.parse().ok()?
                };
                Some((bound, s.value))
            })
            .collect();
        buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
        let total = buckets.last()?.1;
        if total <= 0.0 {
            return None;
        }
        let rank = q * total;
        let (mut lower, mut below) = (0.0, 0.0);
        for &(bound, count) in &buckets {
            if count >= rank {
                if bound.is_infinite() {
                    return Some(lower);
                }
                let inside = count - below;
                let frac = if inside > 0.0 {
                    (rank - below) / inside
                } else {
                    1.0
                };
                return Some(lower + (bound - lower) * frac);
            }
            lower = bound;
            below = count;
        }
        Some(lower)
    }
}

fn parse_line(line: &str) -> Option<Sample> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let (head, value) = line.rsplit_once(' ')?;
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v.parse().ok()?,
    };
    let (name, labels) = match head.split_once('{') {
        None => (head.to_owned(), BTreeMap::new()),
        Some((name, rest)) => (name.to_owned(), parse_labels(rest.strip_suffix('}')?)?),
    };
    Some(Sample {
        name,
        labels,
        value,
    })
}

/// `k="v",k2="v2"` with `\\`, `\"` and `\n` escapes in values.
fn parse_labels(s: &str) -> Option<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek() == Some(&',') || chars.peek() == Some(&' ') {
            chars.next();
        }
        if chars.peek().is_none() {
            return Some(out);
        }
        let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
        if chars.next() != Some('"') {
            return None;
        }
        let mut value = String::new();
        loop {
            match chars.next()? {
                '\\' => match chars.next()? {
                    'n' => value.push('\n'),
                    c => value.push(c),
                },
                '"' => break,
                c => value.push(c),
            }
        }
        out.insert(key.trim().to_owned(), value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = r#"# HELP nexus_scribe_queue_wait_seconds Time a ready job waited.
# TYPE nexus_scribe_queue_wait_seconds histogram
nexus_scribe_queue_wait_seconds_bucket{le="0.1"} 50
nexus_scribe_queue_wait_seconds_bucket{le="0.5"} 90
nexus_scribe_queue_wait_seconds_bucket{le="1"} 100
nexus_scribe_queue_wait_seconds_bucket{le="+Inf"} 100
nexus_scribe_queue_wait_seconds_sum 12.5
nexus_scribe_queue_wait_seconds_count 100
nexus_scribe_jobs_total{kind="partial",outcome="ok"} 7
nexus_scribe_jobs_total{kind="final",outcome="ok"} 3
nexus_scribe_stream_lag_seconds{stream="a\"b"} 0.25
nexus_scribe_real_time_factor 0.125
"#;

    #[test]
    fn finds_samples_by_labels() {
        let m = Metrics::parse(TEXT);
        assert_eq!(m.value("nexus_scribe_real_time_factor", &[]), Some(0.125));
        assert_eq!(m.find("nexus_scribe_jobs_total", &[]).count(), 2);
        assert_eq!(
            m.value("nexus_scribe_jobs_total", &[("kind", "final")]),
            Some(3.0)
        );
        assert_eq!(
            m.value("nexus_scribe_stream_lag_seconds", &[("stream", "a\"b")]),
            Some(0.25)
        );
        assert_eq!(m.max("nexus_scribe_stream_lag_seconds", &[]), Some(0.25));
    }

    #[test]
    fn histogram_quantiles_interpolate_inside_buckets() {
        let m = Metrics::parse(TEXT);
        let name = "nexus_scribe_queue_wait_seconds";
        assert_eq!(m.histogram_mean(name, &[]), Some(0.125));
        let q = |q| m.histogram_quantile(name, &[], q).expect("buckets");
        assert!((q(0.5) - 0.1).abs() < 1e-12);
        // Rank 70 of 100 falls in (0.1, 0.5] holding ranks 51..=90: half way.
        assert!((q(0.7) - 0.3).abs() < 1e-12);
        assert!((q(0.95) - 0.75).abs() < 1e-12);
        assert_eq!(m.histogram_quantile("missing", &[], 0.5), None);
    }
}
