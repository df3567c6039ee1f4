//! Recent metric data points in memory, within fixed caps: a series (one metric of one
//! resource and scope with one set of point attributes) keeps its last
//! [`Caps::points_per_series`] points, a ring; at most [`Caps::series`] series are kept, and
//! past that a new series is refused (and counted) rather than one being evicted, so that the
//! series already watched keep their history.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::{
    metric, number_data_point, ExponentialHistogramDataPoint, HistogramDataPoint, Metric,
    NumberDataPoint, ResourceMetrics, ScopeMetrics, SummaryDataPoint,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use serde_json::{Map, Value};

use crate::logs::otlp::to_json;
use crate::otlp::{last_or_push, service_of, string_attribute};

/// How much the store keeps.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Caps {
    pub series: usize,
    pub points_per_series: usize,
}

impl Default for Caps {
    /// Every series of a laptop's system (14 instances × a few hundred series), each with the
    /// last ten minutes at the SDKs' default 60 s interval or two at 10 s: ~100 MiB at most.
    fn default() -> Self {
        Caps {
            series: 10_000,
            points_per_series: 120,
        }
    }
}

/// One data point, of whichever kind its metric is.
#[derive(Debug, Clone)]
enum Point {
    Number(NumberDataPoint),
    Histogram(HistogramDataPoint),
    Exponential(ExponentialHistogramDataPoint),
    Summary(SummaryDataPoint),
}

impl Point {
    fn attributes(&self) -> &[KeyValue] {
        match self {
            Point::Number(p) => &p.attributes,
            Point::Histogram(p) => &p.attributes,
            Point::Exponential(p) => &p.attributes,
            Point::Summary(p) => &p.attributes,
        }
    }
}

#[derive(Debug)]
struct Series {
    resource: Arc<Resource>,
    scope: Arc<InstrumentationScope>,
    /// The metric as it came, without its points: name, unit, kind, temporality.
    metric: Arc<Metric>,
    points: std::collections::VecDeque<Point>,
}

/// The series' key: service, metric name, then what else tells series apart.
type Key = (String, String, String);

#[derive(Debug, Default)]
struct Inner {
    series: BTreeMap<Key, Series>,
    refused_series: u64,
}

/// What one export did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Accepted {
    pub points: usize,
    /// Points refused: their metric has no name, a gauge's or sum's point has no value, or
    /// their series would pass the series cap.
    pub rejected: usize,
}

/// The recent data points. Cheap to clone (shared).
#[derive(Debug, Clone, Default)]
pub struct MetricStore {
    caps: Caps,
    inner: Arc<Mutex<Inner>>,
}

/// What the list is filtered by.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub service: Option<String>,
    pub name: Option<String>,
}

/// The answer of `GET /v1/metrics/otlp`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Listing {
    pub series: Vec<SeriesView>,
    /// New series refused since the start because [`Caps::series`] were kept.
    pub series_refused: u64,
    pub caps: Caps,
}

/// One series and its kept points, oldest first.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SeriesView {
    pub service: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// The instrumentation scope (the meter's name).
    pub scope: String,
    pub name: String,
    pub description: String,
    pub unit: String,
    /// `gauge`, `sum`, `histogram`, `exponential_histogram` or `summary`.
    pub kind: &'static str,
    /// `cumulative` or `delta`, for sums and histograms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temporality: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub monotonic: Option<bool>,
    pub attributes: Map<String, Value>,
    pub points: Vec<PointView>,
}

/// One point: `value` for gauges and sums; `count`, `sum` and the distribution for the others.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PointView {
    pub time_unix_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_unix_ms: Option<u64>,
    #[serde(flatten)]
    pub reading: Reading,
}

/// What a point measured, by the kind of its metric (its fields are flattened into the point).
#[derive(Debug, Clone, serde::Serialize)]
#[serde(untagged)]
pub enum Reading {
    /// A gauge's or a sum's value.
    Value { value: f64 },
    /// A histogram's, an exponential histogram's or a summary's totals and distribution.
    Distribution {
        #[serde(flatten)]
        totals: Totals,
        #[serde(flatten)]
        shape: Shape,
    },
}

