//! `catalog.show_event`: one event by the `{id}` path parameter.

use std::sync::Arc;

use async_trait::async_trait;
use http::{Method, StatusCode};
use serde::Deserialize;

use super::{event, positive_id};
use crate::options::{self, OptionsError};
use crate::{json_response, Handler, HandlerError, HandlerResult, NativeRequest, Stores};

/// The handler takes no options yet; the empty struct makes any option an error.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ShowEventOptions {}

struct ShowEvent {
    stores: Arc<Stores>,
}

pub(super) fn build(
    table: &toml::Table,
    stores: &Arc<Stores>,
) -> Result<Arc<dyn Handler>, OptionsError> {
    let _: ShowEventOptions = options::parse(table)?;
    Ok(Arc::new(ShowEvent {
        stores: stores.clone(),
    }))
}

#[async_trait]
impl Handler for ShowEvent {
    async fn handle(&self, request: NativeRequest) -> HandlerResult {
        let raw = request.params.get("id").ok_or_else(|| {
            HandlerError::Internal("route for catalog.show_event has no {id} parameter".into())
        })?;
        let id = positive_id("id", raw)?;

        let pool = self.stores.database().await;
        let found = self
            .stores
            .bounded("postgresql", async { Ok(event::find(pool, id).await?) })
            .await?;
        let event = found.ok_or(HandlerError::NotFound("event"))?;
        json_response(StatusCode::OK, &event)
    }

    fn methods(&self) -> &'static [Method] {
        &[Method::GET, Method::HEAD]
    }
}
