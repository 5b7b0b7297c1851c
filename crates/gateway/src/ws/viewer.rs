//! `GET /ws/transcription/{meeting_id}`: a signed-in viewer watches a meeting's transcript
//! (PROTOCOL.md §2). The access middleware (`crate::access`) has already refused a browser
//! `Origin` other than the service's own or an allowed one (`403` before the upgrade) and a
//! viewer without Read access to the meeting. The viewer gets a snapshot (finals and current
//! partials) or, with `?since_seq=N`, every message after `N`, then the live messages; none is
//! sent twice.
//!
//! Access is checked again at every ping: a viewer whose session ended (signed out, revoked,
//! expired), whose token was denylisted, whose account was disabled or removed, or who lost Read
//! on the meeting (a grant taken back, a role lowered), is closed within one ping interval
//! (4001 / 4004), as a revoked bot is.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::Instant;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::response::Response;
use axum::Extension;
use scribe_auth::{MeetingPermission, Role};
use scribe_core::{ErrorCode, MeetingId, OrgScope, UserId};
use tokio::sync::broadcast::error::RecvError;
use transcript_storage::{AccessState, StoreError};

use super::{refuse, stopping, ws_error};
use crate::access::MeetingAccess;
use crate::app::AppState;
use crate::auth::ViewerSession;
use crate::error::ApiError;
use crate::hub::{Frame, MeetingFeed, Subscription};
use crate::metrics::Gauge;

/// Largest message a viewer may send (viewers only answer pings and close).
const MAX_VIEWER_MESSAGE: usize = 4096;

/// The upgrade handler.
pub async fn handler(
    State(app): State<AppState>,
    access: MeetingAccess,
    session: Option<Extension<ViewerSession>>,
    Query(query): Query<HashMap<String, String>>,
    ws: WebSocketUpgrade,
) -> Response {
    let send_timeout = app.config.ws.send_timeout;
    let opened = open(&app, access, session.map(|Extension(s)| s), &query).await;
    ws.max_message_size(MAX_VIEWER_MESSAGE)
        .on_upgrade(move |mut socket| async move {
            match opened {
                Ok((feed, since, viewer)) => run(app, socket, feed, since, viewer).await,
                Err(err) => {
                    app.counters.refused_total.fetch_add(1, Ordering::Relaxed);
                    refuse(&mut socket, &err, send_timeout).await;
                }
            }
        })
}

/// The meeting's feed and where to start, for a viewer the access middleware let through.
async fn open(
    app: &AppState,
    access: MeetingAccess,
    session: Option<ViewerSession>,
    query: &HashMap<String, String>,
) -> Result<(std::sync::Arc<MeetingFeed>, Option<u64>, Viewer), ApiError> {
    let since = match query.get("since_seq") {
        None => None,
        Some(raw) => Some(raw.parse::<u64>().map_err(|_| {
            ws_error(
                ErrorCode::BadRequest,
                "since_seq must be a non-negative whole number",
            )
        })?),
    };
    let feed = super::bot::feed_for(app, &access.principal.scope(), access.meeting.id).await?;
    let viewer = Viewer {
        scope: access.principal.scope(),
        user: access.principal.user_id().ok_or_else(ApiError::not_found)?,
        meeting: access.meeting.id,
        session,
    };
    Ok((feed, since, viewer))
}

/// Who watches which meeting, for the re-check at every ping.
struct Viewer {
    scope: OrgScope,
    user: UserId,
    meeting: MeetingId,
    /// The session of the credential the socket was opened with.
    session: Option<ViewerSession>,
}

impl Viewer {
    /// `Some((code, reason))` when the viewer may no longer watch: the session has ended, the
    /// token is denylisted, or the account is gone or disabled (4001); or its role and grants as
    /// they are now give no Read on the meeting (4004, as for a meeting it cannot see). A storage
    /// error is not taken for a refusal: the next ping asks again.
    async fn refused(&self, app: &AppState) -> Option<(u16, &'static str)> {
        let role = match self.session {
            Some(session) => self.session_role(app, session).await,
            None => self.account_role(app).await,
        };
        let role = match role {
            Ok(Some(role)) => role,
            Ok(None) => return Some((4001, "signed out")),
            Err(e) => {
                tracing::warn!(error = %e, "viewer re-check failed; trying again at the next ping");
                return None;
            }
        };
        match app
            .store
            .meeting_access(&self.scope, self.meeting, self.user)
            .await
        {
            Ok((_, grant)) => MeetingPermission::effective(role, grant.as_deref())
                .is_none_or(|held| held < MeetingPermission::Read)
                .then_some((4004, "no access to this meeting")),
            Err(StoreError::NotFound) => Some((4004, "no access to this meeting")),
            Err(e) => {
                tracing::warn!(error = %e, "viewer re-check failed; trying again at the next ping");
                None
            }
        }
    }

