//! The Magento bridge (`../shared/spec/magento.md`): an Adobe Commerce / Magento 2 store's
//! MySQL or MariaDB tables imported as a dataset, with an `import-report.json` accounting
//! for every source row not carried.
//!
//! [`import`] reads the store in one consistent read-only snapshot: every table of the data
//! model with its custom attributes, and the stored segments translated. [`write_back`]
//! evaluates those segments and rewrites their memberships in Magento, a transaction per
//! segment. [`seed`] writes a dataset into an empty database as a Magento store, the
//! other way round, for demos, benchmarks and the round-trip test.

mod activity;
mod addresses;
mod attributes;
mod carts;
mod columns;
pub mod connect;
mod copy;
mod customers;
mod error;
pub mod import;
mod keys;
mod orders;
mod products;
pub mod report;
pub mod seed;
pub mod segments;
mod source;
pub mod translate;
pub mod write_back;

pub use columns::decimal_units;
pub use connect::DatabaseUrl;
pub use error::MagentoError;
pub use import::{ImportOptions, import};
pub use report::ImportReport;
pub use seed::{SeedOptions, seed};
pub use write_back::{WriteBackOptions, write_back};
