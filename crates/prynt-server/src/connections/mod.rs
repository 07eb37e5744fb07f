//! The listener's defences against slow and abusive clients (docs/reliability.md): who may hold
//! a connection, for how long, and what a client that stalls can cost.
//!
//! This module owns
//! - admission ([`Registry::admit`]): a cap on open connections in total and per client
//!   address (an IPv6 client is its /64; trusted proxies count only in the total). At a cap,
//!   the connection between requests (or still sending its first) whose deadline comes first
//!   is closed to make room: of the same address at the per-address cap, of anyone at the
//!   total cap. Only when every such connection is in a request is the new one refused: a
//!   503 with the JSON error body on plain HTTP, closed at once under TLS. Nothing waits in a
//!   queue.
//! - deadlines, checked by [`Registry::sweep`]: a new connection must bring a whole request
//!   head within the header timeout (the TLS handshake included); between requests a
//!   connection is closed after the idle timeout; a next request head must be complete within
//!   the header timeout of its first byte; a response the client stops reading ends the
//!   connection after the idle timeout. Slowly sent bytes move none of these deadlines.
//! - the most requests one connection may carry ([`service`]), the deadline of a request
//!   body ([`body`]), the exact size of a request head ([`head`]), and the JSON error body of
//!   hyper's own HTTP/1 refusals ([`io`]);
//! - the process's open-file limit ([`raise_open_file_limit`]), which the caps must fit in.
//!
//! The state of each connection lives in atomics of its [`Conn`], so a request costs no lock;
//! the registry's lock is taken when a connection opens or closes and by the sweeper.

pub mod body;
pub mod head;
mod io;
mod service;

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::task::{Context, Waker};
use std::time::{Duration, Instant};

use axum_server::accept::Accept;
use parking_lot::Mutex;
use prometheus::{IntCounterVec, IntGauge, Opts};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::error::ApiError;

pub use io::{Plain, Socket};
pub use service::Tracked;

/// The limits a server applies to its connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// Open connections in all.
    pub max_connections: usize,
    /// Open connections of one client address (an IPv6 /64).
    pub max_per_address: usize,
    /// From a connection's start, or a request head's first byte, to the head's end.
    pub header_timeout: Duration,
    /// Between requests (and while a response waits for the client to read it).
    pub idle_timeout: Duration,
    /// From a request's head to the end of its body.
    pub body_timeout: Duration,
    /// Requests one connection may carry; 0 for no limit.
    pub max_requests: u64,
    /// File descriptors the connections may take in all, those closed whose task has not
    /// ended yet included (see [`Registry::ceiling`]); `None`: an eighth over the cap.
    pub descriptors: Option<usize>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            max_connections: 10_000,
            max_per_address: 512,
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(75),
            body_timeout: Duration::from_secs(30),
            max_requests: 0,
            descriptors: None,
        }
    }
}

/// File descriptors kept for everything but client connections (the store, its pool, files,
/// the refusals being answered), on top of the store's pool.
const RESERVED_FILES: u64 = 512;

/// Refused connections answered with a 503 at the same time; beyond them a refused connection
/// is closed without a word, so that refusing costs a bounded number of descriptors.
const ANSWERING_REFUSALS: usize = 64;

/// How long a refused connection is given to take its 503 and close.
const REFUSAL_LINGER: Duration = Duration::from_secs(1);

/// Raises the soft limit on open files to the hard limit, and returns the soft limit now in
/// force (`None` where it cannot be read).
pub fn raise_open_file_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit writes into the struct it is given and reads nothing else.
        if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
            return None;
        }
        if limit.rlim_cur < limit.rlim_max {
            // An unlimited hard limit is not a number the kernel takes for the soft one.
            let wanted = if limit.rlim_max == libc::RLIM_INFINITY {
                1 << 20
            } else {
                limit.rlim_max
            };
            let raised = libc::rlimit {
                rlim_cur: wanted.max(limit.rlim_cur),
                rlim_max: limit.rlim_max,
            };
            // SAFETY: setrlimit reads the struct it is given.
            if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
                limit.rlim_cur = raised.rlim_cur;
            }
        }
        // rlim_t is u64 on Linux, not on every Unix.
        #[allow(clippy::unnecessary_cast)]
        Some(limit.rlim_cur as u64)
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// The descriptors connections may take out of `open_files`, beside the store's `pool` and
/// [`RESERVED_FILES`].
pub fn room_for_connections(open_files: Option<u64>, pool: usize) -> Option<usize> {
    open_files.map(|files| files.saturating_sub(RESERVED_FILES + pool as u64) as usize)
}

