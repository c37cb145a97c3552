//! Counters and histograms for `/metrics`, in the Prometheus text format (0.0.4).
//!
//! Hand-written rather than a metrics crate: a dozen series of plain atomics, updated on the
//! hot path without locks or allocation.

use crate::endpoints::Endpoint;
use chl_model::refusal::Rule;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// A histogram with fixed upper bounds; counts are cumulative only when rendered.
pub struct Histogram {
    bounds: &'static [f64],
    counts: Vec<AtomicU64>,
    count: AtomicU64,
    /// The sum, in millionths of the unit (microseconds for seconds).
    sum_micros: AtomicU64,
}

impl Histogram {
    pub fn new(bounds: &'static [f64]) -> Histogram {
        Histogram {
            bounds,
            counts: bounds.iter().map(|_| AtomicU64::new(0)).collect(),
            count: AtomicU64::new(0),
            sum_micros: AtomicU64::new(0),
        }
    }

    pub fn observe(&self, value: f64) {
        if let Some(i) = self.bounds.iter().position(|&b| value <= b) {
            self.counts[i].fetch_add(1, Relaxed);
        }
        self.count.fetch_add(1, Relaxed);
        self.sum_micros.fetch_add((value * 1e6) as u64, Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let mut cumulative = 0;
        let sep = if labels.is_empty() { "" } else { "," };
        for (bound, count) in self.bounds.iter().zip(&self.counts) {
            cumulative += count.load(Relaxed);
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{bound}\"}} {cumulative}");
        }
        let count = self.count.load(Relaxed);
        let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {count}");
        let braces = if labels.is_empty() { String::new() } else { format!("{{{labels}}}") };
        let _ = writeln!(out, "{name}_sum{braces} {}", self.sum_micros.load(Relaxed) as f64 / 1e6);
        let _ = writeln!(out, "{name}_count{braces} {count}");
    }
}

const LATENCY_BOUNDS: &[f64] =
    &[0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5];
const GROUP_BOUNDS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0, 4096.0];

/// The status codes counted one by one; anything else is counted as `other`.
const STATUSES: [u16; 13] = [200, 201, 304, 400, 401, 403, 404, 405, 408, 409, 413, 429, 503];

const RULES: [Rule; 8] = [
    Rule::Form,
    Rule::References,
    Rule::Authority,
    Rule::Suppliers,
    Rule::Grants,
    Rule::Agreements,
    Rule::Sales,
    Rule::Idempotency,
];

pub struct Metrics {
    pub appended_records: AtomicU64,
    pub appended_batches: AtomicU64,
    pub repeats: AtomicU64,
    refusals: [AtomicU64; RULES.len()],
    pub group_records: Histogram,
    pub group_seconds: Histogram,
    /// Per endpoint: responses by status (the last slot: any other status).
    responses: Vec<[AtomicU64; STATUSES.len() + 1]>,
    latency: Vec<Histogram>,
    pub head_seq: AtomicU64,
    pub stream_clients: AtomicU64,
    pub rate_limited: AtomicU64,
    /// Requests no endpoint matched: 404 (no such path) and 405 (no such method).
    unmatched: [AtomicU64; 2],
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            appended_records: AtomicU64::new(0),
            appended_batches: AtomicU64::new(0),
            repeats: AtomicU64::new(0),
            refusals: Default::default(),
            group_records: Histogram::new(GROUP_BOUNDS),
            group_seconds: Histogram::new(LATENCY_BOUNDS),
            responses: Endpoint::ALL.iter().map(|_| Default::default()).collect(),
            latency: Endpoint::ALL.iter().map(|_| Histogram::new(LATENCY_BOUNDS)).collect(),
            head_seq: AtomicU64::new(0),
            stream_clients: AtomicU64::new(0),
            rate_limited: AtomicU64::new(0),
            unmatched: Default::default(),
        }
    }
}

impl Metrics {
    pub fn refused(&self, rule: Rule) {
        let i = RULES.iter().position(|&r| r == rule).expect("every rule is listed");
        self.refusals[i].fetch_add(1, Relaxed);
    }

