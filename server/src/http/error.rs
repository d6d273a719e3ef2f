//! The one place where errors become HTTP responses.

use std::fmt;

use actix_web::error::JsonPayloadError;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use keksdose_shared::api::{ApiError, ErrorCode};

use keksdose_store::StoreError;

/// An API error on its way to the client.
#[derive(Debug)]
pub struct HttpError(pub ApiError);

impl HttpError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> HttpError {
        HttpError(ApiError::new(code, message))
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {}", self.0.error.code, self.0.error.message)
    }
}

impl ResponseError for HttpError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.0.error.code.status())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        let mut r = HttpResponse::build(self.status_code());
        if self.0.error.code == ErrorCode::Unavailable {
            r.insert_header(("Retry-After", "5"));
        }
        // A body refused for its size or its pace is not read to its end to keep
        // the connection: the connection is closed after the answer instead.
        if matches!(
            self.0.error.code,
            ErrorCode::PayloadTooLarge | ErrorCode::RequestTimeout
        ) {
            r.force_close();
        }
        r.json(&self.0)
    }
}

impl actix_web::Responder for HttpError {
    type Body = actix_web::body::BoxBody;

    fn respond_to(self, _req: &actix_web::HttpRequest) -> HttpResponse {
        self.error_response()
    }
}

impl From<StoreError> for HttpError {
    fn from(e: StoreError) -> Self {
        let code = match &e {
            StoreError::NotFound(_) => ErrorCode::NotFound,
            StoreError::Conflict(_) => ErrorCode::Conflict,
            StoreError::Unavailable(_) => ErrorCode::Unavailable,
            StoreError::Internal(_) => ErrorCode::Internal,
        };
        if code == ErrorCode::Internal {
            eprintln!("keksdose: {e}");
        }
        HttpError::new(code, e.to_string())
    }
}

/// A JSON body that could not be read: too large, not JSON, or not the schema.
pub fn json_error(e: JsonPayloadError) -> HttpError {
    match e {
        JsonPayloadError::OverflowKnownLength { .. } | JsonPayloadError::Overflow { .. } => {
            HttpError::new(ErrorCode::PayloadTooLarge, e.to_string())
        }
        JsonPayloadError::ContentType => HttpError::new(
            ErrorCode::UnsupportedMediaType,
            "expected Content-Type: application/json",
        ),
        JsonPayloadError::Deserialize(d) => {
            HttpError::new(ErrorCode::BadRequest, format!("invalid JSON body: {d}"))
        }
        other => HttpError::new(ErrorCode::BadRequest, other.to_string()),
    }
}

impl From<crate::service::Error> for HttpError {
    fn from(e: crate::service::Error) -> Self {
        match e {
            crate::service::Error::Refused(api) => HttpError(api),
            crate::service::Error::Store(e) => e.into(),
        }
    }
}
