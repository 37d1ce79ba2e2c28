//! Bookings: accepted at the edge, run by the legacy app's Sidekiq worker.
//!
//! `bookings.create` validates a request, enqueues a `BookingJob` exactly as the worker
//! expects it and answers `202` at once; `bookings.status` reads the status record the
//! worker keeps up to date. The shapes on the wire live in [`job`] and [`record`].

mod create;
pub mod job;
mod queue;
pub mod record;
mod status;
pub mod updates;
mod validate;

use crate::RegistryEntry;

pub(crate) fn create_entry() -> RegistryEntry {
    RegistryEntry {
        build: create::build,
        columns: &[],
        params: &[],
    }
}

pub(crate) fn status_entry() -> RegistryEntry {
    RegistryEntry {
        build: status::build,
        columns: &[],
        params: &["id"],
    }
}
