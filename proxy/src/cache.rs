//! The micro-cache of hot native reads: a rendered response kept for a route's
//! `cache_ttl` (a second or two), with request coalescing.
//!
//! When many requests for one key arrive together and nothing fresh is cached, the
//! first runs the handler and the rest wait for its answer: one query serves them all.
//! Only `200` responses are kept; anything else goes back to its own request and the
//! next one tries again.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use tokio::sync::OnceCell;

/// Most keys held per route; past it, stale entries are dropped before a new one.
const MAX_ENTRIES: usize = 10_000;

/// A response as it is kept.
#[derive(Debug, Clone)]
pub struct Cached {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// When it was rendered.
    pub stored: Instant,
}

/// How a lookup was answered, for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    /// A fresh entry was there.
    Hit,
    /// This request rendered the entry.
    Miss,
    /// Another request was rendering it; this one waited for that answer.
    Coalesced,
}

impl Lookup {
    pub fn as_str(self) -> &'static str {
        match self {
            Lookup::Hit => "hit",
            Lookup::Miss => "miss",
            Lookup::Coalesced => "coalesced",
        }
    }
}

type Slot = Arc<OnceCell<Cached>>;

/// One route's cache.
pub struct MicroCache {
    ttl: Duration,
    slots: Mutex<HashMap<String, Slot>>,
}

impl std::fmt::Debug for MicroCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MicroCache({:?})", self.ttl)
    }
}

impl MicroCache {
    pub fn new(ttl: Duration) -> Self {
        MicroCache {
            ttl,
            slots: Mutex::new(HashMap::new()),
        }
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// The cached answer for `key`, or the one `render` gives. `render` answers `Ok`
    /// with a response worth keeping, `Err` with one that only its own caller gets.
    pub async fn get_or_render<E, F, Fut>(
        &self,
        key: &str,
        render: F,
    ) -> (Result<Cached, E>, Lookup)
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Cached, E>>,
    {
        let slot = self.slot(key);
        if let Some(cached) = slot.get() {
            return (Ok(cached.clone()), Lookup::Hit);
        }

        let mut rendered_here = false;
        let result = slot
            .get_or_try_init(|| {
                rendered_here = true;
                render()
            })
            .await
            .cloned();
        let lookup = if rendered_here {
            Lookup::Miss
        } else {
            Lookup::Coalesced
        };
        (result, lookup)
    }

    /// The slot for `key`: the current one while it is fresh or still being filled,
    /// otherwise a new, empty one.
    fn slot(&self, key: &str) -> Slot {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        let fresh = |slot: &Slot| slot.get().is_none_or(|c| c.stored.elapsed() < self.ttl);
        if let Some(slot) = slots.get(key).filter(|slot| fresh(slot)) {
            return slot.clone();
        }
        if slots.len() >= MAX_ENTRIES {
            slots.retain(|_, slot| fresh(slot));
        }
        let slot: Slot = Arc::new(OnceCell::new());
        slots.insert(key.to_owned(), slot.clone());
        slot
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    fn ok(body: &'static str) -> Result<Cached, ()> {
        Ok(Cached {
            status: StatusCode::OK,
            headers: HeaderMap::new(),
            body: Bytes::from_static(body.as_bytes()),
            stored: Instant::now(),
        })
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_misses_render_once() {
        let cache = Arc::new(MicroCache::new(Duration::from_secs(5)));
        let renders = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..100 {
            let (cache, renders) = (cache.clone(), renders.clone());
            tasks.push(tokio::spawn(async move {
                let render = || async {
                    renders.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    ok("event")
                };
                cache.get_or_render("/api/events/1", render).await
            }));
        }
        let mut lookups = Vec::new();
        for task in tasks {
            let (result, lookup) = task.await.unwrap();
            assert_eq!(result.unwrap().body, "event");
            lookups.push(lookup);
        }
        assert_eq!(renders.load(Ordering::SeqCst), 1);
        assert_eq!(lookups.iter().filter(|l| **l == Lookup::Miss).count(), 1);
    }

    #[tokio::test]
    async fn entries_expire_and_keys_are_separate() {
        let cache = MicroCache::new(Duration::from_millis(50));
        let (_, first) = cache.get_or_render("a", || async { ok("1") }).await;
        let (hit, second) = cache.get_or_render("a", || async { ok("2") }).await;
        assert_eq!((first, second), (Lookup::Miss, Lookup::Hit));
        assert_eq!(hit.unwrap().body, "1");

        let (other, lookup) = cache.get_or_render("b", || async { ok("b") }).await;
        assert_eq!(
            (other.unwrap().body, lookup),
            (Bytes::from_static(b"b"), Lookup::Miss)
        );

        tokio::time::sleep(Duration::from_millis(80)).await;
        let (renewed, lookup) = cache.get_or_render("a", || async { ok("3") }).await;
        assert_eq!(
            (renewed.unwrap().body, lookup),
            (Bytes::from_static(b"3"), Lookup::Miss)
        );
    }

    #[tokio::test]
    async fn answers_not_worth_keeping_are_not_kept() {
        let cache = MicroCache::new(Duration::from_secs(5));
        let (failed, _) = cache
            .get_or_render("a", || async { Err::<Cached, _>("404") })
            .await;
        assert_eq!(failed.unwrap_err(), "404");
        let (kept, lookup) = cache.get_or_render("a", || async { ok("200") }).await;
        assert_eq!(
            (kept.unwrap().body, lookup),
            (Bytes::from_static(b"200"), Lookup::Miss)
        );
    }
}
