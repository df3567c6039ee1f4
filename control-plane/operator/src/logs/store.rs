//! The recent lines of every instance, in memory, within fixed caps: at most
//! [`Caps::per_instance`] lines per instance (so a chatty instance cannot push the others out)
//! and [`Caps::lines`] in all; past either, the oldest lines go first. A line longer than
//! [`Caps::line_bytes`] is cut there.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use tokio::sync::watch;

use super::line::{self, Level, LogLine, Source};

/// How much the store keeps.
#[derive(Debug, Clone, Copy)]
pub struct Caps {
    pub per_instance: usize,
    pub lines: usize,
    pub line_bytes: usize,
}

impl Default for Caps {
    /// Some minutes of a busy laptop run; at most a few tens of MiB.
    fn default() -> Self {
        Caps {
            per_instance: 5_000,
            lines: 50_000,
            line_bytes: 16 * 1024,
        }
    }
}

/// Which lines a query wants.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub service: Option<String>,
    /// Only with `service`: an instance number alone names no instance.
    pub instance: Option<u32>,
    /// Lower-case hex.
    pub trace_id: Option<String>,
    /// This level and above; text lines (no level) are left out.
    pub level: Option<Level>,
    pub grep: Option<String>,
    /// Only lines after this cursor (a [`Page::next`]); without it, the latest lines.
    pub after: Option<u64>,
    pub limit: usize,
}

impl Filter {
    fn matches(&self, line: &LogLine) -> bool {
        self.trace_id
            .as_ref()
            .is_none_or(|id| line.trace_id.as_ref() == Some(id))
            && self
                .level
                .is_none_or(|min| line.level.is_some_and(|level| level >= min))
            && self.grep.as_deref().is_none_or(|text| line.contains(text))
    }

    fn wants(&self, service: &str, instance: u32) -> bool {
        self.service.as_deref().is_none_or(|s| s == service)
            && self.instance.is_none_or(|n| n == instance)
    }
}

/// A query's answer.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Page {
    /// Oldest first.
    pub lines: Vec<LogLine>,
    /// The cursor to ask `after` next time for the lines that follow these.
    pub next: u64,
}

#[derive(Debug, Default)]
struct Inner {
    last_seq: u64,
    instances: BTreeMap<(String, u32), VecDeque<LogLine>>,
    total: usize,
    dropped: u64,
}

/// The recent lines. Cheap to clone (shared).
#[derive(Debug, Clone)]
pub struct LogStore {
    caps: Caps,
    inner: Arc<Mutex<Inner>>,
    /// The last line's `seq`, for followers waiting for more.
    latest: Arc<watch::Sender<u64>>,
}

impl Default for LogStore {
    fn default() -> Self {
        LogStore::new(Caps::default())
    }
}

impl LogStore {
    pub fn new(caps: Caps) -> LogStore {
        LogStore {
            caps,
            inner: Arc::default(),
            latest: Arc::new(watch::channel(0).0),
        }
    }

    pub fn caps(&self) -> Caps {
        self.caps
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic elsewhere while holding the lock leaves whole lines only: keep serving.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Keeps one line an instance wrote, dropping the oldest past the caps; returns it as kept.
    pub fn push(&self, service: &str, instance: u32, stream: Source, raw: &str) -> LogLine {
        let raw = cut(raw, self.caps.line_bytes);
        self.keep(line::parse(
            service,
            instance,
            stream,
            raw,
            SystemTime::now(),
        ))
    }

    /// Keeps a line read elsewhere (an OTLP log record), numbering it; returns it as kept.
    pub fn keep(&self, mut line: LogLine) -> LogLine {
        let seq = {
            let mut inner = self.lock();
            inner.last_seq += 1;
            line.seq = inner.last_seq;
            let lines = inner
                .instances
                .entry((line.service.clone(), line.instance))
                .or_default();
            lines.push_back(line.clone());
            let over = lines.len() > self.caps.per_instance;
            if over {
                lines.pop_front();
            }
            if over {
                inner.dropped += 1;
            } else {
                inner.total += 1;
            }
            while inner.total > self.caps.lines && inner.evict_oldest() {}
            inner.last_seq
        };
        self.latest.send_replace(seq);
        line
    }

    /// Every kept line, oldest first.
    pub fn lines(&self) -> Vec<LogLine> {
        let inner = self.lock();
        let mut lines: Vec<LogLine> = inner.instances.values().flatten().cloned().collect();
        lines.sort_unstable_by_key(|line| line.seq);
        lines
    }

    /// Lines dropped to stay within the caps since the start.
    pub fn dropped(&self) -> u64 {
        self.lock().dropped
    }

    /// The services that have written at least one line.
    pub fn services(&self) -> Vec<String> {
        let inner = self.lock();
        let mut services: Vec<String> = inner.instances.keys().map(|(s, _)| s.clone()).collect();
        services.dedup();
        services
    }

    /// The lines `filter` wants: the first `limit` after its cursor, or the latest `limit`.
    pub fn query(&self, filter: &Filter) -> Page {
        let inner = self.lock();
        let after = filter.after.unwrap_or(0);
        let mut lines: Vec<&LogLine> = inner
            .instances
            .iter()
            .filter(|((service, instance), _)| filter.wants(service, *instance))
            .flat_map(|(_, lines)| lines.iter())
            .filter(|line| line.seq > after && filter.matches(line))
            .collect();
        lines.sort_unstable_by_key(|line| line.seq);
        let mut next = inner.last_seq;
        if lines.len() > filter.limit {
            if filter.after.is_some() {
                lines.truncate(filter.limit);
                next = lines.last().map_or(after, |line| line.seq);
            } else {
                lines.drain(..lines.len() - filter.limit);
            }
        }
        Page {
            lines: lines.into_iter().cloned().collect(),
            next,
        }
    }

    /// Like [`LogStore::query`], but when nothing matches yet, waits up to `wait` for a line
    /// that does: how `--follow` streams without asking in a tight loop.
    pub async fn wait_for(&self, mut filter: Filter, wait: Duration) -> Page {
        let deadline = tokio::time::Instant::now() + wait;
        let mut latest = self.latest.subscribe();
        loop {
            let page = self.query(&filter);
            if !page.lines.is_empty() || tokio::time::Instant::now() >= deadline {
                return page;
            }
            // Lines that did not match are behind us: wait only for newer ones.
            filter.after = Some(page.next);
            let newer = latest.wait_for(|&seq| seq > page.next);
            if tokio::time::timeout_at(deadline, newer).await.is_err() {
                return Page {
                    lines: Vec::new(),
                    next: page.next,
                };
            }
        }
    }
}

impl Inner {
    /// Drops the oldest line of all; false when there is none.
    fn evict_oldest(&mut self) -> bool {
        let oldest = self
            .instances
            .iter()
            .filter_map(|(key, lines)| lines.front().map(|line| (line.seq, key.clone())))
            .min();
        let Some((_, key)) = oldest else {
            return false;
        };
        if let Some(lines) = self.instances.get_mut(&key) {
            lines.pop_front();
        }
        self.total -= 1;
        self.dropped += 1;
        true
    }
}

/// `raw` cut to at most `max` bytes, on a character boundary.
pub(crate) fn cut(raw: &str, max: usize) -> &str {
    if raw.len() <= max {
        return raw;
    }
    let mut end = max;
    while !raw.is_char_boundary(end) {
        end -= 1;
    }
    &raw[..end]
}
