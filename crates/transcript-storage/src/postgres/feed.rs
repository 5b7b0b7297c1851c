//! The cross-server change feed on PostgreSQL: LISTEN/NOTIFY.
//!
//! Writers call `pg_notify` inside the transaction that stores a final (or deletes a meeting),
//! so a notification is delivered exactly when, and only if, the change commits. Its payload
//! carries ids and a seq, never transcript text (PostgreSQL may spill its notification queue to
//! disk, and text at rest is encrypted): `v1 <node> f <org> <meeting> <seq>` or
//! `v1 <node> d <org> <meeting>`. Each store handle has its own node id and skips its own
//! notifications.
//!
//! One dedicated connection per store listens (pooled connections cannot: LISTEN belongs to a
//! session). When it drops, the listener reconnects with backoff and then sends
//! [`Change::Resync`], since notifications sent meanwhile are lost.

use std::sync::{Arc, Weak};
use std::time::Duration;

use scribe_core::{MeetingId, OrgId};
use tokio::sync::{broadcast, mpsc};
use tokio_postgres::tls::MakeTlsConnect;
use tokio_postgres::{AsyncMessage, Socket};
use tokio_postgres_rustls::MakeRustlsConnect;
use uuid::Uuid;

use crate::change::Change;

/// The notification channel.
pub(crate) const CHANNEL: &str = "nexus_scribe_changes";

/// The payload announcing a stored final.
pub(crate) fn final_payload(node: Uuid, org: OrgId, meeting: MeetingId, seq: u64) -> String {
    format!("v1 {node} f {org} {meeting} {seq}")
}

/// The payload announcing a deleted meeting.
pub(crate) fn deleted_payload(node: Uuid, org: OrgId, meeting: MeetingId) -> String {
    format!("v1 {node} d {org} {meeting}")
}

/// A payload from another node as a change; `None` for our own, or for anything malformed.
pub(crate) fn parse(payload: &str, own: Uuid) -> Option<Change> {
    let mut parts = payload.split(' ');
    if parts.next()? != "v1" {
        return None;
    }
    let node: Uuid = parts.next()?.parse().ok()?;
    if node == own {
        return None;
    }
    let kind = parts.next()?;
    let org_id: OrgId = parts.next()?.parse().ok()?;
    let meeting_id: MeetingId = parts.next()?.parse().ok()?;
    let change = match kind {
        "f" => Change::Final {
            org_id,
            meeting_id,
            seq: parts.next()?.parse().ok()?,
        },
        "d" => Change::Deleted { org_id, meeting_id },
        _ => return None,
    };
    parts.next().is_none().then_some(change)
}

/// How the listener connects: the store's driver configuration and TLS choice.
#[derive(Clone)]
pub(crate) struct ListenConfig {
    pub(crate) driver: tokio_postgres::Config,
    pub(crate) tls: Option<MakeRustlsConnect>,
    pub(crate) node: Uuid,
    pub(crate) describe: String,
}

/// Runs until the sender (held by the store) is gone.
pub(crate) async fn listen(config: ListenConfig, tx: Weak<broadcast::Sender<Change>>) {
    let mut backoff = Duration::from_millis(250);
    let mut first = true;
    loop {
        let outcome = match config.tls.clone() {
            None => session(&config, tokio_postgres::NoTls, &tx, first).await,
            Some(tls) => session(&config, tls, &tx, first).await,
        };
        match outcome {
            Session::StoreGone => return,
            Session::Ended { listened } => {
                if listened {
                    backoff = Duration::from_millis(250);
                    first = false;
                }
                tracing::warn!(
                    database = %config.describe,
                    "change feed connection lost; reconnecting in {} ms",
                    backoff.as_millis()
                );
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(30));
        if tx.strong_count() == 0 {
            return;
        }
    }
}

enum Session {
    StoreGone,
    /// The connection failed or ended; `listened` if LISTEN had succeeded first.
    Ended {
        listened: bool,
    },
}

async fn session<T>(
    config: &ListenConfig,
    tls: T,
    tx: &Weak<broadcast::Sender<Change>>,
    first: bool,
) -> Session
where
    T: MakeTlsConnect<Socket>,
    T::Stream: Send + 'static,
{
    let Ok((client, mut connection)) = config.driver.connect(tls).await else {
        return Session::Ended { listened: false };
    };
    let (ntx, mut nrx) = mpsc::unbounded_channel();
    let driver = tokio::spawn(async move {
        loop {
            match std::future::poll_fn(|cx| connection.poll_message(cx)).await {
                Some(Ok(AsyncMessage::Notification(n))) => {
                    if ntx.send(n.payload().to_owned()).is_err() {
                        return;
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return,
            }
        }
    });
    if client
        .batch_execute(&format!("LISTEN {CHANNEL}"))
        .await
        .is_err()
    {
        driver.abort();
        return Session::Ended { listened: false };
    }
    if !first {
        // Whatever was notified while we were away is lost: followers re-read.
        match tx.upgrade() {
            Some(tx) => {
                let _ = tx.send(Change::Resync);
            }
            None => return Session::StoreGone,
        }
    }
    let outcome = loop {
        tokio::select! {
            payload = nrx.recv() => {
                let Some(payload) = payload else {
                    break Session::Ended { listened: true };
                };
                let Some(tx) = tx.upgrade() else { break Session::StoreGone };
                if let Some(change) = parse(&payload, config.node) {
                    // No receiver is fine: nobody follows right now.
                    let _ = tx.send(change);
                }
            }
            () = tokio::time::sleep(Duration::from_secs(30)) => {
                if tx.strong_count() == 0 {
                    break Session::StoreGone;
                }
            }
        }
    };
    driver.abort();
    drop(client);
    outcome
}

/// The sender a store keeps, and starts listening for, on first use.
pub(crate) fn start(config: ListenConfig) -> Arc<broadcast::Sender<Change>> {
    let (tx, _) = broadcast::channel(4096);
    let tx = Arc::new(tx);
    tokio::spawn(listen(config, Arc::downgrade(&tx)));
    tx
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_round_trip_and_own_or_malformed_ones_are_dropped() {
        let (me, other) = (Uuid::new_v4(), Uuid::new_v4());
        let (org, meeting) = (OrgId::generate(), MeetingId::generate());
        let f = final_payload(other, org, meeting, 42);
        assert_eq!(
            parse(&f, me),
            Some(Change::Final {
                org_id: org,
                meeting_id: meeting,
                seq: 42
            })
        );
        assert_eq!(parse(&f, other), None, "a node skips its own");
        let d = deleted_payload(other, org, meeting);
        assert_eq!(
            parse(&d, me),
            Some(Change::Deleted {
                org_id: org,
                meeting_id: meeting
            })
        );
        for bad in [
            "",
            "v2 x",
            &format!("v1 {other} f {org} {meeting}"),
            &format!("v1 {other} f {org} {meeting} 1 extra"),
            &format!("v1 {other} x {org} {meeting}"),
            &format!("v1 {other} f not-an-id {meeting} 1"),
        ] {
            assert_eq!(parse(bad, me), None, "{bad}");
        }
    }
}