/// The connection cap that fits in `room` descriptors, with an eighth more for connections
/// closed but not yet gone ([`Registry::ceiling`]).
pub fn cap_within(wanted: usize, room: Option<usize>) -> usize {
    match room {
        Some(room) => wanted.min((room * 8 / 9).max(16)),
        None => wanted,
    }
}

/// A client address as the caps count it: IPv4 (and IPv4-mapped IPv6) whole, IPv6 by /64,
/// the block one subscriber is usually given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AddressKey(IpAddr);

impl AddressKey {
    pub fn of(ip: IpAddr) -> Self {
        match ip.to_canonical() {
            IpAddr::V6(v6) => {
                let bits = u128::from(v6) & !((1u128 << 64) - 1);
                AddressKey(IpAddr::V6(bits.into()))
            }
            v4 => AddressKey(v4),
        }
    }
}

/// Where a connection stands while no request is in flight on it.
const FRESH: u8 = 0;
const IDLE: u8 = 1;
const HEAD: u8 = 2;

/// Why the server closed a connection (the `reason` label of the metric).
#[derive(Debug, Clone, Copy)]
enum Closed {
    HeaderTimeout,
    IdleTimeout,
    StalledReader,
    Evicted,
}

impl Closed {
    fn label(self) -> &'static str {
        match self {
            Closed::HeaderTimeout => "header_timeout",
            Closed::IdleTimeout => "idle_timeout",
            Closed::StalledReader => "stalled_reader",
            Closed::Evicted => "evicted",
        }
    }
}

/// Why a new connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Its address holds as many connections as it may, every one in a request.
    PerAddress,
    /// The server holds as many connections as it may, every one in a request.
    Total,
}

impl Refusal {
    fn label(self) -> &'static str {
        match self {
            Refusal::PerAddress => "per_address",
            Refusal::Total => "total",
        }
    }

    fn error(self) -> ApiError {
        ApiError::Unavailable(match self {
            Refusal::PerAddress => {
                "Too many connections from this address are busy; retry shortly.".into()
            }
            Refusal::Total => {
                "The server has no room for another connection; retry shortly.".into()
            }
        })
    }
}

/// One open connection, shared by its stream wrappers, its service and the registry.
pub struct Conn {
    id: u64,
    key: AddressKey,
    /// Requests whose answer has not been fully handed to the connection.
    in_flight: AtomicU32,
    /// [`FRESH`], [`IDLE`] or [`HEAD`]; read only while nothing is in flight.
    phase: AtomicU8,
    /// When the current phase's time is up (ms of the registry's clock).
    deadline_ms: AtomicU64,
    /// The last time bytes were written to the client.
    wrote_ms: AtomicU64,
    /// The last write did not complete: the client is not reading.
    write_blocked: AtomicBool,
    closed: AtomicBool,
    read_waker: Mutex<Option<Waker>>,
    write_waker: Mutex<Option<Waker>>,
    /// Requests begun on this connection.
    requests: AtomicU64,
    /// Answers produced whose head has not been written yet (HTTP/1, see [`io`]).
    owed: AtomicU32,
    /// The client spoke HTTP/2 (prior knowledge or ALPN): heads are frames, not lines.
    h2: AtomicBool,
    /// Bytes have come from the client.
    heard: AtomicBool,
}

