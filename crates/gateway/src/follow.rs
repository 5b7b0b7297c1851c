//! Following other servers: when several servers share one database, a final stored by one
//! reaches the viewers of that meeting on every other (the store's change feed, PostgreSQL
//! LISTEN/NOTIFY). Only finals travel: partials stay on the server that decodes the stream.
//!
//! Notifications carry ids and a seq; the text is read back from the store with the meeting's
//! organisation scope, so it takes the same path (and the same decryption) as any other read.

use scribe_core::OrgScope;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::broadcast::Receiver;
use transcript_storage::Change;

use crate::app::AppState;
use crate::hub::MeetingFeed;
use crate::ws::bot::final_message;

/// Starts following the store's changes if it has a feed (the embedded store does not).
pub fn spawn(app: &AppState) {
    if let Some(rx) = app.store.changes() {
        tokio::spawn(follow(app.clone(), rx));
        tracing::info!("following other servers' transcripts through the store's change feed");
    }
}

async fn follow(app: AppState, mut rx: Receiver<Change>) {
    loop {
        match rx.recv().await {
            Ok(Change::Final { meeting_id, .. }) => {
                if let Some(feed) = app.hub.get(&meeting_id.to_string()) {
                    catch_up(&app, &feed).await;
                }
            }
            Ok(Change::Deleted { meeting_id, .. }) => app.hub.remove(&meeting_id.to_string()),
            Ok(Change::Resync) | Err(RecvError::Lagged(_)) => {
                for feed in app.hub.all() {
                    catch_up(&app, &feed).await;
                }
            }
            Err(RecvError::Closed) => return,
        }
    }
}

/// Reads the finals the feed lacks from the store and hands them to its viewers.
async fn catch_up(app: &AppState, feed: &MeetingFeed) {
    let Ok(meeting) = feed.meeting_id().parse() else {
        return;
    };
    // The feed was created for an authenticated caller of this organisation.
    let scope = OrgScope::for_org(feed.org_id());
    let after = feed.last_final_seq().await;
    match app.store.list_finals_since(&scope, meeting, after).await {
        // Unreadable finals (the store logged which and why) cannot be shown live.
        Ok(finals) => {
            let added = feed
                .ingest(
                    finals
                        .into_iter()
                        .filter_map(Result::ok)
                        .map(final_message)
                        .collect(),
                )
                .await;
            if added > 0 {
                tracing::debug!(%meeting, added, "finals from another server");
            }
        }
        Err(transcript_storage::StoreError::NotFound) => {
            // Deleted meanwhile: the deletion notice closes its viewers.
        }
        Err(e) => tracing::warn!(%meeting, error = %e, "cannot read another server's finals"),
    }
}
