//! A small HTTP load generator: a fixed number of connections, each sending its next
//! request as soon as the last is answered, for a fixed time. It runs in the `segmint
//! bench` process against a server in another process, so the figures include a real
//! socket and the server's own scheduling, as a client would see them.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::suite::percentile;

/// What one load run measured.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LoadResult {
    pub concurrency: usize,
    pub seconds: f64,
    /// Answered with 2xx.
    pub requests: u64,
    /// Answered otherwise, or not at all.
    pub errors: u64,
    pub requests_per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// One request: a method, a path and an optional JSON body. `path` and `body` get the
/// request's number, so each request can differ (e.g. a random customer).
pub struct Request<'a> {
    pub method: &'static str,
    pub path: &'a (dyn Fn(u64) -> String + Sync),
    pub body: Option<&'a (dyn Fn(u64) -> String + Sync)>,
}

pub fn run(base: &str, request: &Request, concurrency: usize, duration: Duration) -> LoadResult {
    let started = Instant::now();
    let deadline = started + duration;
    let per_connection: Vec<(Vec<f64>, u64)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..concurrency.max(1))
            .map(|connection| {
                scope.spawn(move || {
                    let agent = ureq::Agent::new_with_config(
                        ureq::Agent::config_builder()
                            .http_status_as_error(false)
                            .timeout_global(Some(Duration::from_secs(60)))
                            .build(),
                    );
                    let mut latencies = Vec::new();
                    let mut errors = 0u64;
                    let mut n = connection as u64;
                    while Instant::now() < deadline {
                        let url = format!("{base}{}", (request.path)(n));
                        let number = n;
                        n += concurrency as u64;
                        let body = request.body.map(|body| body(number));
                        let sent = Instant::now();
                        let answer = match (request.method, body) {
                            ("POST", Some(body)) => agent
                                .post(&url)
                                .header("Content-Type", "application/json")
                                .send(&body),
                            _ => agent.get(&url).call(),
                        };
                        let ok = match answer {
                            Ok(mut response) => {
                                // Read the whole answer: it is part of the request's time.
                                let read = response.body_mut().read_to_vec().is_ok();
                                read && response.status().is_success()
                            }
                            Err(_) => false,
                        };
                        if ok {
                            latencies.push(sent.elapsed().as_secs_f64() * 1e3);
                        } else {
                            errors += 1;
                        }
                    }
                    (latencies, errors)
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().unwrap_or_default())
            .collect()
    });
    let seconds = started.elapsed().as_secs_f64();
    let errors = per_connection.iter().map(|(_, e)| e).sum();
    let mut latencies: Vec<f64> = per_connection.into_iter().flat_map(|(l, _)| l).collect();
    latencies.sort_by(f64::total_cmp);
    LoadResult {
        concurrency,
        seconds,
        requests: latencies.len() as u64,
        errors,
        requests_per_second: latencies.len() as f64 / seconds,
        p50_ms: percentile(&latencies, 0.5),
        p99_ms: percentile(&latencies, 0.99),
        max_ms: latencies.last().copied().unwrap_or(0.0),
    }
}
