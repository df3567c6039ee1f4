//! How long the gateway waits for the optional parts of an answer.
//!
//! A product page without recommendations or stock is still a product page, so the gateway
//! waits for those dependencies only briefly, whatever the caller's deadline: a slow dependency
//! then costs at most its cap, and its timed-out calls open its circuit breaker, after which
//! the page no longer waits for it at all.

use std::time::Duration;

use brigade_chassis::service::optional_part_cap;

/// The caps on calls to the gateway's optional dependencies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::Args)]
pub struct PartTimeouts {
    /// The longest the gateway waits for recommendations (product page and recommendation
    /// routes). The service answers from a precomputed model in a few milliseconds, and the call
    /// runs alongside the catalog's, so 300ms adds nothing to a healthy page and little to one
    /// whose recommendations are slow.
    #[arg(
        long,
        env = "BRIGADE_GATEWAY_RECOMMENDATIONS_TIMEOUT",
        default_value = "300ms",
        value_parser = optional_part_cap
    )]
    pub recommendations_timeout: Duration,

    /// The longest the gateway waits for a product's stock on its page. Longer than for
    /// recommendations: whether the product can be bought matters more to the shopper, and
    /// the call can only start once the catalog has given the product's SKU.
    #[arg(
        long,
        env = "BRIGADE_GATEWAY_INVENTORY_TIMEOUT",
        default_value = "500ms",
        value_parser = optional_part_cap
    )]
    pub inventory_timeout: Duration,
}

impl Default for PartTimeouts {
    /// The same as the flags' defaults (a test holds them equal).
    fn default() -> Self {
        PartTimeouts {
            recommendations_timeout: Duration::from_millis(300),
            inventory_timeout: Duration::from_millis(500),
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::PartTimeouts;

    type Args = brigade_chassis::service::Flags<crate::GatewayService>;

    fn parse(flags: &[&str]) -> Result<PartTimeouts, String> {
        let argv = std::iter::once("brigade-gateway").chain(flags.iter().copied());
        Args::try_parse_from(argv)
            .map(|args| args.own.parts)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn the_defaults_are_300ms_for_recommendations_and_500ms_for_stock() {
        assert_eq!(parse(&[]), Ok(PartTimeouts::default()));
        let given = parse(&[
            "--recommendations-timeout",
            "1s",
            "--inventory-timeout",
            "250ms",
        ]);
        assert_eq!(
            given,
            Ok(PartTimeouts {
                recommendations_timeout: std::time::Duration::from_secs(1),
                inventory_timeout: std::time::Duration::from_millis(250),
            })
        );
    }

    #[test]
    fn caps_that_are_not_durations_or_out_of_range_are_refused_saying_why() {
        for (flag, value, says) in [
            ("--recommendations-timeout", "soon", "not a duration"),
            ("--recommendations-timeout", "300", "not a duration"),
            ("--inventory-timeout", "0s", "from 1ms to 10s"),
            ("--inventory-timeout", "1m", "from 1ms to 10s"),
        ] {
            let error = parse(&[flag, value]).err().unwrap_or_default();
            assert!(error.contains(flag), "{error}");
            assert!(error.contains(says), "{error}");
        }
    }
}
