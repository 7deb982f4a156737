//! The HTTP server: OSCQuery (the JSON namespace of hypna's OSC address space, `HOST_INFO`,
//! attribute queries, WebSocket `LISTEN`/`IGNORE` and binary OSC), its mDNS/DNS-SD
//! advertisement, and the browser remote and dashboard page, all on one port.
//!
//! ```text
//!  frame loop --RemoteHandle::publish_*: latest-wins cells (try_lock, never waits)--> snapshot
//!  TCP listener (hypna-http) --one thread per connection (capped)--> request: allow list,
//!      rate limit, token --> JSON / page / thumbnail, or a WebSocket session
//!  WebSocket binary OSC --bounded channel (overflow counted)--> RemoteHandle::take_packets
//!      --> the OSC server's own routing and clamping (wired by the caller)
//!  frame loop --RemoteHandle::offer_thumbnail: bounded(1), dropped when busy--> hypna-thumb
//!      (JPEG encoder) --> latest JPEG cell --> GET /thumbnail.jpg
//! ```
//!
//! Nothing here imports the OSC server (a peer in the input-services layer): whoever owns both
//! (the operations layer for `hypna run`) hands the packets on, so control from a browser goes
//! through exactly the routes, ranges and clamping of UDP OSC. The server threads never touch
//! the frame: they read the newest published snapshot. What is refused or dropped is counted
//! ([`RemoteCounters`]). Users' documentation: `docs/remote.md`, `docs/osc.md` (OSCQuery).

mod auth;
mod http;
mod mdns;
pub mod oscquery;
mod snapshot;
mod thumb;
mod ws;

pub use crate::settings::HttpSettings;
pub use auth::{Access, RateLimiter, generate_token};
pub use snapshot::{Health, ModelHealth, Namespace, ParamInfo, RemoteCounters, Values};

use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::scene::osc::IpNet;

/// OSC packets from WebSocket clients waiting for the frame loop at most.
const PACKET_QUEUE: usize = 256;

/// Errors from starting the HTTP server.
#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    /// The listen address could not be bound.
    #[error("HTTP: cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// A thread could not be spawned.
    #[error("HTTP: cannot start the {0} thread: {1}")]
    Thread(&'static str, #[source] std::io::Error),
    /// The random token could not be generated.
    #[error("HTTP: cannot generate a control token: {0}")]
    Token(String),
    /// The mDNS advertisement could not start.
    #[error("mDNS: {0}")]
    Mdns(String),
}

/// How the HTTP server runs (from the settings file's `[http]` table and the command line).
#[derive(Debug, Clone)]
pub struct RemoteConfig {
    /// Where to listen (default `127.0.0.1:9080`: this machine only).
    pub listen: SocketAddr,
    /// The control token; `None` generates one (printed at start).
    pub token: Option<String>,
    /// Clients allowed to connect (empty: everyone who can reach `listen`). `hypna run`
    /// uses the OSC server's `allow` list unless `[http] allow` is set.
    pub allow: Vec<IpNet>,
    /// Advertise `_oscjson._tcp` (and `_osc._udp` for the OSC port) over mDNS.
    pub mdns: bool,
    /// The OSC server's UDP port, for `HOST_INFO` and `_osc._udp` (none: no OSC server).
    pub osc_port: Option<u16>,
    /// The name shown to OSCQuery clients and in mDNS.
    pub name: String,
    /// Requests (and WebSocket messages) per second per client address, sustained.
    pub requests_per_sec: f32,
    /// Thumbnails per second offered to the encoder at most.
    pub thumbnail_fps: f32,
    /// Width of the thumbnails in pixels (the height follows the output's aspect).
    pub thumbnail_width: u32,
}

impl RemoteConfig {
    /// The configuration `settings` describe (defaults where a key is missing).
    #[must_use]
    pub fn from_settings(settings: &HttpSettings) -> Self {
        Self {
            listen: settings.listen,
            token: settings.token.clone(),
            allow: settings.allow.clone().unwrap_or_default(),
            mdns: settings.mdns,
            osc_port: None,
            name: "hypna".to_string(),
            requests_per_sec: settings.requests_per_sec,
            thumbnail_fps: settings.thumbnail_fps,
            thumbnail_width: settings.thumbnail_width,
        }
    }

    /// Whether `ip` may connect.
    #[must_use]
    pub fn allows(&self, ip: std::net::IpAddr) -> bool {
        self.allow.is_empty() || self.allow.iter().any(|net| net.contains(ip))
    }
}

