//! Client-visible HTTP errors: `{"error": {"code", "message"}}` with the status of the code
//! (PROTOCOL.md §4). Messages are written for clients; internal detail goes to the log only.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use scribe_core::ErrorCode;

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// The answer for anything the caller may not know exists.
    pub fn not_found() -> Self {
        Self::new(ErrorCode::NotFound, "not found")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.code.http_status())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::json!({
            "error": { "code": self.code.as_str(), "message": self.message }
        });
        (status, Json(body)).into_response()
    }
}
