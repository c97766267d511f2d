//! A small pool of threads for deliberately slow work (Argon2), so it never runs
//! on an async worker: a handful of password posts must not stall every other
//! request of the process. Runtime-agnostic (no tokio in the default build).
//!
//! The pool is bounded twice: `threads` jobs run at once, and at most `queue`
//! wait; a job beyond that is refused at once (the caller fails closed), so a
//! flood of password posts costs a bounded amount of memory and CPU.

use std::future::Future;
use std::pin::Pin;
use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

type Job = Box<dyn FnOnce() + Send>;

/// Threads that run blocking jobs, with a bounded queue.
pub(crate) struct HashPool {
    sender: SyncSender<Job>,
}

/// The pool has `queue` jobs waiting already.
#[derive(Debug)]
pub(crate) struct Busy;

impl HashPool {
    /// `threads` workers (at least one) and room for `queue` waiting jobs.
    pub(crate) fn new(threads: usize, queue: usize) -> Self {
        let (sender, receiver) = mpsc::sync_channel::<Job>(queue);
        let receiver = Arc::new(Mutex::new(receiver));
        for i in 0..threads.max(1) {
            let receiver = receiver.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("seamless-hash-{i}"))
                .spawn(move || {
                    loop {
                        // The lock is held only while waiting for the next job.
                        let job = match receiver.lock() {
                            Ok(r) => r.recv(),
                            Err(_) => return,
                        };
                        match job {
                            Ok(job) => job(),
                            Err(_) => return,
                        }
                    }
                });
            if spawned.is_err() {
                tracing::warn!(target: "seamless::password", "could not start a hashing thread");
            }
        }
        Self { sender }
    }

    /// Runs `work` on the pool; the future resolves with its result. `Err(Busy)`
    /// when the queue is full.
    pub(crate) fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<Outcome<T>, Busy> {
        let slot: Arc<Mutex<Slot<T>>> = Arc::new(Mutex::new(Slot {
            value: None,
            waker: None,
        }));
        let done = slot.clone();
        let job: Job = Box::new(move || {
            let value = work();
            if let Ok(mut s) = done.lock() {
                s.value = Some(value);
                if let Some(w) = s.waker.take() {
                    w.wake();
                }
            }
        });
        match self.sender.try_send(job) {
            Ok(()) => Ok(Outcome { slot }),
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => Err(Busy),
        }
    }
}

struct Slot<T> {
    value: Option<T>,
    waker: Option<Waker>,
}

/// The result of a job, when it is done.
pub(crate) struct Outcome<T> {
    slot: Arc<Mutex<Slot<T>>>,
}

impl<T> Future for Outcome<T> {
    type Output = Option<T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let Ok(mut slot) = self.slot.lock() else {
            return Poll::Ready(None);
        };
        match slot.value.take() {
            Some(v) => Poll::Ready(Some(v)),
            None => {
                slot.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_run_off_the_caller_and_a_full_queue_refuses() {
        let pool = HashPool::new(1, 1);
        let (hold, release) = mpsc::channel::<()>();
        let (started, running) = mpsc::channel::<()>();
        let first = pool
            .run(move || {
                let _ = started.send(());
                let _ = release.recv();
                std::thread::current().name().map(str::to_string)
            })
            .expect("runs");
        running.recv().expect("the worker took the first job");
        // The worker is busy with `first`; one job may wait, the next is refused.
        let second = pool.run(|| 2).expect("queued");
        assert!(pool.run(|| 3).is_err(), "queue full");
        hold.send(()).expect("release");
        let name = crate::testkit::sim::block_on(first).flatten();
        assert_eq!(name.as_deref(), Some("seamless-hash-0"));
        assert_eq!(crate::testkit::sim::block_on(second), Some(2));
    }
}
