//! The listener thread and one short-lived thread per connection (at most
//! [`MAX_CONNECTIONS`] at once): the allow list at accept, then per request the rate limit,
//! the token, and the route: the page, `/state`, `/thumbnail.jpg`, a WebSocket upgrade, or
//! an OSCQuery path with its attribute query. One request per connection
//! (`Connection: close`), heads of at most [`MAX_HEAD`] bytes, five-second socket timeouts:
//! a slow or hostile client holds one capped thread, never the frame.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;

use super::auth::Access;
use super::oscquery;
use super::snapshot::RemoteCounters;
use super::{Shared, ws};

/// Connections served at once at most (WebSocket sessions included); more are refused.
const MAX_CONNECTIONS: u64 = 64;
/// WebSocket sessions at once at most, so that idle sessions never take every connection
/// (plain requests keep the rest).
const MAX_WEBSOCKETS: u64 = 32;
/// Bytes of a request head at most.
const MAX_HEAD: usize = 8 * 1024;
/// Headers of a request at most.
const MAX_HEADERS: usize = 32;
/// Time a client has to send its whole request head (a byte every few seconds cannot hold a
/// connection thread for hours).
const HEAD_DEADLINE: Duration = Duration::from_secs(10);

/// The page, embedded (one static file, no build step).
const PAGE: &str = include_str!("page.html");

/// Accepts connections until shutdown.
pub(super) fn serve(listener: &TcpListener, shared: &Arc<Shared>) {
    let open = Arc::new(AtomicU64::new(0));
    for stream in listener.incoming() {
        if shared.shutdown.load(Ordering::Acquire) {
            break;
        }
        let Ok(stream) = stream else { continue };
        let Ok(peer) = stream.peer_addr() else {
            continue;
        };
        if !shared.config.allows(peer.ip()) {
            RemoteCounters::bump(&shared.counters.not_allowed);
            continue;
        }
        if open.load(Ordering::Acquire) >= MAX_CONNECTIONS {
            RemoteCounters::bump(&shared.counters.connections_refused);
            let mut s = stream;
            s.write_all(
                b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
            )
            .ok();
            continue;
        }
        open.fetch_add(1, Ordering::AcqRel);
        let (conn_shared, conn_open) = (Arc::clone(shared), Arc::clone(&open));
        let spawned = std::thread::Builder::new()
            .name("hypna-http-conn".into())
            .spawn(move || {
                connection(stream, peer, &conn_shared);
                conn_open.fetch_sub(1, Ordering::AcqRel);
            });
        if spawned.is_err() {
            open.fetch_sub(1, Ordering::AcqRel);
            RemoteCounters::bump(&shared.counters.connections_refused);
        }
    }
}

/// A parsed request head.
pub(super) struct Request {
    pub(super) method: String,
    pub(super) path: String,
    /// The OSCQuery attribute (`?VALUE`), if any.
    pub(super) attribute: Option<String>,
    pub(super) token: Option<String>,
    pub(super) websocket_key: Option<String>,
    pub(super) wants_html: bool,
}

/// Reads and parses a request head; `None` when the client sent nothing usable.
fn read_head(stream: &mut TcpStream) -> Result<Option<Request>, u16> {
    let mut buf = vec![0u8; MAX_HEAD];
    let mut filled = 0;
    let started = Instant::now();
    loop {
        if started.elapsed() > HEAD_DEADLINE {
            return Err(408);
        }
        let n = stream.read(&mut buf[filled..]).map_err(|_| 408u16)?;
        if n == 0 {
            return Ok(None);
        }
        filled += n;
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut req = httparse::Request::new(&mut headers);
        match req.parse(&buf[..filled]) {
            Ok(httparse::Status::Complete(_)) => return Ok(Some(parsed(&req))),
            Ok(httparse::Status::Partial) if filled < MAX_HEAD => {}
            Ok(httparse::Status::Partial) => return Err(431),
            Err(_) => return Err(400),
        }
    }
}

fn parsed(req: &httparse::Request<'_, '_>) -> Request {
    let target = req.path.unwrap_or("/");
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut attribute = None;
    let mut token = None;
    for item in query.split('&').filter(|i| !i.is_empty()) {
        match item.split_once('=') {
            Some(("token", t)) => token = Some(t.to_string()),
            Some(_) => {}
            None => attribute = Some(item.to_string()),
        }
    }
    let header = |name: &str| {
        req.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .and_then(|h| std::str::from_utf8(h.value).ok())
    };
    if token.is_none() {
        token = header("authorization")
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::to_string);
    }
    let upgrade = header("upgrade").is_some_and(|u| u.eq_ignore_ascii_case("websocket"));
    Request {
        method: req.method.unwrap_or("").to_string(),
        path: path.to_string(),
        attribute,
        token,
        websocket_key: upgrade
            .then(|| header("sec-websocket-key").map(str::to_string))
            .flatten(),
        wants_html: header("accept").is_some_and(|a| a.contains("text/html")),
    }
}

