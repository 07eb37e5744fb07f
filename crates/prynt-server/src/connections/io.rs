//! The two wrappers around a connection's stream.
//!
//! [`Socket`] wraps the TCP stream (under TLS, when there is TLS): it fails reads and writes
//! once the registry has closed the connection, wakes the task waiting on it so that it sees
//! so, notes when the client stops reading, and leaves the registry when dropped.
//!
//! [`Plain`] wraps what HTTP is read from and written to (above TLS): it notes the bytes a
//! client sends between requests, and gives hyper's own HTTP/1 refusals the API's JSON error
//! body. hyper answers a request head it cannot parse (a malformed request line or header, a
//! control byte in a header, a negative `Content-Length`: 400; a head over its buffer or with
//! too many headers: 431; a URI over 64 KiB: 414) itself, with an empty body and before any service sees the request.
//! Such an answer is the only head hyper writes while no request of ours is in flight and no
//! answer of ours is owed, so a write at that moment that is exactly one such head is
//! replaced by the same status with the error body; everything else passes untouched.

use std::io;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::http::StatusCode;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::{Conn, Registry};
use crate::error::ApiError;

fn closed_by_server() -> io::Error {
    io::Error::new(
        io::ErrorKind::TimedOut,
        "connection closed by the server (timeout or cap)",
    )
}

/// The TCP side of a connection.
pub struct Socket<IO> {
    io: IO,
    conn: Arc<Conn>,
    registry: Arc<Registry>,
}

impl<IO> Socket<IO> {
    pub(super) fn new(io: IO, conn: Arc<Conn>, registry: Arc<Registry>) -> Self {
        Socket { io, conn, registry }
    }
}

impl<IO> Drop for Socket<IO> {
    fn drop(&mut self) {
        self.registry.release(&self.conn);
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for Socket<IO> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.conn.is_closed() {
            return Poll::Ready(Err(closed_by_server()));
        }
        match Pin::new(&mut this.io).poll_read(cx, buf) {
            Poll::Pending => {
                Conn::park(&this.conn.read_waker, cx);
                // Closed while the waker was being stored: the closer may have missed it.
                if this.conn.is_closed() {
                    return Poll::Ready(Err(closed_by_server()));
                }
                Poll::Pending
            }
            ready => ready,
        }
    }
}

