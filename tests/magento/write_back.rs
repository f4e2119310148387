//! `segmint magento write-back` against a real MariaDB server: each imported segment's
//! rows of `magento_customersegment_customer` made its members, one transaction each.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value as Json;

use super::import::{import, shop};
use super::mariadb::{Database, segmint};
use super::segments::{attribute, root, segment_sql};

/// Rows Magento's own refresh wrote long ago (UTC).
const EARLIER_ROWS: &str = "
SET time_zone = '+00:00';
INSERT INTO magento_customersegment_customer (segment_id, customer_id, website_id, added_date, updated_date) VALUES
  (1, 1, 1, '2020-01-01 00:00:00', '2020-01-02 00:00:00'),
  (1, 3, 1, '2020-01-01 00:00:00', '2020-01-02 00:00:00'),
  (1, 6, 1, '2020-01-01 00:00:00', '2020-01-02 00:00:00'),
  (2, 2, 2, '2020-01-01 00:00:00', '2020-01-02 00:00:00'),
  (3, 1, 1, '2020-01-01 00:00:00', '2020-01-02 00:00:00'),
  (4, 2, 2, '2020-01-01 00:00:00', '2020-01-02 00:00:00');
";

fn group_is(groups: &[&str]) -> String {
    let conditions = groups
        .iter()
        .map(|group| attribute("Customer\\Attributes", "group_id", "==", group))
        .collect();
    root("any", "1", conditions).to_string()
}

/// Every membership row: segment, customer, website, added and updated dates, a date
/// at or after `since` shown as `now`.
fn memberships(database: &Database, since: &str) -> Vec<String> {
    database.query(&format!(
        "SET time_zone = '+00:00'; \
         SELECT segment_id, customer_id, website_id, \
           IF(added_date >= '{since}', 'now', added_date), IF(updated_date >= '{since}', 'now', updated_date) \
         FROM magento_customersegment_customer ORDER BY segment_id, customer_id, website_id"
    ))
}

fn utc_now() -> String {
    chrono::Utc::now().format("%Y-%m-%d %H:%M:%S").to_string()
}

