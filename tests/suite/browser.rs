//! A headless Chromium driven through its DevTools protocol (JSON commands over a WebSocket):
//! enough to load a page, evaluate script in it and take a screenshot, every wait bounded.
//! Chromium is Debian's `chromium`; without it the tests that need it say they were skipped
//! (and fail when `CI` is `true`).

use std::path::PathBuf;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use lifespan_examples::Process;
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// The longest one command may take.
const COMMAND_LIMIT: Duration = Duration::from_secs(30);

/// Chromium's binary, if this machine has one.
pub fn chromium() -> Option<PathBuf> {
    let found = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .flat_map(|name| {
            std::env::var_os("PATH")
                .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
                .unwrap_or_default()
                .into_iter()
                .map(move |folder| folder.join(name))
        })
        .find(|candidate| candidate.is_file());
    if found.is_none() {
        let message =
            "skipped: the dashboard's browser test needs Chromium; install Debian's `chromium`";
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{message} (CI must not pass by skipping)"
        );
        println!("{message}");
    }
    found
}

/// A headless browser, and one page of it attached.
pub struct Browser {
    _process: Process,
    _profile: tempfile::TempDir,
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
    session: String,
    next_id: u64,
}

impl Browser {
    /// Starts `binary` headless with a profile of its own, and opens a page of `width` ×
    /// `height` at `url`.
    pub async fn open(binary: &PathBuf, url: &str, (width, height): (u32, u32)) -> Browser {
        let profile = tempfile::tempdir().unwrap();
        let mut command = std::process::Command::new(binary);
        command.args([
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--remote-debugging-address=127.0.0.1",
            "--remote-debugging-port=0",
            &format!("--window-size={width},{height}"),
            &format!("--user-data-dir={}", profile.path().display()),
            "about:blank",
        ]);
        // Its own temporary files too (killed at the end, it removes none): in the profile's
        // folder, removed with it.
        command.env("TMPDIR", profile.path());
        let mut process = Process::spawn(command);
        let endpoint = process.expect("DevTools listening on ").trim().to_owned();
        let (socket, _) =
            tokio::time::timeout(COMMAND_LIMIT, tokio_tungstenite::connect_async(&endpoint))
                .await
                .expect("connecting to the browser's DevTools")
                .unwrap();
        let mut browser = Browser {
            _process: process,
            _profile: profile,
            socket,
            session: String::new(),
            next_id: 0,
        };
        let target = browser
            .command("Target.createTarget", json!({ "url": url }))
            .await;
        let target = target["targetId"].as_str().unwrap().to_owned();
        let attached = browser
            .command(
                "Target.attachToTarget",
                json!({ "targetId": target, "flatten": true }),
            )
            .await;
        browser.session = attached["sessionId"].as_str().unwrap().to_owned();
        browser
    }

    /// Sends `method` with `params` (to the page once one is attached) and returns its result;
    /// panics on an error or no answer within [`COMMAND_LIMIT`].
    pub async fn command(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut message = json!({ "id": id, "method": method, "params": params });
        if !self.session.is_empty() {
            message["sessionId"] = json!(self.session);
        }
        self.socket
            .send(Message::text(message.to_string()))
            .await
            .unwrap();
        let answer = tokio::time::timeout(COMMAND_LIMIT, async {
            loop {
                let Some(Ok(Message::Text(text))) = self.socket.next().await else {
                    panic!("the browser closed its DevTools connection during {method}");
                };
                let answer: Value = serde_json::from_str(&text).unwrap();
                if answer["id"] == json!(id) {
                    return answer;
                }
            }
        })
        .await
        .unwrap_or_else(|_| panic!("no answer to {method} within {COMMAND_LIMIT:?}"));
        assert!(answer["error"].is_null(), "{method}: {}", answer["error"]);
        answer["result"].clone()
    }

    /// The value of the script `expression` in the page.
    pub async fn eval(&mut self, expression: &str) -> Value {
        let result = self
            .command(
                "Runtime.evaluate",
                json!({ "expression": expression, "returnByValue": true, "awaitPromise": true }),
            )
            .await;
        assert!(
            result["exceptionDetails"].is_null(),
            "{expression}: {}",
            result["exceptionDetails"]
        );
        result["result"]["value"].clone()
    }

    /// Evaluates `expression` every 50 ms until it is `true`; panics with `what` and the
    /// page's text if it is not within `limit`.
    pub async fn until(&mut self, what: &str, expression: &str, limit: Duration) {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            if self.eval(expression).await == json!(true) {
                return;
            }
            if tokio::time::Instant::now() >= deadline {
                let text = self.eval("document.body.innerText").await;
                panic!("{what}: not within {limit:?}; the page shows:\n{text}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// A screenshot of the page, as PNG bytes.
    pub async fn screenshot(&mut self) -> Vec<u8> {
        use base64::Engine as _;
        let shot = self
            .command("Page.captureScreenshot", json!({ "format": "png" }))
            .await;
        base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().unwrap())
            .unwrap()
    }
}
