//! Serving HTTP/1.1 on a socket so that slow and stalled clients cannot hold
//! the process (the contract's "Connections"): a connection must send a complete request head within
//! [`HEAD_TIMEOUT`], an idle keep-alive connection is closed after
//! [`KEEP_ALIVE_IDLE`], at most [`MAX_CONNECTIONS`] are open at once, and a
//! shutdown gives requests in flight [`SHUTDOWN_GRACE`] and then closes
//! whatever connections clients still hold. A stalled request *body* is the router's
//! business (`http::BODY_STALL_TIMEOUT`), so that it can answer 408 in the
//! project's error formats.
//!
//! hyper's own `header_read_timeout` is not used: its clock starts whenever
//! hyper waits for a head, which includes the idle time between keep-alive
//! requests, so it cannot close a half-sent head after 10 s and yet keep an
//! idle connection for 60 s. Instead `Watched` wraps the socket and fails
//! a read that waits past the deadline of the connection's current phase,
//! which hyper answers by closing the connection.
//!
//! With TLS, `Watched` wraps the socket under the TLS layer: the handshake
//! is read within the same deadline as the first request head (both count
//! from accept), and a client that stops reading stalls the same writes.

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::{Body as HttpBody, Bytes, Frame, Incoming, SizeHint};
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::time::{Instant, Sleep};
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

/// The contract ("Connections"): a connection that has not sent a complete request head within this
/// time is closed. On a new connection the clock starts at accept; on a
/// keep-alive connection, at the first byte of the next request.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(10);
/// The contract ("Connections"): a keep-alive connection with no request for this long is closed.
pub const KEEP_ALIVE_IDLE: Duration = Duration::from_secs(60);
/// A client that stops reading its response for this long is cut off, so
/// that it cannot hold a connection (and a slot under the cap) by never
/// reading. The contract ("Connections") gives it the same 10 s as a stalled body.
pub const WRITE_STALL: Duration = Duration::from_secs(10);
/// The contract ("Connections"): on SIGTERM, how long requests in flight may still run.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// Open client connections at most. Each is a file descriptor and a little
/// memory; with the timeouts above a stalled one frees its slot within
/// 10 s, so this only has to outlast a flood, not absorb it. Lowered at
/// start when the open-files limit would not leave room for it.
pub const MAX_CONNECTIONS: usize = 4096;
/// Descriptors kept for everything but client connections: the database
/// pool (with SQLite, three per connection: database, WAL, SHM), the
/// listener, SMTP, logs and the master key file.
const RESERVED_DESCRIPTORS: usize = 256;

/// The figures [`serve`] enforces; [`Limits::default`] is the contract's ("Connections").
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub head: Duration,
    pub idle: Duration,
    pub write_stall: Duration,
    pub max_connections: usize,
    pub shutdown_grace: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            head: HEAD_TIMEOUT,
            idle: KEEP_ALIVE_IDLE,
            write_stall: WRITE_STALL,
            max_connections: MAX_CONNECTIONS,
            shutdown_grace: SHUTDOWN_GRACE,
        }
    }
}

