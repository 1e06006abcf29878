//! Summaries over a sliding window, like client_golang's (`max_age` split into
//! `age_buckets` streams). Quantiles are exact over the window's samples (client_golang's
//! small-sample path; beyond its buffer it approximates within the objective's error).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use graygate_statsd::{Quantile, SummaryOptions};

/// client_golang's defaults.
const DEFAULT_MAX_AGE: Duration = Duration::from_secs(600);
const DEFAULT_AGE_BUCKETS: u32 = 5;
/// Samples kept per age bucket for quantiles (sum and count always see everything).
const MAX_SAMPLES_PER_BUCKET: usize = 100_000;

/// One summary series.
pub struct Summary {
    pub sum: f64,
    pub count: u64,
    bucket_len: Duration,
    buckets: usize,
    start: Instant,
    /// (bucket number since `start`, samples)
    window: VecDeque<(u64, Vec<f64>)>,
}

impl Summary {
    pub fn new(options: &SummaryOptions, now: Instant) -> Summary {
        let max_age = if options.max_age.is_zero() {
            DEFAULT_MAX_AGE
        } else {
            options.max_age
        };
        let buckets = if options.age_buckets == 0 {
            DEFAULT_AGE_BUCKETS
        } else {
            options.age_buckets
        };
        Summary {
            sum: 0.0,
            count: 0,
            bucket_len: (max_age / buckets).max(Duration::from_millis(1)),
            buckets: buckets as usize,
            start: now,
            window: VecDeque::new(),
        }
    }

    fn bucket(&self, now: Instant) -> u64 {
        let elapsed = now.saturating_duration_since(self.start).as_nanos();
        (elapsed / self.bucket_len.as_nanos().max(1)) as u64
    }

    fn trim(&mut self, now: Instant) {
        let current = self.bucket(now);
        while let Some((b, _)) = self.window.front() {
            if b + (self.buckets as u64) <= current {
                self.window.pop_front();
            } else {
                break;
            }
        }
    }

    pub fn observe(&mut self, value: f64, times: u32, now: Instant) {
        for _ in 0..times {
            self.sum += value;
        }
        self.count += u64::from(times);
        self.trim(now);
        let current = self.bucket(now);
        if self.window.back().is_none_or(|(b, _)| *b != current) {
            self.window.push_back((current, Vec::new()));
        }
        if let Some((_, samples)) = self.window.back_mut() {
            for _ in 0..times {
                if samples.len() >= MAX_SAMPLES_PER_BUCKET {
                    break;
                }
                samples.push(value);
            }
        }
    }

    /// One value per objective (NaN when the window is empty).
    pub fn quantiles(&mut self, objectives: &[Quantile], now: Instant) -> Vec<f64> {
        self.trim(now);
        let mut all: Vec<f64> = self
            .window
            .iter()
            .flat_map(|(_, s)| s.iter().copied())
            .collect();
        all.sort_by(f64::total_cmp);
        objectives
            .iter()
            .map(|q| {
                if all.is_empty() {
                    return f64::NAN;
                }
                let mut i = (all.len() as f64 * q.quantile).ceil() as usize;
                i = i.saturating_sub(1).min(all.len() - 1);
                all[i]
            })
            .collect()
    }
}
