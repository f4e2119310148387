//! The database URL `segmint magento` takes, and a session set up as Magento's data needs
//! (UTC, utf8mb4), opened within [`CONNECT_TIMEOUT`].

use std::time::Duration;

use mysql_async::{Conn, OptsBuilder};
use percent_encoding::percent_decode_str;

use super::MagentoError;

/// An unreachable server fails the command within this long.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Where the password comes from when the URL has none (so that it stays out of shell
/// history and process lists).
pub const PASSWORD_VARIABLE: &str = "SEGMINT_MYSQL_PASSWORD";

/// `mysql://USER:PASS@HOST[:PORT]/DB`, or with `?socket=PATH` a Unix socket.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl {
    pub host: String,
    pub port: u16,
    pub socket: Option<String>,
    pub user: String,
    pub password: Option<String>,
    pub database: String,
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.place())
    }
}

impl DatabaseUrl {
    /// Parses `url` (percent-escapes decoded); without a password in it, `password` (the
    /// value of [`PASSWORD_VARIABLE`]) is the password.
    pub fn parse(url: &str, password: Option<String>) -> Result<DatabaseUrl, MagentoError> {
        let refuse = |why: &str| {
            MagentoError::Url(format!(
                "{}: {why} (expected mysql://USER:PASS@HOST[:PORT]/DB or mysql://USER:PASS@localhost/DB?socket=PATH)",
                redacted(url)
            ))
        };
        let parsed = url::Url::parse(url).map_err(|e| refuse(&e.to_string()))?;
        if parsed.scheme() != "mysql" {
            return Err(refuse("the scheme must be mysql"));
        }
        let decode = |text: &str, what: &str| {
            percent_decode_str(text)
                .decode_utf8()
                .map(|decoded| decoded.into_owned())
                .map_err(|_| refuse(&format!("the {what} is not UTF-8 once percent-decoded")))
        };
        let user = decode(parsed.username(), "user")?;
        if user.is_empty() {
            return Err(refuse("no user"));
        }
        let password = match parsed.password() {
            Some(given) => Some(decode(given, "password")?),
            None => password,
        };
        let host = parsed
            .host_str()
            .filter(|host| !host.is_empty())
            .ok_or_else(|| refuse("no host"))?;
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let database = decode(parsed.path().trim_start_matches('/'), "database name")?;
        if database.is_empty() || database.contains('/') {
            return Err(refuse("no database name after the host"));
        }
        let mut socket = None;
        for (key, value) in parsed.query_pairs() {
            match key.as_ref() {
                "socket" => socket = Some(value.into_owned()),
                other => {
                    return Err(refuse(&format!(
                        "unknown parameter {other:?} (socket is the only one)"
                    )));
                }
            }
        }
        Ok(DatabaseUrl {
            host,
            port: parsed.port().unwrap_or(3306),
            socket,
            user,
            password,
            database,
        })
    }

    /// The server and database, for messages (never the password).
    pub fn place(&self) -> String {
        match &self.socket {
            Some(socket) => format!(
                "{}@{}/{} (socket {socket})",
                self.user, self.host, self.database
            ),
            None => format!(
                "{}@{}:{}/{}",
                self.user, self.host, self.port, self.database
            ),
        }
    }
}

/// `url` with its password, if any, replaced by `***`.
fn redacted(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://")
        && let Some((credentials, place)) = rest.rsplit_once('@')
        && let Some((user, _)) = credentials.split_once(':')
    {
        return format!("{scheme}://{user}:***@{place}");
    }
    url.to_string()
}

/// A session on the database of `url`: UTC (Magento stores UTC), utf8mb4.
pub async fn connect(url: &DatabaseUrl) -> Result<Conn, MagentoError> {
    let options = OptsBuilder::default()
        .user(Some(&url.user))
        .pass(url.password.as_deref())
        .db_name(Some(&url.database))
        .init(vec!["SET time_zone = '+00:00'", "SET NAMES utf8mb4"])
        .prefer_socket(false);
    let options = match &url.socket {
        Some(socket) => options.socket(Some(socket)),
        None => options.ip_or_hostname(&url.host).tcp_port(url.port),
    };
    let failed = |reason: String| MagentoError::Connect {
        at: url.place(),
        reason,
    };
    match tokio::time::timeout(CONNECT_TIMEOUT, Conn::new(options)).await {
        Ok(Ok(conn)) => Ok(conn),
        Ok(Err(e)) => Err(failed(e.to_string())),
        Err(_) => Err(failed(format!(
            "no answer within {} s",
            CONNECT_TIMEOUT.as_secs()
        ))),
    }
}
