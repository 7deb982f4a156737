//! The textures behind a scene's [`ImageDef`]s (`TextureSource::Image`): an ISF file's
//! `IMPORTED` images, uploaded once, and the slots an owner draws into every frame (an ISF
//! transition's start and end images).

use crate::scene::{ImageDef, ImagePixels};

/// Format of an image decoded from a file (values as stored, as ISF hosts upload them).
pub const FILE_IMAGE_FORMAT: wgpu::TextureFormat = wgpu::TextureFormat::Rgba8Unorm;
/// Format of a slot (what the transition draws into it: the mix format).
pub const SLOT_IMAGE_FORMAT: wgpu::TextureFormat = wgpu::TextureFormat::Rgba16Float;

/// One image's texture.
pub struct SceneImage {
    /// The texture.
    pub texture: wgpu::Texture,
    /// Its view.
    pub view: wgpu::TextureView,
    /// Its size in pixels.
    pub size: [u32; 2],
    /// Its format.
    pub format: wgpu::TextureFormat,
}

/// Creates the textures of `images`: file images at their size with their pixels, slots at
/// `scene_size`, transparent black.
#[must_use]
pub fn create(
    device: &wgpu::Device,
    queue: &wgpu::Queue,
    images: &[ImageDef],
    scene_size: [u32; 2],
) -> Vec<SceneImage> {
    images
        .iter()
        .map(|def| {
            let (size, format, usage) = match &def.pixels {
                ImagePixels::File { image, .. } => (
                    image.size,
                    FILE_IMAGE_FORMAT,
                    wgpu::TextureUsages::TEXTURE_BINDING | wgpu::TextureUsages::COPY_DST,
                ),
                ImagePixels::Slot => (
                    scene_size,
                    SLOT_IMAGE_FORMAT,
                    wgpu::TextureUsages::TEXTURE_BINDING
                        | wgpu::TextureUsages::RENDER_ATTACHMENT
                        | wgpu::TextureUsages::COPY_DST,
                ),
            };
            let texture =
                super::texture_2d(device, &format!("image.{}", def.name), size, format, usage);
            if let ImagePixels::File { image, .. } = &def.pixels {
                queue.write_texture(
                    wgpu::TexelCopyTextureInfo {
                        texture: &texture,
                        mip_level: 0,
                        origin: wgpu::Origin3d::ZERO,
                        aspect: wgpu::TextureAspect::All,
                    },
                    &image.rgba,
                    wgpu::TexelCopyBufferLayout {
                        offset: 0,
                        bytes_per_row: Some(4 * size[0]),
                        rows_per_image: Some(size[1]),
                    },
                    texture.size(),
                );
            }
            let view = texture.create_view(&wgpu::TextureViewDescriptor::default());
            SceneImage {
                texture,
                view,
                size,
                format,
            }
        })
        .collect()
}
