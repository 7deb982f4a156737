//! hypna's audio input as images a shader samples like any texture: ISF's `audio` (the
//! waveform) and `audioFFT` (the spectrum) inputs, one row of 512 texels each, and
//! Shadertoy's music input (`iChannel` = `"audio"`): 512 x 2 texels, the spectrum row and the
//! waveform row in Shadertoy's layout. Written from the audio texture's rows each frame that
//! has audio features; silence until then.

use crate::audio::TEXTURE_WIDTH;

/// Width of the audio images (one texel per column of hypna's audio texture).
#[allow(clippy::cast_possible_truncation)] // 512
pub const WIDTH: u32 = TEXTURE_WIDTH as u32;
/// Format of the audio images: filterable, so linear samplers read them.
pub const FORMAT: wgpu::TextureFormat = wgpu::TextureFormat::Rgba16Float;

/// Which audio image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AudioImage {
    /// ISF `audio`: one row, `0.5 + 0.5 * sample` (0.5 is silence, as in the reference hosts).
    Waveform,
    /// ISF `audioFFT`: one row, the spectrum 0..1, low to high frequencies.
    Spectrum,
    /// Shadertoy's music input: two rows. Shadertoy reads the spectrum at `y = 0.25` (its
    /// row 0, the bottom one) and the waveform at `y = 0.75`; hypna stores images top row
    /// first and flips Shadertoy's lookups, so the texture's top row is the waveform.
    Shadertoy,
}

/// One row of an audio image: its values, and whether they are the spectrum.
type Row<'a> = (&'a [f32], bool);

/// The three audio images.
pub struct AudioImages {
    /// Waveform, spectrum, Shadertoy's, with their views.
    images: [(wgpu::Texture, wgpu::TextureView); 3],
    /// Reused for every upload (half floats, as bits).
    scratch: Vec<u16>,
}

impl AudioImages {
    /// Creates the images, holding silence.
    #[must_use]
    pub fn new(device: &wgpu::Device, queue: &wgpu::Queue) -> Self {
        let image = |label, rows| {
            let texture = crate::render::texture_2d(
                device,
                label,
                [WIDTH, rows],
                FORMAT,
                wgpu::TextureUsages::TEXTURE_BINDING | wgpu::TextureUsages::COPY_DST,
            );
            let view = texture.create_view(&wgpu::TextureViewDescriptor::default());
            (texture, view)
        };
        let mut images = Self {
            images: [
                image("isf.audio", 1),
                image("isf.audio_fft", 1),
                image("shadertoy.audio", 2),
            ],
            scratch: Vec::new(),
        };
        images.write(
            queue,
            &vec![0.0; TEXTURE_WIDTH * crate::audio::TEXTURE_HEIGHT],
        );
        images
    }

    /// The view of `which`.
    #[must_use]
    pub fn view(&self, which: AudioImage) -> &wgpu::TextureView {
        &self.images[which as usize].1
    }

    /// Writes every image from `rows` (hypna's audio texture: the spectrum row, then the
    /// waveform row): the spectrum as it is, the waveform as `0.5 + 0.5 * sample`, grey
    /// with alpha 1.
    pub fn write(&mut self, queue: &wgpu::Queue, rows: &[f32]) {
        let (spectrum, wave) = rows.split_at(TEXTURE_WIDTH.min(rows.len()));
        // Each image's rows, top first: (values, is the spectrum).
        let layouts: [(usize, &[Row<'_>]); 3] = [
            (0, &[(wave, false)]),
            (1, &[(spectrum, true)]),
            (2, &[(wave, false), (spectrum, true)]),
        ];
        for (index, image_rows) in layouts {
            self.scratch.clear();
            for &(values, is_spectrum) in image_rows {
                for k in 0..TEXTURE_WIDTH {
                    let v = values.get(k).copied().unwrap_or(0.0);
                    let v = if is_spectrum { v } else { 0.5 + 0.5 * v };
                    let v = half::f16::from_f32(v).to_bits();
                    self.scratch
                        .extend_from_slice(&[v, v, v, half::f16::ONE.to_bits()]);
                }
            }
            #[allow(clippy::cast_possible_truncation)] // one or two rows
            let height = image_rows.len() as u32;
            queue.write_texture(
                wgpu::TexelCopyTextureInfo {
                    texture: &self.images[index].0,
                    mip_level: 0,
                    origin: wgpu::Origin3d::ZERO,
                    aspect: wgpu::TextureAspect::All,
                },
                bytemuck::cast_slice(&self.scratch),
                wgpu::TexelCopyBufferLayout {
                    offset: 0,
                    bytes_per_row: Some(WIDTH * 8),
                    rows_per_image: Some(height),
                },
                wgpu::Extent3d {
                    width: WIDTH,
                    height,
                    depth_or_array_layers: 1,
                },
            );
        }
    }
}