impl<IO: AsyncWrite + Unpin> Socket<IO> {
    fn blocked(&self, cx: &Context<'_>) -> Poll<io::Result<()>> {
        self.conn.write_blocked.store(true, Ordering::Relaxed);
        Conn::park(&self.conn.write_waker, cx);
        if self.conn.is_closed() {
            return Poll::Ready(Err(closed_by_server()));
        }
        Poll::Pending
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Socket<IO> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.conn.is_closed() {
            return Poll::Ready(Err(closed_by_server()));
        }
        match Pin::new(&mut this.io).poll_write(cx, buf) {
            Poll::Pending => this.blocked(cx).map_ok(|()| 0),
            Poll::Ready(Ok(n)) => {
                if n > 0 {
                    this.registry.wrote(&this.conn);
                }
                Poll::Ready(Ok(n))
            }
            err => err,
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.conn.is_closed() {
            return Poll::Ready(Err(closed_by_server()));
        }
        match Pin::new(&mut this.io).poll_flush(cx) {
            Poll::Pending => this.blocked(cx),
            done => done,
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

/// Where a replaced answer stands.
enum Rewrite {
    None,
    /// Writing our answer in place of hyper's.
    Writing {
        answer: Vec<u8>,
        at: usize,
    },
    /// Written; hyper closes the connection after such an answer.
    Done,
}

/// The HTTP side of a connection.
pub struct Plain<IO> {
    io: IO,
    conn: Arc<Conn>,
    registry: Arc<Registry>,
    rewrite: Rewrite,
}

impl<IO> Plain<IO> {
    pub(super) fn new(io: IO, conn: Arc<Conn>, registry: Arc<Registry>) -> Self {
        Plain {
            io,
            conn,
            registry,
            rewrite: Rewrite::None,
        }
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for Plain<IO> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.io).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = &polled {
            let got = &buf.filled()[before..];
            if !got.is_empty() {
                this.registry.heard(&this.conn, got);
            }
        }
        polled
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Plain<IO> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if let Rewrite::None = this.rewrite {
            // The first write after an answer was produced carries that answer's head.
            let owed = this.conn.owed.swap(0, Ordering::AcqRel);
            let ours = owed > 0
                || this.conn.in_flight.load(Ordering::Acquire) > 0
                || this.conn.h2.load(Ordering::Relaxed);
            if ours {
                return Pin::new(&mut this.io).poll_write(cx, buf);
            }
            match replacement(buf) {
                Some(answer) => this.rewrite = Rewrite::Writing { answer, at: 0 },
                None => return Pin::new(&mut this.io).poll_write(cx, buf),
            }
        }
        loop {
            let Rewrite::Writing { answer, at } = &mut this.rewrite else {
                // Written: whatever hyper writes after its refusal is not sent, as it closes
                // the connection anyway.
                return Poll::Ready(Ok(buf.len()));
            };
            match Pin::new(&mut this.io).poll_write(cx, &answer[*at..]) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => {
                    *at += n;
                    if *at >= answer.len() {
                        this.rewrite = Rewrite::Done;
                    }
                }
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

/// The API's answer in place of `head`, when `head` is exactly one of hyper's automatic
/// refusals: an HTTP/1 status line of 400, 414 or 431 and headers, without a body.
fn replacement(head: &[u8]) -> Option<Vec<u8>> {
    if !(head.starts_with(b"HTTP/1.1 ") || head.starts_with(b"HTTP/1.0 ")) {
        return None;
    }
    if !head.ends_with(b"\r\n\r\n") || head.len() > 1024 {
        return None;
    }
    let status = std::str::from_utf8(head.get(9..12)?).ok()?;
    let error = match status {
        "400" => ApiError::Validation {
            field: None,
            message: "The request is not valid HTTP/1.1: its request line, a header (a control \
                      character, a malformed name) or its Content-Length could not be read."
                .into(),
        },
        "414" => ApiError::UriTooLong,
        "431" => ApiError::HeadersTooLarge,
        _ => return None,
    };
    Some(error_answer(&error, &[]))
}

/// A whole HTTP/1.1 answer of `error` with its JSON body, closing the connection.
pub(super) fn error_answer(error: &ApiError, extra: &[(&str, &str)]) -> Vec<u8> {
    let status: StatusCode = error.status();
    let body = serde_json::to_vec(&error.body()).unwrap_or_else(|_| b"{}".to_vec());
    let id = prynt_core::ids::request_id(prynt_core::timefmt::now_unix());
    let mut out = format!(
        "HTTP/1.1 {} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         connection: close\r\nx-request-id: {id}\r\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or(""),
        body.len()
    );
    for (name, value) in extra {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str("\r\n");
    let mut out = out.into_bytes();
    out.extend_from_slice(&body);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_hypers_bodyless_refusals_are_replaced() {
        let hyper_431 =
            b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\ndate: x\r\n\r\n";
        let answer = String::from_utf8(replacement(hyper_431).expect("replaced")).unwrap();
        assert!(answer.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"));
        let (head, body) = answer.split_once("\r\n\r\n").unwrap();
        assert!(head.contains(&format!("content-length: {}", body.len())));
        let json: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(json["error"]["code"], "headers_too_large");
        assert!(replacement(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n").is_some());
        assert!(replacement(b"HTTP/1.1 414 URI Too Long\r\ncontent-length: 0\r\n\r\n").is_some());
        // Anything with a body, another status, or not a head at all stays as it is.
        assert!(replacement(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 2\r\n\r\n{}").is_none());
        assert!(replacement(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").is_none());
        assert!(replacement(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n").is_none());
        assert!(replacement(b"0\r\n\r\n").is_none());
    }
}
