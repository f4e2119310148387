//! `customers` from `customer_entity`, with the last login (`customer_log`), the newsletter
//! subscription on a store of the customer's website (`newsletter_subscriber`) and the
//! store credit of that website (`magento_customerbalance`).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use mysql_async::Value;

use super::MagentoError;
use super::attributes::{Entity, OptionLabels, custom};
use super::columns::{Column, Kind, TableFile, column};
use super::copy::{integer_of, key_of};
use super::report::ImportReport;
use super::source::Source;

const COLUMNS: [Column; 12] = [
    column("customer_id", Kind::Integer),
    column("website_id", Kind::Integer),
    column("group_id", Kind::Integer),
    column("email", Kind::Text),
    column("firstname", Kind::Text),
    column("lastname", Kind::Text),
    column("gender", Kind::Text),
    column("dob", Kind::Date),
    column("created_at", Kind::Timestamp),
    column("last_login_at", Kind::Timestamp),
    column("newsletter_subscribed", Kind::Bool),
    column("store_credit", Kind::Decimal),
];
const GENDER: usize = 6;
/// `last_login_at`, then `newsletter_subscribed` and `store_credit`.
const LAST_LOGIN: usize = 9;

pub const ENTITY: Entity = Entity {
    type_code: "customer",
    table: "customer_entity",
    flag: ("customer_eav_attribute", "is_used_for_customer_segment"),
    prefix: "customer",
    named: &[
        "website_id",
        "group_id",
        "email",
        "firstname",
        "lastname",
        "gender",
        "dob",
        "created_at",
    ],
    columns: &COLUMNS,
    per_store: false,
};

/// The last login (`customer_log`), the newsletter subscriptions on a store of each
/// website (`newsletter_subscriber`) and the store credit of each website
/// (`magento_customerbalance`), by customer.
#[derive(Default)]
struct CustomerActivity {
    last_login: HashMap<i64, Value>,
    subscribed: HashSet<(i64, i64)>,
    store_credit: HashMap<(i64, i64), Value>,
}

impl CustomerActivity {
    async fn read(source: &mut Source<'_>) -> Result<CustomerActivity, MagentoError> {
        let mut activity = CustomerActivity::default();
        if source.has("customer_log") {
            let sql = format!(
                "SELECT customer_id, MAX(last_login_at) FROM {} GROUP BY customer_id",
                source.name("customer_log")
            );
            source
                .for_each_row("customer_log", &sql, |mut row| {
                    if let Some(customer) = integer_of(&row[0]) {
                        activity.last_login.insert(customer, row.swap_remove(1));
                    }
                    Ok(())
                })
                .await?;
        }
        if source.has("newsletter_subscriber") {
            let sql = format!(
                "SELECT DISTINCT n.customer_id, s.website_id FROM {} n \
                 JOIN {} s ON s.store_id = n.store_id WHERE n.subscriber_status = 1",
                source.name("newsletter_subscriber"),
                source.name("store")
            );
            source
                .for_each_row("newsletter_subscriber", &sql, |row| {
                    if let Some(key) = customer_and_website(&row) {
                        activity.subscribed.insert(key);
                    }
                    Ok(())
                })
                .await?;
        }
        if source.has("magento_customerbalance") {
            let sql = format!(
                "SELECT customer_id, website_id, amount FROM {}",
                source.name("magento_customerbalance")
            );
            source
                .for_each_row("magento_customerbalance", &sql, |mut row| {
                    if let Some(key) = customer_and_website(&row) {
                        activity.store_credit.insert(key, row.swap_remove(2));
                    }
                    Ok(())
                })
                .await?;
        }
        Ok(activity)
    }

    /// Puts a customer row's last login, subscription and store credit (of the customer's
    /// website) in place.
    fn fill(&self, row: &mut [Value]) {
        let Some((customer, website)) = customer_and_website(row) else {
            return;
        };
        if let Some(at) = self.last_login.get(&customer) {
            row[LAST_LOGIN] = at.clone();
        }
        let subscribed = self.subscribed.contains(&(customer, website));
        row[LAST_LOGIN + 1] = Value::Int(subscribed.into());
        if let Some(amount) = self.store_credit.get(&(customer, website)) {
            row[LAST_LOGIN + 2] = amount.clone();
        }
    }
}

/// The customer and website ids a row starts with.
fn customer_and_website(row: &[Value]) -> Option<(i64, i64)> {
    Some((integer_of(&row[0])?, integer_of(&row[1])?))
}