fn write_back(database: &Database, dir: &Path, extra: &[&str]) -> (bool, String, String) {
    let url = database.tcp_url();
    let mut args = vec![
        "magento",
        "write-back",
        "--to",
        &url,
        "--data",
        dir.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    segmint(&args, &[])
}

/// Customers 1 and 6 are in group 1, 4 in group 3, 2 in group 2 (on website 2).
fn imported_shop(name: &str) -> Option<(Database, tempfile::TempDir, Json)> {
    let database = shop(name)?;
    database.sql(&segment_sql(
        1,
        Some("Groups 1 and 3"),
        1,
        0,
        Some(&group_is(&["1", "3"])),
        &[1, 2],
    ));
    database.sql(&segment_sql(
        2,
        Some("Group 2"),
        1,
        0,
        Some(&group_is(&["2"])),
        &[2],
    ));
    database.sql(&segment_sql(
        3,
        Some("Paused"),
        0,
        0,
        Some(&group_is(&["1"])),
        &[1],
    ));
    database.sql(&segment_sql(
        4,
        Some("Old"),
        1,
        0,
        Some("a:1:{s:4:\"type\";}"),
        &[1],
    ));
    database.sql(&segment_sql(
        5,
        Some("Group 2 again"),
        1,
        1,
        Some(&group_is(&["2"])),
        &[2],
    ));
    database.sql(EARLIER_ROWS);
    let out = tempfile::tempdir().unwrap();
    let report = import(&database.tcp_url(), &out.path().join("store"));
    Some((database, out, report))
}

#[test]
fn memberships_are_rewritten_keeping_added_dates_and_skipping_what_magento_changed() {
    let Some((database, out, report)) = imported_shop("write_back") else {
        return;
    };
    let dir = out.path().join("store");
    let imported: Vec<&Json> = report["segments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| &s["result"])
        .collect();
    assert_eq!(
        imported,
        ["imported", "imported", "imported", "skipped", "imported"]
    );
    // After the import, Magento changes segment 2 and loses customer 6.
    database.sql(
        "UPDATE magento_customersegment_segment SET name = 'Group two' WHERE segment_id = 2; \
         DELETE FROM customer_entity WHERE entity_id = 6",
    );
    let before = memberships(&database, "2100-01-01");
    let lines = [
        "segment 1: 2 members, entered 1, left 2, missing 1",
        "segment 2: skipped, changed in Magento since the import: import again",
        "segment 3: skipped, inactive",
        "segment 5: 1 members, entered 1, left 0, missing 0",
    ];

    let (ok, stdout, stderr) = write_back(&database, &dir, &["--dry-run"]);
    assert!(ok, "{stderr}");
    let mut expected = lines.join("\n");
    expected.push_str(
        "\ntotal: 2 segments compared (dry run: nothing written), 2 skipped; 3 members, entered 2, left 2, missing 1\n",
    );
    assert_eq!(stdout, expected);
    assert_eq!(
        memberships(&database, "2100-01-01"),
        before,
        "a dry run writes nothing"
    );

    let since = utc_now();
    let (ok, stdout, stderr) = write_back(&database, &dir, &[]);
    assert!(ok, "{stderr}");
    let mut expected = lines.join("\n");
    expected.push_str(
        "\ntotal: 2 segments written, 2 skipped; 3 members, entered 2, left 2, missing 1\n",
    );
    assert_eq!(stdout, expected);
    let old = "2020-01-01 00:00:00";
    let old_update = "2020-01-02 00:00:00";
    let written = memberships(&database, &since);
    assert_eq!(
        written,
        [
            // Customer 1 stays: added when Magento added them, updated now; 3 left; 4
            // entered; 6 is gone from customer_entity, so its row went too.
            format!("1\t1\t1\t{old}\tnow"),
            "1\t4\t1\tnow\tnow".to_string(),
            // Changed in Magento, inactive, not imported: untouched.
            format!("2\t2\t2\t{old}\t{old_update}"),
            format!("3\t1\t1\t{old}\t{old_update}"),
            format!("4\t2\t2\t{old}\t{old_update}"),
            // On the customer's website.
            "5\t2\t2\tnow\tnow".to_string(),
        ]
    );

    // Written again a second later with nothing changed: nobody enters or leaves, the
    // added dates stay, the updated dates move.
    let first = memberships(&database, "2100-01-01");
    std::thread::sleep(Duration::from_millis(1100));
    let since = utc_now();
    let (ok, stdout, stderr) = write_back(&database, &dir, &[]);
    assert!(ok, "{stderr}");
    assert_eq!(
        stdout,
        "segment 1: 2 members, entered 0, left 0, missing 1\n\
         segment 2: skipped, changed in Magento since the import: import again\n\
         segment 3: skipped, inactive\n\
         segment 5: 1 members, entered 0, left 0, missing 0\n\
         total: 2 segments written, 2 skipped; 3 members, entered 0, left 0, missing 1\n"
    );
    let expected: Vec<String> = first
        .iter()
        .map(|row| {
            let mut fields: Vec<&str> = row.split('\t').collect();
            if ["1", "5"].contains(&fields[0]) {
                fields[4] = "now";
            }
            fields.join("\t")
        })
        .collect();
    assert_eq!(memberships(&database, &since), expected);

    // --segments names the files to write back; a segment Magento deleted is skipped.
    let only_5 = out.path().join("only-5");
    std::fs::create_dir(&only_5).unwrap();
    std::fs::copy(dir.join("segments/5.json"), only_5.join("5.json")).unwrap();
    database.sql("DELETE FROM magento_customersegment_segment WHERE segment_id = 5");
    let (ok, stdout, stderr) =
        write_back(&database, &dir, &["--segments", only_5.to_str().unwrap()]);
    assert!(ok, "{stderr}");
    assert_eq!(
        stdout,
        "segment 5: skipped, deleted in Magento since the import\n\
         total: 0 segments written, 1 skipped; 0 members, entered 0, left 0, missing 0\n"
    );
    assert_eq!(memberships(&database, &since), expected);
}

#[test]
fn a_failure_before_writing_writes_nothing() {
    let Some((database, out, _)) = imported_shop("write_back_refused") else {
        return;
    };
    let dir = out.path().join("store");
    let before = memberships(&database, "2100-01-01");
    let refused = |extra: &[&str], expected: &str| {
        let (ok, stdout, stderr) = write_back(&database, &dir, extra);
        assert!(!ok, "refused: {stdout}");
        assert!(stderr.contains(expected), "{expected:?} in {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert_eq!(stdout, "", "no segment written");
        assert_eq!(memberships(&database, "2100-01-01"), before);
    };

    // A segment file the import did not write (Magento has no segment 99).
    std::fs::copy(dir.join("segments/1.json"), dir.join("segments/99.json")).unwrap();
    refused(&[], "99.json: \"99\" is not a segment the import wrote");
    std::fs::remove_file(dir.join("segments/99.json")).unwrap();

    // A definition segmint rejects, even after segments that evaluate.
    let path = dir.join("segments/5.json");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        text.replace("customer.group_id", "customer.group_nope"),
    )
    .unwrap();
    refused(&[], "5.json: ");
    refused(&[], "group_nope");
    std::fs::write(&path, &text).unwrap();

    // A directory that is not an import's.
    let elsewhere = tempfile::tempdir().unwrap();
    let (ok, _, stderr) = segmint(
        &[
            "magento",
            "write-back",
            "--to",
            &database.tcp_url(),
            "--data",
            elsewhere.path().to_str().unwrap(),
        ],
        &[],
    );
    assert!(!ok);
    assert!(
        stderr.contains("import-report.json") && stderr.contains("segmint magento import"),
        "{stderr}"
    );
    assert_eq!(memberships(&database, "2100-01-01"), before);
}

#[test]
fn a_connection_killed_mid_segment_leaves_that_segment_as_it_was_and_stops_there() {
    let Some((database, out, _)) = imported_shop("write_back_killed") else {
        return;
    };
    let dir = out.path().join("store");
    // Segment 2 has a row to delete before its update, so the rollback has work; segment
    // 5, after it, a row it would delete.
    database.sql(
        "SET time_zone = '+00:00'; INSERT INTO magento_customersegment_customer \
         (segment_id, customer_id, website_id, added_date, updated_date) VALUES \
         (2, 3, 1, '2020-01-01 00:00:00', '2020-01-02 00:00:00'), \
         (5, 3, 1, '2020-01-01 00:00:00', '2020-01-02 00:00:00')",
    );
    // Updating segment 2's rows stalls, after its delete: the test kills the connection
    // there (the process list shows it running the trigger).
    database.sql(
        "CREATE TRIGGER stall BEFORE UPDATE ON magento_customersegment_customer FOR EACH ROW \
         SET @stalled = IF(NEW.segment_id = 2, SLEEP(120), 0)",
    );
    let before = memberships(&database, "2100-01-01");
    let url = database.tcp_url();
    let mut child = Command::new(env!("CARGO_BIN_EXE_segmint"))
        .args(["magento", "write-back", "--to", &url, "--data"])
        .arg(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let stalled = loop {
        let found = database.query(
            "SELECT id FROM information_schema.processlist \
             WHERE info LIKE 'SET @stalled%'",
        );
        if let Some(id) = found.first() {
            break id.clone();
        }
        if let Some(status) = child.try_wait().unwrap() {
            let out = child.wait_with_output().unwrap();
            panic!(
                "write-back ended ({status}) before the update of segment 2: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        if started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!(
                "the update of segment 2 never started: {:?}",
                database.query("SELECT id, LEFT(info, 200) FROM information_schema.processlist")
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    database.sql(&format!("KILL {stalled}"));
    let result = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&result.stdout);
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(!result.status.success(), "{stdout}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        stderr.contains("segment 2: ") && stderr.contains("rolled back"),
        "{stderr}"
    );
    assert_eq!(
        stdout,
        "segment 1: 3 members, entered 1, left 1, missing 0\n"
    );
    let after = memberships(&database, "2100-01-01");
    let of_segment = |rows: &[String], id: i64| -> Vec<String> {
        rows.iter()
            .filter(|r| r.starts_with(&format!("{id}\t")))
            .cloned()
            .collect()
    };
    assert_eq!(
        of_segment(&after, 2),
        [
            "2\t2\t2\t2020-01-01 00:00:00\t2020-01-02 00:00:00",
            "2\t3\t1\t2020-01-01 00:00:00\t2020-01-02 00:00:00"
        ]
    );
    // The segments after it are untouched.
    for later in [3, 4, 5] {
        assert_eq!(of_segment(&after, later), of_segment(&before, later));
    }
    assert_eq!(of_segment(&after, 5).len(), 1);
    // Segment 1, before it, was written: customer 3 left, 4 entered.
    let customers_of_1: Vec<String> = of_segment(&after, 1)
        .iter()
        .map(|r| r.split('\t').nth(1).unwrap().to_string())
        .collect();
    assert_eq!(customers_of_1, ["1", "4", "6"]);
}
