//! What a run observed: counters, per-step latency histograms and the per-second
//! timeline. Every method takes the moment of the observation as an offset from the
//! start of the run, so the bookkeeping stays free of clocks and easy to test.

use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

/// Longest latency a histogram holds, in microseconds; longer ones are clamped to it.
/// An hour is far past any deadline the run accepts.
const MAX_MICROS: u64 = 3_600_000_000;

/// How many distinct error reasons are kept as samples.
const MAX_ERROR_SAMPLES: usize = 10;

/// The HTTP requests a virtual fan makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    EventRead,
    BookingAccept,
    StatusPoll,
}

impl Step {
    /// The name used in error reasons and the summary.
    pub fn name(self) -> &'static str {
        match self {
            Step::EventRead => "event_read",
            Step::BookingAccept => "booking_accept",
            Step::StatusPoll => "status_poll",
        }
    }
}

/// A final booking status, as the status record spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinalStatus {
    Confirmed,
    Rejected,
    Expired,
}

impl FinalStatus {
    /// `None` for `pending` and anything else that is not final.
    pub fn parse(status: &str) -> Option<Self> {
        match status {
            "confirmed" => Some(FinalStatus::Confirmed),
            "rejected" => Some(FinalStatus::Rejected),
            "expired" => Some(FinalStatus::Expired),
            _ => None,
        }
    }
}

/// How a virtual fan's visit ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientEnd {
    /// The booking reached a final status this long after its `202`.
    Final(FinalStatus, Duration),
    /// Every booking attempt was refused as overloaded.
    Refused,
    /// Accepted, but not final when the deadline passed.
    Lost,
    /// Stopped by an error before the booking was accepted.
    Abandoned,
}

/// Latency summary of one step, in milliseconds; all zero when nothing was recorded.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LatencyStats {
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub count: u64,
}

impl LatencyStats {
    pub fn of(histogram: &Histogram<u64>) -> Self {
        let ms = |quantile: f64| micros_to_ms(histogram.value_at_quantile(quantile));
        if histogram.is_empty() {
            return LatencyStats {
                p50_ms: 0.0,
                p90_ms: 0.0,
                p99_ms: 0.0,
                max_ms: 0.0,
                count: 0,
            };
        }
        LatencyStats {
            p50_ms: ms(0.50),
            p90_ms: ms(0.90),
            p99_ms: ms(0.99),
            max_ms: micros_to_ms(histogram.max()),
            count: histogram.len(),
        }
    }
}

/// One line of `timeline.csv`.
#[derive(Debug, Clone, PartialEq)]
pub struct TimelineRow {
    pub second: u64,
    pub requests: u64,
    pub accepted: u64,
    pub finals: u64,
    pub errors: u64,
    /// `None` when no request other than a status poll completed in that second.
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
}

/// How often each kind of error was seen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErrorSample {
    pub reason: String,
    pub count: u64,
}

/// Counters of a whole run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Totals {
    pub accepted: u64,
    pub confirmed: u64,
    pub rejected: u64,
    pub expired: u64,
    pub refused: u64,
    pub refused_attempts: u64,
    pub lost: u64,
    pub abandoned: u64,
    pub errors: u64,
}

/// Per-step latency summaries of a whole run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Latencies {
    pub event_read: LatencyStats,
    pub booking_accept: LatencyStats,
    pub status_poll: LatencyStats,
    pub time_to_final: LatencyStats,
}

/// One second of the timeline.
struct Bucket {
    requests: u64,
    accepted: u64,
    finals: u64,
    errors: u64,
    /// Latencies of every response but status polls.
    latency: Histogram<u64>,
}

impl Bucket {
    fn new() -> Self {
        Bucket {
            requests: 0,
            accepted: 0,
            finals: 0,
            errors: 0,
            // Two significant figures are plenty for a per-second percentile and keep
            // one bucket small; a run holds one per second.
            latency: histogram(2),
        }
    }

    fn row(&self, second: u64) -> TimelineRow {
        let quantile = |q: f64| {
            (!self.latency.is_empty()).then(|| micros_to_ms(self.latency.value_at_quantile(q)))
        };
        TimelineRow {
            second,
            requests: self.requests,
            accepted: self.accepted,
            finals: self.finals,
            errors: self.errors,
            p50_ms: quantile(0.50),
            p99_ms: quantile(0.99),
        }
    }
}

