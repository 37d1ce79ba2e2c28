//! Per-route rate limits, keyed by client address.
//!
//! Each limited route has its own token bucket per client: `requests` per `per`,
//! with bursts up to `burst`. A client over its limit gets `429` with `Retry-After`
//! and the route's handler or upstream never sees the request.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};

/// A route's rate limit.
pub struct RateLimit {
    limiter: RateLimiter<IpAddr, DefaultKeyedStateStore<IpAddr>, DefaultClock>,
    clock: DefaultClock,
}

impl std::fmt::Debug for RateLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RateLimit")
    }
}

impl RateLimit {
    /// `requests` per `per` for each client, with bursts of `burst` (at least 1).
    pub fn new(requests: NonZeroU32, per: Duration, burst: NonZeroU32) -> Option<Self> {
        let period = per.checked_div(requests.get())?;
        let quota = Quota::with_period(period)?.allow_burst(burst);
        Some(RateLimit {
            limiter: RateLimiter::keyed(quota),
            clock: DefaultClock::default(),
        })
    }

    /// `Ok` when `client` may go on; otherwise how long it should wait.
    pub fn check(&self, client: IpAddr) -> Result<(), Duration> {
        // Keyed state grows with distinct clients; drop the ones that are full again.
        if self.limiter.len() > 100_000 {
            self.limiter.retain_recent();
        }
        self.limiter
            .check_key(&client)
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(requests: u32, per: Duration, burst: u32) -> RateLimit {
        let n = |v| NonZeroU32::new(v).unwrap();
        RateLimit::new(n(requests), per, n(burst)).unwrap()
    }

    #[test]
    fn a_burst_passes_and_the_next_request_waits() {
        let limit = limit(1, Duration::from_secs(60), 3);
        let client: IpAddr = "192.0.2.1".parse().unwrap();
        for _ in 0..3 {
            assert!(limit.check(client).is_ok());
        }
        let wait = limit.check(client).unwrap_err();
        assert!(wait > Duration::from_secs(50), "{wait:?}");
    }

    #[test]
    fn clients_have_buckets_of_their_own() {
        let limit = limit(1, Duration::from_secs(60), 1);
        assert!(limit.check("192.0.2.1".parse().unwrap()).is_ok());
        assert!(limit.check("192.0.2.2".parse().unwrap()).is_ok());
        assert!(limit.check("192.0.2.1".parse().unwrap()).is_err());
    }
}