/// How many values a distribution counted, and their sum and extremes where it kept them.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Totals {
    pub count: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sum: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
}

impl Totals {
    fn kept(count: u64, sum: Option<f64>, min: Option<f64>, max: Option<f64>) -> Totals {
        Totals {
            count,
            sum,
            min,
            max,
        }
    }
}

/// How a distribution's values spread.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(untagged)]
pub enum Shape {
    /// A histogram's upper bounds; `bucket_counts` has one more (the last is to +Inf).
    Buckets {
        bounds: Vec<f64>,
        bucket_counts: Vec<u64>,
    },
    /// An exponential histogram's scale and zero count.
    Exponential { scale: i32, zero_count: u64 },
    /// A summary's `[quantile, value]` pairs.
    Quantiles { quantiles: Vec<[f64; 2]> },
}

impl MetricStore {
    pub fn new(caps: Caps) -> MetricStore {
        MetricStore {
            caps,
            inner: Arc::default(),
        }
    }

    pub fn caps(&self) -> Caps {
        self.caps
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Every change is one push or insert: a poisoned lock still holds whole series.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Keeps the points of an export; refuses the points of new series past the cap.
    pub fn insert(&self, request: ExportMetricsServiceRequest) -> Accepted {
        let mut accepted = Accepted {
            points: 0,
            rejected: 0,
        };
        let mut inner = self.lock();
        let mut refused: HashSet<Key> = HashSet::new();
        for resource_metrics in request.resource_metrics {
            let resource = Arc::new(resource_metrics.resource.unwrap_or_default());
            let service = service_of(&resource);
            let resource_key = canonical(&resource.attributes);
            for scope_metrics in resource_metrics.scope_metrics {
                let scope = Arc::new(scope_metrics.scope.unwrap_or_default());
                for mut metric in scope_metrics.metrics {
                    let points = take_points(&mut metric);
                    if metric.name.is_empty() {
                        accepted.rejected += points.len();
                        continue;
                    }
                    let metric = Arc::new(metric);
                    for point in points {
                        // "Invalid" per the proto. (opentelemetry-proto reads a JSON value
                        // that does not parse, `"asInt": "lots"`, as none.)
                        if matches!(&point, Point::Number(p) if p.value.is_none()) {
                            accepted.rejected += 1;
                            continue;
                        }
                        let key = (
                            service.clone(),
                            metric.name.clone(),
                            format!(
                                "{resource_key}\n{}\n{}\n{}",
                                scope.name,
                                kind_of(&metric),
                                canonical(point.attributes())
                            ),
                        );
                        if !inner.series.contains_key(&key)
                            && inner.series.len() >= self.caps.series
                        {
                            accepted.rejected += 1;
                            if refused.insert(key) {
                                inner.refused_series += 1;
                            }
                            continue;
                        }
                        let series = inner.series.entry(key).or_insert_with(|| Series {
                            resource: resource.clone(),
                            scope: scope.clone(),
                            metric: metric.clone(),
                            points: Default::default(),
                        });
                        // The latest description wins (a restarted instance may have a newer one).
                        series.metric = metric.clone();
                        series.points.push_back(point);
                        if series.points.len() > self.caps.points_per_series {
                            series.points.pop_front();
                        }
                        accepted.points += 1;
                    }
                }
            }
        }
        accepted
    }

    /// The series that pass `filter`, by service and name, each with its points.
    pub fn list(&self, filter: &Filter) -> Listing {
        let inner = self.lock();
        let series = inner
            .series
            .iter()
            .filter(|((service, name, _), _)| {
                filter.service.as_ref().is_none_or(|s| s == service)
                    && filter.name.as_ref().is_none_or(|n| n == name)
            })
            .map(|((service, _, _), series)| view(service, series))
            .collect();
        Listing {
            series,
            series_refused: inner.refused_series,
            caps: self.caps,
        }
    }

    /// Every kept point as OTLP exports of at most `series_per_export` series each.
    pub fn export(&self, series_per_export: usize) -> Vec<ExportMetricsServiceRequest> {
        let inner = self.lock();
        let all: Vec<&Series> = inner.series.values().collect();
        all.chunks(series_per_export.max(1))
            .map(|chunk| {
                let mut resource_metrics: Vec<ResourceMetrics> = Vec::new();
                for series in chunk {
                    push_series(&mut resource_metrics, series);
                }
                ExportMetricsServiceRequest { resource_metrics }
            })
            .collect()
    }

    /// How many series are kept, and how many points in all.
    pub fn counts(&self) -> (usize, usize) {
        let inner = self.lock();
        let points = inner.series.values().map(|s| s.points.len()).sum();
        (inner.series.len(), points)
    }
}

/// Why a metric's points would be refused, whatever the caps.
pub fn metric_problem(metric: &Metric) -> Option<&'static str> {
    if metric.name.is_empty() {
        return Some("a metric has no name");
    }
    let numbers = match &metric.data {
        Some(metric::Data::Gauge(g)) => &g.data_points,
        Some(metric::Data::Sum(s)) => &s.data_points,
        _ => return None,
    };
    numbers
        .iter()
        .any(|p| p.value.is_none())
        .then_some("a gauge's or sum's point has no value (asDouble or asInt)")
}

