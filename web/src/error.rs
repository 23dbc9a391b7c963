//! Errors of handlers, answered as JSON under `/api/` and as an HTML page elsewhere.

use crate::data::DataError;
use rocket::http::{ContentType, Status};
use rocket::request::Request;
use rocket::response::{self, Responder, Response};
use std::io::Cursor;

/// A handler's failure.
#[derive(Debug)]
pub enum AppError {
    /// 400: a parameter is invalid (message for the caller).
    BadRequest(String),
    /// 401: not logged in.
    Unauthorized,
    /// 403: not allowed (message for the caller).
    Forbidden(String),
    /// 404.
    NotFound,
    /// 409: conflicts with existing data.
    Conflict(String),
    /// 429: too many attempts.
    TooMany(String),
    /// 503: the query hit its time limit, or the database is away.
    Unavailable(String),
    /// 500: logged with its cause; the caller gets no details.
    Internal(String),
    /// A refusal with a stable machine-readable `code` beside the message (MIB
    /// uploads: `corrupt_archive`, `unsafe_path`...), so clients can tell causes apart.
    Coded {
        /// HTTP status.
        status: Status,
        /// The code.
        code: &'static str,
        /// For the caller.
        message: String,
    },
}

impl AppError {
    /// HTTP status and the message shown to the caller.
    pub fn status_and_message(&self) -> (Status, String) {
        match self {
            AppError::BadRequest(m) => (Status::BadRequest, m.clone()),
            AppError::Unauthorized => (Status::Unauthorized, "not logged in".into()),
            AppError::Forbidden(m) => (Status::Forbidden, m.clone()),
            AppError::NotFound => (Status::NotFound, "not found".into()),
            AppError::Conflict(m) => (Status::Conflict, m.clone()),
            AppError::TooMany(m) => (Status::TooManyRequests, m.clone()),
            AppError::Unavailable(m) => (Status::ServiceUnavailable, m.clone()),
            AppError::Internal(_) => {
                (Status::InternalServerError, "internal error (see the server log)".into())
            }
            AppError::Coded { status, message, .. } => (*status, message.clone()),
        }
    }
}

impl From<DataError> for AppError {
    fn from(e: DataError) -> AppError {
        match e {
            DataError::Invalid(m) => AppError::BadRequest(m),
            DataError::NotFound => AppError::NotFound,
            DataError::Conflict(m) => AppError::Conflict(m),
            DataError::Timeout => AppError::Unavailable(DataError::Timeout.to_string()),
            DataError::Pool(m) => {
                log::error!("database pool: {m}");
                AppError::Unavailable("the database is unavailable".into())
            }
            DataError::Db(e) => AppError::Internal(e.to_string()),
            DataError::Answer(e) => AppError::Internal(e.to_string()),
        }
    }
}

impl<'r> Responder<'r, 'static> for AppError {
    fn respond_to(self, req: &'r Request<'_>) -> response::Result<'static> {
        if let AppError::Internal(cause) = &self {
            log::error!("{} {}: {cause}", req.method(), req.uri().path());
        }
        let (status, message) = self.status_and_message();
        let code = match &self {
            AppError::Coded { code, .. } => Some(*code),
            _ => None,
        };
        error_response_coded(req, status, &message, code)
    }
}

/// The error response for `req`: JSON `{"error": ...}` under `/api/`, else a page.
pub fn error_response(req: &Request<'_>, status: Status, message: &str) -> response::Result<'static> {
    error_response_coded(req, status, message, None)
}

/// [`error_response`] with an optional machine-readable `code` in the JSON.
pub fn error_response_coded(
    req: &Request<'_>,
    status: Status,
    message: &str,
    code: Option<&str>,
) -> response::Result<'static> {
    if req.uri().path().as_str().starts_with("/api/") {
        let mut body = serde_json::json!({ "error": message, "status": status.code });
        if let (Some(code), Some(o)) = (code, body.as_object_mut()) {
            o.insert("code".into(), code.into());
        }
        let body = body.to_string();
        Response::build()
            .status(status)
            .header(ContentType::JSON)
            .sized_body(body.len(), Cursor::new(body))
            .ok()
    } else {
        let body = crate::pages::layout::error_page(status, message).into_string();
        Response::build()
            .status(status)
            .header(ContentType::HTML)
            .sized_body(body.len(), Cursor::new(body))
            .ok()
    }
}

/// Result of handlers.
pub type AppResult<T> = Result<T, AppError>;
