#!/usr/bin/env python3
"""Writes a one-minute demo piece as a standard MIDI file (no dependencies), for rendering
the audio-reactive scenes offline. `scripts/demo-song.sh` turns it into a WAV with fluidsynth.

The piece, at 100 BPM in A minor: a pad alone (0-12 s), drums and bass enter (12-40 s), a
break with the pad and a rising arpeggio (40-48 s), everything again, louder (48-60 s). So a
render shows calm, busy and transitional passages.
"""

import struct
import sys

TICKS = 480  # per quarter note
BPM = 100


def var_len(n):
    out = [n & 0x7F]
    n >>= 7
    while n:
        out.insert(0, (n & 0x7F) | 0x80)
        n >>= 7
    return bytes(out)


def track(events):
    """events: (tick, bytes) in any order -> an MTrk chunk."""
    data = b""
    last = 0
    for tick, msg in sorted(events, key=lambda e: (e[0], e[1][0] & 0xF0 != 0x80)):
        data += var_len(tick - last) + msg
        last = tick
    data += var_len(0) + b"\xff\x2f\x00"
    return b"MTrk" + struct.pack(">I", len(data)) + data


def note(events, ch, start, length, key, vel):
    events.append((start, bytes([0x90 | ch, key, vel])))
    events.append((start + length, bytes([0x80 | ch, key, 0])))


def main(path):
    beat = TICKS
    bar = 4 * beat
    bars = 25  # 25 bars of 4 beats at 100 BPM = 60 s
    tempo = [(0, b"\xff\x51\x03" + (60_000_000 // BPM).to_bytes(3, "big"))]
    pad, bass, drums, arp = [], [], [], []
    pad.append((0, bytes([0xC0, 89])))  # warm pad
    bass.append((0, bytes([0xC1, 38])))  # synth bass
    arp.append((0, bytes([0xC2, 11])))  # vibraphone
    # i - VI - III - VII in A minor
    chords = [[57, 60, 64], [53, 57, 60], [48, 52, 55], [55, 59, 62]]
    roots = [33, 29, 36, 31]
    for b in range(bars):
        t = b * bar
        section = "intro" if b < 5 else "groove" if b < 17 else "break" if b < 20 else "drop"
        chord = chords[b % 4]
        pad_vel = 70 if section in ("intro", "break") else 60
        for k in chord:
            note(pad, 0, t, bar, k, pad_vel)
        if section in ("groove", "drop"):
            loud = 20 if section == "drop" else 0
            for i in range(4):
                note(bass, 1, t + i * beat, beat // 2, roots[b % 4], 90 + loud)
                note(bass, 1, t + i * beat + beat // 2, beat // 4, roots[b % 4] + 12, 70 + loud)
            for i in range(4):
                note(drums, 9, t + i * beat, beat // 4, 36 if i % 2 == 0 else 38, 100 + loud // 2)
                for h in range(2):
                    note(drums, 9, t + i * beat + h * beat // 2, beat // 8, 42, 60 + 20 * h)
            if section == "drop" and b % 2 == 1:
                note(drums, 9, t, beat, 49, 110)
        if section == "break":
            step = beat // 4
            for i in range(16):
                k = chord[i % 3] + 12 * (1 + (i // 3) % 2) + (b - 17) * 2
                note(arp, 2, t + i * step, step, k, 50 + i * 4)
    chunks = [track(tempo + pad), track(bass), track(drums), track(arp)]
    header = b"MThd" + struct.pack(">IHHH", 6, 1, len(chunks), TICKS)
    with open(path, "wb") as f:
        f.write(header + b"".join(chunks))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "demo.mid")
