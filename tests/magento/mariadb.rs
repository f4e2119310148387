//! A real MariaDB server for the Magento bridge's tests (magento.md's harness): one per
//! test binary, started on first use in a temporary directory, listening on its socket and
//! on a loopback port; a database per test. It is stopped when the test binary exits, by
//! whatever means: a watchdog shell kills it once the pipe from this process closes.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The user the tests connect as, with every right on their databases.
pub const USER: &str = "magento";
pub const PASSWORD: &str = "s3cret pass";

pub struct MariaDb {
    pub socket: PathBuf,
    pub port: u16,
    client: PathBuf,
    /// Removed by the watchdog once the server stopped.
    dir: PathBuf,
    /// The watchdog: its stdin, held until the process exits, keeps the server alive.
    _watchdog: Mutex<(Child, ChildStdin)>,
}

/// The server, or `None` when `SEGMINT_SKIP_MARIADB=1` (the test then passes vacuously).
/// Without MariaDB installed, fails naming the package.
pub fn server() -> Option<&'static MariaDb> {
    if std::env::var("SEGMINT_SKIP_MARIADB").is_ok_and(|v| v == "1") {
        eprintln!("SEGMINT_SKIP_MARIADB=1: the MariaDB tests are skipped");
        return None;
    }
    static SERVER: OnceLock<Result<MariaDb, String>> = OnceLock::new();
    match SERVER.get_or_init(MariaDb::start) {
        Ok(server) => Some(server),
        Err(why) => panic!("{why}"),
    }
}

/// A fresh database named `name` with Magento's tables (src/magento/schema.sql), or
/// `None` when MariaDB tests are skipped.
pub fn magento_database(name: &str) -> Option<Database> {
    let server = server()?;
    let database = Database {
        server,
        name: name.to_string(),
    };
    server.run(
        None,
        &format!("DROP DATABASE IF EXISTS `{name}`; CREATE DATABASE `{name}`"),
    );
    database.sql(include_str!("../../src/magento/schema.sql"));
    Some(database)
}

/// An empty database (no tables), or `None` when MariaDB tests are skipped.
pub fn empty_database(name: &str) -> Option<Database> {
    let server = server()?;
    server.run(
        None,
        &format!("DROP DATABASE IF EXISTS `{name}`; CREATE DATABASE `{name}`"),
    );
    Some(Database {
        server,
        name: name.to_string(),
    })
}

pub struct Database {
    pub server: &'static MariaDb,
    pub name: String,
}

impl Database {
    /// Runs SQL statements (`;`-separated) in the database, as root.
    pub fn sql(&self, statements: &str) {
        self.server.run(Some(&self.name), statements);
    }

    /// The rows of a query (as root), each line tab-separated.
    pub fn query(&self, sql: &str) -> Vec<String> {
        self.server.output(Some(&self.name), sql)
    }

    /// `mysql://` URL over TCP, as the test user.
    pub fn tcp_url(&self) -> String {
        format!(
            "mysql://{USER}:{}@127.0.0.1:{}/{}",
            PASSWORD.replace(' ', "%20"),
            self.server.port,
            self.name
        )
    }
}

fn find(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/bin", "/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| out.stdout.trim_ascii() == b"0")
}

