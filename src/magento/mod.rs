//! The Magento bridge (`../shared/spec/magento.md`): an Adobe Commerce / Magento 2 store's
//! MySQL or MariaDB tables imported as a dataset, with an `import-report.json` accounting
//! for every source row not carried.
//!
//! Built so far: the connection ([`connect`]), the import's frame (a consistent read-only
//! snapshot, a temporary directory renamed at the end, the report) and every table of the
//! data model with its custom attributes, and the stored segments translated. The
//! write-back comes next.

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
mod orders;
mod products;
pub mod report;
pub mod segments;
mod source;
pub mod translate;

pub use columns::decimal_units;
pub use connect::DatabaseUrl;
pub use error::MagentoError;
pub use import::{ImportOptions, import};
pub use report::ImportReport;
