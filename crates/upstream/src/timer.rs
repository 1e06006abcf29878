//! A timer for deadlines that move often and rarely expire: a connection's response, header,
//! send and keepalive timeouts.

use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::time::{Instant, Sleep};

/// One timer re-armed lazily for a moving deadline. Asking for a deadline later than the one
/// the timer holds costs nothing (the timer fires early, finds the deadline moved, and waits
/// again); only a deadline that comes closer moves it. A connection whose deadline moves with
/// every request, always later, so re-arms its timer about once per timeout period instead of
/// registering and removing a timer per request (~800 instructions each way).
#[derive(Default)]
pub struct LazyTimer {
    sleep: Option<Pin<Box<Sleep>>>,
}

impl LazyTimer {
    /// Ready once `at` has passed; otherwise the task is woken by then (or earlier, and must
    /// poll again with its current deadline).
    pub fn poll_until(&mut self, cx: &mut Context<'_>, at: Instant) -> Poll<()> {
        let sleep = self
            .sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(at)));
        if sleep.deadline() > at {
            sleep.as_mut().reset(at);
        }
        if sleep.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        if Instant::now() < at {
            // Fired for a deadline that has moved later since: wait for the new one.
            sleep.as_mut().reset(at);
            if sleep.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
        }
        Poll::Ready(())
    }
}
