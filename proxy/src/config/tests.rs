//! Loading route files: what is accepted, and what is refused with which position.

use std::path::Path;

use switchyard_handlers::Registry;

use super::{from_source, ConfigError};

const HEAD: &str = r#"
[server]
listen = "127.0.0.1:8080"
default_upstream = "legacy"

[upstreams.legacy]
addresses = ["127.0.0.1:3000"]
"#;

fn load(body: &str) -> Result<super::Config, ConfigError> {
    let source = format!("{HEAD}{body}");
    from_source(Path::new("routes.toml"), &source, &Registry::standard())
}

/// The single diagnostic of a refused file, as `line:column: message`.
fn refusal(body: &str) -> String {
    match load(body) {
        Ok(_) => panic!("accepted:\n{body}"),
        Err(ConfigError::Invalid(found)) => {
            let first = &found[0];
            format!(
                "{}:{}: {}",
                first.location.line, first.location.column, first.message
            )
        }
        Err(other) => panic!("unexpected error {other}"),
    }
}

#[test]
fn the_shipped_route_file_loads() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../routes.toml");
    let config = super::load(&path, &Registry::standard()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.table.routes().len(), 5);
    assert_eq!(config.handler_names().len(), 4);
}

#[test]
fn a_minimal_file_gets_defaults() {
    let config = load("").unwrap();
    assert_eq!(config.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(config.default_upstream.name, "legacy");
    assert!(config.table.routes().is_empty());
    let stores = config.stores.settings();
    assert_eq!(stores.redis_url, "redis://127.0.0.1:6379/0");
}

#[test]
fn native_routes_take_their_handlers_methods_by_default() {
    let config =
        load("[[routes]]\npath = \"/api/events/{id}\"\nhandler = \"catalog.show_event\"\n")
            .unwrap();
    let route = &config.table.routes()[0];
    let methods: Vec<&str> = route
        .methods
        .as_ref()
        .unwrap()
        .iter()
        .map(|m| m.as_str())
        .collect();
    assert_eq!(methods, ["GET", "HEAD"]);
    assert_eq!(route.name, "/api/events/{id}");
}

#[test]
fn refusals_point_at_the_problem() {
    // HEAD has 7 lines (it starts with a newline), so the body starts on line 8.
    let cases: &[(&str, &str)] = &[
        ("[[routes]]\npath = \"/x\"\nupstrem = \"legacy\"\n", "10:1: unknown field `upstrem`"),
        ("[[routes]]\npath = \"/x\"\nhandler = \"catalog.lst\"\n", "10:11: unknown handler `catalog.lst`"),
        ("[[routes]]\npath = \"/x\"\nupstream = \"nope\"\n", "10:12: unknown upstream `nope` (defined: legacy)"),
        ("[[routes]]\npath = \"x\"\nupstream = \"legacy\"\n", "9:8: path pattern \"x\" must start with /"),
        ("[[routes]]\npath = \"/a/{id\"\nupstream = \"legacy\"\n", "9:8: path pattern"),
        ("[[routes]]\npath = \"${NOPE_NOT_SET}\"\nupstream = \"legacy\"\n", "9:8: environment variable NOPE_NOT_SET is not set"),
        ("[[routes]]\npath = \"/x\"\n", "9:8: a route needs"),
        ("[[routes]]\npath = \"/x\"\nhandler = \"catalog.show_event\"\nupstream = \"legacy\"\n", "11:12: a route has either"),
        ("[[routes]]\npath = \"/x\"\nupstream = \"legacy\"\nmethods = [\"GE T\"]\n", "11:12: invalid method"),
        ("[[routes]]\npath = \"/x\"\nupstream = \"legacy\"\nhost = \"a b\"\n", "11:8: host \"a b\""),
        (
            "[[routes]]\npath = \"/api/bookings\"\nhandler = \"bookings.create\"\nmethods = [\"GET\"]\n",
            "11:12: handler `bookings.create` answers POST; it cannot take GET",
        ),
        (
            "[[routes]]\npath = \"/b\"\nhandler = \"bookings.create\"\n[routes.options]\nquue = \"x\"\n",
            "11:1: options of `bookings.create`: unknown field `quue`",
        ),
        ("[[routes]]\npath = \"/b\"\nupstream = \"legacy\"\n[routes.options]\nx = 1\n", "11:1: options are for native handlers"),
        (
            "[[routes]]\npath = \"/e/{id}\"\nupstream = \"legacy\"\n[[routes]]\npath = \"/e/{event}\"\nupstream = \"legacy\"\n",
            "12:8: duplicate route: `/e/{event}` takes the same requests as the route at line 9",
        ),
        ("[upstreams.slow]\naddresses = [\"127.0.0.1:1\"]\nread_timeout = \"soon\"\n", "10:16: invalid duration \"soon\""),
        ("[upstreams.none]\naddresses = [\"not an address\"]\n", "9:14: upstream address \"not an address\""),
        ("[upstreams.up]\naddresses = [\"127.0.0.1:1\"]\nhealth_check_path = \"up now\"\n", "10:21: health_check_path \"up now\" must start with /"),
        ("[upstreams.up]\naddresses = [\"127.0.0.1:1\"]\nunhealthy_after = 0\n", "10:19: a count of health checks must be at least 1"),
        ("[upstreams.up]\naddresses = [\"127.0.0.1:1\"]\nhealth_check_interval = \"0s\"\n", "10:25: a duration must be longer than zero"),
        ("[stores]\nredis_url = \"http://x\"\n", "8:1: redis_url"),
        ("[admin]\nlisten = \"127.0.0.1:8080\"\n", "9:10: admin.listen must differ from server.listen"),
        (
            "[[routes]]\npath = \"/e/{id}\"\nhandler = \"catalog.show_event\"\nread_timeout = \"1s\"\n",
            "11:16: timeouts are for pass-through routes",
        ),
        ("[[routes]]\npath = \"/x\"\nupstream = \"legacy\"\nmethods = []\n", "11:11: methods must list at least one method"),
        (
            "[[routes]]\npath = \"/events/x\"\nhandler = \"catalog.show_event\"\n",
            "9:8: handler `catalog.show_event` reads {id} from the path",
        ),
        (
            "[[routes]]\nname = \"a\"\npath = \"/x\"\nupstream = \"legacy\"\n[[routes]]\nname = \"a\"\npath = \"/y\"\nupstream = \"legacy\"\n",
            "13:8: route name `a` is already used",
        ),
    ];
    for (body, expected) in cases {
        let got = refusal(body);
        assert!(
            got.starts_with(expected),
            "for:\n{body}\nexpected {expected}\n     got {got}"
        );
    }
}

#[test]
fn health_check_keys_are_read_with_defaults() {
    let body = "[upstreams.checked]\naddresses = [\"127.0.0.1:3001\", \"127.0.0.1:3002\"]\n\
                health_check_path = \"/up\"\nhealth_check_interval = \"100ms\"\n\
                health_check_timeout = \"50ms\"\nunhealthy_after = 3\nhealthy_after = 2\n";
    let config = load(body).unwrap();
    let check = config.upstreams["checked"].health_check();
    assert_eq!(check.path.as_deref(), Some("/up"));
    assert_eq!(check.interval, std::time::Duration::from_millis(100));
    assert_eq!(check.timeout, std::time::Duration::from_millis(50));
    assert_eq!((check.unhealthy_after, check.healthy_after), (3, 2));

    let defaults = config.upstreams["legacy"].health_check();
    assert_eq!(*defaults, crate::upstream::HealthCheck::default());
}

#[test]
fn a_broken_upstream_is_reported_once() {
    let body = "[upstreams.broken]\naddresses = [\"nowhere\"]\n[[routes]]\npath = \"/x\"\nupstream = \"broken\"\n";
    let Err(ConfigError::Invalid(found)) = load(body) else {
        panic!("accepted")
    };
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].message.starts_with("upstream address \"nowhere\""));
}

#[test]
fn routes_that_differ_in_method_or_host_are_not_duplicates() {
    let body = "[[routes]]\npath = \"/e\"\nupstream = \"legacy\"\nmethods = [\"GET\"]\n\
                [[routes]]\npath = \"/e\"\nupstream = \"legacy\"\nmethods = [\"POST\"]\n\
                [[routes]]\npath = \"/e\"\nupstream = \"legacy\"\nhost = \"a.example.com\"\n";
    assert!(load(body).is_ok());
}

#[test]
fn every_problem_is_reported_at_once() {
    let body = "[[routes]]\npath = \"x\"\nupstream = \"nope\"\n[[routes]]\npath = \"/y\"\nhandler = \"no.such\"\n";
    let Err(ConfigError::Invalid(found)) = load(body) else {
        panic!("accepted")
    };
    assert_eq!(found.len(), 3, "{found:?}");
}

#[test]
fn environment_defaults_fill_values() {
    let body = "[[routes]]\npath = \"${SWITCHYARD_TEST_UNSET_PATH:-/from-default}\"\nupstream = \"legacy\"\n";
    let config = load(body).unwrap();
    assert_eq!(config.table.routes()[0].pattern.as_str(), "/from-default");
}
