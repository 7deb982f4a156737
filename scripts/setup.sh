#!/usr/bin/env bash
# hypna set-up: installs what is missing on Debian/Ubuntu, and says exactly what to run where
# it cannot (not root and no passwordless sudo, or another OS).
#
#   scripts/setup.sh run    what `hypna run` needs: ALSA headers, pkg-config, a Vulkan driver,
#                           ONNX Runtime and the trained models (converted in a project venv)
#   scripts/setup.sh test   the same plus Xvfb (window tests), rustfmt/clippy and the models' test data
set -euo pipefail

mode="${1:-run}"
# python3-venv: the project venv (.hypna/venv) in which scripts/install-models.sh converts weights.
packages=(pkg-config libasound2-dev libvulkan1 mesa-vulkan-drivers python3-venv)
# ffmpeg: [[media]] sources (images, video, cameras, streams) decode in an ffmpeg child process.
packages+=(ffmpeg)
if [ "$mode" = "test" ]; then
  # Xvfb for window tests; liblo's oscsend as an OSC peer we did not write.
  packages+=(xvfb xauth liblo-tools xdotool)
  # glslang, the second GLSL compiler the ISF tests check (HYPNA_GLSL_COMPILER=glslang).
  packages+=(glslang-tools)
  # Headless Chromium and its WebDriver: the browser remote's page tested in a real browser.
  packages+=(chromium chromium-driver)
  # A JACK server with its dummy driver, the MIDI ports of the MIDI end-to-end test (no ALSA
  # sequencer in containers and CI); its headers for the `midi-jack` build.
  packages+=(jackd2 libjack-jackd2-dev)
fi

say() { printf 'hypna set-up: %s\n' "$*" >&2; }

if command -v dpkg-query >/dev/null 2>&1; then
  missing=()
  for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
      missing+=("$p")
    fi
  done
  if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then
      sudo=()
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
      sudo=(sudo)
    else
      say "missing system packages: ${missing[*]}"
      say "run this, then try again:"
      printf '  sudo apt-get update && sudo apt-get install -y %s\n' "${missing[*]}" >&2
      exit 1
    fi
    say "installing ${missing[*]}"
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
else
  # Not Debian: check by capability and print what to install.
  if ! pkg-config --exists alsa 2>/dev/null; then
    say "ALSA development files not found. Install them (Fedora: dnf install alsa-lib-devel pkgconf; Arch: pacman -S alsa-lib pkgconf), then try again."
    exit 1
  fi
fi

if [ "$mode" = "test" ]; then
  if ! cargo fmt --version >/dev/null 2>&1 || ! cargo clippy --version >/dev/null 2>&1; then
    if command -v rustup >/dev/null 2>&1; then
      say "adding rustfmt and clippy"
      rustup component add rustfmt clippy
    else
      say "cargo fmt / cargo clippy missing: install rustfmt and clippy for your toolchain"
      exit 1
    fi
  fi
fi
"$(dirname "$0")/install-ort.sh"
"$(dirname "$0")/install-models.sh" "$mode"

if [ "$mode" = "test" ]; then
  # python-osc, the second OSC peer of the tests, into the project (not into Python itself).
  pydir="$(cd "$(dirname "$0")/.." && pwd)/.hypna/python"
  if ! PYTHONPATH="$pydir" python3 -c "import pythonosc" 2>/dev/null; then
    say "installing python-osc into .hypna/python"
    python3 -m pip install --quiet --disable-pip-version-check --target "$pydir" "python-osc==1.10.2"
  fi
fi
