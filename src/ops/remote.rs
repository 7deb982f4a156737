//! The browser remote and OSCQuery server beside a live show: after each frame the packets
//! that came over WebSocket go to the runtime's OSC routing, the namespace is republished
//! when the scene on show changed (switch, reload), values and health at most 20 times a
//! second, and a thumbnail is read back and handed to the encoder while someone watches.
//! Everything here is a hand-over: nothing waits on the server's threads.

use std::time::{Duration, Instant};

use super::health::resident_memory_bytes;
use crate::remote::{
    Health, ModelHealth, Namespace, ParamInfo, RemoteConfig, RemoteHandle, Values,
};
use crate::window::Live;

/// The remote's state beside the show.
pub struct RemoteOps {
    config: RemoteConfig,
    /// The server's `allow` follows the OSC server's (`[http] allow` not set).
    follow_osc_allow: bool,
    handle: Option<RemoteHandle>,
    /// (scene path, runtime's released count) of the namespace published last.
    published: Option<(std::path::PathBuf, u64)>,
    last_frame: Option<Instant>,
    frame_ms: f32,
    /// Slow reads (resident memory, the schedule's next change), refreshed once a second.
    slow: (Option<Instant>, Option<u64>, Option<String>),
    /// Packets that found no OSC server (`--no-osc`).
    dropped_no_osc: u64,
}

impl RemoteOps {
    /// A remote to start with the show: `config`, with the OSC server's allow list and
    /// port filled in at start when `follow_osc_allow`.
    #[must_use]
    pub fn new(config: RemoteConfig, follow_osc_allow: bool) -> Self {
        Self {
            config,
            follow_osc_allow,
            handle: None,
            published: None,
            last_frame: None,
            frame_ms: 0.0,
            slow: (None, None, None),
            dropped_no_osc: 0,
        }
    }

    /// Starts the server for the show in `live` and prints its addresses (the control one
    /// with the token to standard output only, never to the log).
    pub fn start(&mut self, live: &Live) {
        let mut config = self.config.clone();
        if let Some(osc) = live.runtime().osc_config()
            && self.follow_osc_allow
        {
            config.allow.clone_from(&osc.allow);
        }
        config.osc_port = live.runtime().osc_status().map(|(addr, _)| addr.port());
        self.handle = crate::remote::start_or_log(config);
        if let Some(handle) = self.handle.as_mut() {
            publish_namespace(handle, &mut self.published, live);
        }
        if let Some(h) = &self.handle {
            tracing::info!(
                "browser remote and OSCQuery on {} (read-only without the token)",
                h.url()
            );
            println!("remote control: {}", h.control_url());
        }
    }

    /// The running server, if any.
    #[must_use]
    pub fn handle(&self) -> Option<&RemoteHandle> {
        self.handle.as_ref()
    }

    /// Call after each frame (see the module's documentation).
    pub fn after_frame(&mut self, live: &mut Live, uptime_secs: f64) {
        let Some(handle) = self.handle.as_mut() else {
            return;
        };
        let now = Instant::now();
        if let Some(last) = self.last_frame.replace(now) {
            self.frame_ms = now.duration_since(last).as_secs_f32() * 1000.0;
        }
        let dropped = &mut self.dropped_no_osc;
        handle.take_packets(|bytes, from| {
            if !live.runtime_mut().inject_osc(bytes, from) {
                if *dropped == 0 {
                    tracing::warn!(
                        "OSC from the browser remote is dropped: no OSC server runs (--no-osc), \
                         and the remote's control goes through its routing (reported once)"
                    );
                }
                *dropped += 1;
            }
        });
        if handle.take_screenshot_request() {
            live.request_screenshot();
        }
        publish_namespace(handle, &mut self.published, live);
        if handle.values_due(now) {
            if self
                .slow
                .0
                .is_none_or(|t| now.duration_since(t) >= Duration::from_secs(1))
            {
                let next = live.show_mut().next_change().map(|t| t.to_string());
                self.slow = (Some(now), resident_memory_bytes(), next);
            }
            let values = values_of(live, uptime_secs, self.frame_ms, &self.slow);
            handle.publish_values(values);
        }
        if let Some(image) = live.take_thumbnail() {
            handle.offer_thumbnail(image.size, image.rgba);
        }
        if let Some(width) = handle.thumbnail_due(now) {
            live.request_thumbnail(width);
        }
    }
}

/// Publishes the address space when the scene on show changed since `published` (a switch
/// or a reload: the runtime's released count moves).
fn publish_namespace(
    handle: &mut RemoteHandle,
    published: &mut Option<(std::path::PathBuf, u64)>,
    live: &Live,
) {
    let (path, released) = (&live.runtime().scene().path, live.runtime().released());
    // Compared in place: nothing is allocated on a frame where nothing changed.
    if published
        .as_ref()
        .is_some_and(|(p, r)| p == path && *r == released)
    {
        return;
    }
    let key = (path.clone(), released);
    handle.publish_namespace(Namespace {
        scene: live.runtime().scene().name.clone(),
        params: live
            .runtime()
            .scene()
            .params
            .iter()
            .map(ParamInfo::of)
            .collect(),
        entries: live.show().entry_names(),
    });
    *published = Some(key);
}

/// The values and health the page and `LISTEN`ers see now.
fn values_of(
    live: &Live,
    uptime_secs: f64,
    frame_ms: f32,
    slow: &(Option<Instant>, Option<u64>, Option<String>),
) -> Values {
    let runtime = live.runtime();
    let status = runtime.status();
    let health = Health {
        fps: status.fps,
        frame_ms,
        frame: status.frame,
        scene: status.scene.clone(),
        entry: live.show().entry().map(|(i, n)| (i, n.to_string())),
        models: status
            .models
            .iter()
            .zip(runtime.nodes())
            .map(|(m, node)| ModelHealth {
                name: m.name.clone(),
                rate_hz: m.rate_hz,
                errors: m.errors,
                state: crate::window::model_state(&node.worker_state()),
            })
            .collect(),
        audio_state: status.audio_state.clone(),
        audio_level_db: status.audio_level_db,
        osc: status
            .osc
            .map(|(_, c)| c.iter().map(|(k, v)| (k.name().to_string(), v)).collect())
            .unwrap_or_default(),
        errors: live.errors().iter().map(ToString::to_string).collect(),
        uptime_secs,
        memory_bytes: slow.1,
        open: live.show().is_open(),
        next_change: slow.2.clone(),
    };
    Values {
        scene: status.scene,
        params: runtime.params().targets().map(|(_, v)| v).collect(),
        health,
    }
}