    /// The role the viewer's session still has (`None`: the session or the account ended, or
    /// the token was denylisted).
    async fn session_role(
        &self,
        app: &AppState,
        session: ViewerSession,
    ) -> Result<Option<Role>, StoreError> {
        // A ticket carries no token: the all-zero hash is never on the denylist.
        let digest = session.token_digest.unwrap_or([0; 32]);
        let now = crate::api::unix_ms(app.clock.now());
        let state = app
            .store
            .access_state(&self.scope, self.user, session.session, &digest, now)
            .await?;
        Ok(match state {
            AccessState::Active { role } => Some(Role::from_stored(&role)),
            AccessState::Ended(_) => None,
        })
    }

    /// The account's role when no session is known (`None`: removed or disabled).
    async fn account_role(&self, app: &AppState) -> Result<Option<Role>, StoreError> {
        match app.store.get_login(&self.scope, self.user).await {
            Ok(login) => Ok((!login.disabled).then(|| Role::from_stored(&login.user.role))),
            Err(StoreError::NotFound) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

async fn run(
    app: AppState,
    mut socket: WebSocket,
    feed: std::sync::Arc<MeetingFeed>,
    since: Option<u64>,
    viewer: Viewer,
) {
    let _gauge = Gauge::enter(
        &app.counters.viewer_sessions,
        &app.counters.viewer_sessions_total,
    );
    let limits = app.config.ws.clone();
    let Subscription {
        initial,
        seq,
        mut live,
    } = feed.subscribe(since).await;
    let mut last = seq;
    for frame in &initial {
        if !send(&mut socket, frame, limits.send_timeout).await {
            return;
        }
    }
    if let Some(f) = initial.last() {
        last = last.max(f.seq);
    }
    let mut ping = tokio::time::interval(limits.ping_interval);
    ping.tick().await;
    let mut last_pong = Instant::now();
    let mut shutting_down = app.shutting_down.clone();
    let mut deleted = feed.deleted();
    loop {
        tokio::select! {
            () = stopping(&mut deleted) => {
                let _ = tokio::time::timeout(
                    limits.send_timeout,
                    super::close(&mut socket, 4004, "the meeting was deleted"),
                )
                .await;
                return;
            }
            () = stopping(&mut shutting_down) => {
                let _ = tokio::time::timeout(
                    limits.send_timeout,
                    super::close(&mut socket, 1012, "server restarting; reconnect with since_seq"),
                )
                .await;
                return;
            }
            got = live.recv() => match got {
                Ok(frame) => {
                    if frame.seq <= last {
                        continue;
                    }
                    last = frame.seq;
                    if !send(&mut socket, &frame, limits.send_timeout).await {
                        return;
                    }
                }
                Err(RecvError::Lagged(_)) => {
                    // Too slow for the live channel: resume from what was sent, like a
                    // reconnect with since_seq, without the viewer noticing.
                    let again = feed.subscribe(Some(last)).await;
                    live = again.live;
                    for frame in again.initial {
                        if frame.seq > last {
                            last = frame.seq;
                            if !send(&mut socket, &frame, limits.send_timeout).await {
                                return;
                            }
                        }
                    }
                }
                Err(RecvError::Closed) => return,
            },
            msg = socket.recv() => match msg {
                Some(Ok(Message::Pong(_))) => last_pong = Instant::now(),
                Some(Ok(Message::Ping(_))) => {}
                Some(Ok(Message::Text(_) | Message::Binary(_))) => {
                    // Viewers have nothing to say; ignore, the size limit bounds it.
                }
                Some(Ok(Message::Close(_)) | Err(_)) | None => return,
            },
            _ = ping.tick() => {
                if last_pong.elapsed() > limits.ping_interval + limits.pong_timeout {
                    return;
                }
                if let Some((code, reason)) = viewer.refused(&app).await {
                    tracing::info!(meeting_id = %viewer.meeting, code, "viewer no longer allowed; closing");
                    let _ = tokio::time::timeout(
                        limits.send_timeout,
                        super::close(&mut socket, code, reason),
                    )
                    .await;
                    return;
                }
                if socket.send(Message::Ping(Vec::new().into())).await.is_err() {
                    return;
                }
            }
        }
    }
}

async fn send(socket: &mut WebSocket, frame: &Frame, timeout: std::time::Duration) -> bool {
    matches!(
        tokio::time::timeout(
            timeout,
            socket.send(Message::Text(frame.json.as_ref().into()))
        )
        .await,
        Ok(Ok(()))
    )
}
