//! Answers kept in memory for a moment. The model changes only when an event is applied, and a
//! caller is promised that a confirmed order shows within a couple of seconds (the events
//! arrive within milliseconds), not at once; so an answer served from memory for up to
//! [`ANSWER_TTL`] keeps the promise and spares a product page its two queries (on SQLite, a
//! hand-off to the connection's thread and back for each). The instances of the service share
//! the store and split the events between them, so an instance cannot know when another changed
//! the model: the answers expire rather than being invalidated.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use recommendations_api::Recommendations;
use tokio::time::Instant;
use uuid::Uuid;

/// How long an answer is served from memory: well within the 2 s in which a confirmed order
/// must change the recommendations.
pub const ANSWER_TTL: Duration = Duration::from_millis(500);

/// The most answers kept; past it, expired ones are dropped, and all if none had expired.
const MAX_ANSWERS: usize = 10_000;

/// What was asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Question {
    ForProduct(Uuid, u32),
    ForUser(Uuid, u32),
}

/// Recent answers by question.
#[derive(Debug)]
pub struct Answers {
    ttl: Duration,
    kept: Mutex<HashMap<Question, (Instant, Recommendations)>>,
}

impl Answers {
    pub fn new(ttl: Duration) -> Answers {
        Answers {
            ttl,
            kept: Mutex::default(),
        }
    }

    /// The answer to `question` if it was given less than the TTL ago.
    pub fn get(&self, question: &Question) -> Option<Recommendations> {
        let kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
        kept.get(question)
            .filter(|(at, _)| at.elapsed() < self.ttl)
            .map(|(_, answer)| answer.clone())
    }

    /// Keeps `answer`, computed now, for the TTL.
    pub fn keep(&self, question: Question, answer: &Recommendations) {
        let mut kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
        if kept.len() >= MAX_ANSWERS {
            let ttl = self.ttl;
            kept.retain(|_, (at, _)| at.elapsed() < ttl);
            if kept.len() >= MAX_ANSWERS {
                kept.clear();
            }
        }
        kept.insert(question, (Instant::now(), answer.clone()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(fallback: bool) -> Recommendations {
        Recommendations {
            items: Vec::new(),
            fallback,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn an_answer_is_served_until_it_expires() {
        let answers = Answers::new(Duration::from_millis(500));
        let question = Question::ForProduct(Uuid::from_u128(1), 4);
        assert_eq!(answers.get(&question), None);
        answers.keep(question, &answer(true));
        assert_eq!(answers.get(&question), Some(answer(true)));
        assert_eq!(
            answers.get(&Question::ForProduct(Uuid::from_u128(1), 5)),
            None
        );
        assert_eq!(answers.get(&Question::ForUser(Uuid::from_u128(1), 4)), None);
        tokio::time::advance(Duration::from_millis(499)).await;
        assert_eq!(answers.get(&question), Some(answer(true)));
        tokio::time::advance(Duration::from_millis(1)).await;
        assert_eq!(answers.get(&question), None);
    }

    #[tokio::test(start_paused = true)]
    async fn a_full_memory_drops_what_expired_first() {
        let answers = Answers::new(Duration::from_millis(500));
        for n in 0..MAX_ANSWERS as u128 {
            answers.keep(Question::ForUser(Uuid::from_u128(n), 4), &answer(true));
        }
        tokio::time::advance(Duration::from_secs(1)).await;
        let fresh = Question::ForProduct(Uuid::from_u128(1), 4);
        answers.keep(fresh, &answer(false));
        assert_eq!(answers.kept.lock().unwrap().len(), 1);
        assert_eq!(answers.get(&fresh), Some(answer(false)));
    }
}