/// Everything a run observed.
pub struct Recorder {
    totals: Totals,
    event_read: Histogram<u64>,
    booking_accept: Histogram<u64>,
    status_poll: Histogram<u64>,
    time_to_final: Histogram<u64>,
    seconds: Vec<Bucket>,
    error_samples: Vec<ErrorSample>,
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder {
            totals: Totals::default(),
            event_read: histogram(3),
            booking_accept: histogram(3),
            status_poll: histogram(3),
            time_to_final: histogram(3),
            seconds: Vec::new(),
            error_samples: Vec::new(),
        }
    }
}

impl Recorder {
    /// An HTTP response of any status arrived at `at`, `latency` after it was sent.
    pub fn response(&mut self, at: Duration, step: Step, latency: Duration) {
        let micros = duration_micros(latency);
        let histogram = match step {
            Step::EventRead => &mut self.event_read,
            Step::BookingAccept => &mut self.booking_accept,
            Step::StatusPoll => &mut self.status_poll,
        };
        histogram.saturating_record(micros);
        let bucket = self.bucket(at);
        bucket.requests += 1;
        // A long poll is held open on purpose until the booking is decided; its
        // latency measures the worker, not how fast the edge answers, so it stays
        // out of the per-second percentiles.
        if step != Step::StatusPoll {
            bucket.latency.saturating_record(micros);
        }
    }

    /// A booking was answered `202` at `at`.
    pub fn accepted(&mut self, at: Duration) {
        self.totals.accepted += 1;
        self.bucket(at).accepted += 1;
    }

    /// An `overloaded` refusal arrived; the fan may still retry.
    pub fn refused_attempt(&mut self) {
        self.totals.refused_attempts += 1;
    }

    /// Something other than an expected answer, at `at`.
    pub fn error(&mut self, at: Duration, reason: String) {
        self.totals.errors += 1;
        self.bucket(at).errors += 1;
        if let Some(sample) = self.error_samples.iter_mut().find(|s| s.reason == reason) {
            sample.count += 1;
        } else if self.error_samples.len() < MAX_ERROR_SAMPLES {
            self.error_samples.push(ErrorSample { reason, count: 1 });
        }
    }

    /// A virtual fan is done, at `at`.
    pub fn finished(&mut self, at: Duration, end: ClientEnd) {
        match end {
            ClientEnd::Final(status, waited) => {
                self.bucket(at).finals += 1;
                self.time_to_final
                    .saturating_record(duration_micros(waited));
                match status {
                    FinalStatus::Confirmed => self.totals.confirmed += 1,
                    FinalStatus::Rejected => self.totals.rejected += 1,
                    FinalStatus::Expired => self.totals.expired += 1,
                }
            }
            ClientEnd::Refused => self.totals.refused += 1,
            ClientEnd::Lost => self.totals.lost += 1,
            ClientEnd::Abandoned => self.totals.abandoned += 1,
        }
    }

    pub fn totals(&self) -> &Totals {
        &self.totals
    }

    pub fn error_samples(&self) -> &[ErrorSample] {
        &self.error_samples
    }

    pub fn latencies(&self) -> Latencies {
        Latencies {
            event_read: LatencyStats::of(&self.event_read),
            booking_accept: LatencyStats::of(&self.booking_accept),
            status_poll: LatencyStats::of(&self.status_poll),
            time_to_final: LatencyStats::of(&self.time_to_final),
        }
    }

    /// One row per whole second from the start, covering at least `duration`, with
    /// quiet seconds as rows of zeros so the timeline has no gaps.
    pub fn timeline(&self, duration: Duration) -> Vec<TimelineRow> {
        let covered = duration.as_secs_f64().ceil() as usize;
        let empty = Bucket::new();
        (0..self.seconds.len().max(covered))
            .map(|second| {
                let bucket = self.seconds.get(second).unwrap_or(&empty);
                bucket.row(second as u64)
            })
            .collect()
    }

    fn bucket(&mut self, at: Duration) -> &mut Bucket {
        let second = at.as_secs() as usize;
        if self.seconds.len() <= second {
            self.seconds.resize_with(second + 1, Bucket::new);
        }
        &mut self.seconds[second]
    }
}

fn histogram(significant_figures: u8) -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_MICROS, significant_figures)
        .expect("constant histogram bounds are valid")
}

fn duration_micros(duration: Duration) -> u64 {
    // A histogram cannot hold zero with a lowest value of 1; a sub-microsecond answer
    // counts as one microsecond.
    u64::try_from(duration.as_micros())
        .unwrap_or(u64::MAX)
        .max(1)
}

