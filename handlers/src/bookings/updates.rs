//! The worker's `bookings:updates` channel, shared by every client waiting on a
//! booking.
//!
//! One Redis subscription per feed fans out to any number of waiters through a
//! broadcast channel. It is opened on first use and reopened after a connection loss;
//! waiters never depend on it for correctness, because they also re-read the status
//! record on a short tick: the feed only makes the answer fast.

use std::sync::Mutex;
use std::time::Duration;

use futures_util::StreamExt;
use serde::Deserialize;
use tokio::sync::broadcast;
use tokio::task::AbortHandle;

/// The channel the worker publishes `{"id", "status", "reason"}` on.
pub const CHANNEL: &str = "bookings:updates";

/// Updates buffered per waiter; a waiter that falls behind re-reads the record anyway.
const BUFFER: usize = 1024;

/// Pause before reopening a lost subscription.
const RECONNECT_DELAY: Duration = Duration::from_secs(1);

/// One published status change.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Update {
    pub id: String,
    pub status: String,
}

/// A shared subscription to [`CHANNEL`].
pub struct UpdateFeed {
    client: redis::Client,
    sender: broadcast::Sender<Update>,
    task: Mutex<Option<AbortHandle>>,
}

impl UpdateFeed {
    pub fn new(client: redis::Client) -> Self {
        UpdateFeed {
            client,
            sender: broadcast::channel(BUFFER).0,
            task: Mutex::new(None),
        }
    }

    /// A receiver of every update from now on; starts the subscription if needed.
    pub fn subscribe(&self) -> broadcast::Receiver<Update> {
        let receiver = self.sender.subscribe();
        let mut task = self
            .task
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if task.is_none() {
            let (client, sender) = (self.client.clone(), self.sender.clone());
            *task = Some(tokio::spawn(run(client, sender)).abort_handle());
        }
        receiver
    }
}

impl Drop for UpdateFeed {
    fn drop(&mut self) {
        // A reloaded route table builds a new feed; the old subscription must not linger.
        let task = self
            .task
            .get_mut()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(task) = task.take() {
            task.abort();
        }
    }
}

async fn run(client: redis::Client, sender: broadcast::Sender<Update>) {
    loop {
        if let Err(e) = listen(&client, &sender).await {
            log::warn!("booking updates subscription lost, reopening: {e}");
        }
        tokio::time::sleep(RECONNECT_DELAY).await;
    }
}

async fn listen(
    client: &redis::Client,
    sender: &broadcast::Sender<Update>,
) -> redis::RedisResult<()> {
    let mut pubsub = client.get_async_pubsub().await?;
    pubsub.subscribe(CHANNEL).await?;
    let mut messages = pubsub.on_message();
    while let Some(message) = messages.next().await {
        let payload = message.get_payload_bytes();
        match serde_json::from_slice::<Update>(payload) {
            // No receivers is fine: nobody is waiting right now.
            Ok(update) => drop(sender.send(update)),
            Err(e) => log::debug!("ignoring a malformed booking update: {e}"),
        }
    }
    Ok(())
}

/// Waits until an update for `id` arrives, `tick` passes, or the feed lags; the caller
/// re-reads the status record in every case.
pub async fn next_change(receiver: &mut broadcast::Receiver<Update>, id: &str, tick: Duration) {
    let wait = async {
        loop {
            match receiver.recv().await {
                Ok(update) if update.id == id => return,
                Ok(_) => continue,
                Err(broadcast::error::RecvError::Lagged(_)) => return,
                Err(broadcast::error::RecvError::Closed) => std::future::pending::<()>().await,
            }
        }
    };
    let _ = tokio::time::timeout(tick, wait).await;
}
