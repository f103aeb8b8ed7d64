//! JSON request bodies read whatever their Content-Type (the documented curl examples send
//! `-d '{…}'` as a form), unlike axum's `Json`, which refuses anything not labelled JSON.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use super::error::ApiError;

/// A JSON body; bad JSON is a 400 `bad_request` naming serde's complaint.
pub struct Body<T>(pub T);

/// A JSON body that may be left out: an empty body is `T::default()`.
pub struct OptionalBody<T>(pub T);

async fn bytes<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, Response> {
    // axum's own rejection (over the size limit, a broken stream) keeps its status.
    Bytes::from_request(req, state)
        .await
        .map_err(IntoResponse::into_response)
}

fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("request body: {e}")))
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Response> {
        let body = bytes(req, state).await?;
        parse(&body).map(Self).map_err(IntoResponse::into_response)
    }
}

impl<S: Send + Sync, T: DeserializeOwned + Default> FromRequest<S> for OptionalBody<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Response> {
        let body = bytes(req, state).await?;
        match body.is_empty() {
            true => Ok(Self(T::default())),
            false => parse(&body).map(Self).map_err(IntoResponse::into_response),
        }
    }
}
