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
