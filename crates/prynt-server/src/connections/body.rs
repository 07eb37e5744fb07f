//! The request body deadline: a body must arrive whole within the body timeout of its head,
//! however it is paced, or the request is answered 408 with the JSON error body and the
//! connection closed. A deadline per read would let a client trickle a byte just in time,
//! forever; this one is for the whole body.
//!
//! The body is wrapped, not read here: whoever reads it (an extractor, the Idempotency-Key
//! layer) gets an error at the deadline and answers as it does for any unreadable body; the
//! layer then answers 408 instead, keeping the request's id. Nothing is buffered before the
//! handler asks for it, so a client without a key still cannot make the server hold its body.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body as AxumBody;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body::{Body, Frame, SizeHint};

use crate::error::ApiError;
use crate::middleware::X_REQUEST_ID;

/// Answers 408 when the request's body did not arrive within `limit` of its head.
pub async fn deadline(State(limit): State<Duration>, req: Request, next: Next) -> Response {
    if req.body().is_end_stream() {
        return next.run(req).await;
    }
    let expired = Arc::new(AtomicBool::new(false));
    let (parts, body) = req.into_parts();
    let body = AxumBody::new(Deadline {
        inner: body,
        sleep: Box::pin(tokio::time::sleep(limit)),
        expired: Arc::clone(&expired),
    });
    let resp = next.run(Request::from_parts(parts, body)).await;
    if !expired.load(Ordering::Acquire) {
        return resp;
    }
    let mut answer = ApiError::RequestTimeout(limit).into_response();
    let h = answer.headers_mut();
    if let Some(id) = resp.headers().get(&X_REQUEST_ID) {
        h.insert(X_REQUEST_ID.clone(), id.clone());
    }
    // The rest of the body may still be on its way: the connection cannot carry another
    // request.
    h.insert(header::CONNECTION, HeaderValue::from_static("close"));
    answer
}

/// A request body that fails once its deadline has passed.
struct Deadline {
    inner: AxumBody,
    sleep: Pin<Box<tokio::time::Sleep>>,
    expired: Arc<AtomicBool>,
}

impl Deadline {
    fn expire(&self) -> Poll<Option<Result<Frame<axum::body::Bytes>, axum::BoxError>>> {
        self.expired.store(true, Ordering::Release);
        Poll::Ready(Some(Err("the request body did not arrive in time".into())))
    }
}

impl Body for Deadline {
    type Data = axum::body::Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.get_mut();
        if this.expired.load(Ordering::Acquire) {
            return this.expire();
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            // Bytes that keep coming do not move the deadline.
            Poll::Ready(Some(Ok(_))) if this.sleep.is_elapsed() => this.expire(),
            Poll::Ready(frame) => Poll::Ready(frame.map(|f| f.map_err(Into::into))),
            Poll::Pending => match this.sleep.as_mut().poll(cx) {
                Poll::Ready(()) => this.expire(),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