/// Serves `app` on `listener` until `shutdown` resolves, then stops
/// accepting, lets connections finish for up to `limits.shutdown_grace`, and
/// returns, closing those still open. Every request carries
/// `ConnectInfo<SocketAddr>`, as `axum::serve` would give it. With `tls`,
/// each connection is a TLS one, its handshake made by that acceptor.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    tls: Option<TlsAcceptor>,
    shutdown: impl Future<Output = ()>,
) {
    let cap = connection_cap(limits.max_connections);
    let slots = Arc::new(Semaphore::new(cap));
    let graceful = GracefulShutdown::new();
    // No timer is given to hyper, which leaves its header timeout off: the
    // deadlines are `Watched`'s (see the module documentation).
    let mut http = hyper::server::conn::http1::Builder::new();
    http.keep_alive(true);
    let mut shutdown = std::pin::pin!(shutdown);
    let mut warned_full: Option<Instant> = None;
    // Dropped on return, which ends the connections still open then.
    let mut connections = tokio::task::JoinSet::new();
    loop {
        while connections.try_join_next().is_some() {}
        let slot = match slots.clone().try_acquire_owned() {
            Ok(slot) => slot,
            Err(_) => {
                // Not accepting leaves new connections in the kernel's
                // backlog, costing this process nothing, until a slot frees.
                if warned_full.is_none_or(|at| at.elapsed() >= Duration::from_secs(60)) {
                    tracing::warn!(cap, "connection cap reached; new connections wait until one closes");
                    warned_full = Some(Instant::now());
                }
                tokio::select! {
                    biased;
                    () = &mut shutdown => break,
                    slot = slots.clone().acquire_owned() => match slot {
                        Ok(slot) => slot,
                        Err(_) => break,
                    },
                }
            }
        };
        let (stream, peer) = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) if is_connection_error(&e) => continue,
                Err(e) => {
                    // Most likely out of descriptors: retrying at once would
                    // spin, and waiting lets connections close.
                    tracing::error!(error = %e, "could not accept a connection; retrying in 1 s");
                    tokio::select! {
                        biased;
                        () = &mut shutdown => break,
                        () = tokio::time::sleep(Duration::from_secs(1)) => continue,
                    }
                }
            },
        };
        let activity = Arc::new(Activity::new());
        let io = Watched::new(stream, activity.clone(), limits);
        let service = connection_service(app.clone(), peer, activity);
        // Taken now, so that a connection still in its TLS handshake when
        // shutdown begins is waited for like the others.
        let watcher = graceful.watcher();
        let (http, tls) = (http.clone(), tls.clone());
        connections.spawn(async move {
            let served = match tls {
                None => watcher.watch(http.serve_connection(TokioIo::new(io), service)).await,
                Some(tls) => match tls.accept(io).await {
                    Ok(stream) => {
                        watcher
                            .watch(http.serve_connection(TokioIo::new(stream), service))
                            .await
                    }
                    Err(e) => {
                        tracing::debug!(%peer, error = %e, "TLS handshake failed");
                        Ok(())
                    }
                },
            };
            if let Err(e) = served {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
            drop(slot);
        });
    }
    drop(listener);
    while connections.try_join_next().is_some() {}
    tracing::info!(
        open = connections.len(),
        "shutting down: no new connections; finishing requests in flight"
    );
    if tokio::time::timeout(limits.shutdown_grace, graceful.shutdown())
        .await
        .is_err()
    {
        while connections.try_join_next().is_some() {}
        tracing::warn!(
            open = connections.len(),
            grace = ?limits.shutdown_grace,
            "connections still open after the grace period; closing them"
        );
    }
}

/// The cap actually used: `wanted`, or less when the open-files limit cannot
/// be raised to leave [`RESERVED_DESCRIPTORS`] beside it, so that a flood of
/// connections can never take the descriptors the database needs.
fn connection_cap(wanted: usize) -> usize {
    let needed = u64::try_from(wanted.saturating_add(RESERVED_DESCRIPTORS)).unwrap_or(u64::MAX);
    match rlimit::increase_nofile_limit(needed) {
        Ok(limit) => {
            let limit = usize::try_from(limit).unwrap_or(usize::MAX);
            let room = if limit > 2 * RESERVED_DESCRIPTORS {
                limit - RESERVED_DESCRIPTORS
            } else {
                limit / 2
            };
            let cap = wanted.min(room).max(1);
            if cap < wanted {
                tracing::warn!(
                    cap,
                    open_files_limit = limit,
                    "the open-files limit leaves room for fewer connections than {wanted}; raise it (ulimit -n, LimitNOFILE=) for more"
                );
            }
            cap
        }
        Err(e) => {
            tracing::warn!(error = %e, "could not read the open-files limit; capping connections at {wanted}");
            wanted
        }
    }
}

fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset
    )
}

/// The router as one connection's hyper service: each request carries the
/// peer's address, and marks the connection busy until its response body is
/// done (or dropped).
fn connection_service(
    app: Router,
    peer: SocketAddr,
    activity: Arc<Activity>,
) -> TowerToHyperService<
    impl tower::Service<hyper::Request<Incoming>, Response = hyper::Response<TrackedBody>, Error = Infallible, Future: Send>
    + Clone
    + Send,
> {
    TowerToHyperService::new(tower::service_fn(move |mut request: hyper::Request<Incoming>| {
        let busy = Busy::begin(activity.clone());
        request.extensions_mut().insert(ConnectInfo(peer));
        let app = app.clone();
        async move {
            let response = app.oneshot(request).await?;
            Ok(response.map(|body| TrackedBody { body, _busy: busy }))
        }
    }))
}

/// A response body that keeps its connection busy until hyper has sent it
/// and drops it.
#[derive(Debug)]
struct TrackedBody {
    body: axum::body::Body,
    _busy: Busy,
}

impl HttpBody for TrackedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// What a connection is doing, as far as its deadlines are concerned.
#[derive(Debug)]
struct Activity(Mutex<Phase>);

