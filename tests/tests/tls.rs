//! TLS on the public listener: HTTPS is served with the configured certificate, the
//! upstream learns the request came over HTTPS, and a broken certificate path fails the
//! check.

use std::process::Command;
use std::time::Duration;

use switchyard_tests::{run_check, Edge, EdgeConfig, RecordingUpstream};

/// A self-signed certificate and key for 127.0.0.1, written to `dir`.
fn self_signed(dir: &std::path::Path) -> (String, String) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let status = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
        ])
        .args(["-addext", "subjectAltName=IP:127.0.0.1"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl (apt-get install openssl)");
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    (
        cert.to_string_lossy().into_owned(),
        key.to_string_lossy().into_owned(),
    )
}

fn routes(upstream: &RecordingUpstream, cert: &str, key: &str) -> String {
    format!(
        "[server]\ndefault_upstream = \"legacy\"\n[server.tls]\ncertificate = \"{cert}\"\nkey = \"{key}\"\n\
         [upstreams.legacy]\naddresses = [\"{}\"]\n",
        upstream.addr()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_is_served_and_the_upstream_knows_it() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = self_signed(dir.path());
    let upstream = RecordingUpstream::start().await;
    let edge = Edge::start(EdgeConfig::new(routes(&upstream, &cert, &key))).await;

    let url = format!("https://127.0.0.1:{}/secure?x=1", edge.addr().port());
    let output = Command::new("curl")
        .args([
            "-s",
            "--max-time",
            "10",
            "--cacert",
            &cert,
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            &url,
        ])
        .output()
        .expect("curl");
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "200",
        "{}",
        edge.logs()
    );

    let seen = upstream.wait_for_requests(1, Duration::from_secs(5)).await;
    assert_eq!(seen[0].target, "/secure?x=1");
    assert_eq!(seen[0].header("x-forwarded-proto"), Some("https"));

    // Plain HTTP on the TLS port gets no HTTP answer.
    let plain =
        switchyard_tests::try_send_raw(edge.addr(), b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!(plain.is_err() || plain.unwrap().status != 200);
}

#[test]
fn a_missing_certificate_fails_the_check() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("routes.toml");
    let text = "[server]\ndefault_upstream = \"legacy\"\n[server.tls]\ncertificate = \"/nonexistent/cert.pem\"\nkey = \"/nonexistent/key.pem\"\n\
                [upstreams.legacy]\naddresses = [\"127.0.0.1:3000\"]\n";
    std::fs::write(&file, text).unwrap();
    let output = run_check(&[file.to_str().unwrap()]);
    assert_ne!(output.code, 0);
    assert!(
        output
            .stderr
            .contains(":4:15: cannot read /nonexistent/cert.pem"),
        "{}",
        output.stderr
    );
}
