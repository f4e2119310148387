//! The Magento bridge (magento.md) against a real MariaDB server.

mod import;
mod mariadb;
mod seed;
mod segments;
mod tables;
mod url;
mod write_back;
