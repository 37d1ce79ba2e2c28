//! `switchyard check` as operators and CI pipelines use it: the shipped file passes,
//! and each kind of mistake fails with `file:line:column` and what is wrong.

use switchyard_tests::{binary_path, run_check, run_check_env};

fn write_routes(dir: &tempfile::TempDir, name: &str, text: &str) -> String {
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    path.to_string_lossy().into_owned()
}

const VALID: &str = r#"
[server]
default_upstream = "legacy"

[upstreams.legacy]
addresses = ["127.0.0.1:3000"]

[[routes]]
path = "/api/events/{id}"
handler = "catalog.show_event"
"#;

#[test]
fn the_shipped_route_file_passes() {
    let output = run_check(&["routes.toml"]);
    assert_eq!(output.code, 0, "{}{}", output.stdout, output.stderr);
    assert_eq!(output.stdout.lines().count(), 1, "{}", output.stdout);
    assert!(
        output.stdout.starts_with(
            "routes.toml: ok: 5 routes (4 native, 1 upstream), 1 upstreams, 4 handlers"
        ),
        "{}",
        output.stdout
    );
}

#[test]
fn the_default_file_is_routes_toml() {
    let output = run_check(&[]);
    assert_eq!(output.code, 0, "{}", output.stderr);
    assert!(output.stdout.starts_with("routes.toml: ok"));
}

#[test]
fn each_mistake_is_reported_with_its_position() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("unknown_key", VALID.replace("path = ", "paht = "), ":9:1: unknown field `paht`"),
        ("unknown_handler", VALID.replace("catalog.show_event", "catalog.shw_event"), ":10:11: unknown handler `catalog.shw_event`"),
        ("unknown_upstream", VALID.replace("default_upstream = \"legacy\"", "default_upstream = \"rails\""), ":3:20: unknown upstream `rails`"),
        ("bad_pattern", VALID.replace("/api/events/{id}", "/api/events/{id"), ":9:8: path pattern"),
        ("duplicate", format!("{VALID}\n[[routes]]\npath = \"/api/events/{{id}}\"\nhandler = \"catalog.show_event\"\n"), ":13:8: duplicate route"),
        ("missing_env", VALID.replace("127.0.0.1:3000", "${SWITCHYARD_CHECK_TEST_UNSET}"), ":6:14: environment variable SWITCHYARD_CHECK_TEST_UNSET is not set"),
        ("not_toml", "[server\n".to_owned(), ":1:8:"),
    ];
    for (name, text, expected) in cases {
        let file = write_routes(&dir, &format!("{name}.toml"), &text);
        let output = run_check(&[&file]);
        assert_ne!(output.code, 0, "{name} passed");
        assert!(output.stdout.is_empty(), "{name}: {}", output.stdout);
        let wanted = format!("{file}{expected}");
        assert!(
            output.stderr.starts_with(&wanted),
            "{name}: expected {wanted}\ngot {}",
            output.stderr
        );
    }
}

#[test]
fn environment_variables_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_routes(
        &dir,
        "env.toml",
        &VALID.replace("127.0.0.1:3000", "${SWITCHYARD_CHECK_TEST_UP}"),
    );
    let output = run_check_env(&[&file], &[("SWITCHYARD_CHECK_TEST_UP", "127.0.0.1:4000")]);
    assert_eq!(output.code, 0, "{}", output.stderr);
}

#[test]
fn a_missing_file_is_an_error() {
    let output = run_check(&["/nonexistent/routes.toml"]);
    assert_ne!(output.code, 0);
    assert!(
        output
            .stderr
            .contains("/nonexistent/routes.toml: cannot read"),
        "{}",
        output.stderr
    );
}

#[test]
fn help_says_what_each_command_does() {
    let help = |args: &[&str]| {
        let output = std::process::Command::new(binary_path())
            .args(args)
            .output()
            .unwrap();
        assert!(output.status.success(), "{args:?}");
        String::from_utf8(output.stdout).unwrap()
    };
    let top = help(&["--help"]);
    assert!(top.contains("run") && top.contains("check"), "{top}");
    assert!(help(&["run", "--help"]).contains("--routes"));
    assert!(help(&["run", "--help"]).contains("--listen"));
    assert!(help(&["check", "--help"]).contains("Check a route file"));
}

/// Appended to [`VALID`]: two routes on one path for a wildcard host and an exact
/// host. The exact host wins wherever both match, wherever it is in the file. The
/// second `path` is at line 18, column 8; the first at line 13.
const HOSTS: &str = r#"
[[routes]]
path = "/shop/*"
host = "*.example.com"
upstream = "legacy"

[[routes]]
path = "/shop/*"
host = "api.example.com"
upstream = "legacy"
"#;