    pub fn unmatched(&self, status: u16) {
        self.unmatched[usize::from(status == 405)].fetch_add(1, Relaxed);
    }

    pub fn responded(&self, endpoint: Endpoint, status: u16, seconds: f64) {
        let slot = STATUSES.iter().position(|&s| s == status).unwrap_or(STATUSES.len());
        self.responses[endpoint as usize][slot].fetch_add(1, Relaxed);
        self.latency[endpoint as usize].observe(seconds);
    }

    /// The Prometheus text exposition of every series.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(16 * 1024);
        let counter = |out: &mut String, name: &str, help: &str, value: u64| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}");
        };
        counter(
            &mut out,
            "chl_appended_records_total",
            "Records appended and made durable through the API.",
            self.appended_records.load(Relaxed),
        );
        counter(
            &mut out,
            "chl_appended_batches_total",
            "Submission batches acknowledged through the API.",
            self.appended_batches.load(Relaxed),
        );
        counter(
            &mut out,
            "chl_repeats_total",
            "Submissions accepted as exact repeats of a recorded one (nothing appended).",
            self.repeats.load(Relaxed),
        );
        let _ = writeln!(
            out,
            "# HELP chl_refusals_total Batches refused, by the rule group of spec/events.md that refused them.\n# TYPE chl_refusals_total counter"
        );
        for (rule, count) in RULES.iter().zip(&self.refusals) {
            let _ = writeln!(out, "chl_refusals_total{{rule=\"{rule}\"}} {}", count.load(Relaxed));
        }
        let _ = writeln!(
            out,
            "# HELP chl_group_commit_records Records made durable by one group commit (one fdatasync).\n# TYPE chl_group_commit_records histogram"
        );
        self.group_records.render(&mut out, "chl_group_commit_records", "");
        let _ = writeln!(
            out,
            "# HELP chl_group_commit_seconds Time from staging a group's first batch to its durable commit.\n# TYPE chl_group_commit_seconds histogram"
        );
        self.group_seconds.render(&mut out, "chl_group_commit_seconds", "");
        let _ = writeln!(
            out,
            "# HELP chl_http_responses_total HTTP responses by endpoint and status.\n# TYPE chl_http_responses_total counter"
        );
        for (endpoint, counts) in Endpoint::ALL.iter().zip(&self.responses) {
            for (i, count) in counts.iter().enumerate() {
                let value = count.load(Relaxed);
                if value == 0 {
                    continue;
                }
                let status = STATUSES.get(i).map_or("other".to_owned(), |s| s.to_string());
                let _ = writeln!(
                    out,
                    "chl_http_responses_total{{endpoint=\"{}\",status=\"{status}\"}} {value}",
                    endpoint.name()
                );
            }
        }
        let _ = writeln!(
            out,
            "# HELP chl_http_request_seconds Time to answer an HTTP request, by endpoint.\n# TYPE chl_http_request_seconds histogram"
        );
        for (endpoint, histogram) in Endpoint::ALL.iter().zip(&self.latency) {
            histogram.render(
                &mut out,
                "chl_http_request_seconds",
                &format!("endpoint=\"{}\"", endpoint.name()),
            );
        }
        for (status, count) in [404, 405].iter().zip(&self.unmatched) {
            let _ = writeln!(
                out,
                "chl_http_responses_total{{endpoint=\"unmatched\",status=\"{status}\"}} {}",
                count.load(Relaxed)
            );
        }
        let gauge = |out: &mut String, name: &str, help: &str, value: u64| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}");
        };
        gauge(&mut out, "chl_head_seq", "The seq of the last durable record.", self.head_seq.load(Relaxed));
        gauge(
            &mut out,
            "chl_stream_clients",
            "Clients following /v1/stream now.",
            self.stream_clients.load(Relaxed),
        );
        counter(
            &mut out,
            "chl_rate_limited_total",
            "Requests to the public authorization endpoint refused with 429.",
            self.rate_limited.load(Relaxed),
        );
        out
    }
}
