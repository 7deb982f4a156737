#!/usr/bin/env bash
# hypna: compiles the dream models the shipped scenes use from the installed classifier
# (.hypna/models/efficientnet-lite0.onnx, by scripts/install-models.sh) with `hypna dreamify`.
# Idempotent: a fast no-op when every dream model is there and up to date.
#
#   scripts/compile-dreams.sh target/release/hypna    (the hypna binary to compile with)
#   DREAMS_FORCE=1 scripts/compile-dreams.sh BIN       compile again
#
# A stamp beside each model records what made it: the dreamify arguments, the classifier's own
# stamp line (its hash and size) and a hash of the dream compiler's source (src/dream/), so a
# new classifier, new arguments or a changed compiler compile again and anything else is left
# alone. The Makefile runs this after `cargo build` (run) and before `cargo test` (test).
set -euo pipefail

bin="${1:?usage: scripts/compile-dreams.sh HYPNA_BINARY}"
root="$(cd "$(dirname "$0")/.." && pwd)"
models="$root/.hypna/models"
source_model="$models/efficientnet-lite0.onnx"

# output in .hypna/models/|dreamify arguments (after the classifier). Used by:
#   dream-lite0.onnx        scenes/dream.toml: layers block5, block9, block10 and block9's
#                           channels, smoothed gradient
#   dream-lite0-class.onnx  scenes/dream-class.toml: one ImageNet class by index, plus block9
DREAMS=(
  "dream-lite0.onnx|--layer block5 --layer block9 --layer block10 --objective layer --objective channels --channels-layer block9 --smooth-radius 3"
  "dream-lite0-class.onnx|--layer block9 --objective class --objective layer --class-index --smooth-radius 3"
)

say() { printf 'hypna compile-dreams: %s\n' "$*" >&2; }

sha256_of() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$@" | cut -d' ' -f1
  else
    shasum -a 256 "$@" | cut -d' ' -f1
  fi
}

if [ ! -f "$source_model" ] || [ ! -f "$source_model.stamp" ]; then
  say "$source_model is not installed: run scripts/install-models.sh (scripts/setup.sh does) first"
  exit 1
fi
classifier="$(sed -n 4p "$source_model.stamp")"
compiler="$(cat "$root"/src/dream/*.rs | sha256_of)"

expected_stamp() {
  printf 'dreamify %s\nclassifier %s\ncompiler %s\n' "$1" "$classifier" "$compiler"
}

current() {
  local out="$models/$1" stamp="$models/$1.stamp"
  [ "${DREAMS_FORCE:-0}" != 1 ] && [ -f "$out" ] && [ -f "$stamp" ] || return 1
  [ "$(head -n 3 "$stamp")" = "$(expected_stamp "$2")" ] || return 1
  [ "$(sed -n 4p "$stamp")" = "$(wc -c <"$out" | tr -d ' ')" ]
}

compiled=()
for entry in "${DREAMS[@]}"; do
  IFS='|' read -r output args <<<"$entry"
  if current "$output" "$args"; then continue; fi
  if [ ! -x "$bin" ]; then
    say "$bin is not built (cargo build first)"
    exit 1
  fi
  tmp="$models/.$output.tmp"
  # shellcheck disable=SC2086 # the arguments are words
  if ! "$bin" dreamify "$source_model" $args --out "$tmp" >"$tmp.log" 2>&1; then
    cat "$tmp.log" >&2
    rm -f "$tmp" "$tmp.log"
    say "compiling $output failed (above)"
    exit 1
  fi
  rm -f "$tmp.log"
  mv -f "$tmp" "$models/$output"
  { expected_stamp "$args"; wc -c <"$models/$output" | tr -d ' '; } >"$models/$output.stamp"
  compiled+=("$output")
done

if [ ${#compiled[@]} -gt 0 ]; then
  echo "hypna: compiled dream models ${compiled[*]} into .hypna/models"
else
  echo "hypna: dream models in .hypna/models (already compiled)"
fi
