//! Reading JSON request bodies: bounded in size before they are read and in time
//! while they are, and every failure a clear 4xx in the API's error format.

use actix_web::HttpRequest;
use actix_web::http::header;
use actix_web::web::{self, BytesMut};
use futures_util::StreamExt as _;
use keksdose_shared::api::ErrorCode;
use serde::de::DeserializeOwned;

use super::HttpError;

/// How long a body may take to arrive once the request head is in (the head
/// itself has [`super::REQUEST_HEAD_TIMEOUT`]): a client that sends it a byte at a
/// time (slow loris) is cut off instead of holding a connection and a task.
pub const BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Reads a JSON body of at most `limit` bytes into `T` (unknown fields refused by
/// `T` itself). A declared length over the limit is refused without reading.
pub async fn read_json<T: DeserializeOwned>(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<T, HttpError> {
    let is_json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        return Err(HttpError::new(
            ErrorCode::UnsupportedMediaType,
            "expected Content-Type: application/json",
        ));
    }
    let too_large = || {
        HttpError::new(
            ErrorCode::PayloadTooLarge,
            format!("the body is larger than {limit} bytes"),
        )
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        hold_unread(payload);
        return Err(too_large());
    }
    let read = async {
        let mut body = BytesMut::new();
        while let Some(chunk) = payload.next().await {
            let chunk = chunk.map_err(|e| {
                HttpError::new(ErrorCode::BadRequest, format!("reading the body: {e}"))
            })?;
            if body.len() + chunk.len() > limit {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    };
    let read = actix_web::rt::time::timeout(BODY_TIMEOUT, read)
        .await
        .map_err(|_| {
            HttpError::new(
                ErrorCode::RequestTimeout,
                format!(
                    "the body did not arrive within {} s",
                    BODY_TIMEOUT.as_secs()
                ),
            )
        })
        .and_then(|r| r);
    let body = match read {
        Ok(body) => body,
        Err(e) => {
            hold_unread(payload);
            return Err(e);
        }
    };
    serde_json::from_slice(&body)
        .map_err(|e| HttpError::new(ErrorCode::BadRequest, format!("invalid JSON body: {e}")))
}

/// Keeps a refused body's stream open, unread, until well after the answer is
/// out. actix reads a *dropped* chunked body to its end to keep the connection
/// alive — for a client sending without end, without end; with the stream still
/// held at the answer, it closes the connection after the answer instead.
fn hold_unread(payload: web::Payload) {
    actix_web::rt::spawn(async move {
        actix_web::rt::time::sleep(std::time::Duration::from_secs(2)).await;
        drop(payload);
    });
}
