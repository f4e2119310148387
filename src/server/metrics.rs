//! `/metrics` in the Prometheus text format: requests and their latencies per route,
//! and, read from the current snapshot at each scrape, segment sizes, data sizes and
//! memory.

use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::service::Service;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub method: String,
    /// The route as declared (`/segments/{id}`), so ids do not make new series.
    pub route: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub route: String,
}

type HistogramFamily = Family<RouteLabels, Histogram, fn() -> Histogram>;

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: HistogramFamily,
}

fn latency_histogram() -> Histogram {
    // 50 µs to about 13 s.
    Histogram::new(exponential_buckets(0.000_05, 2.0, 19))
}

impl Metrics {
    pub fn new(service: Arc<Service>) -> Metrics {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "segmint_http_requests",
            "HTTP requests answered, by method, route and status",
            requests.clone(),
        );
        let latency: HistogramFamily = Family::new_with_constructor(latency_histogram);
        registry.register(
            "segmint_http_request_duration_seconds",
            "Time to answer an HTTP request, by route",
            latency.clone(),
        );
        registry.register_collector(Box::new(ServiceCollector { service }));
        Metrics {
            registry,
            requests,
            latency,
        }
    }

    pub fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        self.requests
            .get_or_create(&RequestLabels {
                method: method.to_string(),
                route: route.to_string(),
                status,
            })
            .inc();
        self.latency
            .get_or_create(&RouteLabels {
                route: route.to_string(),
            })
            .observe(seconds);
    }

    pub fn render(&self) -> String {
        let mut text = String::new();
        // Writing to a String cannot fail; an encoder error would be a bug in a metric.
        if let Err(e) =
            prometheus_client::encoding::prometheus_text::encode(&mut text, &self.registry)
        {
            tracing::error!("cannot encode metrics: {e}");
        }
        text
    }
}

struct ServiceCollector {
    service: Arc<Service>,
}

impl std::fmt::Debug for ServiceCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServiceCollector")
    }
}

fn gauge(encoder: &mut DescriptorEncoder, name: &str, help: &str, value: i64) -> std::fmt::Result {
    let metric = ConstGauge::new(value);
    metric.encode(encoder.encode_descriptor(name, help, None, metric.metric_type())?)
}

impl Collector for ServiceCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> std::fmt::Result {
        let snapshot = self.service.snapshot();
        let (data_bytes, index_bytes) = snapshot.memory_bytes();
        {
            let mut family = encoder.encode_descriptor(
                "segmint_segment_members",
                "Members of each stored segment",
                None,
                prometheus_client::metrics::MetricType::Gauge,
            )?;
            for stored in snapshot.segments.values() {
                let labels = [("segment", stored.id())];
                ConstGauge::new(stored.count() as i64).encode(family.encode_family(&labels)?)?;
            }
        }
        {
            let counter = ConstCounter::new(self.service.events_applied());
            counter.encode(encoder.encode_descriptor(
                "segmint_events_applied",
                "Events applied since the start",
                None,
                counter.metric_type(),
            )?)?;
            let flushes =
                prometheus_client::metrics::counter::ConstCounter::new(self.service.log_flushes());
            flushes.encode(encoder.encode_descriptor(
                "segmint_event_log_flushes",
                "Flushes of the event log since the start: concurrent lists of events share one",
                None,
                flushes.metric_type(),
            )?)?;
        }
        gauge(
            &mut encoder,
            "segmint_segments",
            "Stored segments",
            snapshot.segments.len() as i64,
        )?;
        gauge(
            &mut encoder,
            "segmint_customers",
            "Registered customers in the data",
            snapshot.customer_count() as i64,
        )?;
        gauge(
            &mut encoder,
            "segmint_visitors",
            "Visitors in the data",
            snapshot.visitor_count() as i64,
        )?;
        gauge(
            &mut encoder,
            "segmint_data_bytes",
            "Bytes held by the loaded columns, links and id indexes",
            data_bytes as i64,
        )?;
        gauge(
            &mut encoder,
            "segmint_index_bytes",
            "Bytes held by the column indexes built so far",
            index_bytes as i64,
        )?;
        // What grows with events, each bounded: the delta until the next fold, the others
        // by their limits.
        let delta = snapshot.data().delta.expect("a snapshot has a delta");
        let held = [
            (
                "segmint_events_since_load",
                "Events applied since the data was loaded or last folded: the delta, folded at --checkpoint-after-events",
                delta.events,
            ),
            (
                "segmint_delta_rows",
                "Rows events added or changed to, held in the delta until the next fold",
                delta.rows_held(),
            ),
            (
                "segmint_delta_bytes",
                "Bytes the delta holds for the changed rows of the subjects events touched (packed), until the next fold",
                delta.bytes_held(),
            ),
            (
                "segmint_delta_lists_kept",
                "Lists of events kept for a running fold to catch up with",
                delta.lists.kept(),
            ),
            (
                "segmint_rows_cache_rows",
                "Rows in the bounded cache of touched subjects' rows now",
                delta.rows_cached(),
            ),
            (
                "segmint_change_feed_kept",
                "Membership changes the change feed keeps in memory (at most --changes-kept)",
                self.service.feed().kept(),
            ),
            (
                "segmint_idempotency_keys",
                "Idempotency keys remembered, with their answers",
                self.service.idempotency_keys_kept(),
            ),
        ];
        for (name, help, value) in held {
            gauge(&mut encoder, name, help, value as i64)?;
        }
        if let Some(rss) = crate::util::rss_bytes() {
            gauge(
                &mut encoder,
                "segmint_resident_memory_bytes",
                "Resident memory of the process",
                rss as i64,
            )?;
        }
        Ok(())
    }
}
