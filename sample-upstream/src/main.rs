//! `sample-upstream`: a small stand-in for the legacy admin app.
//!
//! This file owns the command line and the accept loop: it binds the listener,
//! serves each connection as HTTP/1.1 with keep-alive, and stamps every response
//! with the `Server` header. What each path answers lives in `routes`.

mod echo;
mod routes;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use bytes::Bytes;
use clap::Parser;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, SERVER};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;

/// Stand-in for the legacy admin app, for demos and tests.
#[derive(Parser, Debug)]
#[command(name = "sample-upstream", version, about)]
struct Args {
    /// Address to listen on (use port 0 to let the OS pick a free one).
    #[arg(long, default_value = "127.0.0.1:3000")]
    listen: SocketAddr,

    /// Print one line per request to stderr.
    #[arg(long)]
    verbose: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let listener = match TcpListener::bind(args.listen).await {
        Ok(listener) => listener,
        Err(err) => {
            eprintln!("sample-upstream: cannot listen on {}: {err}", args.listen);
            return ExitCode::FAILURE;
        }
    };

    // Print the bound address, not the requested one, so callers that asked for
    // port 0 can read which port they got.
    match listener.local_addr() {
        Ok(addr) => eprintln!("sample-upstream listening on http://{addr}"),
        Err(_) => eprintln!("sample-upstream listening on http://{}", args.listen),
    }

    accept_loop(listener, args.verbose).await
}

/// Accepts connections until the process is killed, one task per connection.
async fn accept_loop(listener: TcpListener, verbose: bool) -> ! {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _peer)) => stream,
            Err(err) => {
                // Usually out of file descriptors: back off instead of spinning.
                eprintln!("sample-upstream: accept failed: {err}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        tokio::spawn(serve_connection(stream, verbose));
    }
}

/// Serves one keep-alive HTTP/1.1 connection until the client closes it.
async fn serve_connection(stream: tokio::net::TcpStream, verbose: bool) {
    let service = service_fn(move |req| respond(req, verbose));
    let result = http1::Builder::new()
        .keep_alive(true)
        // Without a timer hyper cannot enforce its header read timeout, and a
        // client that sends half a request head would hold the task forever.
        .timer(TokioTimer::new())
        .serve_connection(TokioIo::new(stream), service)
        .await;

    // Clients hanging up mid-request is routine for a test upstream; only say so
    // when asked to.
    if let (Err(err), true) = (result, verbose) {
        eprintln!("sample-upstream: connection ended: {err}");
    }
}

/// Routes one request and adds what every response carries.
async fn respond(
    req: Request<Incoming>,
    verbose: bool,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let method = req.method().clone();
    let uri = req.uri().clone();

    let mut response = routes::handle(req).await;
    response
        .headers_mut()
        .insert(SERVER, HeaderValue::from_static("legacy-sample"));

    if verbose {
        eprintln!("{method} {uri} -> {}", response.status().as_u16());
    }
    Ok(response)
}
