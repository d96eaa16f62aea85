//! A real browser for the page tests: Debian's chromium driven through chromedriver
//! (WebDriver), headless, on a closed network. Each test gets its own chromedriver and
//! browser profile, so tests run in parallel.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};

pub const CHROMEDRIVER_ENV: &str = "LABPLAN_CHROMEDRIVER";
pub const CHROMIUM_ENV: &str = "LABPLAN_CHROMIUM";

pub struct Browser {
    pub client: Client,
    base: String,
    driver: Child,
    _profile: tempfile::TempDir,
    /// Screenshots are saved as `<name>-<n>-<page>.png` in [`screenshot_dir`].
    name: String,
    shots: usize,
}

/// Where screenshots go: `target/browser-screenshots`, kept as test artifacts.
pub fn screenshot_dir() -> PathBuf {
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"));
    target.join("browser-screenshots")
}

/// The README's pictures are taken by the tests, but a test run changes the source tree
/// only when asked: `LABPLAN_UPDATE_SCREENSHOTS=1 cargo test --test pages`.
pub fn update_docs_screenshot(shot: &std::path::Path, name: &str) {
    if std::env::var("LABPLAN_UPDATE_SCREENSHOTS").is_ok_and(|v| v == "1") {
        let docs = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots");
        std::fs::create_dir_all(&docs).expect("docs/screenshots");
        std::fs::copy(shot, docs.join(name)).expect("copy the screenshot into docs");
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("bind a free port").local_addr().expect("local addr").port()
}

impl Browser {
    /// Starts chromedriver and a headless chromium at a laptop-sized window.
    pub async fn start(base: &str, name: &str) -> Self {
        let driver_path = std::env::var(CHROMEDRIVER_ENV).unwrap_or_else(|_| "/usr/bin/chromedriver".into());
        let chromium = std::env::var(CHROMIUM_ENV).unwrap_or_else(|_| "/usr/bin/chromium".into());
        assert!(
            std::path::Path::new(&driver_path).exists() && std::path::Path::new(&chromium).exists(),
            "the page tests need Debian's chromium and chromium-driver ({chromium}, {driver_path}); \
             `apt-get install chromium chromium-driver` (.ci/run does it)"
        );
        let port = free_port();
        let driver = Command::new(&driver_path)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let profile = tempfile::tempdir().expect("profile dir");
        let args = vec![
            "--headless=new".to_string(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-dev-shm-usage".into(),
            "--disable-quic".into(),
            "--no-first-run".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--disable-extensions".into(),
            "--window-size=1366,900".into(),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        let mut caps = serde_json::Map::new();
        caps.insert("browserName".into(), "chrome".into());
        caps.insert("goog:chromeOptions".into(), serde_json::json!({ "binary": chromium, "args": args }));
        let url = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        let client = loop {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            match ClientBuilder::new(connector).capabilities(caps.clone()).connect(&url).await {
                Ok(client) => break client,
                Err(e) if started.elapsed() < Duration::from_secs(30) => {
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => panic!("no browser session from chromedriver at {url}: {e}"),
            }
        };
        std::fs::create_dir_all(screenshot_dir()).expect("screenshot dir");
        Self {
            client,
            base: base.trim_end_matches('/').to_string(),
            driver,
            _profile: profile,
            name: name.into(),
            shots: 0,
        }
    }

    pub async fn goto(&self, path: &str) {
        self.client.goto(&format!("{}{}", self.base, path)).await.expect("navigate");
    }

    pub async fn path(&self) -> String {
        let url = self.client.current_url().await.expect("current url");
        let mut path = url.path().to_string();
        if let Some(q) = url.query() {
            path.push('?');
            path.push_str(q);
        }
        path
    }

    pub async fn find(&self, css: &str) -> Element {
        self.wait_for(css).await
    }

    /// Waits up to 20 s for an element: pages load and scripts run asynchronously.
    pub async fn wait_for(&self, css: &str) -> Element {
        self.client
            .wait()
            .at_most(Duration::from_secs(20))
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no element {css} on {}: {e}", self.base))
    }

    pub async fn exists(&self, css: &str) -> bool {
        self.client.find(Locator::Css(css)).await.is_ok()
    }

    pub async fn all(&self, css: &str) -> Vec<Element> {
        self.client.find_all(Locator::Css(css)).await.expect("find all")
    }

    /// An element's text. A page that replaces itself (the run page reloads when its run
    /// ends) can leave the element found stale before it is read: then it is found again.
    pub async fn text(&self, css: &str) -> String {
        let started = Instant::now();
        loop {
            match self.find(css).await.text().await {
                Ok(text) => return text,
                Err(e) if is_stale(&e) && started.elapsed() < Duration::from_secs(20) => continue,
                Err(e) => panic!("text of {css}: {e}"),
            }
        }
    }

    /// Clicks like a user. When the click loads a new page (a form's submit button, a
    /// link to another page), waits until the new page has replaced the old one: an
    /// element both pages have would otherwise be read off the old page, or go stale
    /// under the test's hands while the answer is still on its way.
    pub async fn click(&self, css: &str) {
        let element = self.find(css).await;
        let arg = serde_json::to_value(&element).expect("element as json");
        let loads = self.client.execute(LOADS_A_PAGE, vec![arg]).await;
        let loads = matches!(loads, Ok(serde_json::Value::Bool(true)));
        if loads {
            self.client.execute("window.__leaving = true; return true;", vec![]).await.expect("mark the page");
        }
        element.click().await.unwrap_or_else(|e| panic!("click {css}: {e}"));
        if loads {
            let arrived = "return window.__leaving !== true && document.readyState === 'complete';";
            assert!(self.wait_until(arrived, 20).await, "no new page after clicking {css}");
        }
    }

    /// Types into a field the way a user would (focus, clear, keys).
    pub async fn fill(&self, css: &str, value: &str) {
        let element = self.find(css).await;
        element.clear().await.unwrap_or_else(|e| panic!("clear {css}: {e}"));
        element.send_keys(value).await.unwrap_or_else(|e| panic!("type into {css}: {e}"));
    }

    /// Sets a date input: typing into one depends on the locale's field order, so the
    /// value is set as a script would and the input event fired.
    pub async fn set_value(&self, css: &str, value: &str) {
        let element = self.find(css).await;
        let arg = serde_json::to_value(&element).expect("element as json");
        self.client
            .execute(
                "arguments[0].value = arguments[1]; arguments[0].dispatchEvent(new Event('input', {bubbles: true}));",
                vec![arg, serde_json::Value::String(value.into())],
            )
            .await
            .expect("set value");
    }

    pub async fn value(&self, css: &str) -> String {
        let started = Instant::now();
        loop {
            match self.find(css).await.prop("value").await {
                Ok(value) => return value.unwrap_or_default(),
                Err(e) if is_stale(&e) && started.elapsed() < Duration::from_secs(20) => continue,
                Err(e) => panic!("value of {css}: {e}"),
            }
        }
    }

    pub async fn attr(&self, css: &str, name: &str) -> Option<String> {
        let started = Instant::now();
        loop {
            match self.find(css).await.attr(name).await {
                Ok(value) => return value,
                Err(e) if is_stale(&e) && started.elapsed() < Duration::from_secs(20) => continue,
                Err(e) => panic!("attribute {name} of {css}: {e}"),
            }
        }
    }

    pub async fn lang(&self) -> String {
        self.attr("html", "lang").await.unwrap_or_default()
    }

    pub async fn body(&self) -> String {
        self.text("body").await
    }

    /// Signs in through the sign-in page.
    pub async fn sign_in(&self, email: &str, password: &str) {
        self.goto("/login").await;
        self.fill("#email", email).await;
        self.fill("#password", password).await;
        self.click("#sign-in").await;
        self.wait_for("#current-user").await;
    }

    /// Saves a screenshot of the whole window as a test artifact.
    pub async fn screenshot(&mut self, page: &str) -> PathBuf {
        self.shots += 1;
        let png = self.client.screenshot().await.expect("screenshot");
        let path = screenshot_dir().join(format!("{}-{:02}-{page}.png", self.name, self.shots));
        std::fs::write(&path, png).expect("write screenshot");
        path
    }

    /// Waits until the page's script says something holds, up to `seconds`.
    pub async fn wait_until(&self, script: &str, seconds: u64) -> bool {
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(seconds) {
            if let Ok(serde_json::Value::Bool(true)) = self.client.execute(script, vec![]).await {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        false
    }

    pub async fn close(mut self) {
        let _ = self.client.clone().close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Whether the browser would load a new page on a click of `arguments[0]`: a submit
/// button whose form the browser lets through its own checks, or a link away from
/// this page that is not a download or a new window.
const LOADS_A_PAGE: &str = r#"
const el = arguments[0];
const link = el.closest('a[href]');
if (link) {
  const href = link.getAttribute('href');
  return !href.startsWith('#') && !link.hasAttribute('download') && !link.target;
}
if (el.form && el.type === 'submit') {
  return !el.form.target && (el.form.noValidate || el.formNoValidate || el.form.checkValidity());
}
return false;
"#;

fn is_stale(e: &fantoccini::error::CmdError) -> bool {
    matches!(e, fantoccini::error::CmdError::Standard(w) if w.error == fantoccini::error::ErrorStatus::StaleElementReference)
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
    }
}
