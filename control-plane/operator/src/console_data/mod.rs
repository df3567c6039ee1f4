//! The console's data: what the page charts and draws, served as JSON on the control port.
//! The page itself is [`crate::console`]; this module only gathers and answers.
//!
//! - The scraper ([`Scraper`]): every `--console-scrape-interval` (default 2 s), `/metrics` of
//!   every registered instance, concurrently, each within `min(interval, 1 s)`; an instance
//!   that does not answer is skipped for that round. Counters become per-round growth per
//!   instance (a counter that went down was reset: it grew by its whole value), summed per
//!   service; p50/p99 come from the duration histograms' growth, interpolated within a bucket
//!   as Prometheus's `histogram_quantile` does. Kept in a [`Series`]: a ring per service of
//!   window/interval points (10 min, 300 points by default; at most
//!   [`series::MAX_POINTS`] points and [`series::MAX_SERVICES`] services).
//! - `GET /v1/console/services[?since=UNIX_SECONDS]`: every manifest service (then any other
//!   registered one), with columns of points oldest first, only those after `since`:
//!
//!   ```text
//!   { "step_seconds": 2, "window_seconds": 600,
//!     "services": [ { "service": "orders", "instances_scraped": 2,
//!         "t": [unix seconds], "rate": [requests/s], "error_ratio": [5xx share],
//!         "p50_ms": [..], "p99_ms": [..], "shed_rate": [..],      (null: nothing known)
//!         "in_flight": n,
//!         "dependencies": [ {"dependency", "breaker": "closed"|"open"|"half_open", "rate",
//!                            "error_ratio", "p99_ms" (or null), "retries_rate", "rejected_rate"} ],
//!         "outbox": {"pending", "oldest_age_seconds"} | null,
//!         "consumers": [ {"subscription", "lag", "parked", "applied_rate"} ] } ] }
//!   ```
//!
//!   Dependencies, outbox and consumers are the latest round's. A dependency's error ratio
//!   counts 5xx answers and calls with no answer (timeouts, refused connections), and is 0
//!   without calls. Outbox and consumer gauges describe rows the instances share, so they are
//!   the largest any instance reports; in-flight requests are summed.
//! - `GET /v1/console/map[?window=5m]` (1 s to 1 h, default 5 min): the services as nodes and
//!   the calls (`http`) and event flows (`event`) between them over the window, from the
//!   kept spans (see [`map`]):
//!
//!   ```text
//!   { "window_seconds": 300, "nodes": [ {"service": "gateway", "kind": "service"} ],
//!     "edges": [ {"from", "to", "kind": "http"|"event", "count", "rate" (per second),
//!                 "error_ratio", "p99_ms" (or null)} ] }
//!   ```
//!
//! A `since` or `window` that does not parse is a `400 invalid-parameter` problem naming it.

mod api;
mod exposition;
pub mod map;
mod scrape;
pub mod series;
mod step;

pub use api::router;
pub use scrape::Scraper;
pub use series::{IntervalError, Options, Series};
