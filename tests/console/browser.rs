//! A real headless Chromium driven over WebDriver (Debian's `chromium` and
//! `chromium-driver`; the README's test command installs them): started for a test,
//! stopped when dropped. `SEGMINT_SKIP_BROWSER=1` skips the browser tests.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value as Json, json};
use tempfile::TempDir;

/// How long the page may take to show what a test waits for.
const PATIENCE: Duration = Duration::from_secs(15);

pub(crate) struct Browser {
    client: Option<Client>,
    driver: Child,
    runtime: tokio::runtime::Runtime,
    pub(crate) downloads: TempDir,
}

impl Browser {
    /// A browser of its own, or `None` when `SEGMINT_SKIP_BROWSER=1` (the test then
    /// passes vacuously).
    pub(crate) fn start() -> Option<Browser> {
        if std::env::var("SEGMINT_SKIP_BROWSER").is_ok_and(|v| v == "1") {
            eprintln!("SEGMINT_SKIP_BROWSER=1: the browser tests are skipped");
            return None;
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let driver = Command::new(chromedriver())
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(started.elapsed() < PATIENCE, "chromedriver did not listen");
            std::thread::sleep(Duration::from_millis(50));
        }
        let downloads = tempfile::tempdir().expect("download dir");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let capabilities = json!({"goog:chromeOptions": {
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1400,1000", "--lang=en-US"],
            "prefs": {"download.default_directory": downloads.path(),
                "download.prompt_for_download": false}}});
        let Json::Object(capabilities) = capabilities else {
            unreachable!()
        };
        let client = runtime
            .block_on(
                ClientBuilder::new(HttpConnector::new())
                    .capabilities(capabilities)
                    .connect(&format!("http://127.0.0.1:{port}")),
            )
            .expect("a Chromium session");
        Some(Browser {
            client: Some(client),
            driver,
            runtime,
            downloads,
        })
    }

    fn client(&self) -> &Client {
        self.client.as_ref().expect("open session")
    }

    pub(crate) fn goto(&self, url: &str) {
        self.runtime
            .block_on(self.client().goto(url))
            .unwrap_or_else(|e| panic!("open {url}: {e}"));
    }

    /// Runs a script in the page and answers its value.
    pub(crate) fn run(&self, script: &str) -> Json {
        self.runtime
            .block_on(self.client().execute(script, vec![]))
            .unwrap_or_else(|e| panic!("{script}: {e}"))
    }

    /// Waits until `css` finds an element.
    fn element(&self, css: &str) -> fantoccini::elements::Element {
        let started = Instant::now();
        loop {
            match self.runtime.block_on(self.client().find(Locator::Css(css))) {
                Ok(element) => return element,
                Err(_) if started.elapsed() < PATIENCE => {
                    std::thread::sleep(Duration::from_millis(50))
                }
                Err(e) => panic!("no element {css}: {e}"),
            }
        }
    }

    pub(crate) fn click(&self, css: &str) {
        let element = self.element(css);
        self.runtime
            .block_on(element.click())
            .unwrap_or_else(|e| panic!("click {css}: {e}"));
    }

    /// Types into a field as a user does, key by key, after what it holds.
    pub(crate) fn type_into(&self, css: &str, text: &str) {
        let element = self.element(css);
        self.runtime
            .block_on(element.send_keys(text))
            .unwrap_or_else(|e| panic!("type into {css}: {e}"));
    }

    /// Empties a field, then types into it.
    pub(crate) fn retype(&self, css: &str, text: &str) {
        let element = self.element(css);
        self.runtime
            .block_on(element.clear())
            .unwrap_or_else(|e| panic!("clear {css}: {e}"));
        self.type_into(css, text);
    }

    pub(crate) fn choose(&self, css: &str, value: &str) {
        let element = self.element(css);
        self.runtime
            .block_on(element.select_by_value(value))
            .unwrap_or_else(|e| panic!("choose {value} in {css}: {e}"));
    }

    pub(crate) fn text(&self, css: &str) -> String {
        let element = self.element(css);
        self.runtime
            .block_on(element.text())
            .unwrap_or_else(|e| panic!("text of {css}: {e}"))
    }

    pub(crate) fn texts(&self, css: &str) -> Vec<String> {
        let elements = self
            .runtime
            .block_on(self.client().find_all(Locator::Css(css)))
            .unwrap_or_else(|e| panic!("{css}: {e}"));
        elements
            .iter()
            .map(|e| self.runtime.block_on(e.text()).expect("text"))
            .collect()
    }

    /// Waits until the text of `css` is `expected`; answers how long that took.
    pub(crate) fn wait_for_text(&self, css: &str, expected: &str) -> Duration {
        let started = Instant::now();
        loop {
            let shown = self
                .runtime
                .block_on(async {
                    let element = self.client().find(Locator::Css(css)).await.ok()?;
                    element.text().await.ok()
                })
                .unwrap_or_default();
            if shown == expected {
                return started.elapsed();
            }
            assert!(
                started.elapsed() < PATIENCE,
                "{css} shows {shown:?}, not {expected:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until `test` holds of what the page answers to `script` (a script that fails,
    /// on a page still being drawn, is tried again).
    pub(crate) fn wait_until(&self, script: &str, test: impl Fn(&Json) -> bool) -> Json {
        let started = Instant::now();
        loop {
            let value = self
                .runtime
                .block_on(self.client().execute(script, vec![]))
                .unwrap_or_else(|e| Json::String(format!("failed: {e}")));
            if test(&value) {
                return value;
            }
            assert!(started.elapsed() < PATIENCE, "{script} gave {value}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// A file the page downloaded, once it is complete.
    pub(crate) fn downloaded(&self, name: &str) -> Vec<u8> {
        let path: PathBuf = self.downloads.path().join(name);
        let started = Instant::now();
        loop {
            if let Ok(bytes) = std::fs::read(&path) {
                return bytes;
            }
            assert!(started.elapsed() < PATIENCE, "no download {name}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Saves what the window shows, for the README.
    pub(crate) fn screenshot(&self, path: &Path) {
        let png = self
            .runtime
            .block_on(self.client().screenshot())
            .expect("screenshot");
        std::fs::write(path, png).expect("write screenshot");
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            let _ = self.runtime.block_on(client.close());
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn chromedriver() -> &'static str {
    for path in ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"] {
        if Path::new(path).exists() {
            return path;
        }
    }
    panic!(
        "chromedriver is missing: install chromium and chromium-driver (the README's test command, scripts/test.sh, does), or SEGMINT_SKIP_BROWSER=1 to skip the browser tests"
    )
}
