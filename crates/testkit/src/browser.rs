//! A real headless Chromium driven through WebDriver (Debian's `chromium` and
//! `chromium-driver`), speaking the W3C protocol over plain HTTP to a `chromedriver` on
//! loopback. Without chromedriver the browser tests skip with a message, unless
//! `DESKWARD_REQUIRE_SERVICES=1`.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

pub struct Browser {
    driver: Child,
    http: reqwest::Client,
    session: String,
    base: String,
    _profile: crate::TempDir,
}


/// Whether browser tests can run; panics when the test command requires them and they cannot.
pub fn browser_available(what: &str) -> bool {
    let found = ["/usr/bin/chromedriver", "/usr/bin/chromium"].iter().all(|p| std::path::Path::new(p).exists());
    crate::service_present(what, found, "Debian's chromium or chromium-driver")
}

impl Browser {
    /// Starts chromedriver on a free port and opens a headless Chromium that accepts the test
    /// server's self-signed certificate and records its console.
    pub async fn start() -> anyhow::Result<Browser> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let driver = Command::new("/usr/bin/chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("cannot start chromedriver")?;
        let profile = crate::TempDir::new("chromium");
        let http = reqwest::Client::builder().timeout(Duration::from_secs(60)).build()?;
        let base = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        while http.get(format!("{base}/status")).send().await.is_err() {
            if started.elapsed() > Duration::from_secs(20) {
                bail!("chromedriver did not answer on port {port}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "acceptInsecureCerts": true,
            "goog:loggingPrefs": {"browser": "ALL"},
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         format!("--user-data-dir={}", profile.0.display())]
            }
        }}});
        let r: Value = http.post(format!("{base}/session")).json(&caps).send().await?.json().await?;
        let session = r["value"]["sessionId"].as_str().with_context(|| format!("no WebDriver session: {r}"))?.to_owned();
        Ok(Browser { driver, http, session, base, _profile: profile })
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> anyhow::Result<Value> {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let mut req = self.http.request(method, url);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let v: Value = req.send().await?.json().await?;
        if let Some(e) = v["value"]["error"].as_str() {
            bail!("WebDriver {path}: {e}: {}", v["value"]["message"]);
        }
        Ok(v["value"].clone())
    }

    pub async fn goto(&self, url: &str) -> anyhow::Result<()> {
        self.call(reqwest::Method::POST, "/url", Some(json!({"url": url}))).await.map(|_| ())
    }

    pub async fn url(&self) -> anyhow::Result<String> {
        Ok(self.call(reqwest::Method::GET, "/url", None).await?.as_str().unwrap_or("").to_owned())
    }

    async fn element(&self, css: &str) -> anyhow::Result<String> {
        let v = self.call(reqwest::Method::POST, "/element", Some(json!({"using": "css selector", "value": css}))).await?;
        v[ELEMENT].as_str().map(str::to_owned).with_context(|| format!("no element {css}"))
    }

    /// Clears the field and types `text` into it.
    pub async fn fill(&self, css: &str, text: &str) -> anyhow::Result<()> {
        let id = self.element(css).await?;
        self.call(reqwest::Method::POST, &format!("/element/{id}/clear"), Some(json!({}))).await?;
        self.call(reqwest::Method::POST, &format!("/element/{id}/value"), Some(json!({"text": text}))).await.map(|_| ())
    }

    /// Chooses the file at `path` (absolute) in the `<input type=file>` matching `css`.
    pub async fn choose_file(&self, css: &str, path: &std::path::Path) -> anyhow::Result<()> {
        let id = self.element(css).await?;
        let text = path.to_str().context("a file path that is not UTF-8")?;
        self.call(reqwest::Method::POST, &format!("/element/{id}/value"), Some(json!({"text": text}))).await.map(|_| ())
    }

    pub async fn click(&self, css: &str) -> anyhow::Result<()> {
        let id = self.element(css).await?;
        self.call(reqwest::Method::POST, &format!("/element/{id}/click"), Some(json!({}))).await.map(|_| ())
    }

    /// The visible text of the first element matching `css`, or `None` when there is none.
    pub async fn text(&self, css: &str) -> Option<String> {
        let id = self.element(css).await.ok()?;
        self.call(reqwest::Method::GET, &format!("/element/{id}/text"), None).await.ok()?.as_str().map(str::to_owned)
    }

    /// Waits up to ten seconds for the current URL's path to be `path`.
    pub async fn wait_for_path(&self, path: &str) -> anyhow::Result<()> {
        let started = Instant::now();
        loop {
            let url = self.url().await?;
            if url.split_once("://").and_then(|(_, rest)| rest.find('/').map(|i| &rest[i..])) == Some(path) {
                return Ok(());
            }
            if started.elapsed() > Duration::from_secs(10) {
                bail!("the browser is at {url}, not {path}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits up to ten seconds for an element to hold `text`.
    pub async fn wait_for_text(&self, css: &str, text: &str) -> anyhow::Result<String> {
        let started = Instant::now();
        loop {
            let found = self.text(css).await.unwrap_or_default();
            if found.contains(text) {
                return Ok(found);
            }
            if started.elapsed() > Duration::from_secs(10) {
                bail!("{css} holds {found:?}, not {text:?}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The console messages since the last call (Chromium reports CSP violations there).
    pub async fn console(&self) -> anyhow::Result<Vec<String>> {
        let v = self.call(reqwest::Method::POST, "/se/log", Some(json!({"type": "browser"}))).await?;
        Ok(v.as_array().map(|a| a.iter().map(|e| format!("{} {}", e["level"], e["message"])).collect()).unwrap_or_default())
    }

    /// Ends the browser session and stops chromedriver.
    pub async fn quit(mut self) {
        let _ = self.call(reqwest::Method::DELETE, "", None).await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
    }
}
