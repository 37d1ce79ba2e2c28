//! The results of a run as files (`timeline.csv`, `summary.json`) and as a short text
//! for the terminal.

use std::fmt::Write as _;
use std::fs;
use std::io;
use std::path::Path;

use serde::Serialize;

use crate::record::{ErrorSample, Latencies, LatencyStats, TimelineRow, Totals};
use crate::spike::{Outcome, Settings};

/// How to read the numbers; stated in both files so neither is misread alone.
const LATENCY_NOTE: &str = "requests counts every HTTP response completed in the second; \
p50_ms and p99_ms leave out status long-polls, which the server holds open on purpose \
until the booking is decided (see latency.status_poll and latency.time_to_final)";

/// Everything `summary.json` holds.
#[derive(Debug, Serialize)]
pub struct Summary {
    pub base_url: String,
    pub event_id: i64,
    pub clients: u32,
    pub ramp_s: f64,
    pub wait_s: u64,
    pub retries: u32,
    pub deadline_s: f64,
    pub duration_s: f64,
    #[serde(flatten)]
    pub totals: Totals,
    pub error_samples: Vec<ErrorSample>,
    pub latency: Latencies,
    pub note: &'static str,
}

impl Summary {
    pub fn new(settings: &Settings, outcome: &Outcome) -> Self {
        let recorder = &outcome.recorder;
        Summary {
            base_url: settings.base_url.clone(),
            event_id: settings.event_id,
            clients: settings.clients,
            ramp_s: settings.ramp.as_secs_f64(),
            wait_s: settings.wait,
            retries: settings.retries,
            deadline_s: settings.deadline.as_secs_f64(),
            duration_s: round_ms(outcome.duration.as_secs_f64()),
            totals: recorder.totals().clone(),
            error_samples: recorder.error_samples().to_vec(),
            latency: recorder.latencies(),
            note: LATENCY_NOTE,
        }
    }

    /// Whether every booking was decided and nothing went wrong.
    pub fn passed(&self) -> bool {
        self.totals.lost == 0 && self.totals.errors == 0
    }
}

/// Writes `timeline.csv` and `summary.json` into `dir`, which must exist.
pub fn write(dir: &Path, summary: &Summary, timeline: &[TimelineRow]) -> io::Result<()> {
    fs::write(dir.join("timeline.csv"), timeline_csv(timeline))?;
    let mut json = serde_json::to_string_pretty(summary).map_err(io::Error::other)?;
    json.push('\n');
    fs::write(dir.join("summary.json"), json)
}

fn timeline_csv(rows: &[TimelineRow]) -> String {
    let mut csv =
        format!("# {LATENCY_NOTE}\nsecond,requests,accepted,final,errors,p50_ms,p99_ms\n");
    for row in rows {
        // An empty percentile means no request other than a status poll completed in
        // that second; zero would read as an instant answer.
        let ms = |value: Option<f64>| value.map(|v| format!("{v:.3}")).unwrap_or_default();
        let _ = writeln!(
            csv,
            "{},{},{},{},{},{},{}",
            row.second,
            row.requests,
            row.accepted,
            row.finals,
            row.errors,
            ms(row.p50_ms),
            ms(row.p99_ms)
        );
    }
    csv
}

/// The summary as a few lines for the terminal.
pub fn text(summary: &Summary, dir: &Path) -> String {
    let t = &summary.totals;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "spike: {} clients over {:.1} s against {} (event {}), finished in {:.1} s",
        summary.clients, summary.ramp_s, summary.base_url, summary.event_id, summary.duration_s
    );
    let _ = writeln!(
        out,
        "  accepted {}  confirmed {}  rejected {}  expired {}  lost {}",
        t.accepted, t.confirmed, t.rejected, t.expired, t.lost
    );
    let _ = writeln!(
        out,
        "  refused {} ({} overloaded answers)  abandoned {}  errors {}",
        t.refused, t.refused_attempts, t.abandoned, t.errors
    );
    let _ = writeln!(
        out,
        "  {:<15}{:>10}{:>10}{:>10}{:>10}{:>8}",
        "latency (ms)", "p50", "p90", "p99", "max", "count"
    );
    let l = &summary.latency;
    latency_line(&mut out, "event_read", &l.event_read);
    latency_line(&mut out, "booking_accept", &l.booking_accept);
    latency_line(&mut out, "status_poll", &l.status_poll);
    latency_line(&mut out, "time_to_final", &l.time_to_final);
    for sample in &summary.error_samples {
        let _ = writeln!(out, "  error x{}: {}", sample.count, sample.reason);
    }
    let _ = writeln!(
        out,
        "  wrote {}/{{timeline.csv,summary.json}}",
        dir.display()
    );
    out
}

fn latency_line(out: &mut String, name: &str, stats: &LatencyStats) {
    let _ = writeln!(
        out,
        "  {:<15}{:>10.1}{:>10.1}{:>10.1}{:>10.1}{:>8}",
        name, stats.p50_ms, stats.p90_ms, stats.p99_ms, stats.max_ms, stats.count
    );
}

fn round_ms(seconds: f64) -> f64 {
    (seconds * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quiet_seconds_have_empty_percentiles() {
        let row = |second, p: Option<f64>| TimelineRow {
            second,
            requests: 3,
            accepted: 1,
            finals: 2,
            errors: 0,
            p50_ms: p,
            p99_ms: p.map(|v| v * 2.0),
        };
        let csv = timeline_csv(&[row(0, Some(1.5)), row(1, None)]);
        let lines: Vec<&str> = csv.lines().collect();
        assert!(lines[0].starts_with("# "));
        assert_eq!(
            lines[1],
            "second,requests,accepted,final,errors,p50_ms,p99_ms"
        );
        assert_eq!(lines[2], "0,3,1,2,0,1.500,3.000");
        assert_eq!(lines[3], "1,3,1,2,0,,");
    }
}
