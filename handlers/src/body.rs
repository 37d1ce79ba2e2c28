//! Response bodies of native handlers: whole, or streamed as it is produced.

use bytes::Bytes;
use tokio::sync::mpsc;

/// A native response body.
#[derive(Debug)]
pub enum Body {
    /// The whole body, sent with a `Content-Length`.
    Full(Bytes),
    /// Chunks sent as they arrive, until the sender is dropped. The edge stops reading
    /// (and so the producer's `send` fails) when the client goes away.
    Stream(mpsc::Receiver<Bytes>),
}

impl Body {
    /// The bytes of a whole body; `None` for a stream.
    pub fn as_full(&self) -> Option<&Bytes> {
        match self {
            Body::Full(bytes) => Some(bytes),
            Body::Stream(_) => None,
        }
    }
}

impl From<Bytes> for Body {
    fn from(bytes: Bytes) -> Self {
        Body::Full(bytes)
    }
}
