//! The database URL `segmint magento` takes.

use segmint::magento::{DatabaseUrl, MagentoError};

#[test]
fn a_url_gives_host_port_user_password_and_database_with_escapes_decoded() {
    let url = DatabaseUrl::parse(
        "mysql://shop%20user:p%40ss%3Aw%2Frd@db.example:3307/magento_2",
        None,
    )
    .unwrap();
    assert_eq!(url.host, "db.example");
    assert_eq!(url.port, 3307);
    assert_eq!(url.user, "shop user");
    assert_eq!(url.password.as_deref(), Some("p@ss:w/rd"));
    assert_eq!(url.database, "magento_2");
    assert_eq!(url.socket, None);
    let default_port = DatabaseUrl::parse("mysql://u:p@127.0.0.1/m", None).unwrap();
    assert_eq!(default_port.port, 3306);
}

#[test]
fn a_socket_url_and_a_password_from_the_environment() {
    let url = DatabaseUrl::parse(
        "mysql://magento@localhost/shop?socket=/run/mysqld/mysqld.sock",
        Some("from env".into()),
    )
    .unwrap();
    assert_eq!(url.socket.as_deref(), Some("/run/mysqld/mysqld.sock"));
    assert_eq!(
        url.password.as_deref(),
        Some("from env"),
        "no password in the URL"
    );
    let given =
        DatabaseUrl::parse("mysql://magento:given@localhost/shop", Some("env".into())).unwrap();
    assert_eq!(
        given.password.as_deref(),
        Some("given"),
        "the URL's password wins"
    );
    assert!(
        !format!("{given:?}").contains("given"),
        "Debug shows no password"
    );
}

#[test]
fn bad_urls_are_refused_saying_why_without_the_password() {
    let cases = [
        ("postgres://u:secret@h/db", "scheme must be mysql"),
        ("mysql://u:secret@h", "no database name"),
        ("mysql://u:secret@h/", "no database name"),
        ("mysql://:secret@h/db", "no user"),
        ("mysql://u:secret@h/db?ssl=1", "unknown parameter \"ssl\""),
        ("not a url", "relative URL without a base"),
    ];
    for (url, why) in cases {
        match DatabaseUrl::parse(url, None) {
            Err(MagentoError::Url(message)) => {
                assert!(message.contains(why), "{url}: {message}");
                assert!(
                    !message.contains("secret"),
                    "{url}: the password shown: {message}"
                );
            }
            other => panic!("{url}: {other:?}"),
        }
    }
}