/// Serves one connection: one request, or one WebSocket session.
fn connection(mut stream: TcpStream, peer: SocketAddr, shared: &Shared) {
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok();
    stream.set_write_timeout(Some(Duration::from_secs(5))).ok();
    let request = match read_head(&mut stream) {
        Ok(Some(r)) => r,
        Ok(None) => return,
        Err(code) => {
            respond(&mut stream, code, "text/plain", b"bad request");
            return;
        }
    };
    RemoteCounters::bump(&shared.counters.requests);
    if !shared.limiter.allow(peer.ip(), Instant::now()) {
        RemoteCounters::bump(&shared.counters.rate_limited);
        respond(&mut stream, 429, "text/plain", b"too many requests");
        return;
    }
    let attr = request.attribute.as_deref();
    if request.path == "/remote"
        || attr == Some("HTML")
        || (request.path == "/" && attr.is_none() && request.wants_html)
    {
        // The page itself is public: it asks `/state` with its token and says when the
        // token is wrong.
        respond(
            &mut stream,
            200,
            "text/html; charset=utf-8",
            PAGE.as_bytes(),
        );
        return;
    }
    let access = Access::of(request.token.as_deref(), &shared.token);
    if access == Access::Refused {
        RemoteCounters::bump(&shared.counters.unauthorized);
        respond_json(&mut stream, 401, &json!({ "error": "wrong token" }));
        return;
    }
    if request.method != "GET" {
        respond(&mut stream, 405, "text/plain", b"only GET");
        return;
    }
    if let Some(key) = &request.websocket_key {
        if shared.counters.ws_open.load(Ordering::Relaxed) >= MAX_WEBSOCKETS {
            RemoteCounters::bump(&shared.counters.connections_refused);
            respond(
                &mut stream,
                503,
                "text/plain",
                b"too many WebSocket sessions",
            );
            return;
        }
        ws::session(stream, key, access, peer, shared);
        return;
    }
    route(&mut stream, &request, access, shared);
}

/// Answers a plain GET.
fn route(stream: &mut TcpStream, request: &Request, access: Access, shared: &Shared) {
    let attr = request.attribute.as_deref();
    match request.path.as_str() {
        "/state" => {
            let (ns, generation) = shared.namespace.get();
            let (values, _) = shared.values.get();
            let body = json!({
                "generation": generation,
                "control": access == Access::Control,
                "scene": ns.scene,
                "values": *values,
                "counters": shared.counters.snapshot(),
                "server_uptime_secs": shared.started.elapsed().as_secs_f64(),
            });
            respond_json(stream, 200, &body);
        }
        "/thumbnail.jpg" => {
            shared.counters.thumbnail_asked(shared.started);
            match shared.thumbnail() {
                Some(jpeg) => respond(stream, 200, "image/jpeg", &jpeg.bytes),
                None => respond(stream, 503, "text/plain", b"no thumbnail yet"),
            }
        }
        path => {
            let (ns, _) = shared.namespace.get();
            let (values, _) = shared.values.get();
            let answer = match attr {
                Some("HOST_INFO") => Ok(oscquery::host_info(
                    &shared.config.name,
                    shared.config.osc_port,
                    shared.local_addr.port(),
                )),
                Some(a) => oscquery::attribute(&ns, Some(&values), path, a),
                None => oscquery::node(&ns, Some(&values), path),
            };
            match answer {
                Ok(v) => respond_json(stream, 200, &v),
                Err(e) => respond(stream, e.status(), "text/plain", b""),
            }
        }
    }
}

fn respond_json(stream: &mut TcpStream, code: u16, body: &serde_json::Value) {
    respond(
        stream,
        code,
        "application/json",
        body.to_string().as_bytes(),
    );
}

/// Writes a whole response and closes.
pub(super) fn respond(stream: &mut TcpStream, code: u16, content_type: &str, body: &[u8]) {
    let reason = match code {
        200 => "OK",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        _ => "Service Unavailable",
    };
    // A 204 has no body by definition.
    let body = if code == 204 { &[][..] } else { body };
    let head = format!(
        "HTTP/1.1 {code} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n\
         Access-Control-Allow-Origin: *\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).ok();
    stream.write_all(body).ok();
    stream.flush().ok();
}
