//! HTTP/1.1 framing shared by the raw client and the recording upstream.
//!
//! Both sides need the same few primitives: read a message head, read a body
//! framed by length, by chunks or by connection close, and look headers up by
//! name. Keeping them in one place keeps the two sides consistent.

use std::io;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};

/// Largest message head either side accepts, so a runaway peer fails fast.
pub(crate) const MAX_HEAD: usize = 64 * 1024;

/// Most headers either side parses in one message.
pub(crate) const MAX_HEADERS: usize = 128;

/// A buffered reader that can optionally bound every read in time.
pub(crate) struct WireReader<R> {
    io: R,
    buf: Vec<u8>,
    timeout: Option<Duration>,
}

impl<R: AsyncRead + Unpin> WireReader<R> {
    /// Wraps `io`; with `timeout`, any single read that stalls that long fails.
    pub(crate) fn new(io: R, timeout: Option<Duration>) -> Self {
        WireReader {
            io,
            buf: Vec::new(),
            timeout,
        }
    }

    /// Reads more bytes into the buffer; `false` at end of stream.
    async fn fill(&mut self) -> io::Result<bool> {
        let mut chunk = [0u8; 8192];
        let read = self.io.read(&mut chunk);
        let n = match self.timeout {
            None => read.await?,
            Some(limit) => tokio::time::timeout(limit, read)
                .await
                .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "read timed out"))??,
        };
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(n > 0)
    }

    /// The next message head, up to and including its blank line.
    ///
    /// `None` when the peer closed cleanly before sending any byte of it,
    /// which is how an idle keep-alive connection ends.
    pub(crate) async fn head(&mut self) -> io::Result<Option<Vec<u8>>> {
        loop {
            if let Some(end) = find(&self.buf, b"\r\n\r\n") {
                return Ok(Some(self.buf.drain(..end + 4).collect()));
            }
            if self.buf.len() > MAX_HEAD {
                return Err(invalid("message head too large"));
            }
            if !self.fill().await? {
                if self.buf.is_empty() {
                    return Ok(None);
                }
                return Err(eof("connection closed inside a message head"));
            }
        }
    }

    /// Exactly `n` body bytes.
    pub(crate) async fn exact(&mut self, n: usize) -> io::Result<Vec<u8>> {
        while self.buf.len() < n {
            if !self.fill().await? {
                return Err(eof("connection closed inside a body"));
            }
        }
        Ok(self.buf.drain(..n).collect())
    }

    /// Everything until the peer closes.
    pub(crate) async fn until_close(&mut self) -> io::Result<Vec<u8>> {
        while self.fill().await? {}
        Ok(std::mem::take(&mut self.buf))
    }

    /// A chunked body, de-chunked; extensions and trailers are read and dropped.
    pub(crate) async fn chunked(&mut self) -> io::Result<Vec<u8>> {
        let mut body = Vec::new();
        loop {
            let size = parse_chunk_size(&self.line().await?)?;
            if size == 0 {
                break;
            }
            body.extend(self.exact(size).await?);
            if !self.line().await?.is_empty() {
                return Err(invalid("chunk data longer than its size"));
            }
        }
        // Trailer fields, if any, end with an empty line.
        while !self.line().await?.is_empty() {}
        Ok(body)
    }

    /// One CRLF-terminated line, without the CRLF.
    async fn line(&mut self) -> io::Result<Vec<u8>> {
        loop {
            if let Some(end) = find(&self.buf, b"\r\n") {
                let line = self.buf.drain(..end + 2).take(end).collect();
                return Ok(line);
            }
            if self.buf.len() > MAX_HEAD {
                return Err(invalid("chunk line too long"));
            }
            if !self.fill().await? {
                return Err(eof("connection closed inside a chunked body"));
            }
        }
    }

    /// Waits until the peer closes; bytes that arrive meanwhile are discarded.
    pub(crate) async fn closed(&mut self) -> bool {
        loop {
            self.buf.clear();
            match self.fill().await {
                Ok(true) => continue,
                Ok(false) => return true,
                Err(err) => return err.kind() != io::ErrorKind::TimedOut,
            }
        }
    }
}

/// The chunk size at the start of a chunk line, before any `;extension`.
fn parse_chunk_size(line: &[u8]) -> io::Result<usize> {
    let text = std::str::from_utf8(line).map_err(|_| invalid("chunk size is not text"))?;
    let digits = text.split(';').next().unwrap_or_default().trim();
    usize::from_str_radix(digits, 16).map_err(|_| invalid("bad chunk size"))
}

/// Index of the first occurrence of `needle` in `haystack`.
pub(crate) fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Header pairs as text, keeping order, name case and repeats.
pub(crate) fn header_pairs(headers: &[httparse::Header<'_>]) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|h| {
            let value = String::from_utf8_lossy(h.value).into_owned();
            (h.name.to_string(), value)
        })
        .collect()
}

/// The first value of header `name`, compared case-insensitively.
pub(crate) fn first<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    all(headers, name).into_iter().next()
}

/// Every value of header `name` in message order, compared case-insensitively.
pub(crate) fn all<'a>(headers: &'a [(String, String)], name: &str) -> Vec<&'a str> {
    headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
        .collect()
}

/// Whether any comma-separated token of any `name` header equals `token`.
pub(crate) fn has_token(headers: &[(String, String)], name: &str, token: &str) -> bool {
    all(headers, name)
        .iter()
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

/// Whether the message body is chunked: `chunked` is the last transfer coding.
pub(crate) fn is_chunked(headers: &[(String, String)]) -> bool {
    let codings: Vec<&str> = all(headers, "transfer-encoding")
        .into_iter()
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .collect();
    codings
        .last()
        .is_some_and(|t| t.eq_ignore_ascii_case("chunked"))
}

/// The first `Content-Length`, when present and a number.
pub(crate) fn content_length(headers: &[(String, String)]) -> io::Result<Option<usize>> {
    match first(headers, "content-length") {
        None => Ok(None),
        Some(v) => v
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| invalid("bad content-length")),
    }
}

/// `body` as a single chunk followed by the last chunk.
pub(crate) fn encode_chunked(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 16);
    if !body.is_empty() {
        out.extend(format!("{:x}\r\n", body.len()).bytes());
        out.extend_from_slice(body);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

/// An `InvalidData` error for a malformed message.
pub(crate) fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_string())
}

/// An `UnexpectedEof` error for a message cut short.
fn eof(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::UnexpectedEof, what.to_string())
}