#[derive(Debug)]
struct Phase {
    /// Requests handed to the router whose responses are not yet sent.
    busy: usize,
    /// Whether any request has been handed over yet.
    served: bool,
    /// When the connection was accepted, or its last response was sent.
    since: Instant,
    /// When the first byte after `since` arrived, while not busy: the start
    /// of the next request's head.
    head_started: Option<Instant>,
    /// The task of the last read that waited. hyper does not read again
    /// after sending a response (the socket wakes it when bytes come), so
    /// it is woken when the connection turns idle, for the idle deadline to
    /// be set.
    reader: Option<Waker>,
}

impl Activity {
    fn new() -> Self {
        Self(Mutex::new(Phase {
            busy: 0,
            served: false,
            since: Instant::now(),
            head_started: None,
            reader: None,
        }))
    }

    fn phase(&self) -> MutexGuard<'_, Phase> {
        // The state stays consistent under a panic elsewhere: each change
        // is a few plain assignments.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn received(&self) {
        let mut phase = self.phase();
        if phase.busy == 0 && phase.head_started.is_none() {
            phase.head_started = Some(Instant::now());
        }
    }

    /// When a read that is waiting now must give up, and why; `None` while a
    /// request is being handled (its body has a deadline of its own).
    fn read_deadline(&self, waker: &Waker, limits: &Limits) -> Option<(Instant, &'static str)> {
        let mut phase = self.phase();
        if !phase.reader.as_ref().is_some_and(|w| w.will_wake(waker)) {
            phase.reader = Some(waker.clone());
        }
        if phase.busy > 0 {
            return None;
        }
        const HEAD: &str = "no complete request head in time";
        Some(match phase.head_started {
            _ if !phase.served => (phase.since + limits.head, HEAD),
            Some(started) => (started + limits.head, HEAD),
            None => (phase.since + limits.idle, "idle keep-alive connection"),
        })
    }
}

/// A request in flight on a connection.
#[derive(Debug)]
struct Busy(Arc<Activity>);

impl Busy {
    fn begin(activity: Arc<Activity>) -> Self {
        {
            let mut phase = activity.phase();
            phase.busy += 1;
            phase.served = true;
            phase.head_started = None;
        }
        Self(activity)
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        let reader = {
            let mut phase = self.0.phase();
            phase.busy = phase.busy.saturating_sub(1);
            if phase.busy > 0 {
                return;
            }
            phase.since = Instant::now();
            phase.head_started = None;
            phase.reader.clone()
        };
        if let Some(reader) = reader {
            reader.wake();
        }
    }
}

/// A client socket whose reads and writes give up at the connection's
/// deadlines, with `TimedOut`, on which hyper closes the connection.
struct Watched {
    stream: TcpStream,
    activity: Arc<Activity>,
    limits: Limits,
    read_timer: Option<Pin<Box<Sleep>>>,
    write_timer: Option<Pin<Box<Sleep>>>,
    /// Whether the last write waited: the timer then runs from that wait.
    write_stalled: bool,
}

impl Watched {
    fn new(stream: TcpStream, activity: Arc<Activity>, limits: Limits) -> Self {
        Self {
            stream,
            activity,
            limits,
            read_timer: None,
            write_timer: None,
            write_stalled: false,
        }
    }

    /// Passes a write's result on, failing it once the client has accepted
    /// no bytes for `write_stall`.
    fn watch_write<T>(&mut self, cx: &mut Context<'_>, result: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        if result.is_ready() {
            self.write_stalled = false;
            return result;
        }
        let deadline = Instant::now() + self.limits.write_stall;
        let timer = self
            .write_timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        // The timer is kept between stalls: a large response to a slow
        // reader stalls on every buffer's worth.
        if !std::mem::replace(&mut self.write_stalled, true) {
            timer.as_mut().reset(deadline);
        }
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client stopped reading the response",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl AsyncRead for Watched {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.stream).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    this.activity.received();
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => {
                let Some((deadline, why)) = this.activity.read_deadline(cx.waker(), &this.limits) else {
                    return Poll::Pending;
                };
                let timer = this
                    .read_timer
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
                if timer.deadline() != deadline {
                    timer.as_mut().reset(deadline);
                }
                match timer.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, why))),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }
}

impl AsyncWrite for Watched {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.stream).poll_write(cx, buf);
        this.watch_write(cx, result)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.stream).poll_write_vectored(cx, bufs);
        this.watch_write(cx, result)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.stream).poll_flush(cx);
        this.watch_write(cx, result)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.stream).poll_shutdown(cx);
        this.watch_write(cx, result)
    }
}
