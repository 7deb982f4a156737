//! Media textures: one `Rgba8Unorm` texture per `[[media]]` source, created with the pass
//! chain and written from the source's newest frame (`queue.write_texture` straight from the
//! mailbox's buffer: no per-frame allocation on our side).

use crate::scene::{Filter, MediaDef, Scene, Wrap};

/// Format of media textures: the file's 8-bit values as they are (filterable).
pub const MEDIA_TEXTURE_FORMAT: wgpu::TextureFormat = wgpu::TextureFormat::Rgba8Unorm;

/// The texture of one media source.
pub struct MediaTexture {
    /// Size in pixels.
    pub size: [u32; 2],
    /// The texture (starts black).
    pub texture: wgpu::Texture,
    view: wgpu::TextureView,
    sampler: wgpu::Sampler,
}

/// Makes a sampler: label, filter, wrap (the chain's, so media sample like passes).
pub type MakeSampler<'a> = &'a dyn Fn(&str, Filter, Wrap) -> wgpu::Sampler;

impl MediaTexture {
    fn new(device: &wgpu::Device, def: &MediaDef, make_sampler: MakeSampler<'_>) -> Self {
        let texture = super::texture_2d(
            device,
            &format!("media.{}", def.name),
            def.size,
            MEDIA_TEXTURE_FORMAT,
            wgpu::TextureUsages::TEXTURE_BINDING
                | wgpu::TextureUsages::COPY_DST
                | wgpu::TextureUsages::COPY_SRC,
        );
        let view = texture.create_view(&wgpu::TextureViewDescriptor::default());
        let sampler = make_sampler(&format!("media.{}.sampler", def.name), def.filter, def.wrap);
        Self {
            size: def.size,
            texture,
            view,
            sampler,
        }
    }

    /// Every media texture of `scene`, in scene order.
    #[must_use]
    pub fn for_scene(
        device: &wgpu::Device,
        scene: &Scene,
        make_sampler: MakeSampler<'_>,
    ) -> Vec<Self> {
        scene
            .media
            .iter()
            .map(|def| Self::new(device, def, make_sampler))
            .collect()
    }

    /// A view of the whole texture.
    #[must_use]
    pub fn view(&self) -> &wgpu::TextureView {
        &self.view
    }

    /// The sampler passes read it with (the source's `filter` and `wrap`).
    #[must_use]
    pub fn sampler(&self) -> &wgpu::Sampler {
        &self.sampler
    }

    /// Writes one frame of RGBA8 pixels (`size[0] * size[1] * 4` bytes; anything else is
    /// ignored).
    pub fn write(&self, queue: &wgpu::Queue, rgba: &[u8]) {
        let [w, h] = self.size;
        if rgba.len() != w as usize * h as usize * 4 {
            return;
        }
        queue.write_texture(
            wgpu::TexelCopyTextureInfo {
                texture: &self.texture,
                mip_level: 0,
                origin: wgpu::Origin3d::ZERO,
                aspect: wgpu::TextureAspect::All,
            },
            rgba,
            wgpu::TexelCopyBufferLayout {
                offset: 0,
                bytes_per_row: Some(w * 4),
                rows_per_image: Some(h),
            },
            wgpu::Extent3d {
                width: w,
                height: h,
                depth_or_array_layers: 1,
            },
        );
    }
}
