//! Switchyard's native handlers: the routes the edge answers in Rust instead of passing
//! them to the legacy app, and the Sidekiq-compatible job queue behind bookings.
//!
//! Everything here speaks the `http` crate's types and knows nothing of Pingora, so a
//! handler can be built and tested alone. The edge owns matching, body reading, headers
//! such as `X-Request-Id`, and the access log; a handler owns its options, its validation
//! and its use of the stores.
//!
//! A route names a handler by its registered name (`catalog.show_event`); the
//! [`Registry`] turns that name and the route's options into a ready [`Handler`].

mod body;
pub mod bookings;
pub mod catalog;
mod error;
mod handler;
mod options;
mod registry;
mod request;
mod response;
pub mod schema;
mod stores;
pub mod worker;

pub use body::Body;
pub use error::{HandlerError, Problem};
pub use handler::{Gauge, Handler, HandlerResult};
pub use options::OptionsError;
pub use registry::{Registry, RegistryEntry};
pub use request::{NativeRequest, PathParams};
pub use response::{json_response, problem_response};
pub use stores::{StoreSettings, Stores};
