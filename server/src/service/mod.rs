//! The services: what Keksdose does with its ledger, over [`Store`] only, for
//! the HTTP handlers and the CLI alike.
//!
//! Each module owns one area: [`consents`] (recording decisions from the
//! banner, the site's backend and the operator; a visitor's history), [`proofs`]
//! (proof assembly, chain verification, checkpoints), [`export`] (search,
//! streamed export, day statistics), [`subjects`] (access and erasure),
//! [`sites`] (sites, keys, configs, the demo sites), [`retention`] (purges) and
//! [`operators`] (the console's accounts, sessions and the audit trail).
//! A handler parses a request, calls one function here and maps its result; a
//! CLI command does the same with its arguments. What is refused here is
//! refused alike on both paths, with the same message.
//!
//! [`Store`]: keksdose_store::Store

pub mod consents;
pub mod declaration;
pub mod export;
pub mod operators;
pub mod proofs;
pub mod retention;
pub mod sites;
pub mod subjects;

use keksdose_shared::ValidationErrors;
use keksdose_shared::api::{ApiError, ErrorCode};
use keksdose_store::StoreError;

/// Why a service did not do what it was asked.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request is refused and nothing changed: the code says why (400
    /// malformed, 404 unknown, 409 conflict, 422 invalid).
    #[error("{}", .0.error.message)]
    Refused(ApiError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Error {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Error {
        Error::Refused(ApiError::new(code, message))
    }

    /// A 422 naming what is invalid.
    pub fn invalid(message: impl Into<String>) -> Error {
        Error::new(ErrorCode::Invalid, message)
    }

    /// A 422 listing every problem with its path.
    pub fn invalid_with(message: impl Into<String>, errors: &ValidationErrors) -> Error {
        let mut e = ApiError::new(ErrorCode::Invalid, message);
        e.error.details = errors.0.iter().map(Into::into).collect();
        Error::Refused(e)
    }

    pub fn not_found(message: impl Into<String>) -> Error {
        Error::new(ErrorCode::NotFound, message)
    }

    pub fn bad_request(message: impl Into<String>) -> Error {
        Error::new(ErrorCode::BadRequest, message)
    }
}

pub type Result<T> = std::result::Result<T, Error>;
