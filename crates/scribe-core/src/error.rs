//! The closed set of error codes a client can see, mapped in this one place to HTTP status and
//! WebSocket close codes (PROTOCOL.md §1, §4). Internal detail never travels with them.

use serde::{Deserialize, Serialize};

/// A stable, client-visible error code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The request or message is malformed; the message names the field or value.
    BadRequest,
    /// No valid credential was presented.
    Unauthenticated,
    /// The credential is valid but does not allow this.
    Forbidden,
    /// No such object, or one the caller may not know exists.
    NotFound,
    /// The request conflicts with the current state.
    Conflict,
    /// A body or message is larger than allowed.
    PayloadTooLarge,
    /// The media type is not accepted or does not match the content.
    UnsupportedMediaType,
    /// The content is well-formed but cannot be processed (e.g. not decodable audio).
    InvalidAudio,
    /// A limit on rate or volume was exceeded.
    RateLimited,
    /// A policy (origin, session length, message limits) was violated.
    PolicyViolation,
    /// The server cannot take more work right now.
    AtCapacity,
    /// A service the server called on the caller's behalf (an alert webhook) did not answer
    /// usefully.
    BadGateway,
    /// Something failed inside the server; details are in the server log only.
    Internal,
}

impl ErrorCode {
    /// The wire spelling, e.g. `not_found`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BadRequest => "bad_request",
            Self::Unauthenticated => "unauthenticated",
            Self::Forbidden => "forbidden",
            Self::NotFound => "not_found",
            Self::Conflict => "conflict",
            Self::PayloadTooLarge => "payload_too_large",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::InvalidAudio => "invalid_audio",
            Self::RateLimited => "rate_limited",
            Self::PolicyViolation => "policy_violation",
            Self::AtCapacity => "at_capacity",
            Self::BadGateway => "bad_gateway",
            Self::Internal => "internal",
        }
    }

    /// HTTP status for this code.
    pub fn http_status(self) -> u16 {
        match self {
            Self::BadRequest => 400,
            Self::Unauthenticated => 401,
            Self::Forbidden => 403,
            Self::NotFound => 404,
            Self::Conflict => 409,
            Self::PayloadTooLarge => 413,
            Self::UnsupportedMediaType => 415,
            Self::InvalidAudio => 422,
            Self::RateLimited => 429,
            Self::PolicyViolation => 403,
            Self::AtCapacity => 503,
            Self::BadGateway => 502,
            Self::Internal => 500,
        }
    }

    /// WebSocket close code for this code (PROTOCOL.md §1).
    pub fn ws_close_code(self) -> u16 {
        match self {
            Self::Unauthenticated => 4001,
            Self::Forbidden => 4003,
            Self::NotFound => 4004,
            Self::BadRequest
            | Self::PayloadTooLarge
            | Self::UnsupportedMediaType
            | Self::InvalidAudio
            | Self::PolicyViolation
            | Self::Conflict => 4008,
            Self::RateLimited => 4029,
            Self::AtCapacity => 4102,
            Self::BadGateway | Self::Internal => 1011,
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_spelling_matches_serde() {
        for code in [
            ErrorCode::BadRequest,
            ErrorCode::NotFound,
            ErrorCode::AtCapacity,
            ErrorCode::InvalidAudio,
        ] {
            let json = serde_json::to_string(&code).expect("serialises");
            assert_eq!(json, format!("\"{}\"", code.as_str()));
        }
    }

    #[test]
    fn close_codes_follow_protocol() {
        assert_eq!(ErrorCode::Unauthenticated.ws_close_code(), 4001);
        assert_eq!(ErrorCode::Forbidden.ws_close_code(), 4003);
        assert_eq!(ErrorCode::NotFound.ws_close_code(), 4004);
        assert_eq!(ErrorCode::PolicyViolation.ws_close_code(), 4008);
        assert_eq!(ErrorCode::RateLimited.ws_close_code(), 4029);
        assert_eq!(ErrorCode::AtCapacity.ws_close_code(), 4102);
        assert_eq!(ErrorCode::Internal.ws_close_code(), 1011);
    }
}
