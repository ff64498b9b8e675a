//! Medians and their spread, and how durations are written in the table.

use std::time::Duration;

/// The runs of one measurement.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sample {
    pub values: Vec<Duration>,
}

impl Sample {
    pub fn push(&mut self, d: Duration) {
        self.values.push(d);
    }

    /// The median (the mean of the middle two for an even count).
    pub fn median(&self) -> Option<Duration> {
        let mut v = self.values.clone();
        v.sort_unstable();
        let n = v.len();
        match n {
            0 => None,
            _ if n % 2 == 1 => Some(v[n / 2]),
            _ => Some((v[n / 2 - 1] + v[n / 2]) / 2),
        }
    }

    pub fn min(&self) -> Option<Duration> {
        self.values.iter().min().copied()
    }

    pub fn max(&self) -> Option<Duration> {
        self.values.iter().max().copied()
    }

    /// "3.6120 s (3.5980–3.6400, n=5)".
    pub fn describe(&self) -> String {
        match (self.median(), self.min(), self.max()) {
            (Some(m), Some(lo), Some(hi)) if self.values.len() > 1 => format!(
                "{} ({}–{}, n={})",
                human(m),
                bare(lo, m),
                bare(hi, m),
                self.values.len()
            ),
            (Some(m), _, _) => format!("{} (n=1)", human(m)),
            _ => "–".into(),
        }
    }
}

/// A duration in the unit that suits it, to a tenth of a millisecond: "12.4 ms",
/// "3.6103 s".
pub fn human(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s >= 1.0 {
        format!("{s:.4} s")
    } else if s >= 0.001 {
        format!("{:.1} ms", s * 1e3)
    } else {
        format!("{:.0} µs", s * 1e6)
    }
}

/// `d` as a number in the unit `human` picks for `like`.
fn bare(d: Duration, like: Duration) -> String {
    let s = d.as_secs_f64();
    if like.as_secs_f64() >= 1.0 {
        format!("{s:.4}")
    } else if like.as_secs_f64() >= 0.001 {
        format!("{:.1}", s * 1e3)
    } else {
        format!("{:.0}", s * 1e6)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: &[u64]) -> Sample {
        Sample {
            values: v.iter().map(|m| Duration::from_millis(*m)).collect(),
        }
    }

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(ms(&[5, 1, 3]).median(), Some(Duration::from_millis(3)));
        assert_eq!(
            ms(&[4, 1, 3, 2]).median(),
            Some(Duration::from_micros(2500))
        );
        assert_eq!(ms(&[]).median(), None);
    }

    #[test]
    fn described_in_one_unit() {
        assert_eq!(ms(&[12, 13, 11]).describe(), "12.0 ms (11.0–13.0, n=3)");
        assert_eq!(ms(&[3610]).describe(), "3.6100 s (n=1)");
        assert_eq!(human(Duration::from_micros(250)), "250 µs");
        assert_eq!(ms(&[]).describe(), "–");
    }
}
