//! The service of one connection: tells the registry when a request starts and when its answer
//! has been handed over (the end of the response body), so that deadlines apply only between
//! requests; and after the most requests a connection may carry, asks it to close once the
//! current answer is sent (`Connection: close` on HTTP/1, GOAWAY on HTTP/2).

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::http::{header, HeaderValue, Request, Response};
use axum_server::ConnectionShutdown;
use http_body::{Body, Frame, SizeHint};

use super::{Conn, Registry};

/// A connection's service (see the module).
#[derive(Clone)]
pub struct Tracked<S> {
    inner: S,
    conn: Arc<Conn>,
    registry: Arc<Registry>,
}

impl<S> Tracked<S> {
    pub(super) fn new(inner: S, conn: Arc<Conn>, registry: Arc<Registry>) -> Self {
        Tracked {
            inner,
            conn,
            registry,
        }
    }
}

/// One request in flight; dropped when its answer has been handed over or abandoned.
pub struct InFlight {
    conn: Arc<Conn>,
    registry: Arc<Registry>,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.registry.end_request(&self.conn);
    }
}

impl<S, ReqBody, ResBody> tower::Service<Request<ReqBody>> for Tracked<S>
where
    S: tower::Service<Request<ReqBody>, Response = Response<ResBody>>,
    S::Future: Send + 'static,
    ResBody: Send + 'static,
{
    type Response = Response<TrackedBody<ResBody>>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let n = self.registry.begin_request(&self.conn);
        let flight = InFlight {
            conn: Arc::clone(&self.conn),
            registry: Arc::clone(&self.registry),
        };
        let max = self.registry.settings().max_requests;
        let last = max > 0 && n >= max;
        if last {
            if let Some(shutdown) = req.extensions().get::<ConnectionShutdown>() {
                shutdown.graceful_shutdown();
            }
        }
        let answer = self.inner.call(req);
        Box::pin(async move {
            let mut resp = answer.await?;
            flight.conn.owed.fetch_add(1, Ordering::AcqRel);
            // The connection closes after this answer: an HTTP/1 client learns it from the
            // answer itself (HTTP/2 has no such header; its GOAWAY says it).
            if last && !flight.conn.h2.load(Ordering::Relaxed) {
                resp.headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            Ok(resp.map(|body| TrackedBody {
                body,
                flight: Some(flight),
            }))
        })
    }
}

/// A response body that ends its request's time in flight when it has been read to its end
/// (or dropped).
pub struct TrackedBody<B> {
    body: B,
    flight: Option<InFlight>,
}

impl<B: Body + Unpin> Body for TrackedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.body).poll_frame(cx);
        if matches!(polled, Poll::Ready(None) | Poll::Ready(Some(Err(_)))) {
            this.flight.take();
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
