//! The one registry of native handlers: name to constructor.
//!
//! A route refers to a handler by name; adding a native endpoint means adding an entry
//! here and a route in `routes.toml`.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::schema::Column;
use crate::{bookings, catalog, Handler, OptionsError, Stores};

/// Builds a handler from a route's options and the shared stores.
pub type Build = fn(&toml::Table, &Arc<Stores>) -> Result<Arc<dyn Handler>, OptionsError>;

/// One registered handler.
pub struct RegistryEntry {
    /// Builds an instance for one route.
    pub build: Build,
    /// Database columns the handler reads, checked at start-up.
    pub columns: &'static [Column],
    /// Path parameters the handler reads; its route's pattern must capture them.
    pub params: &'static [&'static str],
}

/// The handlers a route table may name.
pub struct Registry {
    entries: BTreeMap<&'static str, RegistryEntry>,
}

impl Registry {
    /// Every handler Switchyard ships.
    pub fn standard() -> Self {
        let mut entries = BTreeMap::new();
        entries.insert("catalog.list_events", catalog::list_events_entry());
        entries.insert("catalog.show_event", catalog::show_event_entry());
        entries.insert("bookings.create", bookings::create_entry());
        entries.insert("bookings.status", bookings::status_entry());
        Registry { entries }
    }

    /// The entry registered as `name`.
    pub fn get(&self, name: &str) -> Option<&RegistryEntry> {
        self.entries.get(name)
    }

    /// All registered names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.entries.keys().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stores::test_stores;

    #[test]
    fn every_handler_builds_with_default_options() {
        let registry = Registry::standard();
        let stores = test_stores();
        for name in registry.names() {
            let entry = registry.get(name).unwrap();
            let handler = (entry.build)(&toml::Table::new(), &stores);
            assert!(handler.is_ok(), "{name}: {:?}", handler.err());
        }
    }

    #[test]
    fn unknown_options_are_refused_by_every_handler() {
        let registry = Registry::standard();
        let stores = test_stores();
        let options: toml::Table = toml::from_str("no_such_option = 1").unwrap();
        for name in registry.names() {
            let built = (registry.get(name).unwrap().build)(&options, &stores);
            assert!(built.is_err(), "{name} accepted an unknown option");
        }
    }
}
