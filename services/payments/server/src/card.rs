//! The simulated card network: what a (valid) card number makes the processor do, and what is
//! kept of the number.

use payments_api::{test_cards, DeclineCode};
use sha2::{Digest, Sha256};

/// The processor's answer to a card.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Approve,
    Decline(DeclineCode),
    /// Approve, after the slow-card delay.
    ApproveSlowly,
    /// The processor fails before deciding anything.
    Fail,
}

/// What the processor does with `number` (already checked to be a valid card number).
pub fn verdict(number: &str) -> Verdict {
    match number {
        test_cards::DECLINED => Verdict::Decline(DeclineCode::CardDeclined),
        test_cards::INSUFFICIENT_FUNDS => Verdict::Decline(DeclineCode::InsufficientFunds),
        test_cards::SLOW => Verdict::ApproveSlowly,
        test_cards::PROCESSOR_ERROR => Verdict::Fail,
        _ => Verdict::Approve,
    }
}

/// The last four digits, shown to people.
pub fn last4(number: &str) -> &str {
    number.get(number.len().saturating_sub(4)..).unwrap_or("")
}

/// A hash of the number that tells whether two requests used the same card without keeping the
/// number. (A real processor would key it with a secret, since card numbers are few enough to
/// enumerate; the simulation has no secrets to manage.)
pub fn fingerprint(number: &str) -> String {
    let digest = Sha256::new()
        .chain_update(b"brigade-payments card fingerprint v1:")
        .chain_update(number.as_bytes())
        .finalize();
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_test_cards_decide_the_verdict() {
        assert_eq!(verdict(test_cards::APPROVED), Verdict::Approve);
        assert_eq!(verdict("5555555555554444"), Verdict::Approve);
        assert_eq!(
            verdict(test_cards::DECLINED),
            Verdict::Decline(DeclineCode::CardDeclined)
        );
        assert_eq!(
            verdict(test_cards::INSUFFICIENT_FUNDS),
            Verdict::Decline(DeclineCode::InsufficientFunds)
        );
        assert_eq!(verdict(test_cards::SLOW), Verdict::ApproveSlowly);
        assert_eq!(verdict(test_cards::PROCESSOR_ERROR), Verdict::Fail);
    }

    #[test]
    fn only_the_last_four_digits_and_a_hash_are_kept() {
        assert_eq!(last4(test_cards::APPROVED), "4242");
        let print = fingerprint(test_cards::APPROVED);
        assert_eq!(print.len(), 64);
        assert!(!print.contains(test_cards::APPROVED));
        assert_ne!(print, fingerprint(test_cards::DECLINED));
    }
}
