//! `addresses` from `customer_address_entity`: the address books of carried customers,
//! with which address is the customer's default billing and shipping one.

use std::path::Path;

use super::MagentoError;
use super::attributes::{Entity, OptionLabels, custom};
use super::columns::{Column, Kind, TableFile, column};
use super::copy::{CUSTOMER_NOT_CARRIED, Plan, client_check, copy_table, integer_of};
use super::report::ImportReport;
use super::source::Source;

const COLUMNS: [Column; 14] = [
    column("address_id", Kind::Integer),
    column("customer_id", Kind::Integer),
    column("is_default_billing", Kind::Bool),
    column("is_default_shipping", Kind::Bool),
    column("firstname", Kind::Text),
    column("lastname", Kind::Text),
    column("company", Kind::Text),
    column("street", Kind::Text),
    column("city", Kind::Text),
    column("region", Kind::Text),
    column("postcode", Kind::Text),
    column("telephone", Kind::Text),
    column("country_id", Kind::Text),
    column("region_id", Kind::Integer),
];

const ENTITY: Entity = Entity {
    type_code: "customer_address",
    table: "customer_address_entity",
    flag: ("customer_eav_attribute", "is_used_for_customer_segment"),
    prefix: "address",
    named: &[
        "parent_id",
        "firstname",
        "lastname",
        "company",
        "street",
        "city",
        "region",
        "postcode",
        "telephone",
        "country_id",
        "region_id",
    ],
    columns: &COLUMNS,
    per_store: false,
};

/// Writes `addresses.parquet` into `dir`, with the flagged attributes as custom columns;
/// the rows written and those custom columns (order addresses carry them too).
pub async fn import(
    source: &mut Source<'_>,
    dir: &Path,
    report: &mut ImportReport,
    options: &mut OptionLabels,
) -> Result<(usize, Vec<Column>), MagentoError> {
    if !source.has("customer_address_entity") {
        let rows = TableFile::create(dir, "addresses", &COLUMNS)?.finish()?;
        return Ok((rows, Vec::new()));
    }
    let custom = custom(
        source,
        report,
        &ENTITY,
        ("a", "entity_id"),
        &[],
        options,
        true,
    )
    .await?;
    let columns = [COLUMNS.as_slice(), &custom.columns].concat();
    let mut file = TableFile::create(dir, "addresses", &columns)?;
    let plan = Plan {
        table: "customer_address_entity",
        key: "a.entity_id",
        from: format!(
            "FROM {} a LEFT JOIN {} c ON c.entity_id = a.parent_id",
            source.name("customer_address_entity"),
            source.name("customer_entity")
        ),
        carried: "c.website_id IS NOT NULL".into(),
        values: format!(
            "a.entity_id, a.parent_id, COALESCE(c.default_billing = a.entity_id, 0), \
             COALESCE(c.default_shipping = a.entity_id, 0), a.firstname, a.lastname, a.company, \
             a.street, a.city, a.region, a.postcode, a.telephone, a.country_id, a.region_id{}",
            custom.values
        ),
        order: "a.entity_id",
        reason: "'customer'",
        reasons: &[CUSTOMER_NOT_CARRIED],
        counted_elsewhere: None,
        // The custom values read apart, put in; the server's reason stands.
        check: Some(client_check(|values, reason| {
            if let Some(address) = integer_of(&values[0]) {
                custom.fill(values, COLUMNS.len(), address);
            }
            reason
        })),
    };
    copy_table(source, &mut file, report, plan, None).await?;
    Ok((file.finish()?, custom.columns))
}
