//! The one integration-test binary (every extra test binary would link DataFusion again).

mod common;

mod bad_data;
mod bench;
mod bitmaps;
mod console;
mod differential;
mod event_parsing;
mod events;
mod faults;
mod feed;
mod generator;
mod hardening;
mod http;
mod idempotency;
mod index;
mod loading;
mod magento;
mod openapi;
mod partials;
mod reference;
mod semantics;
mod startup;
mod suite;
mod tail_index;
mod validation;
mod values;
