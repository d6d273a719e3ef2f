//! The wire format of API errors: `{"error": {"code": "...", "message": "..."}}`.
//!
//! One enum of codes is the contract; the server maps each to its HTTP status in
//! one place ([`ErrorCode::status`]), and the banner reads the same type.

use serde::{Deserialize, Serialize};

use crate::config::ValidationError;

/// What went wrong, as clients may match on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// 400: the request is malformed (bad JSON, wrong types, unknown fields).
    BadRequest,
    /// 401: no or an unknown API key.
    Unauthorized,
    /// 403: the key is valid but not for this site.
    Forbidden,
    /// 404
    NotFound,
    /// 405
    MethodNotAllowed,
    /// 408: the body did not arrive in time (a client sending it too slowly).
    RequestTimeout,
    /// 409: e.g. a site that exists already.
    Conflict,
    /// 413
    PayloadTooLarge,
    /// 415: not `application/json`.
    UnsupportedMediaType,
    /// 422: well-formed but invalid (unknown service, a config that fails validation).
    Invalid,
    /// 429, with `Retry-After`.
    RateLimited,
    /// 503: storage cannot take writes right now (e.g. disk full).
    Unavailable,
    /// 500: a bug.
    Internal,
}

impl ErrorCode {
    pub fn status(self) -> u16 {
        match self {
            ErrorCode::BadRequest => 400,
            ErrorCode::Unauthorized => 401,
            ErrorCode::Forbidden => 403,
            ErrorCode::NotFound => 404,
            ErrorCode::MethodNotAllowed => 405,
            ErrorCode::RequestTimeout => 408,
            ErrorCode::Conflict => 409,
            ErrorCode::PayloadTooLarge => 413,
            ErrorCode::UnsupportedMediaType => 415,
            ErrorCode::Invalid => 422,
            ErrorCode::RateLimited => 429,
            ErrorCode::Unavailable => 503,
            ErrorCode::Internal => 500,
        }
    }
}

/// The error body every endpoint answers with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ApiError {
    pub error: ErrorBody,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ErrorBody {
    pub code: ErrorCode,
    pub message: String,
    /// For `invalid`: every problem with its path.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<ValidationErrorBody>,
}

/// A [`ValidationError`] on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ValidationErrorBody {
    pub path: String,
    pub message: String,
}

impl From<&ValidationError> for ValidationErrorBody {
    fn from(e: &ValidationError) -> Self {
        ValidationErrorBody {
            path: e.path.clone(),
            message: e.message.clone(),
        }
    }
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError {
            error: ErrorBody {
                code,
                message: message.into(),
                details: Vec::new(),
            },
        }
    }
}
