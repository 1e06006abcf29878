//! API errors: JSON with a status, a message, and the field errors as JSON pointers.

use axum::Json;
use axum::response::{IntoResponse, Response};
use graygate_config::FieldError;
use http::StatusCode;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    pub errors: Vec<(String, String)>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
            errors: Vec::new(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, message)
    }

    pub fn conflict(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, message)
    }

    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }

    /// A change that does not validate: every field error, as JSON pointers.
    pub fn invalid(errors: Vec<FieldError>) -> ApiError {
        ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            message: "the change was rejected; nothing was applied".into(),
            errors: errors
                .into_iter()
                .map(|e| (e.path.json_pointer(), e.message))
                .collect(),
        }
    }

    /// One field error in the request body.
    pub fn field(pointer: impl Into<String>, message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            message: "the change was rejected; nothing was applied".into(),
            errors: vec![(pointer.into(), message.into())],
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let errors: Vec<serde_json::Value> = self
            .errors
            .iter()
            .map(|(path, message)| serde_json::json!({"path": path, "message": message}))
            .collect();
        let body = serde_json::json!({"error": {"status": self.status.as_u16(), "message": self.message, "errors": errors}});
        (self.status, Json(body)).into_response()
    }
}