impl Conn {
    fn new(id: u64, key: AddressKey, deadline_ms: u64, now: u64) -> Self {
        Conn {
            id,
            key,
            in_flight: AtomicU32::new(0),
            phase: AtomicU8::new(FRESH),
            deadline_ms: AtomicU64::new(deadline_ms),
            wrote_ms: AtomicU64::new(now),
            write_blocked: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            read_waker: Mutex::new(None),
            write_waker: Mutex::new(None),
            requests: AtomicU64::new(0),
            owed: AtomicU32::new(0),
            h2: AtomicBool::new(false),
            heard: AtomicBool::new(false),
        }
    }

    fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    /// Between requests (or before the first): a connection that may be closed to make room.
    fn waiting(&self) -> bool {
        !self.is_closed() && self.in_flight.load(Ordering::Acquire) == 0
    }

    fn deadline(&self) -> u64 {
        self.deadline_ms.load(Ordering::Relaxed)
    }

    /// Remembers the task to wake when the connection is closed while it waits on the socket.
    fn park(slot: &Mutex<Option<Waker>>, cx: &Context<'_>) {
        let mut w = slot.lock();
        match &*w {
            Some(old) if old.will_wake(cx.waker()) => {}
            _ => *w = Some(cx.waker().clone()),
        }
    }

    /// Marks the connection closed and returns the tasks to wake so they see it.
    fn close(&self, wake: &mut Vec<Waker>) -> bool {
        if self.closed.swap(true, Ordering::SeqCst) {
            return false;
        }
        wake.extend(self.read_waker.lock().take());
        wake.extend(self.write_waker.lock().take());
        true
    }
}

struct Inner {
    by_address: HashMap<AddressKey, Vec<Arc<Conn>>>,
    /// Connections admitted and not yet dropped.
    open: usize,
    /// Of those, the ones marked closed whose task has not ended yet.
    closing: usize,
    next_id: u64,
}

impl Inner {
    fn mark_closed(&mut self, conn: &Conn, wake: &mut Vec<Waker>) -> bool {
        let marked = conn.close(wake);
        if marked {
            self.closing += 1;
        }
        marked
    }
}

/// The connection metrics on `/metrics`.
struct ConnMetrics {
    open: IntGauge,
    closed: IntCounterVec,
    refused: IntCounterVec,
}

impl ConnMetrics {
    fn new() -> Result<Self, prometheus::Error> {
        Ok(ConnMetrics {
            open: IntGauge::new(
                "prynt_connections_open",
                "Client connections open (not counting those the server has just closed)",
            )?,
            closed: IntCounterVec::new(
                Opts::new(
                    "prynt_connections_closed_total",
                    "Client connections the server closed: header_timeout, idle_timeout, \
                     stalled_reader (a response not read) or evicted (room for a new one at a cap)",
                ),
                &["reason"],
            )?,
            refused: IntCounterVec::new(
                Opts::new(
                    "prynt_connections_refused_total",
                    "New connections refused at a cap while every held one was in a request",
                ),
                &["cap"],
            )?,
        })
    }
}

/// Every open connection of the server, and its limits.
pub struct Registry {
    settings: Settings,
    /// Proxies, counted in the total only (each carries many clients).
    trusted: Vec<(IpAddr, IpAddr)>,
    started: Instant,
    inner: Mutex<Inner>,
    answering: Arc<tokio::sync::Semaphore>,
    metrics: ConnMetrics,
}