/// `switchyard check --format json FILE`, its exit code and its stdout parsed.
fn check_json(file: &str) -> (i32, serde_json::Value) {
    let output = run_check(&["--format", "json", file]);
    assert_eq!(output.stdout.lines().count(), 1, "{}", output.stdout);
    let json = serde_json::from_str(&output.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", output.stdout));
    (output.code, json)
}

#[test]
fn a_wildcard_host_route_overlapping_an_exact_one_passes_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_routes(&dir, "hosts.toml", &format!("{VALID}{HOSTS}"));
    let output = run_check(&[&file]);
    assert_eq!(output.code, 0, "{}", output.stderr);
    assert!(
        output.stdout.starts_with(&format!("{file}: ok: 3 routes")),
        "{}",
        output.stdout
    );
    assert_eq!(
        output.stderr,
        format!(
            "{file}:13:8: warning: `/shop/*` on host *.example.com overlaps `/shop/*` on host \
             api.example.com at line 18 (both take `/shop` on host api.example.com); line 18 \
             wins by precedence\n"
        )
    );
}

#[test]
fn overlapping_routes_warn_naming_the_winner() {
    let dir = tempfile::tempdir().unwrap();
    let extra = "\n[[routes]]\npath = \"/api/{kind}/7\"\nupstream = \"legacy\"\n";
    let file = write_routes(&dir, "overlap.toml", &format!("{VALID}{extra}"));
    let output = run_check(&[&file]);
    assert_eq!(output.code, 0, "{}", output.stderr);
    assert_eq!(
        output.stderr,
        format!(
            "{file}:13:8: warning: `/api/{{kind}}/7` overlaps `/api/events/{{id}}` at line 9 \
             (both take `GET /api/events/7`); line 9 wins by precedence\n"
        )
    );
}

#[test]
fn the_shipped_route_file_has_no_warnings() {
    let output = run_check(&["routes.toml"]);
    assert_eq!(output.code, 0, "{}", output.stderr);
    assert_eq!(output.stderr, "");
    let (_, json) = check_json("routes.toml");
    assert_eq!(json["warnings"], serde_json::json!([]), "{json}");
}

#[test]
fn json_on_the_shipped_file_says_ok_with_the_summary() {
    let (code, json) = check_json("routes.toml");
    assert_eq!(code, 0, "{json}");
    assert_eq!(json["file"], "routes.toml");
    assert_eq!(json["ok"], true);
    assert_eq!(json["errors"], serde_json::json!([]));
    let summary = &json["summary"];
    assert_eq!(
        (
            &summary["routes"],
            &summary["native_routes"],
            &summary["upstream_routes"],
            &summary["upstreams"]
        ),
        (
            &serde_json::json!(5),
            &serde_json::json!(4),
            &serde_json::json!(1),
            &serde_json::json!(1)
        ),
        "{summary}"
    );
    assert_eq!(
        summary["handlers"],
        serde_json::json!([
            "bookings.create",
            "bookings.status",
            "catalog.list_events",
            "catalog.show_event"
        ])
    );
}

#[test]
fn json_on_a_broken_file_lists_errors_with_positions() {
    let dir = tempfile::tempdir().unwrap();
    let text = VALID.replace("catalog.show_event", "catalog.shw_event");
    let file = write_routes(&dir, "broken.toml", &text);
    let (code, json) = check_json(&file);
    assert_eq!(code, 1, "{json}");
    assert_eq!(json["ok"], false);
    assert!(json.get("summary").is_none(), "{json}");
    let error = &json["errors"][0];
    assert_eq!((&error["line"], &error["column"]), (&10.into(), &11.into()));
    let message = error["message"].as_str().unwrap();
    assert!(
        message.starts_with("unknown handler `catalog.shw_event`"),
        "{message}"
    );
}

#[test]
fn json_on_overlapping_routes_gives_an_overlap_warning() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_routes(&dir, "hosts.toml", &format!("{VALID}{HOSTS}"));
    let (code, json) = check_json(&file);
    assert_eq!(code, 0, "{json}");
    assert_eq!(json["ok"], true);
    let warnings = json["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 1, "{json}");
    assert_eq!(warnings[0]["kind"], "overlap");
    assert_eq!(
        (&warnings[0]["line"], &warnings[0]["column"]),
        (&13.into(), &8.into())
    );
}

#[test]
fn help_documents_the_output_formats() {
    let output = std::process::Command::new(binary_path())
        .args(["check", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8(output.stdout).unwrap();
    assert!(help.contains("--format") && help.contains("json"), "{help}");
    assert!(
        help.contains("shadowed") && help.contains("overlap"),
        "{help}"
    );
}
