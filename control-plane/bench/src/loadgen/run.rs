//! The open loop: each request starts when the schedule says, whatever the answers do, and its
//! latency counts from that intended start, so a system that queues cannot hide it by slowing
//! the generator down (no coordinated omission). At most `max_in_flight` arrivals are under
//! way; one due beyond that is counted as not sent, never silently skipped. A run stopped early
//! (`stop`) sends no arrival due after it and still waits for every one in flight.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use brigade_chassis::client::plain::{Error as PlainError, PlainClient};
use bytes::Bytes;
use http::{header, HeaderValue, Request};
use http_body_util::Full;
use rand::rngs::SmallRng;
use rand::SeedableRng as _;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::mix::{Mix, RequestKind, Values};
use super::record::{Outcome, Recorder};
use super::schedule::Schedule;

/// What a run needs from its surroundings, prepared before the clock starts.
#[derive(Debug)]
pub struct Target {
    pub client: PlainClient,
    /// `http://127.0.0.1:8080`, checked to be loopback.
    pub base: String,
    pub values: Values,
    /// Signed-in shoppers' access tokens (empty when the mix needs none).
    pub tokens: Vec<String>,
}

/// One run: a schedule over a mix.
#[derive(Debug, Clone)]
pub struct Plan {
    pub schedule: Schedule,
    pub max_in_flight: usize,
    /// Seeds the draws of arrivals, request types and shoppers.
    pub seed: u64,
}

/// How a run went.
#[derive(Debug)]
pub struct Ran {
    pub recorder: Recorder,
    /// From the first arrival due to the last answer.
    pub elapsed: Duration,
    /// When `stop` ended the schedule before its end, from its start.
    pub stopped_at: Option<Duration>,
    /// The shoppers signed in.
    pub shoppers: usize,
    /// Arrivals that went to a shopper already in a flow, every one being busy.
    pub shared_shoppers: u64,
}

/// Runs `plan` against `target` to the end of its schedule, or until `stop`, and until every
/// request sent has ended (each is bounded by the client's timeout).
pub async fn run(plan: &Plan, mix: Arc<Mix>, target: Arc<Target>, stop: &CancellationToken) -> Ran {
    let names = mix.requests.iter().map(|r| r.name.clone()).collect();
    let recorder = Arc::new(Mutex::new(Recorder::new(names)));
    let in_flight = Arc::new(Semaphore::new(plan.max_in_flight));
    let shoppers = Arc::new(Shoppers::new(target.tokens.len()));
    let mut picks = SmallRng::seed_from_u64(plan.seed.wrapping_add(1));
    let mut tasks = JoinSet::new();
    let started = Instant::now();
    let mut stopped_at = None;
    for due in plan.schedule.arrivals(plan.seed) {
        tokio::select! {
            // Stopping wins over an arrival that is already late.
            biased;
            () = stop.cancelled() => {
                stopped_at = Some(started.elapsed());
                break;
            }
            () = tokio::time::sleep_until(started + due) => {}
        }
        let flow = mix.pick(&mut picks).steps.clone();
        match in_flight.clone().try_acquire_owned() {
            Ok(permit) => {
                let shopper = shoppers.take(&mut picks);
                let (mix, target, recorder) = (mix.clone(), target.clone(), recorder.clone());
                let shoppers = shoppers.clone();
                tasks.spawn(async move {
                    let arrival = Arrival {
                        mix: &mix,
                        target: &target,
                        recorder: &recorder,
                        shopper,
                        due,
                    };
                    arrival.send(started, &flow).await;
                    shoppers.give_back(shopper);
                    drop(permit);
                });
            }
            Err(_) => {
                let mut recorder = recorder.lock().unwrap_or_else(PoisonError::into_inner);
                for step in flow {
                    recorder.not_sent(step, due);
                }
            }
        }
        // Reap finished tasks as we go, so a long run does not hold every one until the end.
        while tasks.try_join_next().is_some() {}
    }
    while tasks.join_next().await.is_some() {}
    let elapsed = started.elapsed();
    let recorder = Arc::try_unwrap(recorder)
        .map(|m| m.into_inner().unwrap_or_else(PoisonError::into_inner))
        .unwrap_or_else(|shared| {
            shared
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone()
        });
    Ran {
        recorder,
        elapsed,
        stopped_at,
        shoppers: shoppers.count,
        shared_shoppers: shoppers.shared(),
    }
}

