//! `bookings.status`: the current status record of one booking.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use http::{header, HeaderValue, Method, StatusCode};
use redis::AsyncCommands;
use serde::Deserialize;
use uuid::Uuid;

use super::record::{self, StatusRecord};
use crate::options::{self, OptionsError};
use crate::{json_response, Handler, HandlerError, HandlerResult, NativeRequest, Stores};

/// The handler takes no options yet; the empty struct makes any option an error.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct StatusOptions {}

struct BookingStatus {
    stores: Arc<Stores>,
}

pub(super) fn build(
    table: &toml::Table,
    stores: &Arc<Stores>,
) -> Result<Arc<dyn Handler>, OptionsError> {
    let _: StatusOptions = options::parse(table)?;
    Ok(Arc::new(BookingStatus {
        stores: stores.clone(),
    }))
}

/// Reads a booking id in its hyphenated form, any case.
fn booking_id(text: &str) -> Result<Uuid, HandlerError> {
    let invalid = || HandlerError::InvalidParameter {
        name: "id",
        message: format!("must be a booking id (a UUID), got {text:?}"),
    };
    if text.len() != 36 {
        return Err(invalid());
    }
    Uuid::try_parse(text).map_err(|_| invalid())
}

#[async_trait]
impl Handler for BookingStatus {
    async fn handle(&self, request: NativeRequest) -> HandlerResult {
        let raw = request.params.get("id").ok_or_else(|| {
            HandlerError::Internal("route for bookings.status has no {id} parameter".into())
        })?;
        let id = booking_id(raw)?;

        let mut redis = self.stores.redis().await?;
        let fields: HashMap<String, String> = self
            .stores
            .bounded("redis", async {
                Ok(redis.hgetall(record::key(&id)).await?)
            })
            .await?;
        let record =
            StatusRecord::from_fields(&id, fields).ok_or(HandlerError::NotFound("booking"))?;

        let mut response = json_response(StatusCode::OK, &record)?;
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        Ok(response)
    }

    fn methods(&self) -> &'static [Method] {
        &[Method::GET, Method::HEAD]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_hyphenated_uuids_are_booking_ids() {
        assert!(booking_id("6f1c2a9e-3b7d-4c1e-9a55-0d2f8e7b6a41").is_ok());
        assert!(booking_id("6F1C2A9E-3B7D-4C1E-9A55-0D2F8E7B6A41").is_ok());
        for bad in [
            "42",
            "6f1c2a9e3b7d4c1e9a550d2f8e7b6a41",
            "{6f1c2a9e-3b7d-4c1e-9a55-0d2f8e7b6a41}",
            "zzzzzzzz-3b7d-4c1e-9a55-0d2f8e7b6a41",
        ] {
            assert!(booking_id(bad).is_err(), "{bad}");
        }
    }
}
