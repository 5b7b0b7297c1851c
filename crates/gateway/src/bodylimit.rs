//! Body sizes by route, refused from the declared `Content-Length` before anything reads the
//! body: recording uploads up to `server.max_upload_bytes` (plus room for multipart framing),
//! everything else up to the JSON limit. A body without a length (chunked) is still bounded
//! where it is read (the upload's running count, the JSON reader's limit).

use axum::extract::{Request, State};
use axum::http::{header, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use scribe_core::ErrorCode;

use crate::app::AppState;
use crate::error::ApiError;

/// Multipart boundaries and part headers around an uploaded file.
const MULTIPART_SLACK: u64 = 64 * 1024;

/// The largest body `method` on `path` takes.
pub fn limit_for(method: &Method, path: &str, max_upload: u64) -> u64 {
    if method == Method::POST
        && path.starts_with("/api/v1/meetings/")
        && path.ends_with("/recordings")
    {
        max_upload.saturating_add(MULTIPART_SLACK)
    } else {
        crate::api::MAX_JSON_BYTES as u64
    }
}

/// The middleware.
pub async fn limit(State(app): State<AppState>, req: Request, next: Next) -> Response {
    let max = limit_for(req.method(), req.uri().path(), app.config.max_upload_bytes);
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|len| len > max) {
        let shown = if max > crate::api::MAX_JSON_BYTES as u64 {
            app.config.max_upload_bytes
        } else {
            max
        };
        return ApiError::new(
            ErrorCode::PayloadTooLarge,
            format!("the body is larger than the {shown}-byte limit of this route"),
        )
        .into_response();
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uploads_get_their_limit_and_everything_else_the_json_one() {
        let upload = limit_for(&Method::POST, "/api/v1/meetings/abc/recordings", 500);
        assert_eq!(upload, 500 + MULTIPART_SLACK);
        assert_eq!(
            limit_for(&Method::POST, "/api/v1/auth/login", 500),
            64 * 1024
        );
        assert_eq!(
            limit_for(&Method::GET, "/api/v1/meetings/abc/recordings", 500),
            64 * 1024
        );
    }
}
