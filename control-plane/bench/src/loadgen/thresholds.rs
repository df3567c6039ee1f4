//! Thresholds a run must hold (`--max-p99 50ms --max-error-rate 0.1%`): each one's verdict is
//! in the report, and any that fails makes `brigade load` exit non-zero, naming it.

use std::fmt;
use std::time::Duration;

use brigade_operator::chaos::faults::{parse_rate, InvalidValue};
use serde::Serialize;

use super::report::Summary;

/// What the user asked the run to hold.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Thresholds {
    /// The overall p99 latency, from intended start.
    pub max_p99: Option<Duration>,
    /// The share of requests that failed or were not sent, 0 to 1.
    pub max_error_rate: Option<f64>,
}

/// Whether one threshold held, with what was measured.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    /// `p99` or `error rate`.
    pub threshold: String,
    pub limit: String,
    pub measured: String,
    pub holds: bool,
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (word, relation) = if self.holds {
            ("held", "≤")
        } else {
            ("FAILED", ">")
        };
        write!(
            f,
            "threshold {word}: {} {} {relation} {}",
            self.threshold, self.measured, self.limit
        )
    }
}

impl Thresholds {
    /// Each threshold asked for, checked against the run's overall figures.
    pub fn evaluate(&self, summary: &Summary) -> Vec<Verdict> {
        let mut verdicts = Vec::new();
        if let Some(limit) = self.max_p99 {
            let measured = summary.overall.latency_ms.p99();
            // A run that sent nothing has no p99: it cannot be said to hold.
            let holds = summary.overall.sent > 0 && measured <= limit;
            verdicts.push(Verdict {
                threshold: "p99".to_owned(),
                limit: humantime::format_duration(limit).to_string(),
                measured: format!("{:.1}ms", summary.overall.latency_ms.p99),
                holds,
            });
        }
        if let Some(limit) = self.max_error_rate {
            let measured = summary.overall.error_rate;
            verdicts.push(Verdict {
                threshold: "error rate".to_owned(),
                limit: percent(limit),
                measured: format!(
                    "{} ({} errors, {} not sent, of {})",
                    percent(measured),
                    summary.overall.errors,
                    summary.overall.not_sent,
                    summary.overall.sent + summary.overall.not_sent
                ),
                holds: measured <= limit,
            });
        }
        verdicts
    }
}

fn percent(share: f64) -> String {
    format!("{}%", (share * 100.0 * 1000.0).round() / 1000.0)
}

/// Parses `0.1%` or `0.001` into a share from 0 to 1: a rate as `brigade chaos` reads one, told
/// in the words of an error rate.
pub fn parse_error_rate(text: &str) -> Result<f64, String> {
    parse_rate(text).map_err(|error| match error {
        InvalidValue::RateOutOfRange(_) => {
            format!("an error rate is from 0% to 100%, got {text:?}")
        }
        _ => format!("an error rate is a percentage like 0.1% or a share like 0.001, got {text:?}"),
    })
}

/// The failed verdicts as one sentence, or `None` when every threshold held.
pub fn failures(verdicts: &[Verdict]) -> Option<String> {
    let failed: Vec<String> = verdicts
        .iter()
        .filter(|v| !v.holds)
        .map(|v| format!("{} {} > {}", v.threshold, v.measured, v.limit))
        .collect();
    (!failed.is_empty()).then(|| format!("thresholds failed: {}", failed.join("; ")))
}

#[cfg(test)]
mod tests {
    use super::super::report::tests::sample;
    use super::*;

    #[test]
    fn error_rates_parse_as_percentages_or_shares_and_say_what_is_wrong() {
        assert_eq!(parse_error_rate("0.1%"), Ok(0.001));
        assert_eq!(parse_error_rate(" 5 %"), Ok(0.05));
        let not_a_rate = parse_error_rate("lots").unwrap_err();
        assert!(
            not_a_rate.contains("a percentage like 0.1%"),
            "{not_a_rate}"
        );
        for out_of_range in ["120%", "-1%"] {
            let error = parse_error_rate(out_of_range).unwrap_err();
            assert!(error.contains("from 0% to 100%"), "{error}");
        }
    }

    #[test]
    fn thresholds_that_hold_pass_and_those_that_do_not_are_named() {
        // The sample's overall p99 is about 99 ms and 3 of 111 failed or were not sent.
        let summary = sample();
        let loose = Thresholds {
            max_p99: Some(Duration::from_millis(150)),
            max_error_rate: Some(0.05),
        };
        let verdicts = loose.evaluate(&summary);
        assert_eq!(verdicts.len(), 2);
        assert!(verdicts.iter().all(|v| v.holds), "{verdicts:?}");
        assert_eq!(failures(&verdicts), None);

        let tight = Thresholds {
            max_p99: Some(Duration::from_millis(50)),
            max_error_rate: Some(0.001),
        };
        let verdicts = tight.evaluate(&summary);
        assert!(verdicts.iter().all(|v| !v.holds), "{verdicts:?}");
        let message = failures(&verdicts).unwrap();
        assert!(
            message.starts_with("thresholds failed: p99 99."),
            "{message}"
        );
        assert!(message.contains("> 50ms"), "{message}");
        assert!(
            message.contains("error rate 2.703% (2 errors, 1 not sent, of 111) > 0.1%"),
            "{message}"
        );

        let only_p99 = Thresholds {
            max_p99: Some(Duration::from_millis(99)),
            max_error_rate: None,
        };
        assert_eq!(only_p99.evaluate(&summary).len(), 1);
        assert!(Thresholds::default().evaluate(&summary).is_empty());
    }
}
