//! Rate limits, in memory in each instance: a budget of `count` per `period` for each key (a
//! client address, a credit code), spent one at a time and earned back evenly (GCRA: one
//! instant per key, the time its budget is whole again). With several instances behind a
//! balancer each keeps its own, so a client gets at most instances × the budget: the limits
//! are set so that even that leaves guessing a 100-bit code hopeless. Keys are bounded: past
//! `MAX_KEYS`, keys whose budget is whole are forgotten, and a new key waits while none is.

use std::collections::BTreeMap;
use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};

/// Keys kept per limiter at most (an entry is a few dozen bytes).
const MAX_KEYS: usize = 100_000;

/// `count` per `period`; a `count` of 0 is no limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rate {
    pub count: u32,
    pub period: Duration,
}

impl Rate {
    pub fn per_minute(count: u32) -> Self {
        Self {
            count,
            period: Duration::minutes(1),
        }
    }

    pub fn per_hour(count: u32) -> Self {
        Self {
            count,
            period: Duration::hours(1),
        }
    }

    /// The time one unit of the budget takes to come back.
    fn interval(&self) -> Duration {
        self.period / self.count.max(1) as i32
    }
}

#[derive(Debug)]
pub struct Limiter {
    rate: Rate,
    /// Per key: when its budget is whole again (absent: whole now).
    whole_at: Mutex<BTreeMap<String, DateTime<Utc>>>,
}

impl Limiter {
    pub fn new(rate: Rate) -> Self {
        Self {
            rate,
            whole_at: Mutex::default(),
        }
    }

    /// Whether `key` has budget left at `now`, spending nothing; else how long to wait.
    pub fn check(&self, key: &str, now: DateTime<Utc>) -> Result<(), Duration> {
        self.step(key, now, false)
    }

    /// Spends one unit of `key`'s budget at `now`; none left: how long to wait.
    pub fn take(&self, key: &str, now: DateTime<Utc>) -> Result<(), Duration> {
        self.step(key, now, true)
    }

    fn step(&self, key: &str, now: DateTime<Utc>, spend: bool) -> Result<(), Duration> {
        if self.rate.count == 0 {
            return Ok(());
        }
        let mut keys = self.whole_at.lock().unwrap_or_else(|e| e.into_inner());
        let interval = self.rate.interval();
        if !keys.contains_key(key) && keys.len() >= MAX_KEYS {
            keys.retain(|_, at| *at > now);
            if keys.len() >= MAX_KEYS {
                return Err(interval);
            }
        }
        let whole_at = keys.get(key).copied().filter(|at| *at > now).unwrap_or(now);
        let after = whole_at + interval;
        // Budget left while spending one more keeps it within one period of whole.
        if after - now > self.rate.period {
            return Err(after - self.rate.period - now);
        }
        if spend {
            keys.insert(key.to_owned(), after);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap()
    }

    #[test]
    fn a_budget_is_spent_then_earned_back_evenly() {
        let l = Limiter::new(Rate::per_hour(3));
        for _ in 0..3 {
            assert_eq!(l.check("a", at(0)), Ok(()));
            assert_eq!(l.take("a", at(0)), Ok(()));
        }
        assert_eq!(l.check("a", at(0)), Err(Duration::minutes(20)));
        assert_eq!(l.take("a", at(0)), Err(Duration::minutes(20)));
        assert_eq!(l.take("b", at(0)), Ok(()), "keys are apart");
        assert_eq!(l.take("a", at(600)), Err(Duration::minutes(10)));
        assert_eq!(l.take("a", at(1200)), Ok(()));
        assert!(l.take("a", at(1200)).is_err());
        for _ in 0..3 {
            assert_eq!(l.take("a", at(1200 + 3600)), Ok(()));
        }
    }

    #[test]
    fn no_count_is_no_limit() {
        let l = Limiter::new(Rate::per_minute(0));
        for _ in 0..1000 {
            assert_eq!(l.take("a", at(0)), Ok(()));
        }
    }
}