/// The signed-in shoppers, each doing one flow at a time as a person would: two checkouts of
/// one shopper at once would share a cart, and one would find it emptied by the other.
#[derive(Debug)]
struct Shoppers {
    count: usize,
    flows: Mutex<Flows>,
}

#[derive(Debug)]
struct Flows {
    /// Those not in a flow now.
    free: Vec<usize>,
    /// How many flows each shopper is in now.
    busy: Vec<u32>,
    /// Flows that went to a shopper already in one, every shopper being busy.
    shared: u64,
}

impl Shoppers {
    fn new(count: usize) -> Shoppers {
        Shoppers {
            count,
            flows: Mutex::new(Flows {
                free: (0..count).collect(),
                busy: vec![0; count],
                shared: 0,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Flows> {
        self.flows.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A shopper for the next flow: a free one at random; when every one is busy (past the
    /// system's capacity, or a stall), any one, since the open loop never waits for a shopper;
    /// such a flow is counted as shared (its cart may change under it).
    fn take(&self, picks: &mut SmallRng) -> usize {
        if self.count == 0 {
            return 0;
        }
        let mut flows = self.lock();
        let shopper = if flows.free.is_empty() {
            flows.shared += 1;
            rand::Rng::random_range(picks, 0..self.count)
        } else {
            let at = rand::Rng::random_range(picks, 0..flows.free.len());
            flows.free.swap_remove(at)
        };
        flows.busy[shopper] += 1;
        shopper
    }

    /// One of `shopper`'s flows ended: free once it is in none.
    fn give_back(&self, shopper: usize) {
        let mut flows = self.lock();
        let Some(busy) = flows.busy.get_mut(shopper) else {
            return;
        };
        *busy = busy.saturating_sub(1);
        if *busy == 0 {
            flows.free.push(shopper);
        }
    }

    /// Flows that went to a shopper already in another.
    fn shared(&self) -> u64 {
        self.lock().shared
    }
}

/// One arrival's requests in flight.
struct Arrival<'a> {
    mix: &'a Mix,
    target: &'a Target,
    recorder: &'a Mutex<Recorder>,
    shopper: usize,
    /// When it was due, from the start of the run.
    due: Duration,
}

impl Arrival<'_> {
    /// Sends the flow's requests one after another. The first one's latency counts from the
    /// arrival's intended start; each later one's from when the one before it ended, its own
    /// intended start.
    async fn send(&self, started: Instant, steps: &[usize]) {
        let mut intended = started + self.due;
        for &step in steps {
            let Some(kind) = self.mix.requests.get(step) else {
                continue;
            };
            // A kept-alive connection the server closed as the request went out (an instance
            // draining, or an idle timeout) is what a browser would send the request again on,
            // when that is safe: so does the generator, counting it, the latency including both.
            let (outcome, resent) = match self.request(kind) {
                Ok(request) => match self
                    .target
                    .client
                    .send_request_resending_closed(request)
                    .await
                {
                    (Ok(answer), resent) => (Outcome::Status(answer.status.as_u16()), resent),
                    (Err(PlainError::Timeout { .. }), resent) => (Outcome::Timeout, resent),
                    (Err(_), resent) => (Outcome::Transport, resent),
                },
                // Templates were checked to render valid requests; count it if one did not.
                Err(_) => (Outcome::Transport, false),
            };
            let ended = Instant::now();
            let mut recorder = self.recorder.lock().unwrap_or_else(PoisonError::into_inner);
            recorder.record(step, self.due, ended - intended, outcome);
            if resent {
                recorder.resent(step);
            }
            drop(recorder);
            intended = ended;
        }
    }

    fn request(&self, kind: &RequestKind) -> Result<Request<Full<Bytes>>, http::Error> {
        let mut rng = rand::rng();
        let values = &self.target.values;
        let url = format!("{}{}", self.target.base, kind.path.render(values, &mut rng));
        let mut request = Request::builder().method(kind.method.clone()).uri(url);
        for (name, value) in &kind.headers {
            request = request.header(name, value.render(values, &mut rng));
        }
        if kind.auth {
            if let Some(token) = self.target.tokens.get(self.shopper) {
                request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
            }
        }
        let body = match &kind.body {
            Some(body) => {
                request = request.header(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                );
                Bytes::from(body.render(values, &mut rng))
            }
            None => Bytes::new(),
        };
        request.body(Full::new(body))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shopper_is_in_one_flow_at_a_time_while_any_is_free() {
        let shoppers = Shoppers::new(5);
        let mut picks = SmallRng::seed_from_u64(7);
        let mut taken: Vec<usize> = (0..5).map(|_| shoppers.take(&mut picks)).collect();
        taken.sort_unstable();
        assert_eq!(taken, vec![0, 1, 2, 3, 4]);
        // Every one busy: the flow still gets a shopper, never waits, and is counted shared.
        assert_eq!(shoppers.shared(), 0);
        let doubled = shoppers.take(&mut picks);
        assert!(doubled < 5);
        assert_eq!(shoppers.shared(), 1);
        // The shared shopper is free only once both of its flows have ended.
        shoppers.give_back(doubled);
        shoppers.give_back((doubled + 1) % 5);
        assert_eq!(shoppers.take(&mut picks), (doubled + 1) % 5);
        shoppers.give_back(doubled);
        assert_eq!(shoppers.take(&mut picks), doubled);
        assert_eq!(shoppers.shared(), 1);
    }

    /// A server on loopback whose every answer takes 50 ms.
    async fn slow_server() -> String {
        let app = axum::Router::new().route(
            "/slow",
            axum::routing::get(|| async {
                tokio::time::sleep(Duration::from_millis(50)).await;
                "ok"
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        format!("http://{address}")
    }

    #[tokio::test]
    async fn a_stopped_run_sends_nothing_more_and_waits_for_what_is_in_flight() {
        let mix = Mix::parse(
            "t",
            "t.toml",
            "[[request]]\nname = \"slow\"\npath = \"/slow\"\n",
        )
        .unwrap();
        let target = Target {
            client: PlainClient::new(Duration::from_secs(5)),
            base: slow_server().await,
            values: Values {
                products: Vec::new(),
                currencies: Vec::new(),
                catalog_currency: "EUR".to_owned(),
            },
            tokens: Vec::new(),
        };
        let plan = Plan {
            schedule: Schedule::constant(
                100.0,
                Duration::from_secs(60),
                super::super::schedule::Arrivals::Constant,
            )
            .unwrap(),
            max_in_flight: 1000,
            seed: 1,
        };
        let stop = CancellationToken::new();
        let stopper = stop.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(500)).await;
            stopper.cancel();
        });
        let ran = run(&plan, Arc::new(mix), Arc::new(target), &stop).await;
        let stopped_at = ran.stopped_at.expect("the run was stopped");
        assert!(stopped_at < Duration::from_secs(60), "{stopped_at:?}");
        let overall = &ran.recorder.overall;
        // Far fewer than the 6,000 due, and every one sent was answered, none cut off.
        assert!(
            overall.sent() > 0 && overall.sent() < 6000,
            "{}",
            overall.sent()
        );
        assert_eq!(
            overall.outcomes.get("200"),
            Some(&overall.sent()),
            "{overall:?}"
        );
        assert_eq!(overall.not_sent, 0);
    }

    #[test]
    fn a_mix_without_shoppers_takes_none() {
        let shoppers = Shoppers::new(0);
        let mut picks = SmallRng::seed_from_u64(7);
        assert_eq!(shoppers.take(&mut picks), 0);
        shoppers.give_back(0);
        assert_eq!(shoppers.take(&mut picks), 0);
    }
}
