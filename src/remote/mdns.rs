//! DNS-SD over mDNS (the `mdns-sd` crate, its own thread): `_oscjson._tcp` for the OSCQuery
//! server and `_osc._udp` for the OSC port, so VDMX, Chataigne, ossia score and `TouchOSC` find
//! hypna without typing an address. A server bound to loopback is advertised on loopback
//! only; one bound to an address, on that address.

use std::net::{IpAddr, SocketAddr};

use mdns_sd::{ServiceDaemon, ServiceInfo};

use super::{RemoteConfig, RemoteError};

/// The OSCQuery service type.
pub(crate) const OSCJSON: &str = "_oscjson._tcp.local.";
/// The OSC service type.
pub(crate) const OSC: &str = "_osc._udp.local.";

/// A running advertisement; [`Advert::stop`] withdraws it.
pub(super) struct Advert {
    daemon: ServiceDaemon,
    names: Vec<String>,
}

impl Advert {
    /// Advertises the HTTP server at `http` (and the OSC port of `config`).
    pub(super) fn start(config: &RemoteConfig, http: SocketAddr) -> Result<Self, RemoteError> {
        let daemon = ServiceDaemon::new().map_err(|e| RemoteError::Mdns(e.to_string()))?;
        let ips: Vec<IpAddr> = if http.ip().is_unspecified() {
            Vec::new()
        } else {
            vec![http.ip()]
        };
        let host = format!("{}.local.", host_label());
        let mut names = Vec::new();
        let mut services = vec![(OSCJSON, http.port())];
        if let Some(p) = config.osc_port {
            services.push((OSC, p));
        }
        for (ty, port) in services {
            let info = ServiceInfo::new(
                ty,
                &config.name,
                &host,
                &ips[..],
                port,
                None::<std::collections::HashMap<String, String>>,
            )
            .map_err(|e| RemoteError::Mdns(e.to_string()))?;
            let info = if ips.is_empty() {
                info.enable_addr_auto()
            } else {
                info
            };
            names.push(info.get_fullname().to_string());
            daemon
                .register(info)
                .map_err(|e| RemoteError::Mdns(e.to_string()))?;
        }
        tracing::info!("mDNS: advertising `{}` as {OSCJSON} and {OSC}", config.name);
        Ok(Self { daemon, names })
    }

    /// Withdraws the services and stops the daemon (without waiting for it).
    pub(super) fn stop(self) {
        for n in &self.names {
            self.daemon.unregister(n).ok();
        }
        self.daemon.shutdown().ok();
    }
}

/// This machine's host name as a DNS label (`hypna` when unknown).
fn host_label() -> String {
    let raw =
        crate::untrusted::read_text(std::path::Path::new("/etc/hostname"), 256).unwrap_or_default();
    let label: String = raw
        .trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    if label.is_empty() {
        "hypna".into()
    } else {
        label
    }
}