impl Registry {
    pub fn new(
        settings: Settings,
        trusted: Vec<(IpAddr, IpAddr)>,
    ) -> prometheus::Result<Arc<Self>> {
        Ok(Arc::new(Registry {
            settings,
            trusted,
            started: Instant::now(),
            inner: Mutex::new(Inner {
                by_address: HashMap::new(),
                open: 0,
                closing: 0,
                next_id: 0,
            }),
            answering: Arc::new(tokio::sync::Semaphore::new(ANSWERING_REFUSALS)),
            metrics: ConnMetrics::new()?,
        }))
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Adds the connection metrics to the server's registry.
    pub fn register_metrics(&self, metrics: &crate::metrics::Metrics) -> prometheus::Result<()> {
        metrics.register(Box::new(self.metrics.open.clone()))?;
        metrics.register(Box::new(self.metrics.closed.clone()))?;
        metrics.register(Box::new(self.metrics.refused.clone()))
    }

    /// Connections held at most, closed ones not yet gone included: what the descriptors
    /// allow, and at least an eighth over the cap. Under a flood faster than the closed
    /// connections' tasks end, new connections are refused once it is reached.
    fn ceiling(&self) -> usize {
        let eighth = self.settings.max_connections + self.settings.max_connections / 8 + 1;
        self.settings.descriptors.unwrap_or(0).max(eighth)
    }

    fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    fn ms(d: Duration) -> u64 {
        d.as_millis() as u64
    }

    fn trusted(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.trusted
            .iter()
            .any(|(first, last)| match (ip, first, last) {
                (IpAddr::V4(a), IpAddr::V4(f), IpAddr::V4(l)) => *f <= a && a <= *l,
                (IpAddr::V6(a), IpAddr::V6(f), IpAddr::V6(l)) => *f <= a && a <= *l,
                _ => false,
            })
    }

    /// Admits a connection from `ip`, closing a waiting one at a cap; `Err` when there is no
    /// room without closing one in a request.
    pub fn admit(&self, ip: IpAddr) -> Result<Arc<Conn>, Refusal> {
        let now = self.now_ms();
        let key = AddressKey::of(ip);
        let exempt = self.trusted(ip);
        let mut wake = Vec::new();
        let mut evicted = 0;
        let mut inner = self.inner.lock();
        if !exempt {
            let mine = inner.by_address.get(&key);
            let live = mine.map_or(0, |c| c.iter().filter(|c| !c.is_closed()).count());
            if live >= self.settings.max_per_address {
                let victim = mine
                    .and_then(|c| {
                        c.iter()
                            .filter(|c| c.waiting())
                            .min_by_key(|c| c.deadline())
                    })
                    .cloned();
                match victim {
                    Some(v) => evicted += usize::from(inner.mark_closed(&v, &mut wake)),
                    None => {
                        drop(inner);
                        self.metrics
                            .refused
                            .with_label_values(&[Refusal::PerAddress.label()])
                            .inc();
                        return Err(Refusal::PerAddress);
                    }
                }
            }
        }
        if inner.open >= self.ceiling() {
            // So many closed connections have yet to be let go of (their tasks have not run
            // yet) that another would take a descriptor beyond the cap's share.
            drop(inner);
            wake.into_iter().for_each(Waker::wake);
            self.metrics
                .refused
                .with_label_values(&[Refusal::Total.label()])
                .inc();
            return Err(Refusal::Total);
        }
        if inner.open - inner.closing >= self.settings.max_connections {
            // A batch, so that a flood at the cap does not scan every connection each time.
            let batch = (self.settings.max_connections / 64).max(1);
            let mut waiting: Vec<(u64, Arc<Conn>)> = inner
                .by_address
                .values()
                .flatten()
                .filter(|c| c.waiting())
                .map(|c| (c.deadline(), Arc::clone(c)))
                .collect();
            if waiting.is_empty() {
                drop(inner);
                self.metrics
                    .refused
                    .with_label_values(&[Refusal::Total.label()])
                    .inc();
                return Err(Refusal::Total);
            }
            if waiting.len() > batch {
                waiting.select_nth_unstable_by_key(batch - 1, |(d, _)| *d);
                waiting.truncate(batch);
            }
            for (_, victim) in &waiting {
                evicted += usize::from(inner.mark_closed(victim, &mut wake));
            }
        }
        let id = inner.next_id;
        inner.next_id += 1;
        let deadline = now + Self::ms(self.settings.header_timeout);
        let conn = Arc::new(Conn::new(id, key, deadline, now));
        inner
            .by_address
            .entry(key)
            .or_default()
            .push(Arc::clone(&conn));
        inner.open += 1;
        self.publish(&inner);
        drop(inner);
        if evicted > 0 {
            self.metrics
                .closed
                .with_label_values(&[Closed::Evicted.label()])
                .inc_by(evicted as u64);
        }
        wake.into_iter().for_each(Waker::wake);
        Ok(conn)
    }

    /// Forgets a connection whose socket is gone.
    fn release(&self, conn: &Conn) {
        let mut inner = self.inner.lock();
        if let Some(list) = inner.by_address.get_mut(&conn.key) {
            if let Some(i) = list.iter().position(|c| c.id == conn.id) {
                list.swap_remove(i);
            }
            if list.is_empty() {
                inner.by_address.remove(&conn.key);
            }
        }
        inner.open = inner.open.saturating_sub(1);
        if conn.is_closed() {
            inner.closing = inner.closing.saturating_sub(1);
        }
        self.publish(&inner);
    }

    /// The gauge counts the connections being served, not those closed and about to go.
    fn publish(&self, inner: &Inner) {
        self.metrics
            .open
            .set(inner.open.saturating_sub(inner.closing) as i64);
    }

    /// A request starts on `conn`.
    fn begin_request(&self, conn: &Conn) -> u64 {
        conn.in_flight.fetch_add(1, Ordering::AcqRel);
        conn.requests.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// A request's answer has been handed over: with none left in flight the connection waits
    /// for the next request, for the idle timeout at most.
    fn end_request(&self, conn: &Conn) {
        if conn.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            conn.phase.store(IDLE, Ordering::Relaxed);
            conn.deadline_ms.store(
                self.now_ms() + Self::ms(self.settings.idle_timeout),
                Ordering::Relaxed,
            );
        }
    }

    /// Bytes came from the client (after TLS): the first bytes say whether it speaks HTTP/2;
    /// on an idle HTTP/1 connection they start a head, which has the header timeout to end.
    fn heard(&self, conn: &Conn, bytes: &[u8]) {
        if !conn.heard.load(Ordering::Relaxed) {
            conn.heard.store(true, Ordering::Relaxed);
            // No HTTP/1 method is `PRI`; HTTP/2's preface starts with it.
            if bytes.starts_with(b"PRI ") {
                conn.h2.store(true, Ordering::Relaxed);
            }
        }
        // HTTP/2 clients send frames between requests (window updates, pings, settings): its
        // idle connections keep the idle timeout.
        if conn.in_flight.load(Ordering::Acquire) == 0
            && !conn.h2.load(Ordering::Relaxed)
            && conn.phase.load(Ordering::Relaxed) == IDLE
        {
            conn.phase.store(HEAD, Ordering::Relaxed);
            conn.deadline_ms.store(
                self.now_ms() + Self::ms(self.settings.header_timeout),
                Ordering::Relaxed,
            );
        }
    }

    fn wrote(&self, conn: &Conn) {
        conn.wrote_ms.store(self.now_ms(), Ordering::Relaxed);
        conn.write_blocked.store(false, Ordering::Relaxed);
    }

    /// Closes every connection whose time is up, and returns how many.
    fn sweep_once(&self) -> usize {
        let now = self.now_ms();
        let idle = Self::ms(self.settings.idle_timeout);
        let mut expired: Vec<(Arc<Conn>, Closed)> = Vec::new();
        let mut wake = Vec::new();
        let mut inner = self.inner.lock();
        for conn in inner.by_address.values().flatten() {
            if conn.is_closed() {
                continue;
            }
            if conn.in_flight.load(Ordering::Acquire) == 0 {
                if now >= conn.deadline() {
                    let why = match conn.phase.load(Ordering::Relaxed) {
                        IDLE => Closed::IdleTimeout,
                        _ => Closed::HeaderTimeout,
                    };
                    expired.push((Arc::clone(conn), why));
                }
            } else if conn.write_blocked.load(Ordering::Relaxed)
                && now.saturating_sub(conn.wrote_ms.load(Ordering::Relaxed)) >= idle
            {
                expired.push((Arc::clone(conn), Closed::StalledReader));
            }
        }
        let mut closed = 0;
        for (conn, why) in &expired {
            if inner.mark_closed(conn, &mut wake) {
                closed += 1;
                self.metrics.closed.with_label_values(&[why.label()]).inc();
            }
        }
        self.publish(&inner);
        drop(inner);
        wake.into_iter().for_each(Waker::wake);
        closed
    }

    /// Closes the connections whose time is up, a few times per shortest timeout, until the
    /// process ends.
    pub async fn sweep(self: Arc<Self>) {
        let shortest = self.settings.header_timeout.min(self.settings.idle_timeout);
        let tick = (shortest / 4).clamp(Duration::from_millis(20), Duration::from_secs(1));
        let mut every = tokio::time::interval(tick);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            self.sweep_once();
        }
    }

