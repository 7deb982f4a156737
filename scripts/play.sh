#!/usr/bin/env bash
# Opens a scene in a window, or, with no display, renders it headless to PNGs and says so.
set -euo pipefail
scene="${1:-scenes/dream.toml}"
bin="${CARGO_TARGET_DIR:-target}/release/hypna"
if [ -n "${DISPLAY:-}" ] || [ -n "${WAYLAND_DISPLAY:-}" ]; then
  exec "$bin" run "$scene"
fi
name="$(basename "$scene" .toml)"
out="out/$name"
echo "hypna: no display found (DISPLAY and WAYLAND_DISPLAY are unset): rendering $scene headless to $out/ instead." >&2
exec "$bin" render "$scene" --frames "${FRAMES:-90}" --out "$out"