/// Writes `customers.parquet` into `dir`, with the flagged attributes as custom columns;
/// the rows written.
pub async fn import(
    source: &mut Source<'_>,
    dir: &Path,
    report: &mut ImportReport,
    options: &mut OptionLabels,
) -> Result<usize, MagentoError> {
    let custom = custom(
        source,
        report,
        &ENTITY,
        ("c", "entity_id"),
        &[],
        options,
        true,
    )
    .await?;
    let genders = gender_labels(source).await?;
    let customer = source.name("customer_entity");
    let activity = CustomerActivity::read(source).await?;
    // The last login, subscription and store credit are put in on the client: as
    // subqueries they took the server most of the table's time.
    let sql = format!(
        "SELECT c.entity_id, c.website_id, c.group_id, c.email, c.firstname, c.lastname, c.gender, \
         c.dob, c.created_at, NULL, 0, NULL{} \
         FROM {customer} c WHERE c.website_id IS NOT NULL ORDER BY c.entity_id",
        custom.values
    );
    let columns = [COLUMNS.as_slice(), &custom.columns].concat();
    let mut file = TableFile::create(dir, "customers", &columns)?;
    // Genders read otherwise than Magento's three labels, by what they became.
    let mut unusual: BTreeMap<String, Vec<serde_json::Value>> = BTreeMap::new();
    source
        .for_each_row("customer_entity", &sql, |mut row| {
            let id = row[0].clone();
            activity.fill(&mut row);
            if let Some(entity) = integer_of(&id) {
                custom.fill(&mut row, COLUMNS.len(), entity);
            }
            let gender = std::mem::replace(&mut row[GENDER], Value::NULL);
            if let Some(option) = integer_of(&gender) {
                let read = match genders.get(&option) {
                    Some(label) => gender_of(label),
                    None => Gender::Unlabelled(option),
                };
                match read {
                    Gender::Known(name) => row[GENDER] = Value::Bytes(name.into()),
                    Gender::Unusual(name) => {
                        unusual
                            .entry(format!("gender label read as {name:?}"))
                            .or_default()
                            .push(key_of(&id));
                        row[GENDER] = Value::Bytes(name.into_bytes());
                    }
                    Gender::Unlabelled(option) => unusual
                        .entry(format!(
                            "gender option {option} has no admin label: left null"
                        ))
                        .or_default()
                        .push(key_of(&id)),
                }
            }
            file.push(&row)
                .map_err(|why| format!("row entity_id={}: {why}", key_of(&id)))
        })
        .await?;
    let rows = file.finish()?;
    for (reason, keys) in unusual {
        report.warn(&source.label("customer_entity"), &reason, keys);
    }
    let global = source
        .keys(
            "customer_entity",
            &format!(
                "SELECT entity_id FROM {customer} WHERE website_id IS NULL ORDER BY entity_id"
            ),
        )
        .await?;
    report.not_carried(
        &source.label("customer_entity"),
        "no website_id (a customer of no website)",
        global,
    );
    if source.has("magento_customerbalance") {
        let elsewhere = source
            .keys(
                "magento_customerbalance",
                &format!(
                    "SELECT b.balance_id FROM {} b LEFT JOIN {customer} c ON c.entity_id = b.customer_id \
                     WHERE c.website_id IS NULL OR b.website_id IS NULL OR b.website_id <> c.website_id \
                     ORDER BY b.balance_id",
                    source.name("magento_customerbalance")
                ),
            )
            .await?;
        report.not_carried(
            &source.label("magento_customerbalance"),
            "store credit on another website than the customer's, or of a customer not carried",
            elsewhere,
        );
    }
    Ok(rows)
}

/// What each gender option id is read as (`male`, ...), for the segments' conditions.
pub async fn gender_values(source: &mut Source<'_>) -> Result<BTreeMap<i64, String>, MagentoError> {
    Ok(gender_labels(source)
        .await?
        .into_iter()
        .map(|(option, label)| {
            let value = match gender_of(&label) {
                Gender::Known(name) => name.to_string(),
                Gender::Unusual(name) => name,
                Gender::Unlabelled(_) => unreachable!("a label was read"),
            };
            (option, value)
        })
        .collect())
}

/// The admin (store 0) labels of the customer attribute `gender`'s options, by option id.
async fn gender_labels(source: &mut Source<'_>) -> Result<BTreeMap<i64, String>, MagentoError> {
    if !source.has("eav_attribute_option") || !source.has("eav_attribute_option_value") {
        return Ok(BTreeMap::new());
    }
    let sql = format!(
        "SELECT o.option_id, v.value FROM {} o \
         JOIN {} v ON v.option_id = o.option_id AND v.store_id = 0 \
         JOIN {} a ON a.attribute_id = o.attribute_id \
         JOIN {} t ON t.entity_type_id = a.entity_type_id \
         WHERE t.entity_type_code = 'customer' AND a.attribute_code = 'gender'",
        source.name("eav_attribute_option"),
        source.name("eav_attribute_option_value"),
        source.name("eav_attribute"),
        source.name("eav_entity_type"),
    );
    let rows = source.rows("eav_attribute_option", &sql).await?;
    Ok(rows
        .into_iter()
        .filter_map(|row| {
            let option = integer_of(&row[0])?;
            let Value::Bytes(label) = &row[1] else {
                return None;
            };
            Some((option, String::from_utf8_lossy(label).into_owned()))
        })
        .collect())
}

enum Gender {
    Known(&'static str),
    /// Another label: lower-cased, `_` for spaces.
    Unusual(String),
    Unlabelled(i64),
}

fn gender_of(label: &str) -> Gender {
    match label.trim() {
        "Male" => Gender::Known("male"),
        "Female" => Gender::Known("female"),
        "Not Specified" => Gender::Known("not_specified"),
        other => Gender::Unusual(other.to_lowercase().replace(' ', "_")),
    }
}