    /// Answers a refused plain-HTTP connection with a 503 and closes it, within
    /// [`REFUSAL_LINGER`]; without a free slot it is closed at once.
    async fn answer_refusal(&self, mut stream: TcpStream, refusal: Refusal) {
        let Ok(_slot) = Arc::clone(&self.answering).try_acquire_owned() else {
            return;
        };
        let answer = io::error_answer(&refusal.error(), &[("retry-after", "1")]);
        let _ = tokio::time::timeout(REFUSAL_LINGER, async {
            // The request may already be waiting: read what is there so that closing sends
            // a FIN, not a reset that could destroy the answer before the client reads it.
            let mut sink = [0u8; 4096];
            let _ = stream.try_read(&mut sink);
            stream.write_all(&answer).await?;
            stream.shutdown().await?;
            let mut left: usize = 64 * 1024;
            while left > 0 {
                let n = tokio::io::AsyncReadExt::read(&mut stream, &mut sink).await?;
                if n == 0 {
                    break;
                }
                left = left.saturating_sub(n);
            }
            Ok::<(), std::io::Error>(())
        })
        .await;
    }
}

/// The acceptor that admits connections into the [`Registry`] and wraps their streams and
/// service; `inner` is the TLS acceptor, or none.
#[derive(Clone)]
pub struct Guard<A> {
    inner: A,
    registry: Arc<Registry>,
    /// Plain HTTP: a refused connection can be answered.
    plain: bool,
}

