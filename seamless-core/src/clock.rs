//! Time, injected: the engine and the stores ask a [`Clock`], so tests can advance
//! time by hand instead of sleeping.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A source of the current time.
pub trait Clock: Send + Sync {
    /// Now.
    fn now(&self) -> SystemTime;

    /// Now in Unix seconds.
    fn unix(&self) -> i64 {
        crate::kerberos::acceptor::unix_seconds(self.now())
    }
}

/// Now on the system clock, in Unix seconds.
pub fn unix_now() -> i64 {
    SystemClock.unix()
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// A clock that moves only when told to (simulators and tests).
#[derive(Debug)]
pub struct ManualClock {
    millis: AtomicI64,
}

impl ManualClock {
    /// A clock standing at `unix_seconds`.
    pub fn new(unix_seconds: i64) -> Self {
        Self {
            millis: AtomicI64::new(unix_seconds * 1000),
        }
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        self.millis
            .fetch_add(by.as_millis() as i64, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        let ms = self.millis.load(Ordering::SeqCst);
        if ms >= 0 {
            UNIX_EPOCH + Duration::from_millis(ms as u64)
        } else {
            UNIX_EPOCH - Duration::from_millis(ms.unsigned_abs())
        }
    }
}