impl MariaDb {
    fn start() -> Result<MariaDb, String> {
        let missing = |program: &str| {
            format!(
                "{program} not found: the Magento bridge's tests need a real MariaDB server \
                 (Debian package mariadb-server: `apt-get install -y mariadb-server`, which the \
                 README's test command does), or SEGMINT_SKIP_MARIADB=1 to skip them"
            )
        };
        let server = find("mariadbd").ok_or_else(|| missing("mariadbd"))?;
        let install = find("mariadb-install-db").ok_or_else(|| missing("mariadb-install-db"))?;
        let client = find("mariadb").ok_or_else(|| missing("mariadb"))?;
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?.keep();
        let data = dir.join("data");
        let socket = dir.join("sock");
        let as_root: &[&str] = if is_root() { &["--user=root"] } else { &[] };
        let installed = Command::new(&install)
            .arg("--no-defaults")
            .arg("--auth-root-authentication-method=normal")
            .arg(format!("--datadir={}", data.display()))
            .arg("--innodb-log-file-size=16M")
            .args(as_root)
            .output()
            .map_err(|e| format!("{}: {e}", install.display()))?;
        if !installed.status.success() {
            return Err(format!(
                "mariadb-install-db failed: {}",
                String::from_utf8_lossy(&installed.stderr)
            ));
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| e.to_string())?
            .port();
        let command = format!(
            "'{}' --no-defaults {} --datadir='{}' --socket='{}' --bind-address=127.0.0.1 --port={port} \
             --log-error='{}' --pid-file='{}' --innodb-buffer-pool-size=64M --innodb-log-file-size=16M \
             --skip-log-bin & server=$!; cat > /dev/null; kill $server; wait $server; rm -rf '{}'",
            server.display(),
            as_root.join(" "),
            data.display(),
            socket.display(),
            dir.join("error.log").display(),
            dir.join("mariadbd.pid").display(),
            dir.display(),
        );
        let mut watchdog = Command::new("sh")
            .arg("-c")
            .arg(command)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("sh: {e}"))?;
        let stdin = watchdog.stdin.take().expect("piped");
        let mariadb = MariaDb {
            socket,
            port,
            client,
            dir,
            _watchdog: Mutex::new((watchdog, stdin)),
        };
        let started = Instant::now();
        while !mariadb.answers() {
            if started.elapsed() > Duration::from_secs(60) {
                let log =
                    std::fs::read_to_string(mariadb.dir.join("error.log")).unwrap_or_default();
                return Err(format!("MariaDB did not start within 60 s: {log}"));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        mariadb.run(
            None,
            &format!(
                "CREATE USER '{USER}'@'localhost' IDENTIFIED BY '{PASSWORD}'; \
                 CREATE USER '{USER}'@'127.0.0.1' IDENTIFIED BY '{PASSWORD}'; \
                 GRANT ALL ON *.* TO '{USER}'@'localhost'; GRANT ALL ON *.* TO '{USER}'@'127.0.0.1'"
            ),
        );
        Ok(mariadb)
    }

    fn answers(&self) -> bool {
        self.socket.exists()
            && self
                .client(None)
                .arg("-e")
                .arg("SELECT 1")
                .output()
                .is_ok_and(|o| o.status.success())
    }

    fn client(&self, database: Option<&str>) -> Command {
        let mut command = Command::new(&self.client);
        command
            .arg("--no-defaults")
            .arg(format!("--socket={}", self.socket.display()))
            .arg("--user=root")
            .arg("--batch")
            .arg("--skip-column-names");
        command.args(database);
        command
    }

    /// Runs `statements` (as root), panicking with the server's message on failure.
    fn run(&self, database: Option<&str>, statements: &str) {
        self.output(database, statements);
    }

    fn output(&self, database: Option<&str>, statements: &str) -> Vec<String> {
        let mut child = self
            .client(database)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the mariadb client starts");
        child
            .stdin
            .take()
            .expect("piped")
            .write_all(statements.as_bytes())
            .expect("SQL written to the client");
        let out = child.wait_with_output().expect("the mariadb client ends");
        assert!(
            out.status.success(),
            "SQL failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            &statements[..statements.len().min(2000)]
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect()
    }
}

/// The `segmint` binary with `args`; its exit status, stdout and stderr.
pub fn segmint(args: &[&str], env: &[(&str, &str)]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_segmint"))
        .args(args)
        .envs(env.iter().copied())
        .env("RUST_LOG", "info")
        .output()
        .expect("segmint runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Whether `dir` holds exactly the files named (any order).
pub fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}