impl Default for RemoteConfig {
    fn default() -> Self {
        Self::from_settings(&HttpSettings::default())
    }
}

/// What the server threads share with the handle.
pub(crate) struct Shared {
    pub(crate) config: RemoteConfig,
    pub(crate) token: String,
    pub(crate) local_addr: SocketAddr,
    pub(crate) counters: RemoteCounters,
    pub(crate) namespace: snapshot::Cell<Namespace>,
    pub(crate) values: snapshot::Cell<Values>,
    pub(crate) thumbnail: Mutex<Option<Arc<thumb::Jpeg>>>,
    pub(crate) packets: SyncSender<(Vec<u8>, SocketAddr)>,
    pub(crate) limiter: RateLimiter,
    pub(crate) started: Instant,
    pub(crate) shutdown: std::sync::atomic::AtomicBool,
    /// A client with the token asked for a screenshot.
    pub(crate) screenshot: std::sync::atomic::AtomicBool,
}

impl Shared {
    /// The newest JPEG thumbnail, if one was encoded.
    pub(crate) fn thumbnail(&self) -> Option<Arc<thumb::Jpeg>> {
        self.thumbnail
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// The frame loop's end of the HTTP server. Dropping it stops the listener (connections
/// already open end within a second) and the mDNS advertisement.
pub struct RemoteHandle {
    shared: Arc<Shared>,
    packets: Receiver<(Vec<u8>, SocketAddr)>,
    pending_namespace: Option<Namespace>,
    thumbs: Option<thumb::Encoder>,
    next_thumb: Instant,
    next_values: Instant,
    mdns: Option<mdns::Advert>,
    threads: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for RemoteHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteHandle")
            .field("local_addr", &self.shared.local_addr)
            .finish_non_exhaustive()
    }
}

/// Starts the HTTP server (and the mDNS advertisement when `config.mdns`).
///
/// # Errors
/// When the address cannot be bound, a thread cannot start or no token can be generated.
/// An mDNS failure is logged, not an error: the server runs undiscovered.
pub fn start(config: RemoteConfig) -> Result<RemoteHandle, RemoteError> {
    let listener = TcpListener::bind(config.listen).map_err(|source| RemoteError::Bind {
        addr: config.listen,
        source,
    })?;
    let local_addr = listener.local_addr().map_err(|source| RemoteError::Bind {
        addr: config.listen,
        source,
    })?;
    let token = match &config.token {
        Some(t) => t.clone(),
        None => generate_token()?,
    };
    let (tx, rx) = std::sync::mpsc::sync_channel(PACKET_QUEUE);
    let shared = Arc::new(Shared {
        limiter: RateLimiter::new(config.requests_per_sec),
        config,
        token,
        local_addr,
        counters: RemoteCounters::default(),
        namespace: snapshot::Cell::new(Namespace::default()),
        values: snapshot::Cell::new(Values::default()),
        thumbnail: Mutex::new(None),
        packets: tx,
        started: Instant::now(),
        shutdown: std::sync::atomic::AtomicBool::new(false),
        screenshot: std::sync::atomic::AtomicBool::new(false),
    });
    let accept = {
        let shared = Arc::clone(&shared);
        std::thread::Builder::new()
            .name("hypna-http".into())
            .spawn(move || http::serve(&listener, &shared))
            .map_err(|e| RemoteError::Thread("hypna-http", e))?
    };
    let thumbs = match thumb::Encoder::start(Arc::clone(&shared)) {
        Ok(t) => Some(t),
        Err(e) => {
            tracing::warn!("{e}: no thumbnails");
            None
        }
    };
    let mdns = if shared.config.mdns {
        match mdns::Advert::start(&shared.config, local_addr) {
            Ok(a) => Some(a),
            Err(e) => {
                tracing::warn!("{e}; OSCQuery is not advertised");
                None
            }
        }
    } else {
        None
    };
    let now = Instant::now();
    Ok(RemoteHandle {
        shared,
        packets: rx,
        pending_namespace: None,
        thumbs,
        next_thumb: now,
        next_values: now,
        mdns,
        threads: vec![accept],
    })
}

/// [`start`], logging a failure instead (the show runs without the page).
#[must_use]
pub fn start_or_log(config: RemoteConfig) -> Option<RemoteHandle> {
    match start(config) {
        Ok(h) => Some(h),
        Err(e) => {
            tracing::error!("{e}; running without the browser remote and OSCQuery");
            None
        }
    }
}

impl RemoteHandle {
    /// The address actually bound.
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.shared.local_addr
    }

