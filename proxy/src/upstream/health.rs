//! Health of upstream addresses: the settings of the active check, the flag request
//! routing reads, and the rule that turns a run of probe results into "down" or "back".
//!
//! Sending the probes is [`super::checker`]'s job; picking an address is
//! [`super::Upstream`]'s. Everything here is plain state, so the rule is tested alone.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// How one upstream's addresses are checked (`health_check_*` keys in `routes.toml`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthCheck {
    /// `GET` this path and expect a `2xx` or `3xx`; `None`: a TCP connect is the check.
    pub path: Option<String>,
    /// Time between the starts of two probes of one address. Probes of one address
    /// never overlap: a slow one delays the next.
    pub interval: Duration,
    /// Longest a probe may take, connect included; over it the probe failed.
    pub timeout: Duration,
    /// Consecutive failed probes that take a healthy address out of rotation.
    pub unhealthy_after: u32,
    /// Consecutive passed probes that put an unhealthy address back.
    pub healthy_after: u32,
}

impl Default for HealthCheck {
    fn default() -> Self {
        HealthCheck {
            path: None,
            interval: Duration::from_secs(2),
            timeout: Duration::from_secs(1),
            unhealthy_after: 2,
            healthy_after: 1,
        }
    }
}

/// Whether one address takes traffic. Written by its probe task, read per request.
///
/// Every address starts healthy: until a check says otherwise, traffic flows, so a
/// fresh edge does not refuse requests while its first probes are under way.
#[derive(Debug)]
pub struct AddressHealth {
    healthy: AtomicBool,
}

impl AddressHealth {
    pub fn new() -> Self {
        AddressHealth {
            healthy: AtomicBool::new(true),
        }
    }

    pub fn is_healthy(&self) -> bool {
        // A stale read only sends one request to an address that just changed state.
        self.healthy.load(Ordering::Relaxed)
    }

    pub fn set(&self, healthy: bool) {
        self.healthy.store(healthy, Ordering::Relaxed);
    }
}

impl Default for AddressHealth {
    fn default() -> Self {
        Self::new()
    }
}

/// A state change worth telling the operator about, once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// `unhealthy_after` probes in a row failed.
    WentDown,
    /// `healthy_after` probes in a row passed after the address was down.
    CameBack,
}

/// Counts consecutive probe results of one address.
///
/// States: healthy (counting failures) and unhealthy (counting successes). A result
/// of the other kind resets the count, so one flap does not move an address.
#[derive(Debug, Clone)]
pub struct HealthTracker {
    healthy: bool,
    failures: u32,
    successes: u32,
    unhealthy_after: u32,
    healthy_after: u32,
}

impl HealthTracker {
    /// A tracker starting in `healthy`, with the thresholds of `check`.
    pub fn new(healthy: bool, check: &HealthCheck) -> Self {
        HealthTracker {
            healthy,
            failures: 0,
            successes: 0,
            unhealthy_after: check.unhealthy_after.max(1),
            healthy_after: check.healthy_after.max(1),
        }
    }

    pub fn is_healthy(&self) -> bool {
        self.healthy
    }

    /// Takes one probe result; says when it changed the address's state.
    pub fn record(&mut self, passed: bool) -> Option<Change> {
        if passed {
            self.failures = 0;
            self.successes = self.successes.saturating_add(1);
            if !self.healthy && self.successes >= self.healthy_after {
                self.healthy = true;
                return Some(Change::CameBack);
            }
        } else {
            self.successes = 0;
            self.failures = self.failures.saturating_add(1);
            if self.healthy && self.failures >= self.unhealthy_after {
                self.healthy = false;
                return Some(Change::WentDown);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `results` (`+` passed, `-` failed) and lists the changes, `.` for none.
    fn run(check: &HealthCheck, results: &str) -> String {
        let mut tracker = HealthTracker::new(true, check);
        results
            .chars()
            .map(|c| match tracker.record(c == '+') {
                Some(Change::WentDown) => 'D',
                Some(Change::CameBack) => 'U',
                None => '.',
            })
            .collect()
    }

    #[test]
    fn thresholds_decide_each_change_once() {
        let defaults = HealthCheck::default();
        let strict = HealthCheck {
            unhealthy_after: 1,
            healthy_after: 3,
            ..HealthCheck::default()
        };
        let cases = [
            (&defaults, "++++", "...."),
            (&defaults, "-+-+", "...."),
            (&defaults, "--", ".D"),
            (&defaults, "----+", ".D..U"),
            (&defaults, "--+--+", ".DU.DU"),
            (&strict, "-++-+++", "D.....U"),
            (&strict, "-+++-", "D..UD"),
        ];
        for (check, results, expected) in cases {
            assert_eq!(run(check, results), expected, "{results} with {check:?}");
        }
    }

    #[test]
    fn a_tracker_may_start_down() {
        let mut tracker = HealthTracker::new(false, &HealthCheck::default());
        assert!(!tracker.is_healthy());
        assert_eq!(tracker.record(false), None);
        assert_eq!(tracker.record(true), Some(Change::CameBack));
        assert!(tracker.is_healthy());
    }
}
