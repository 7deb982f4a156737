//! The browser remote in a real browser: headless Chromium driven through chromedriver by a
//! small WebDriver client written here (W3C WebDriver over HTTP/JSON). `hypna run` plays a
//! scene whose output is its `red` param; the page loads, dragging the slider with the mouse
//! (WebDriver pointer actions) turns the rendered pixels red as the browser sees them in the
//! live thumbnail, and a wrong token leaves the page read-only. A screenshot of the page is
//! written to `target/remote-page.png` (copied to docs/images by hand when the page changes).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::common;
use crate::remote::{TOKEN, red_scene};
use crate::window::{Hypna, XServer};

/// One HTTP request with a JSON body; status and JSON answer.
fn request(addr: SocketAddr, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_mins(2))).unwrap();
    let body = body.map(ToString::to_string).unwrap_or_default();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    // chromedriver keeps the connection open: read the head, then Content-Length bytes.
    let mut raw = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    let (head, body_start) = loop {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "{method} {path}: connection closed early");
        raw.extend_from_slice(&buf[..n]);
        if let Some(i) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break (String::from_utf8_lossy(&raw[..i]).to_string(), i + 4);
        }
    };
    let length = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse::<usize>().ok())
                .flatten()
        })
        .unwrap_or(0);
    while raw.len() < body_start + length {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "{method} {path}: body cut short");
        raw.extend_from_slice(&buf[..n]);
    }
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let json = serde_json::from_slice(&raw[body_start..body_start + length]).unwrap_or(Value::Null);
    (status, json)
}

/// A chromedriver process and one headless Chromium session, both ended on drop.
struct Browser {
    driver: Child,
    addr: SocketAddr,
    session: String,
    _profile: tempfile::TempDir,
}

impl Browser {
    fn start(test: &str) -> Option<Self> {
        let present = Command::new("chromedriver")
            .arg("--version")
            .output()
            .is_ok()
            && std::path::Path::new("/usr/bin/chromium").exists();
        if !common::prerequisite(
            test,
            "chromium and chromedriver",
            present,
            "apt-get install chromium chromium-driver (scripts/setup.sh test)",
        ) {
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        common::wait_until("chromedriver", Duration::from_mins(1), || {
            TcpStream::connect(addr).is_ok() && request(addr, "GET", "/status", None).0 == 200
        });
        let profile = tempfile::tempdir().unwrap();
        let caps = json!({ "capabilities": { "alwaysMatch": { "goog:chromeOptions": {
            "binary": "/usr/bin/chromium",
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                     "--no-first-run", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync",
                     "--window-size=1100,900",
                     format!("--user-data-dir={}", profile.path().display())]
        }}}});
        let (status, answer) = request(addr, "POST", "/session", Some(&caps));
        assert_eq!(status, 200, "new session: {answer}");
        let session = answer["value"]["sessionId"].as_str().unwrap().to_string();
        Some(Self {
            driver,
            addr,
            session,
            _profile: profile,
        })
    }

    fn go(&self, url: &str) {
        let path = format!("/session/{}/url", self.session);
        let (status, answer) = request(self.addr, "POST", &path, Some(&json!({ "url": url })));
        assert_eq!(status, 200, "{url}: {answer}");
    }

    /// Runs `script` (a function body) in the page and returns its value.
    fn run(&self, script: &str) -> Value {
        let path = format!("/session/{}/execute/sync", self.session);
        let body = json!({ "script": script, "args": [] });
        let (status, answer) = request(self.addr, "POST", &path, Some(&body));
        assert_eq!(status, 200, "{script}: {answer}");
        answer["value"].clone()
    }

    /// Drags the slider matching `css` with the mouse (WebDriver pointer actions): press in
    /// its middle, move to its right end, release.
    fn drag_to_right_end(&self, css: &str) {
        let path = format!("/session/{}/element", self.session);
        let body = json!({ "using": "css selector", "value": css });
        let (status, found) = request(self.addr, "POST", &path, Some(&body));
        assert_eq!(status, 200, "{css}: {found}");
        let element = found["value"]["element-6066-11e4-a52e-4f735466cecf"].clone();
        let path = format!(
            "/session/{}/element/{}/rect",
            self.session,
            element.as_str().unwrap()
        );
        let (_, rect) = request(self.addr, "GET", &path, None);
        let half = (rect["value"]["width"].as_f64().unwrap() / 2.0).floor() as i64 - 1;
        let origin = json!({ "element-6066-11e4-a52e-4f735466cecf": element });
        let actions = json!({ "actions": [{
            "type": "pointer", "id": "mouse", "parameters": { "pointerType": "mouse" },
            "actions": [
                { "type": "pointerMove", "duration": 0, "origin": origin, "x": 0, "y": 0 },
                { "type": "pointerDown", "button": 0 },
                { "type": "pointerMove", "duration": 300, "origin": origin, "x": half, "y": 0 },
                { "type": "pointerUp", "button": 0 }
            ]
        }]});
        let path = format!("/session/{}/actions", self.session);
        let (status, answer) = request(self.addr, "POST", &path, Some(&actions));
        assert_eq!(status, 200, "drag: {answer}");
    }

