//! `catalog.list_events`: events in `starts_at`, `id` order, a page at a time.
//!
//! `?limit=` sets the page size and `?after=<id>` continues after that event (keyset
//! paging: stable while events are added, and cheap at any depth). A full page carries
//! a `Link: <...>; rel="next"` header with the next page's address.

use std::sync::Arc;

use async_trait::async_trait;
use http::{header, HeaderValue, Method, StatusCode};
use serde::Deserialize;

use super::{event, positive_id, Event};
use crate::options::{self, OptionsError};
use crate::{json_response, Handler, HandlerError, HandlerResult, NativeRequest, Stores};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct ListEventsOptions {
    /// Page size when the client gives no `limit`.
    default_limit: i64,
    /// Largest `limit` a client may ask for.
    max_limit: i64,
}

impl Default for ListEventsOptions {
    fn default() -> Self {
        ListEventsOptions {
            default_limit: 50,
            max_limit: 200,
        }
    }
}

struct ListEvents {
    options: ListEventsOptions,
    stores: Arc<Stores>,
}

pub(super) fn build(
    table: &toml::Table,
    stores: &Arc<Stores>,
) -> Result<Arc<dyn Handler>, OptionsError> {
    let options: ListEventsOptions = options::parse(table)?;
    if options.max_limit < 1 || !(1..=options.max_limit).contains(&options.default_limit) {
        return Err(OptionsError(
            "default_limit and max_limit must be positive, with default_limit <= max_limit".into(),
        ));
    }
    Ok(Arc::new(ListEvents {
        options,
        stores: stores.clone(),
    }))
}

impl ListEvents {
    fn limit(&self, request: &NativeRequest) -> Result<i64, HandlerError> {
        let Some(text) = request.query_param("limit") else {
            return Ok(self.options.default_limit);
        };
        match text.parse::<i64>() {
            Ok(limit) if (1..=self.options.max_limit).contains(&limit) => Ok(limit),
            _ => Err(HandlerError::InvalidParameter {
                name: "limit",
                message: format!(
                    "must be an integer from 1 to {}, got {text:?}",
                    self.options.max_limit
                ),
            }),
        }
    }
}

#[async_trait]
impl Handler for ListEvents {
    async fn handle(&self, request: NativeRequest) -> HandlerResult {
        let limit = self.limit(&request)?;
        let after = match request.query_param("after") {
            Some(text) => Some(positive_id("after", &text)?),
            None => None,
        };

        let pool = self.stores.database().await;
        let page = self
            .stores
            .bounded("postgresql", async {
                Ok(event::page(pool, after, limit).await?)
            })
            .await?;
        let events = page.ok_or_else(|| HandlerError::InvalidParameter {
            name: "after",
            message: "no event with that id to continue after".into(),
        })?;

        let mut response = json_response(StatusCode::OK, &events)?;
        if let Some(link) = next_link(request.uri.path(), &events, limit) {
            response.headers_mut().insert(header::LINK, link);
        }
        Ok(response)
    }

    fn methods(&self) -> &'static [Method] {
        &[Method::GET, Method::HEAD]
    }
}

/// The `Link` to the next page, when this page is full.
fn next_link(path: &str, events: &[Event], limit: i64) -> Option<HeaderValue> {
    if (events.len() as i64) < limit {
        return None;
    }
    let last = events.last()?;
    HeaderValue::from_str(&format!(
        "<{path}?limit={limit}&after={}>; rel=\"next\"",
        last.id
    ))
    .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: i64) -> Event {
        Event {
            id,
            name: format!("event {id}"),
            starts_at: None,
            seats_total: 10,
            seats_available: 10,
        }
    }

    #[test]
    fn a_full_page_links_to_the_next() {
        let link = next_link("/api/events", &[event(3), event(7)], 2).unwrap();
        assert_eq!(link, "</api/events?limit=2&after=7>; rel=\"next\"");
        assert!(next_link("/api/events", &[event(3)], 2).is_none());
    }

    #[test]
    fn limits_outside_the_range_are_refused() {
        let table = toml::Table::new();
        let stores = crate::stores::test_stores();
        let handler = ListEvents {
            options: options::parse(&table).unwrap(),
            stores,
        };
        let with = |query: &str| {
            let uri = format!("/api/events{query}").parse().unwrap();
            handler.limit(&NativeRequest::new(Method::GET, uri))
        };
        assert_eq!(with("").unwrap(), 50);
        assert_eq!(with("?limit=200").unwrap(), 200);
        for bad in ["?limit=0", "?limit=201", "?limit=x", "?limit=-3"] {
            assert!(with(bad).is_err(), "{bad}");
        }
    }
}
