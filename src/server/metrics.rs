//! Prometheus text exposition, kept by hand: a few counters and a latency histogram.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 10] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0, 5.0];

#[derive(Default)]
struct Latency {
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum_micros: u64,
}

/// A gauge computed at scrape time: name, help, and (labels, value) per series.
pub type Gauge<'a> = (&'a str, &'a str, Vec<(String, u64)>);

#[derive(Default)]
pub struct Metrics {
    /// (method, route, status) → count
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    latency: Mutex<BTreeMap<String, Latency>>,
    pub scheduler_fires: AtomicU64,
    pub scheduler_errors: AtomicU64,
    /// (relay, outcome) → drand round requests
    drand: Mutex<BTreeMap<(String, &'static str), u64>>,
}

impl Metrics {
    pub fn observe(&self, method: &str, route: &str, status: u16, took: Duration) {
        let key = (method.to_owned(), route.to_owned(), status);
        *self
            .requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(key)
            .or_default() += 1;
        let mut lat = self.latency.lock().unwrap_or_else(|e| e.into_inner());
        let l = lat.entry(route.to_owned()).or_default();
        let secs = took.as_secs_f64();
        for (i, b) in BUCKETS.iter().enumerate() {
            if secs <= *b {
                l.buckets[i] += 1;
            }
        }
        l.count += 1;
        l.sum_micros += took.as_micros() as u64;
    }

    /// Counts drand round requests: (relay, outcome) each.
    pub fn drand_fetches<'a>(&self, outcomes: impl IntoIterator<Item = (&'a str, &'static str)>) {
        let mut d = self.drand.lock().unwrap_or_else(|e| e.into_inner());
        for (relay, outcome) in outcomes {
            *d.entry((relay.to_owned(), outcome)).or_default() += 1;
        }
    }

    /// The exposition text; `gauges` are computed by the caller at scrape time.
    pub fn render(&self, gauges: &[Gauge]) -> String {
        let mut out = String::new();
        out.push_str("# HELP double_random_http_requests_total HTTP requests answered.\n");
        out.push_str("# TYPE double_random_http_requests_total counter\n");
        for ((m, r, s), n) in self
            .requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            let _ = writeln!(
                out,
                "double_random_http_requests_total{{method=\"{m}\",route=\"{r}\",status=\"{s}\"}} {n}"
            );
        }
        out.push_str("# HELP double_random_http_request_duration_seconds Time to answer.\n");
        out.push_str("# TYPE double_random_http_request_duration_seconds histogram\n");
        for (r, l) in self
            .latency
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            let name = "double_random_http_request_duration_seconds";
            for (b, n) in BUCKETS.iter().zip(l.buckets) {
                let _ = writeln!(out, "{name}_bucket{{route=\"{r}\",le=\"{b}\"}} {n}");
            }
            let _ = writeln!(
                out,
                "{name}_bucket{{route=\"{r}\",le=\"+Inf\"}} {}",
                l.count
            );
            let _ = writeln!(
                out,
                "{name}_sum{{route=\"{r}\"}} {}",
                l.sum_micros as f64 / 1e6
            );
            let _ = writeln!(out, "{name}_count{{route=\"{r}\"}} {}", l.count);
        }
        for (name, help, value) in [
            (
                "double_random_scheduler_fires_total",
                "Cron fire times that started a run.",
                &self.scheduler_fires,
            ),
            (
                "double_random_scheduler_errors_total",
                "Scheduler passes that failed (retried on the next pass).",
                &self.scheduler_errors,
            ),
        ] {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            let _ = writeln!(out, "{name} {}", value.load(Ordering::Relaxed));
        }
        let name = "double_random_drand_requests_total";
        let _ = writeln!(
            out,
            "# HELP {name} drand round requests by relay and outcome (served, not_yet, rejected: \
             a bad or mismatched beacon, unreachable).\n# TYPE {name} counter"
        );
        for ((relay, outcome), n) in self.drand.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            let _ = writeln!(out, "{name}{{relay=\"{relay}\",outcome=\"{outcome}\"}} {n}");
        }
        for (name, help, series) in gauges {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
            for (labels, v) in series {
                let _ = writeln!(out, "{name}{labels} {v}");
            }
        }
        out
    }
}