    fn screenshot_png(&self) -> Vec<u8> {
        let path = format!("/session/{}/screenshot", self.session);
        let (status, answer) = request(self.addr, "GET", &path, None);
        assert_eq!(status, 200);
        base64_decode(answer["value"].as_str().unwrap())
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let path = format!("/session/{}", self.session);
        request(self.addr, "DELETE", &path, None);
        drop(self.driver.kill());
        drop(self.driver.wait());
    }
}

fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        _ => 63,
    };
    let clean: Vec<u8> = text.bytes().filter(|c| *c != b'=' && *c != b'\n').collect();
    let mut out = Vec::with_capacity(clean.len() * 3 / 4);
    for chunk in clean.chunks(4) {
        let mut n = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            n |= u32::from(value(*c)) << (18 - 6 * i);
        }
        let bytes = n.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    out
}

/// The red of the page's thumbnail's middle pixel, as the browser decoded it.
const THUMB_RED: &str = "const img = document.getElementById('thumb');
    if (!img.complete || !img.naturalWidth) return -1;
    const c = document.createElement('canvas'); c.width = img.naturalWidth; c.height = img.naturalHeight;
    const g = c.getContext('2d'); g.drawImage(img, 0, 0);
    return g.getImageData(c.width >> 1, c.height >> 1, 1, 1).data[0];";

#[test]
fn the_page_in_chromium_controls_the_show() {
    let test = "the_page_in_chromium_controls_the_show";
    let Some(x) = XServer::start(test) else {
        return;
    };
    let Some(browser) = Browser::start(test) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let scene = red_scene(
        dir.path(),
        "\n[params.speed]\ndefault = 1.0\nrange = [0.0, 4.0]\nlabel = \"Speed\"\ngroup = \"motion\"\n",
    );
    let settings = dir.path().join("settings.toml");
    std::fs::write(
        &settings,
        format!("[http]\ntoken = \"{TOKEN}\"\nmdns = false\nthumbnail_fps = 10\n"),
    )
    .unwrap();
    let mut hypna = Hypna::start(
        &x,
        &[
            scene.to_str().unwrap(),
            "--osc",
            "127.0.0.1:0",
            "--http",
            "127.0.0.1:0",
            "--settings",
            settings.to_str().unwrap(),
            "--no-audio",
        ],
    );
    let line = hypna.wait_for("browser remote and OSCQuery on", Duration::from_mins(2));
    let base = line
        .split("http://")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .unwrap_or_else(|| panic!("no address in `{line}`"))
        .trim_end_matches('/')
        .to_string();

    // A wrong token: refused, read-only.
    browser.go(&format!("http://{base}/remote?token=wrong"));
    common::wait_until("the refusal", Duration::from_mins(1), || {
        browser.run("return document.getElementById('mode').textContent;") == json!("wrong token")
    });
    common::wait_until("the sliders", Duration::from_mins(1), || {
        browser.run("return document.querySelectorAll('input[data-param]').length;") == json!(2)
    });
    assert_eq!(
        browser.run("return document.querySelector('input[data-param=red]').disabled;"),
        json!(true)
    );

    // The right token: the slider moves the show.
    browser.go(&format!("http://{base}/remote?token={TOKEN}"));
    common::wait_until("control", Duration::from_mins(1), || {
        browser.run(
            "const s = document.querySelector('input[data-param=red]');
             return document.getElementById('mode').textContent === 'control' && !!s && !s.disabled
                 && typeof ws !== 'undefined' && ws && ws.readyState === 1;",
        ) == json!(true)
    });
    common::wait_until(
        "a dark thumbnail in the page",
        Duration::from_mins(1),
        || {
            browser
                .run(THUMB_RED)
                .as_i64()
                .is_some_and(|r| (0..40).contains(&r))
        },
    );
    let thumbnails_before = browser.run("return document.getElementById('thumb').src;");
    browser.drag_to_right_end("input[data-param=red]");
    common::wait_until(
        "a red thumbnail in the page",
        Duration::from_mins(1),
        || browser.run(THUMB_RED).as_i64().is_some_and(|r| r > 200),
    );
    assert_ne!(
        browser.run("return document.getElementById('thumb').src;"),
        thumbnails_before,
        "the thumbnail is refreshed"
    );
    common::wait_until("the health table", Duration::from_mins(1), || {
        browser
            .run("return document.getElementById('health').textContent;")
            .as_str()
            .is_some_and(|t| t.contains("fps") && t.contains("uptime"))
    });
    let png = browser.screenshot_png();
    let out = common::root().join("target/remote-page.png");
    std::fs::write(&out, &png).unwrap();
    let shot = image::load_from_memory(&png).unwrap();
    assert!(shot.width() > 500, "a real screenshot");
}
