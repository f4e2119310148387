//! # segmint
//!
//! A customer segmentation engine: Magento-style customer segments evaluated over Arrow
//! columns and roaring bitmaps, in milliseconds for millions of customers.
//!
//! The pieces, in the order data flows through them:
//!
//! - [`model`]: the data model of `shared/spec/data-model.md` — tables, columns, types. One
//!   list that the loader, the generator and the segment validator share.
//! - [`data`]: datasets on disk. [`data::load_dataset`] reads a directory of CSV or Parquet
//!   tables, applies every bad-data rule (strict by default, lenient on request), and
//!   returns a [`store::Dataset`]; [`data::generate`] writes synthetic datasets with the
//!   shapes of a real store.
//! - [`store`]: the loaded data. Subjects (customers, visitors) get dense ids; every child
//!   table is kept grouped by its owner, so one customer's orders, one order's items or one
//!   visitor's views are a contiguous range of rows. Id columns that name a parent
//!   (`customer_id`, `order_id`, `product_id` ...) are kept only as row links to the parent
//!   (`Dataset::full_table` rebuilds them). The other columns are Arrow arrays, so DataFusion
//!   can query them without copying.
//!
//! - [`segment`]: the segment language, compiled to plans over roaring bitmaps and
//!   evaluated by the [`segment::Engine`].
//! - [`events`]: real-time events applied to the data, and their durable log.
//! - [`service`]: stored segments with their member bitmaps over one engine, as immutable
//!   snapshots changed by one writer, following a clock; what any front end serves.
//! - [`server`]: the HTTP API, thin over the service.
//! - [`bench`]: `segmint bench`, the capacity-planning benchmark.
//!
//! The engine is a library; the `segmint` binary is a thin command line over it.

pub mod bench;
pub mod data;
pub mod demo;
pub mod events;
pub mod feed;
pub mod live;
pub mod magento;
pub mod model;
pub mod records;
pub mod segment;
pub mod server;
pub mod service;
pub mod store;
pub mod util;
