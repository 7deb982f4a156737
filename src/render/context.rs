//! The GPU: instance, adapter, device and queue, created once and shared by the window, the
//! headless renderer and the tests.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Errors from getting a GPU.
#[derive(Debug, thiserror::Error)]
pub enum GpuError {
    /// No adapter matched (no driver, or none for the backends allowed by `WGPU_BACKEND`).
    #[error(
        "no GPU adapter found ({0}); on Linux without a GPU install Mesa's CPU driver: apt-get install mesa-vulkan-drivers libvulkan1"
    )]
    NoAdapter(String),
    /// The adapter refused a device.
    #[error("the GPU adapter refused a device: {0}")]
    Device(#[from] wgpu::RequestDeviceError),
}

/// A device and queue plus what they came from.
#[derive(Clone)]
pub struct Gpu {
    /// The instance (needed again to create window surfaces).
    pub instance: wgpu::Instance,
    /// The adapter in use.
    pub adapter: wgpu::Adapter,
    /// The device.
    pub device: wgpu::Device,
    /// Its queue.
    pub queue: wgpu::Queue,
    /// Validation errors nobody caught (counted and logged once each kind, never a panic).
    pub uncaptured_errors: Arc<AtomicU64>,
    /// Set when the device is lost (driver reset, GPU unplugged, `destroy`): everything made
    /// on it must be rebuilt on a new one.
    pub lost: Arc<std::sync::atomic::AtomicBool>,
}

impl Gpu {
    /// A GPU for headless use. Honours `WGPU_BACKEND`, `WGPU_ADAPTER_NAME` and
    /// `WGPU_POWER_PREF` like the wgpu examples.
    ///
    /// # Errors
    /// [`GpuError::NoAdapter`] when nothing matches, [`GpuError::Device`] when the adapter
    /// refuses.
    pub fn new_headless() -> Result<Self, GpuError> {
        let instance =
            wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
        Self::from_instance(instance, None)
    }

    /// A GPU from `instance` able to present to `surface` when given.
    ///
    /// # Errors
    /// As [`Self::new_headless`].
    pub fn from_instance(
        instance: wgpu::Instance,
        surface: Option<&wgpu::Surface<'_>>,
    ) -> Result<Self, GpuError> {
        let adapter = pollster::block_on(wgpu::util::initialize_adapter_from_env_or_default(
            &instance, surface,
        ))
        .map_err(|e| GpuError::NoAdapter(e.to_string()))?;
        let (device, queue) =
            pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
                label: Some("hypna.device"),
                // Timestamps feed the HUD's per-pass GPU times where the adapter has them.
                required_features: adapter.features() & wgpu::Features::TIMESTAMP_QUERY,
                required_limits:
                    wgpu::Limits::downlevel_defaults().using_resolution(adapter.limits()),
                ..Default::default()
            }))?;
        let uncaptured_errors = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&uncaptured_errors);
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            // Report the first few in full; after that only count (no log flood per frame).
            if counter.fetch_add(1, Ordering::Relaxed) < 4 {
                tracing::error!("GPU error: {e}");
            }
        }));
        let lost = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = Arc::clone(&lost);
        device.set_device_lost_callback(move |reason, message| {
            tracing::error!("GPU device lost ({reason:?}): {message}");
            flag.store(true, Ordering::Release);
        });
        Ok(Self {
            instance,
            adapter,
            device,
            queue,
            uncaptured_errors,
            lost,
        })
    }

    /// Waits until the GPU has finished everything submitted so far. A failure (a lost
    /// device) is logged at debug level: the loss itself is reported by the device-lost
    /// callback and handled by whoever checks [`Self::is_lost`].
    pub fn wait_idle(&self) {
        if let Err(e) = self.device.poll(wgpu::PollType::wait_indefinitely()) {
            tracing::debug!("GPU wait: {e}");
        }
    }

    /// Runs finished-work callbacks (buffer mappings, device loss) without waiting.
    pub fn poll(&self) {
        if let Err(e) = self.device.poll(wgpu::PollType::Poll) {
            tracing::debug!("GPU poll: {e}");
        }
    }

    /// Whether the device was lost (see [`Self::lost`]).
    #[must_use]
    pub fn is_lost(&self) -> bool {
        self.lost.load(Ordering::Acquire)
    }

    /// "name (backend, type)" of the adapter.
    #[must_use]
    pub fn describe(&self) -> String {
        describe_adapter(&self.adapter.get_info())
    }
}

/// An instance for the primary backends (Vulkan, Metal, DX12), or every backend (adding GL)
/// when `all`. `WGPU_BACKEND` overrides both. Probing GL by default costs start-up time and
/// prints EGL noise on machines that have a primary backend anyway.
#[must_use]
pub fn new_instance(all: bool) -> wgpu::Instance {
    let mut desc = wgpu::InstanceDescriptor::new_without_display_handle_from_env();
    if std::env::var_os("WGPU_BACKEND").is_none() {
        desc.backends = if all {
            wgpu::Backends::all()
        } else {
            wgpu::Backends::PRIMARY
        };
    }
    wgpu::Instance::new(desc)
}

/// One line about an adapter.
#[must_use]
pub fn describe_adapter(info: &wgpu::AdapterInfo) -> String {
    format!(
        "{} ({:?}, {:?}, driver {} {})",
        info.name, info.backend, info.device_type, info.driver, info.driver_info
    )
}

/// Every adapter the instance can see, for `hypna devices`.
#[must_use]
pub fn list_adapters() -> Vec<wgpu::AdapterInfo> {
    let instance =
        wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
    pollster::block_on(instance.enumerate_adapters(wgpu::Backends::all()))
        .into_iter()
        .map(|a| a.get_info())
        .collect()
}