impl<A> Guard<A> {
    pub fn new(inner: A, registry: Arc<Registry>, plain: bool) -> Self {
        Guard {
            inner,
            registry,
            plain,
        }
    }
}

type Accepted<St, Sv> = std::io::Result<(St, Sv)>;

impl<A, S> Accept<TcpStream, S> for Guard<A>
where
    A: Accept<Socket<TcpStream>, S> + Clone + Send + Sync + 'static,
    A::Future: Send + 'static,
    A::Stream: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    A::Service: Send + 'static,
    S: Send + 'static,
{
    type Stream = Plain<A::Stream>;
    type Service = Tracked<A::Service>;
    type Future = Pin<Box<dyn Future<Output = Accepted<Self::Stream, Self::Service>> + Send>>;

    fn accept(&self, stream: TcpStream, service: S) -> Self::Future {
        let registry = Arc::clone(&self.registry);
        let inner = self.inner.clone();
        let plain = self.plain;
        Box::pin(async move {
            let peer: SocketAddr = stream.peer_addr()?;
            let conn = match registry.admit(peer.ip()) {
                Ok(conn) => conn,
                Err(refusal) => {
                    if plain {
                        registry.answer_refusal(stream, refusal).await;
                    }
                    return Err(std::io::Error::other(refusal.label()));
                }
            };
            let socket = Socket::new(stream, Arc::clone(&conn), Arc::clone(&registry));
            let (io, service) = inner.accept(socket, service).await?;
            Ok((
                Plain::new(io, Arc::clone(&conn), Arc::clone(&registry)),
                Tracked::new(service, conn, registry),
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(total: usize, per_address: usize) -> Settings {
        Settings {
            max_connections: total,
            max_per_address: per_address,
            header_timeout: Duration::from_millis(200),
            idle_timeout: Duration::from_millis(400),
            ..Settings::default()
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn ipv6_clients_are_counted_by_their_64_and_mapped_ipv4_as_ipv4() {
        assert_eq!(
            AddressKey::of(ip("2001:db8:1:2:aaaa::1")),
            AddressKey::of(ip("2001:db8:1:2:bbbb::2"))
        );
        assert_ne!(
            AddressKey::of(ip("2001:db8:1:2::1")),
            AddressKey::of(ip("2001:db8:1:3::1"))
        );
        assert_eq!(
            AddressKey::of(ip("::ffff:192.0.2.7")),
            AddressKey::of(ip("192.0.2.7"))
        );
    }

    #[test]
    fn at_the_address_cap_its_oldest_waiting_connection_makes_room_or_the_new_one_is_refused() {
        let r = Registry::new(settings(100, 2), Vec::new()).unwrap();
        let a = r.admit(ip("192.0.2.1")).unwrap();
        std::thread::sleep(Duration::from_millis(5));
        let b = r.admit(ip("192.0.2.1")).unwrap();
        // Another address is not affected.
        let other = r.admit(ip("192.0.2.2")).unwrap();
        let c = r.admit(ip("192.0.2.1")).unwrap();
        assert!(a.is_closed(), "the earliest deadline made room");
        assert!(!b.is_closed() && !c.is_closed() && !other.is_closed());
        // Both remaining ones busy: no room.
        r.begin_request(&b);
        r.begin_request(&c);
        assert_eq!(r.admit(ip("192.0.2.1")).err(), Some(Refusal::PerAddress));
        // A trusted proxy's address is not capped.
        let proxied = Registry::new(
            settings(100, 1),
            vec![(ip("10.0.0.0"), ip("10.255.255.255"))],
        )
        .unwrap();
        let held: Vec<_> = (0..5)
            .map(|_| proxied.admit(ip("10.1.2.3")).unwrap())
            .collect();
        assert!(held.iter().all(|c| !c.is_closed()));
    }

    #[test]
    fn at_the_total_cap_waiting_connections_make_room_and_busy_ones_never() {
        let r = Registry::new(settings(3, 10), Vec::new()).unwrap();
        let held: Vec<_> = (1..=3)
            .map(|i| r.admit(ip(&format!("192.0.2.{i}"))).unwrap())
            .collect();
        for c in &held {
            r.begin_request(c);
        }
        assert_eq!(r.admit(ip("192.0.2.9")).err(), Some(Refusal::Total));
        r.end_request(&held[1]);
        let fresh = r.admit(ip("192.0.2.9")).unwrap();
        assert!(held[1].is_closed(), "the waiting one made room");
        assert!(!held[0].is_closed() && !held[2].is_closed() && !fresh.is_closed());
    }

    #[test]
    fn the_sweeper_closes_late_heads_and_idle_connections_but_not_busy_ones() {
        let r = Registry::new(settings(100, 100), Vec::new()).unwrap();
        let fresh = r.admit(ip("192.0.2.1")).unwrap();
        let busy = r.admit(ip("192.0.2.2")).unwrap();
        r.begin_request(&busy);
        let idle = r.admit(ip("192.0.2.3")).unwrap();
        r.begin_request(&idle);
        r.end_request(&idle);
        assert_eq!(r.sweep_once(), 0);
        std::thread::sleep(Duration::from_millis(250));
        // Past the header timeout: the connection that sent no request goes; the idle one
        // has the longer idle timeout; the busy one has no deadline.
        assert_eq!(r.sweep_once(), 1);
        assert!(fresh.is_closed());
        // A head begun on the idle connection must end within the header timeout.
        r.heard(&idle, b"GET / HT");
        std::thread::sleep(Duration::from_millis(250));
        assert_eq!(r.sweep_once(), 1);
        assert!(idle.is_closed() && !busy.is_closed());
    }

    #[test]
    fn the_cap_fits_in_the_open_file_limit() {
        assert_eq!(room_for_connections(Some(1_024), 16), Some(496));
        assert_eq!(cap_within(10_000, Some(496)), 440);
        assert_eq!(
            cap_within(10_000, room_for_connections(Some(1 << 20), 16)),
            10_000
        );
        assert_eq!(cap_within(10_000, None), 10_000);
    }
}
