//! Pixels <-> tensors. Read-back pixels are RGBA `f32` rows (top to bottom); image tensors
//! are `[1, C, H, W]` (nchw) or `[1, H, W, C]` (nhwc). Uploads are RGBA `f16`.

use half::f16;

use crate::scene::{ImageMapping, Layout};

/// Converts `width * height` RGBA f32 pixels into a tensor with `channels` channels (1 takes
/// luma, 3 takes RGB, 4 takes RGBA), mapping 0..1 onto `range` then applying mean/std.
/// Writes into `out` (resized), so a caller can reuse its buffer.
pub fn pixels_to_tensor(
    rgba: &[f32],
    size: [u32; 2],
    channels: usize,
    map: &ImageMapping,
    out: &mut Vec<f32>,
) {
    let (w, h) = (size[0] as usize, size[1] as usize);
    let plane = w * h;
    out.clear();
    out.resize(plane * channels, 0.0);
    let [lo, hi] = map.range;
    let scale = hi - lo;
    let value = |p: &[f32], c: usize| -> f32 {
        let raw = if channels == 1 {
            0.2126 * p[0] + 0.7152 * p[1] + 0.0722 * p[2]
        } else {
            p[c]
        };
        let ci = c.min(2);
        (lo + raw * scale - map.mean[ci]) / map.std[ci]
    };
    for (i, p) in rgba.chunks_exact(4).take(plane).enumerate() {
        for c in 0..channels {
            let dst = match map.layout {
                Layout::Nchw => c * plane + i,
                Layout::Nhwc => i * channels + c,
            };
            out[dst] = value(p, c);
        }
    }
}

/// Converts an image tensor into RGBA f16 texels for upload (`size` = [width, height]). Values
/// `range` map onto 0..1; 1 channel is grey; alpha is 1 unless the tensor has 4 channels.
/// Returns false (writing nothing) when `data` is too short for the shape.
pub fn tensor_to_rgba16(
    data: &[f32],
    size: [u32; 2],
    channels: usize,
    map: &ImageMapping,
    out: &mut Vec<u16>,
) -> bool {
    let (w, h) = (size[0] as usize, size[1] as usize);
    let plane = w * h;
    if channels == 0 || data.len() < plane * channels {
        return false;
    }
    let [lo, hi] = map.range;
    let inv = 1.0 / (hi - lo);
    out.clear();
    out.resize(plane * 4, f16::ONE.to_bits());
    let at = |i: usize, c: usize| match map.layout {
        Layout::Nchw => data[c * plane + i],
        Layout::Nhwc => data[i * channels + c],
    };
    for i in 0..plane {
        for c in 0..4 {
            let v = match (channels, c) {
                (1, 0..=2) => at(i, 0),
                (1 | 3, 3) => continue,
                (_, c) if c < channels => at(i, c),
                _ => continue,
            };
            let v = (v - lo) * inv;
            // NaN from a misbehaving model becomes 0, not a hole that spreads through feedback.
            let v = if v.is_finite() { v } else { 0.0 };
            out[i * 4 + c] = f16::from_f32(v).to_bits();
        }
    }
    true
}

#[cfg(test)]
#[allow(clippy::float_cmp)] // exact conversions are the point
mod tests {
    use super::*;

    #[test]
    fn nchw_and_nhwc_with_range_and_normalisation() {
        // Two pixels: red and half-grey.
        let rgba = [1.0, 0.0, 0.0, 1.0, 0.5, 0.5, 0.5, 1.0];
        let mut out = Vec::new();
        pixels_to_tensor(&rgba, [2, 1], 3, &ImageMapping::default(), &mut out);
        assert_eq!(out, vec![1.0, 0.5, 0.0, 0.5, 0.0, 0.5]);
        let nhwc = ImageMapping {
            layout: Layout::Nhwc,
            range: [-1.0, 1.0],
            ..ImageMapping::default()
        };
        pixels_to_tensor(&rgba, [2, 1], 3, &nhwc, &mut out);
        assert_eq!(out, vec![1.0, -1.0, -1.0, 0.0, 0.0, 0.0]);
        let norm = ImageMapping {
            mean: [0.5; 3],
            std: [0.25; 3],
            ..ImageMapping::default()
        };
        pixels_to_tensor(&rgba, [2, 1], 3, &norm, &mut out);
        assert_eq!(out, vec![2.0, 0.0, -2.0, 0.0, -2.0, 0.0]);
    }

    #[test]
    fn round_trip_through_f16() {
        let rgba = [0.25, 0.5, 0.75, 1.0, 1.0, 0.0, 0.125, 1.0];
        let mut tensor = Vec::new();
        pixels_to_tensor(&rgba, [2, 1], 3, &ImageMapping::default(), &mut tensor);
        let mut texels = Vec::new();
        assert!(tensor_to_rgba16(
            &tensor,
            [2, 1],
            3,
            &ImageMapping::default(),
            &mut texels
        ));
        let back: Vec<f32> = texels.iter().map(|b| f16::from_bits(*b).to_f32()).collect();
        assert_eq!(back, rgba.to_vec());
        assert!(!tensor_to_rgba16(
            &tensor[..5],
            [2, 1],
            3,
            &ImageMapping::default(),
            &mut texels
        ));
    }

    #[test]
    fn grey_and_nan() {
        let mut texels = Vec::new();
        assert!(tensor_to_rgba16(
            &[0.5, f32::NAN],
            [2, 1],
            1,
            &ImageMapping::default(),
            &mut texels
        ));
        let back: Vec<f32> = texels.iter().map(|b| f16::from_bits(*b).to_f32()).collect();
        assert_eq!(back, vec![0.5, 0.5, 0.5, 1.0, 0.0, 0.0, 0.0, 1.0]);
    }
}