fn micros_to_ms(micros: u64) -> f64 {
    micros as f64 / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(millis: u64) -> Duration {
        Duration::from_millis(millis)
    }

    #[test]
    fn responses_land_in_the_second_they_completed() {
        let mut recorder = Recorder::default();
        recorder.response(ms(200), Step::EventRead, ms(10));
        recorder.response(ms(999), Step::BookingAccept, ms(30));
        recorder.response(ms(1000), Step::EventRead, ms(20));
        recorder.accepted(ms(999));
        recorder.error(ms(3500), "event_read: timeout".into());

        let rows = recorder.timeline(ms(3500));
        let requests: Vec<u64> = rows.iter().map(|r| r.requests).collect();
        assert_eq!(requests, [2, 1, 0, 0]);
        assert_eq!(rows[0].accepted, 1);
        assert_eq!(rows[1].accepted, 0);
        assert_eq!(rows[3].errors, 1);
        assert_eq!(rows[2].p50_ms, None);
    }

    #[test]
    fn the_timeline_covers_the_whole_run() {
        let mut recorder = Recorder::default();
        recorder.response(ms(100), Step::EventRead, ms(1));
        assert_eq!(recorder.timeline(ms(4200)).len(), 5);
        assert_eq!(recorder.timeline(ms(4000)).len(), 4);
        assert_eq!(recorder.timeline(Duration::ZERO).len(), 1);
    }

    #[test]
    fn status_polls_count_as_requests_but_not_in_percentiles() {
        let mut recorder = Recorder::default();
        recorder.response(ms(100), Step::EventRead, ms(5));
        recorder.response(ms(200), Step::StatusPoll, ms(25_000));
        recorder.response(ms(300), Step::StatusPoll, ms(25_000));

        let row = &recorder.timeline(ms(300))[0];
        assert_eq!(row.requests, 3);
        let p99 = row.p99_ms.unwrap();
        assert!((4.9..5.1).contains(&p99), "p99 {p99}");
        assert_eq!(recorder.latencies().status_poll.count, 2);
    }

    #[test]
    fn percentiles_follow_the_recorded_values() {
        let mut recorder = Recorder::default();
        for millis in 1..=100 {
            recorder.response(ms(0), Step::BookingAccept, ms(millis));
        }
        let stats = recorder.latencies().booking_accept;
        assert_eq!(stats.count, 100);
        let near = |value: f64, expected: f64| (value - expected).abs() <= expected * 0.001;
        assert!(near(stats.p50_ms, 50.0), "p50 {}", stats.p50_ms);
        assert!(near(stats.p90_ms, 90.0), "p90 {}", stats.p90_ms);
        assert!(near(stats.p99_ms, 99.0), "p99 {}", stats.p99_ms);
        assert!(near(stats.max_ms, 100.0), "max {}", stats.max_ms);
        assert_eq!(recorder.latencies().event_read.count, 0);
        assert_eq!(recorder.latencies().event_read.p99_ms, 0.0);
    }

    #[test]
    fn endings_are_counted_by_kind() {
        let mut recorder = Recorder::default();
        let confirmed = ClientEnd::Final(FinalStatus::Confirmed, ms(1500));
        recorder.finished(ms(2100), confirmed);
        recorder.finished(ms(2200), ClientEnd::Final(FinalStatus::Expired, ms(500)));
        recorder.finished(ms(2300), ClientEnd::Lost);
        recorder.finished(ms(2300), ClientEnd::Refused);

        let totals = recorder.totals();
        assert_eq!((totals.confirmed, totals.expired), (1, 1));
        assert_eq!((totals.lost, totals.refused, totals.rejected), (1, 1, 0));
        assert_eq!(recorder.timeline(ms(2300))[2].finals, 2);
        assert_eq!(recorder.latencies().time_to_final.count, 2);
    }

    #[test]
    fn error_samples_keep_the_first_distinct_reasons() {
        let mut recorder = Recorder::default();
        for n in 0..15 {
            recorder.error(ms(0), format!("event_read: {}", 500 + n));
        }
        recorder.error(ms(0), "event_read: 500".into());
        recorder.error(ms(0), "event_read: 514".into());

        let samples = recorder.error_samples();
        assert_eq!(samples.len(), MAX_ERROR_SAMPLES);
        assert_eq!(samples[0].reason, "event_read: 500");
        assert_eq!(samples[0].count, 2);
        assert_eq!(recorder.totals().errors, 17);
    }
}
