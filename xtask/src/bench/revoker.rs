//! A second client revoking its own tokens while the first is measured.

use super::REVOKES_PER_SEC;
use super::client::{FORM, expect};
use super::setup::get_token;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// What the revoking client did during its step.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Revocations {
    /// Tokens obtained and revoked, each answered 200.
    pub(super) done: u64,
    /// Slots passed over because the previous cycle was still running, so a
    /// slow server sees no burst of catch-up revocations.
    pub(super) skipped: u64,
    pub(super) secs: f64,
    /// It ran out of time or cycles before it was told to stop: the end of
    /// the step went without revocations.
    pub(super) ended_early: bool,
}

/// A second client that obtains a token and revokes it (POST /oauth2/revoke
/// with its own credentials) `REVOKES_PER_SEC` times a second, in a thread
/// of the xtask, while `wrk` measures the first client. It stops when told,
/// after `limit`, or after `limit × REVOKES_PER_SEC` cycles, whichever
/// comes first, and dropping it stops it too (an error in between leaves no
/// thread sending).
#[derive(Debug)]
pub(super) struct Revoker {
    pub(super) stop: Arc<AtomicBool>,
    pub(super) thread: Option<JoinHandle<Result<Revocations, String>>>,
}

impl Revoker {
    pub(super) fn start(addr: SocketAddr, client_id: &str, secret: &str, limit: Duration) -> Result<Self, String> {
        if !addr.ip().is_loopback() {
            return Err("load goes to loopback addresses only".into());
        }
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let (client_id, secret) = (client_id.to_owned(), secret.to_owned());
        let interval = Duration::from_secs(1) / REVOKES_PER_SEC;
        let cycles = (limit.as_secs_f64() * f64::from(REVOKES_PER_SEC)).ceil() as u64;
        let thread = std::thread::Builder::new()
            .name("bench-revoker".into())
            .spawn(move || {
                let start = Instant::now();
                let mut counts = Revocations::default();
                for k in 0..cycles {
                    // On a fixed schedule from the start, like the open-loop
                    // generator: the rate does not sag by each cycle's time.
                    let due = start + Duration::from_secs_f64(k as f64 / f64::from(REVOKES_PER_SEC));
                    loop {
                        if flag.load(Ordering::Relaxed) || start.elapsed() >= limit {
                            counts.secs = start.elapsed().as_secs_f64();
                            counts.ended_early = !flag.load(Ordering::Relaxed);
                            return Ok(counts);
                        }
                        let now = Instant::now();
                        if now >= due {
                            break;
                        }
                        std::thread::sleep((due - now).min(Duration::from_millis(50)));
                    }
                    if due.elapsed() > interval {
                        counts.skipped += 1;
                        continue;
                    }
                    revoke_one(addr, &client_id, &secret).map_err(|e| format!("the revoking client: {e}"))?;
                    counts.done += 1;
                }
                counts.secs = start.elapsed().as_secs_f64();
                counts.ended_early = !flag.load(Ordering::Relaxed);
                Ok(counts)
            })
            .map_err(|e| format!("starting the revoking thread: {e}"))?;
        Ok(Self {
            stop,
            thread: Some(thread),
        })
    }

    /// Stops the thread and returns what it did, or why it gave up.
    pub(super) fn finish(mut self) -> Result<Revocations, String> {
        self.stop.store(true, Ordering::Relaxed);
        let thread = self.thread.take().ok_or("the revoking thread was already stopped")?;
        thread.join().map_err(|_| "the revoking thread panicked".to_owned())?
    }
}

impl Drop for Revoker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Obtains a token and revokes it with the same client's credentials (in the
/// form body, `client_secret_post`); returns the revoked token.
pub(super) fn revoke_one(addr: SocketAddr, client_id: &str, secret: &str) -> Result<String, String> {
    let token = get_token(addr, client_id, secret)?;
    // A JWT and the credentials are URL-safe: no encoding needed.
    let form = format!("token={token}&client_id={client_id}&client_secret={secret}");
    expect(addr, "POST", "/oauth2/revoke", None, Some((FORM, &form)), 200)?;
    Ok(token)
}
