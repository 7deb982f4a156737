#!/usr/bin/env bash
# hypna: renders the one-minute demo piece of scripts/demo_song.py to a mono 44.1 kHz WAV with
# fluidsynth and a General MIDI soundfont, for offline renders of audio-reactive scenes:
#
#   scripts/demo-song.sh out.wav        # then: hypna render scenes/eyes.toml --audio-file out.wav ...
#
# Needs python3, fluidsynth and sox (Debian: apt-get install fluidsynth fluid-soundfont-gm sox).
# SOUNDFONT=<file.sf2> picks another soundfont.
set -euo pipefail
out="${1:?usage: scripts/demo-song.sh out.wav}"
root="$(cd "$(dirname "$0")/.." && pwd)"
sf="${SOUNDFONT:-/usr/share/sounds/sf2/FluidR3_GM.sf2}"
[ -f "$sf" ] || { echo "demo-song: soundfont $sf not found (apt-get install fluid-soundfont-gm, or set SOUNDFONT)" >&2; exit 1; }
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
python3 "$root/scripts/demo_song.py" "$tmp/demo.mid"
fluidsynth -ni -q -g 0.8 -r 44100 -F "$tmp/stereo.wav" "$sf" "$tmp/demo.mid" >/dev/null
sox "$tmp/stereo.wav" -c 1 -b 16 "$out" trim 0 60 norm -1
echo "demo-song: wrote $out ($(soxi -D "$out") s)"