/// Attributes in one text whatever their order: what tells two series apart.
fn canonical(attributes: &[KeyValue]) -> String {
    let mut sorted: Vec<&KeyValue> = attributes.iter().collect();
    sorted.sort_by(|a, b| a.key.cmp(&b.key));
    serde_json::to_string(&sorted).unwrap_or_default()
}

/// The metric's points, taken out of it (it keeps its kind and its other fields).
fn take_points(metric: &mut Metric) -> Vec<Point> {
    match &mut metric.data {
        Some(metric::Data::Gauge(g)) => g.data_points.drain(..).map(Point::Number).collect(),
        Some(metric::Data::Sum(s)) => s.data_points.drain(..).map(Point::Number).collect(),
        Some(metric::Data::Histogram(h)) => h.data_points.drain(..).map(Point::Histogram).collect(),
        Some(metric::Data::ExponentialHistogram(h)) => {
            h.data_points.drain(..).map(Point::Exponential).collect()
        }
        Some(metric::Data::Summary(s)) => s.data_points.drain(..).map(Point::Summary).collect(),
        None => Vec::new(),
    }
}

fn kind_of(metric: &Metric) -> &'static str {
    match &metric.data {
        Some(metric::Data::Gauge(_)) => "gauge",
        Some(metric::Data::Sum(_)) => "sum",
        Some(metric::Data::Histogram(_)) => "histogram",
        Some(metric::Data::ExponentialHistogram(_)) => "exponential_histogram",
        Some(metric::Data::Summary(_)) => "summary",
        None => "none",
    }
}

/// The OTLP `AggregationTemporality` enum: 1 delta, 2 cumulative.
fn temporality(value: i32) -> Option<&'static str> {
    match value {
        1 => Some("delta"),
        2 => Some("cumulative"),
        _ => None,
    }
}

fn ms(nanos: u64) -> u64 {
    nanos / 1_000_000
}

fn start_ms(nanos: u64) -> Option<u64> {
    (nanos > 0).then(|| ms(nanos))
}