    /// The control token.
    #[must_use]
    pub fn token(&self) -> &str {
        &self.shared.token
    }

    /// The page's address for viewing (read-only dashboard).
    #[must_use]
    pub fn url(&self) -> String {
        format!("http://{}/", self.shared.local_addr)
    }

    /// The page's address with the control token.
    #[must_use]
    pub fn control_url(&self) -> String {
        format!(
            "http://{}/?token={}",
            self.shared.local_addr, self.shared.token
        )
    }

    /// Whether the mDNS advertisement runs.
    #[must_use]
    pub fn advertised(&self) -> bool {
        self.mdns.is_some()
    }

    /// The counters.
    #[must_use]
    pub fn counters(&self) -> &RemoteCounters {
        &self.shared.counters
    }

    /// Publishes a new address space (a scene switch or reload). WebSocket clients are told
    /// which paths were added, removed or changed. Never waits: when a server thread holds the
    /// cell this instant, the namespace is kept and published by the next call.
    pub fn publish_namespace(&mut self, namespace: Namespace) {
        self.pending_namespace = self.shared.namespace.try_publish(namespace).err();
    }

    /// Whether values are due (at most 20 times a second), so the caller builds them only then.
    #[must_use]
    pub fn values_due(&mut self, now: Instant) -> bool {
        if now < self.next_values {
            return false;
        }
        self.next_values = now + Duration::from_millis(50);
        true
    }

    /// Publishes param values (in the namespace's order) and health. Never waits.
    pub fn publish_values(&mut self, values: Values) {
        if let Some(ns) = self.pending_namespace.take() {
            self.publish_namespace(ns);
        }
        // Values come again in 50 ms: one lost to a busy reader is not worth keeping.
        self.shared.values.try_publish(values).ok();
    }

    /// Hands every OSC packet that arrived over WebSocket since the last call to `apply`
    /// (at most the queue's size, so a flood cannot hold a frame).
    pub fn take_packets(&mut self, mut apply: impl FnMut(&[u8], SocketAddr)) {
        for _ in 0..PACKET_QUEUE {
            match self.packets.try_recv() {
                Ok((bytes, from)) => apply(&bytes, from),
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
            }
        }
    }

    /// Whether a client with the token asked for a screenshot since the last call.
    #[must_use]
    pub fn take_screenshot_request(&self) -> bool {
        self.shared.screenshot.swap(false, Ordering::AcqRel)
    }

    /// Whether a thumbnail is wanted now (someone looked at one recently and the rate allows),
    /// the width to scale to.
    #[must_use]
    pub fn thumbnail_due(&mut self, now: Instant) -> Option<u32> {
        if self.thumbs.is_none() || now < self.next_thumb {
            return None;
        }
        let watched = self
            .shared
            .counters
            .thumbnail_wanted_recently(self.shared.started);
        if !watched {
            return None;
        }
        let fps = self.shared.config.thumbnail_fps.clamp(0.1, 30.0);
        self.next_thumb = now + Duration::from_secs_f32(1.0 / fps);
        Some(self.shared.config.thumbnail_width.clamp(16, 1920))
    }

    /// Hands a read-back frame (`rgba`, tightly packed `size[0] * size[1] * 4` bytes) to the
    /// encoder thread; dropped (counted) when it is still busy with the last one.
    pub fn offer_thumbnail(&mut self, size: [u32; 2], rgba: Vec<u8>) {
        if let Some(t) = &self.thumbs {
            t.offer(size, rgba, &self.shared.counters);
        }
    }
}

impl Drop for RemoteHandle {
    fn drop(&mut self) {
        self.shared.shutdown.store(true, Ordering::Release);
        // Wake the accept loop.
        std::net::TcpStream::connect_timeout(
            &wake_addr(self.shared.local_addr),
            Duration::from_millis(200),
        )
        .ok();
        if let Some(m) = self.mdns.take() {
            m.stop();
        }
        self.thumbs = None;
        for t in self.threads.drain(..) {
            t.join().ok();
        }
    }
}

/// Where to connect to reach a listener on `addr` (an unspecified address means loopback).
fn wake_addr(addr: SocketAddr) -> SocketAddr {
    if addr.ip().is_unspecified() {
        let ip: std::net::IpAddr = if addr.is_ipv4() {
            std::net::Ipv4Addr::LOCALHOST.into()
        } else {
            std::net::Ipv6Addr::LOCALHOST.into()
        };
        SocketAddr::new(ip, addr.port())
    } else {
        addr
    }
}