fn view(service: &str, series: &Series) -> SeriesView {
    let metric = &series.metric;
    let (temporality, monotonic) = match &metric.data {
        Some(metric::Data::Sum(s)) => {
            (temporality(s.aggregation_temporality), Some(s.is_monotonic))
        }
        Some(metric::Data::Histogram(h)) => (temporality(h.aggregation_temporality), None),
        Some(metric::Data::ExponentialHistogram(h)) => {
            (temporality(h.aggregation_temporality), None)
        }
        _ => (None, None),
    };
    let attributes = series
        .points
        .front()
        .map(|p| {
            p.attributes()
                .iter()
                .map(|kv| {
                    let value = kv
                        .value
                        .as_ref()
                        .and_then(|v| v.value.as_ref())
                        .map_or(Value::Null, to_json);
                    (kv.key.clone(), value)
                })
                .collect()
        })
        .unwrap_or_default();
    SeriesView {
        service: service.to_owned(),
        instance: string_attribute(&series.resource.attributes, "service.instance.id"),
        scope: series.scope.name.clone(),
        name: metric.name.clone(),
        description: metric.description.clone(),
        unit: metric.unit.clone(),
        kind: kind_of(metric),
        temporality,
        monotonic,
        attributes,
        points: series.points.iter().map(point_view).collect(),
    }
}

fn point_view(point: &Point) -> PointView {
    let (time, start, reading) = match point {
        Point::Number(p) => (
            p.time_unix_nano,
            p.start_time_unix_nano,
            // Points without a value are refused when they come.
            Reading::Value {
                value: match p.value {
                    Some(number_data_point::Value::AsDouble(d)) => d,
                    Some(number_data_point::Value::AsInt(i)) => i as f64,
                    None => f64::NAN,
                },
            },
        ),
        Point::Histogram(p) => (
            p.time_unix_nano,
            p.start_time_unix_nano,
            Reading::Distribution {
                totals: Totals::kept(p.count, p.sum, p.min, p.max),
                shape: Shape::Buckets {
                    bounds: p.explicit_bounds.clone(),
                    bucket_counts: p.bucket_counts.clone(),
                },
            },
        ),
        Point::Exponential(p) => (
            p.time_unix_nano,
            p.start_time_unix_nano,
            Reading::Distribution {
                totals: Totals::kept(p.count, p.sum, p.min, p.max),
                shape: Shape::Exponential {
                    scale: p.scale,
                    zero_count: p.zero_count,
                },
            },
        ),
        Point::Summary(p) => (
            p.time_unix_nano,
            p.start_time_unix_nano,
            Reading::Distribution {
                totals: Totals::kept(p.count, Some(p.sum), None, None),
                shape: Shape::Quantiles {
                    quantiles: p
                        .quantile_values
                        .iter()
                        .map(|q| [q.quantile, q.value])
                        .collect(),
                },
            },
        ),
    };
    PointView {
        time_unix_ms: ms(time),
        start_unix_ms: start_ms(start),
        reading,
    }
}

/// Appends a series to an export, sharing the previous resource, scope and metric when they
/// are the same.
fn push_series(resource_metrics: &mut Vec<ResourceMetrics>, series: &Series) {
    let group = last_or_push(
        resource_metrics,
        |r| r.resource.as_ref() == Some(&*series.resource),
        || ResourceMetrics {
            resource: Some((*series.resource).clone()),
            ..Default::default()
        },
    );
    let scope = last_or_push(
        &mut group.scope_metrics,
        |s| s.scope.as_ref() == Some(&*series.scope),
        || ScopeMetrics {
            scope: Some((*series.scope).clone()),
            ..Default::default()
        },
    );
    // Stored without its points: they are added below.
    let metric = last_or_push(
        &mut scope.metrics,
        |m| m.name == series.metric.name && kind_of(m) == kind_of(&series.metric),
        || (*series.metric).clone(),
    );
    for point in &series.points {
        match (&mut metric.data, point) {
            (Some(metric::Data::Gauge(g)), Point::Number(p)) => g.data_points.push(p.clone()),
            (Some(metric::Data::Sum(s)), Point::Number(p)) => s.data_points.push(p.clone()),
            (Some(metric::Data::Histogram(h)), Point::Histogram(p)) => {
                h.data_points.push(p.clone())
            }
            (Some(metric::Data::ExponentialHistogram(h)), Point::Exponential(p)) => {
                h.data_points.push(p.clone())
            }
            (Some(metric::Data::Summary(s)), Point::Summary(p)) => s.data_points.push(p.clone()),
            // A point is kept under the metric it came with: the kinds always agree.
            _ => {}
        }
    }
}
