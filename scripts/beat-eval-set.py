#!/usr/bin/env python3
"""Writes hypna's beat-tracking evaluation set: MIDI songs with known beats and downbeats in many
styles, rendered to WAV with FluidSynth, plus "noisy room" versions, plus annotations.

    scripts/beat-eval-set.py [--out .hypna/beat-eval] [--only NAME ...] [--no-noisy]
    hypna bench --beats .hypna/beat-eval

Needs `fluidsynth`, the `fluid-soundfont-gm` sound font and `sox` (Debian/Ubuntu:
`apt-get install fluidsynth fluid-soundfont-gm sox`). Python's standard library only.

For each song NAME the folder gets:
  NAME.mid          the song (type-0 SMF, 480 ticks per quarter, tempo and meter events)
  NAME.wav          FluidSynth's rendering, 44.1 kHz stereo 16-bit
  NAME.beats        ground truth, one beat a line: `time_secs beat_in_bar` (1 = downbeat), the
                    format of madmom and mir_eval's `.beats` files
  NAME.toml         what the clip is: style, tempo(s), meter, the time of a tempo change or of a
                    breakdown
  NAME-room.wav     the same through a small room: speaker band-limit, reverb, crowd-like noise
                    at about 12 dB SNR (sox); same `.beats` and `.toml` (copied, with `-room`)

Every clip is deterministic (a fixed random seed per song). The beat grid of the MIDI file is the
ground truth: beat `k` falls at the time the tempo map gives tick `k * 480`, whatever plays there
(also in the drumless breakdown, where only a pad holds chords).
"""

import argparse
import os
import random
import shutil
import struct
import subprocess
import sys

PPQ = 480
SOUNDFONT_CANDIDATES = [
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "/usr/share/soundfonts/FluidR3_GM.sf2",
    "/usr/share/sounds/sf2/default-GM.sf2",
]

# General MIDI drum keys (channel 10).
KICK, RIM, SNARE, CLAP, ESNARE = 36, 37, 38, 39, 40
CHH, PHH, OHH, CRASH, RIDE, BELL = 42, 44, 46, 49, 51, 53
TAMB, COWBELL, CABASA, MARACAS, CLAVES, HI_WOOD, LO_WOOD = 54, 56, 69, 70, 75, 76, 77
LOW_TOM, MID_TOM, HI_TOM = 45, 47, 50

DRUMS = 9  # MIDI channel 10


class Song:
    """Notes on a beat grid. Times are in beats (quarter notes) from the start."""

    def __init__(self, name, style, meter, seed):
        self.name = name
        self.style = style
        self.meter = meter
        self.rng = random.Random(seed)
        self.tempos = []  # (beat, bpm)
        self.programs = {}  # channel -> GM program
        self.notes = []  # (beat, dur_beats, channel, key, velocity)
        self.length_beats = 0
        self.change_at_beat = None

    def tempo(self, beat, bpm):
        self.tempos.append((beat, bpm))

    def program(self, channel, program):
        self.programs[channel] = program

    def note(self, beat, dur, channel, key, vel, jitter=0.0):
        vel = max(1, min(127, int(round(vel * (1.0 + self.rng.uniform(-jitter, jitter))))))
        self.notes.append((beat, dur, channel, key, vel))

    def hit(self, beat, key, vel=100, jitter=0.08):
        self.note(beat, 0.1, DRUMS, key, vel, jitter)

    def chord(self, beat, dur, channel, keys, vel=70):
        for k in keys:
            self.note(beat, dur, channel, k, vel, 0.05)

    def seconds_of(self, beat):
        """Time of `beat` from the tempo map."""
        t = 0.0
        tempos = sorted(self.tempos)
        for i, (b0, bpm) in enumerate(tempos):
            b1 = tempos[i + 1][0] if i + 1 < len(tempos) else float("inf")
            if beat <= b1:
                return t + (beat - b0) * 60.0 / bpm
            t += (b1 - b0) * 60.0 / bpm
        return t

    def beats(self):
        return [(self.seconds_of(k), k % self.meter + 1) for k in range(self.length_beats)]


# ---------------------------------------------------------------------------------------------
# Standard MIDI file, type 0.


def _varlen(n):
    out = [n & 0x7F]
    n >>= 7
    while n:
        out.append(0x80 | (n & 0x7F))
        n >>= 7
    return bytes(reversed(out))


def write_midi(song, path):
    events = []  # (tick, order, bytes)
    for beat, bpm in song.tempos:
        us = int(round(60_000_000 / bpm))
        events.append((int(round(beat * PPQ)), 0, b"\xff\x51\x03" + us.to_bytes(3, "big")))
    denominator = 2  # quarter notes
    events.append((0, 0, bytes([0xFF, 0x58, 4, song.meter, denominator, 24, 8])))
    for ch, prog in sorted(song.programs.items()):
        events.append((0, 1, bytes([0xC0 | ch, prog])))
        events.append((0, 1, bytes([0xB0 | ch, 7, 100])))  # channel volume
    for beat, dur, ch, key, vel in song.notes:
        on = int(round(beat * PPQ))
        off = max(on + 1, int(round((beat + dur) * PPQ)))
        events.append((on, 3, bytes([0x90 | ch, key, vel])))
        events.append((off, 2, bytes([0x80 | ch, key, 0])))
    end = int(round(song.length_beats * PPQ)) + 4 * PPQ
    events.append((end, 9, b"\xff\x2f\x00"))
    events.sort(key=lambda e: (e[0], e[1]))
    track = bytearray()
    last = 0
    for tick, _, data in events:
        track += _varlen(tick - last) + data
        last = tick
    with open(path, "wb") as f:
        f.write(b"MThd" + struct.pack(">IHHH", 6, 0, 1, PPQ))
        f.write(b"MTrk" + struct.pack(">I", len(track)) + bytes(track))


# ---------------------------------------------------------------------------------------------
# The songs. Each takes a Song and fills `bars` bars.

C, D, E, F, G, A, B = 48, 50, 52, 53, 55, 57, 59  # C3.. (bass register one octave below)
PROGRESSION = [(C, [60, 64, 67]), (A - 12, [57, 60, 64]), (F - 12, [53, 57, 60]), (G - 12, [55, 59, 62])]


def four_on_the_floor(s, bars, start=0, bass=True, chords=True):
    s.program(0, 38)  # synth bass
    s.program(1, 89)  # warm pad
    for bar in range(bars):
        b0 = start + bar * 4
        root, triad = PROGRESSION[bar % 4]
        for q in range(4):
            s.hit(b0 + q, KICK, 115)
            s.hit(b0 + q + 0.5, OHH, 70)
            s.hit(b0 + q + 0.25, CHH, 45)
            s.hit(b0 + q + 0.75, CHH, 45)
            if q in (1, 3):
                s.hit(b0 + q, CLAP, 95)
            if bass:
                s.note(b0 + q + 0.5, 0.4, 0, root - 12, 95, 0.05)
        if chords:
            s.chord(b0, 4, 1, triad, 50)


def rock(s, bars, start=0):
    s.program(0, 34)  # picked bass
    s.program(1, 29)  # overdriven guitar
    for bar in range(bars):
        b0 = start + bar * 4
        root, triad = PROGRESSION[bar % 4]
        for e in range(8):
            s.hit(b0 + e / 2, CHH, 80 if e % 2 == 0 else 60)
            s.note(b0 + e / 2, 0.45, 0, root - 12, 90, 0.05)
        for k in (0, 2, 2.5):
            s.hit(b0 + k, KICK, 115)
        for k in (1, 3):
            s.hit(b0 + k, SNARE, 110)
        if bar % 4 == 0:
            s.hit(b0, CRASH, 90)
        s.chord(b0, 1.9, 1, [root, root + 7, root + 12], 75)
        s.chord(b0 + 2, 1.9, 1, [root, root + 7, root + 12], 75)


def funk(s, bars, start=0):
    s.program(0, 36)  # slap bass
    s.program(1, 27)  # clean guitar
    kick = [0, 0.75, 1.5, 2.75, 3.25]  # syncopated: 1, a-of-1, and-of-2, a-of-3, e-of-4
    ghosts = [0.75, 1.75, 2.25, 3.5]
    for bar in range(bars):
        b0 = start + bar * 4
        root, triad = PROGRESSION[bar % 2]
        for six in range(16):
            s.hit(b0 + six / 4, CHH, 75 if six % 2 == 0 else 50)
        for k in kick:
            s.hit(b0 + k, KICK, 110)
        for k in (1, 3):
            s.hit(b0 + k, SNARE, 112)
        for k in ghosts:
            s.hit(b0 + k, SNARE, 35)
        for k, off in ((0, 0), (0.75, 12), (1.5, 0), (2.25, 10), (2.75, 12), (3.5, 7)):
            s.note(b0 + k, 0.2, 0, root - 12 + off, 100, 0.1)
        for six in (1, 3, 6, 9, 11, 14):  # choppy guitar on the off 16ths
            s.chord(b0 + six / 4, 0.12, 1, [t + 12 for t in triad], 60)


def dembow(s, bars, start=0):
    s.program(0, 38)
    s.program(1, 81)  # saw lead stabs
    for bar in range(bars):
        b0 = start + bar * 4
        root, triad = PROGRESSION[(bar // 2) % 4]
        for q in range(4):
            s.hit(b0 + q, KICK, 112)
        for six in (3, 6, 11, 14):  # the dembow snare: a-of-1, and-of-2, a-of-3, and-of-4
            s.hit(b0 + six / 4, SNARE, 108)
            s.hit(b0 + six / 4, RIM, 70)
        for e in range(8):
            s.hit(b0 + e / 2, CHH, 55)
        for six in (0, 3, 6, 8, 11, 14):
            s.note(b0 + six / 4, 0.2, 0, root - 12, 95, 0.05)
        for six in (3, 6, 11, 14):
            s.chord(b0 + six / 4, 0.15, 1, triad, 55)


def trap(s, bars, start=0):
    """Half-time trap at 140: snare (clap) on beat 3 only, hat 8ths with 16th and 32nd rolls."""
    s.program(0, 38)  # 808-ish synth bass
    s.program(1, 89)
    kick = [0, 0.75, 2.5, 3.5]
    for bar in range(bars):
        b0 = start + bar * 4
        root, triad = PROGRESSION[(bar // 2) % 4]
        for e in range(8):
            s.hit(b0 + e / 2, CHH, 70)
        if bar % 2 == 1:  # a roll at the end of every second bar
            for r in range(8):
                s.hit(b0 + 3 + r / 8, CHH, 50 + 5 * r)
        else:
            for r in (1.25, 1.75, 3.25):
                s.hit(b0 + r, CHH, 45)
        for k in kick:
            s.hit(b0 + k, KICK, 118)
            s.note(b0 + k, 0.7, 0, root - 24, 110, 0.03)
        s.hit(b0 + 2, CLAP, 112)
        s.hit(b0 + 2, SNARE, 90)
        s.chord(b0, 4, 1, triad, 40)


def shaker(s, bars, start=0):
    """Sparse: a shaker in 8ths with accents and a clave now and then; nothing else."""
    for bar in range(bars):
        b0 = start + bar * 4
        for e in range(8):
            s.hit(b0 + e / 2, MARACAS, 95 if e % 2 == 0 else 55, 0.15)
        if bar % 2 == 0:
            for k in (0, 1.5, 3):
                s.hit(b0 + k, CLAVES, 70)
        else:
            for k in (1, 2):
                s.hit(b0 + k, CLAVES, 70)


def waltz(s, bars, start=0):
    """3/4 oom-pah-pah: bass on 1, chords on 2 and 3; light brushes."""
    s.program(0, 32)  # acoustic bass
    s.program(1, 0)  # piano
    for bar in range(bars):
        b0 = start + bar * 3
        root, triad = PROGRESSION[bar % 4]
        s.note(b0, 0.9, 0, root - 12, 100, 0.05)
        s.note(b0, 0.9, 1, root, 85, 0.05)
        s.chord(b0 + 1, 0.6, 1, [t + 12 for t in triad], 58)
        s.chord(b0 + 2, 0.6, 1, [t + 12 for t in triad], 52)
        s.hit(b0, KICK, 70)
        s.hit(b0 + 1, PHH, 50)
        s.hit(b0 + 2, PHH, 45)


def swing(s, bars, start=0):
    """Jazz swing: ride ding-ding-a-ding (swung 8ths at 2/3), hat on 2 and 4, walking bass,
    piano comping on the swung off-beats."""
    s.program(0, 32)
    s.program(1, 0)
    walk = [0, 4, 7, 9]
    for bar in range(bars):
        b0 = start + bar * 4
        root, triad = PROGRESSION[bar % 4]
        for q in range(4):
            s.hit(b0 + q, RIDE, 85)
            if q in (1, 3):
                s.hit(b0 + q + 2 / 3, RIDE, 60)
                s.hit(b0 + q, PHH, 70)
            s.note(b0 + q, 0.9, 0, root - 12 + walk[q], 95, 0.08)
        s.hit(b0, KICK, 45)
        for k in (1 + 2 / 3, 3 + 2 / 3):
            s.chord(b0 + k, 0.3, 1, [t + 12 for t in triad], 60)


def drum_and_bass(s, bars, start=0):
    """174 BPM breakbeat: kick 1 and the and-of-3, snare 2 and 4, 16th hats, reese bass."""
    s.program(0, 38)
    s.program(1, 89)
    for bar in range(bars):
        b0 = start + bar * 4
        root, triad = PROGRESSION[(bar // 2) % 4]
        for six in range(16):
            s.hit(b0 + six / 4, CHH, 60 if six % 2 else 80)
        for k in (0, 2.5):
            s.hit(b0 + k, KICK, 118)
        for k in (1, 3):
            s.hit(b0 + k, SNARE, 115)
        s.hit(b0 + 3.75, SNARE, 50)
        s.note(b0, 1.9, 0, root - 12, 95, 0.03)
        s.note(b0 + 2.5, 1.4, 0, root - 12 + 3, 90, 0.03)
        s.chord(b0, 4, 1, triad, 40)


def boom_bap(s, bars, start=0):
    """90 BPM hip-hop: swung 16th hats, kick 1 and a-of-2-ish, snare 2 and 4, Rhodes chords."""
    s.program(0, 33)
    s.program(1, 4)  # electric piano
    sw = 0.06  # swing of the off 16ths, beats
    for bar in range(bars):
        b0 = start + bar * 4
        root, triad = PROGRESSION[bar % 4]
        for six in range(16):
            off = sw if six % 2 else 0.0
            s.hit(b0 + six / 4 + off, CHH, 70 if six % 4 == 0 else 45)
        for k in (0, 0.5 + sw, 2.25 + sw, 2.5):
            s.hit(b0 + k, KICK, 112)
        for k in (1, 3):
            s.hit(b0 + k, SNARE, 110)
        s.note(b0, 1.5, 0, root - 12, 95, 0.05)
        s.note(b0 + 2.5, 1.0, 0, root - 12, 90, 0.05)
        s.chord(b0, 3.5, 1, [t + 12 for t in triad], 55)


def reggae(s, bars, start=0):
    """One drop: kick and rim together on beat 3 only; guitar skank on the off-beats."""
    s.program(0, 33)
    s.program(1, 27)
    s.program(2, 16)  # organ bubble
    for bar in range(bars):
        b0 = start + bar * 4
        root, triad = PROGRESSION[(bar // 2) % 4]
        s.hit(b0 + 2, KICK, 110)
        s.hit(b0 + 2, RIM, 100)
        for e in range(8):
            s.hit(b0 + e / 2, CHH, 50 if e % 2 else 65)
        for q in range(4):
            s.chord(b0 + q + 0.5, 0.2, 1, [t + 12 for t in triad], 80)
            s.chord(b0 + q + 0.75, 0.1, 2, triad, 45)
        s.note(b0, 0.8, 0, root - 12, 100, 0.05)
        s.note(b0 + 1.5, 0.4, 0, root - 12 + 7, 90, 0.05)
        s.note(b0 + 2.5, 0.8, 0, root - 12 + 5, 95, 0.05)


def techno(s, bars, start=0):
    """130 BPM: kick on every beat, rolling off-beat bass, 16th hats, a sparse clap."""
    s.program(0, 38)
    for bar in range(bars):
        b0 = start + bar * 4
        for q in range(4):
            s.hit(b0 + q, KICK, 120)
            s.note(b0 + q + 0.5, 0.22, 0, 36, 100, 0.03)
            s.note(b0 + q + 0.75, 0.22, 0, 36, 80, 0.03)
            s.hit(b0 + q + 0.5, OHH, 65)
        for six in range(16):
            s.hit(b0 + six / 4, CHH, 40)
        s.hit(b0 + 3, CLAP, 85)


def bossa(s, bars, start=0):
    """Bossa nova: rim on the 3-2 clave-ish pattern, kick on 1 and the and-of-2, nylon guitar."""
    s.program(0, 32)
    s.program(1, 24)
    rim = [0, 0.75, 1.5, 2.5, 3.25]
    for bar in range(bars):
        b0 = start + bar * 4
        root, triad = PROGRESSION[bar % 4]
        for e in range(8):
            s.hit(b0 + e / 2, CABASA, 55 if e % 2 else 70)
        for k in (0, 1.5, 2, 3.5):
            s.hit(b0 + k, KICK, 80)
        for k in rim:
            s.hit(b0 + k, RIM, 80)
        s.note(b0, 1.4, 0, root - 12, 90, 0.05)
        s.note(b0 + 1.5, 0.5, 0, root - 12 + 7, 80, 0.05)
        s.note(b0 + 2, 1.4, 0, root - 12 + 7, 85, 0.05)
        for k in (0, 0.75, 1.5, 2.5, 3.25):
            s.chord(b0 + k, 0.4, 1, triad, 60)


def ballad(s, bars, start=0):
    """Piano ballad, no drums: bass octaves on 1, right-hand arpeggios in 8ths."""
    s.program(0, 0)
    for bar in range(bars):
        b0 = start + bar * 4
        root, triad = PROGRESSION[bar % 4]
        s.note(b0, 3.8, 0, root - 12, 90, 0.05)
        s.note(b0, 3.8, 0, root, 80, 0.05)
        arp = triad + [triad[0] + 12, triad[1] + 12, triad[0] + 12, triad[2], triad[1]]
        for e in range(8):
            s.note(b0 + e / 2, 0.5, 0, arp[e] + 12, 62 if e % 2 else 75, 0.08)


def polka(s, bars, start=0):
    """2/4: bass on 1, chord on 2, snare on the off-beats."""
    s.program(0, 58)  # tuba
    s.program(1, 21)  # accordion
    for bar in range(bars):
        b0 = start + bar * 2
        root, triad = PROGRESSION[(bar // 2) % 4]
        s.note(b0, 0.4, 0, root - 12, 105, 0.05)
        s.chord(b0 + 1, 0.4, 1, triad, 75)
        s.hit(b0, KICK, 90)
        s.hit(b0 + 0.5, SNARE, 60)
        s.hit(b0 + 1.5, SNARE, 60)
        s.hit(b0 + 1, CHH, 70)


def breakdown(s, bars, start=0):
    """No drums: a pad holding a chord per bar and a slow arpeggio on half notes."""
    s.program(1, 89)
    s.program(2, 81)
    for bar in range(bars):
        b0 = start + bar * 4
        root, triad = PROGRESSION[bar % 4]
        s.chord(b0, 4, 1, triad, 62)
        for h in range(2):
            s.note(b0 + 2 * h, 1.8, 2, triad[h] + 12, 50, 0.05)


def seconds_to_bars(secs, bpm, meter):
    return max(1, int(round(secs * bpm / 60.0 / meter)))


def make_songs(clip_secs):
    songs = []

    def simple(name, style, fn, bpm, meter=4, seed=1):
        s = Song(name, style, meter, seed)
        s.tempo(0, bpm)
        bars = seconds_to_bars(clip_secs, bpm, meter)
        fn(s, bars)
        s.length_beats = bars * meter
        songs.append(s)

    simple("house-124", "four-on-the-floor house", four_on_the_floor, 124, seed=1)
    simple("rock-120", "rock: kick 1 and 3, snare 2 and 4, 8th hats", rock, 120, seed=2)
    simple("funk-100", "funk, syncopated kick and ghost notes, 16th hats", funk, 100, seed=3)
    simple("dembow-95", "reggaeton dembow (snare on the a-of-1 and and-of-2)", dembow, 95, seed=4)
    simple("trap-140", "half-time trap: clap on 3 only, hat rolls (annotated at 140)", trap, 140, seed=5)
    simple("shaker-110", "sparse: shaker 8ths and claves only", shaker, 110, seed=6)
    simple("waltz-138", "waltz 3/4, oom-pah-pah", waltz, 138, meter=3, seed=7)
    simple("swing-150", "jazz swing: ride, walking bass, comping", swing, 150, seed=8)
    simple("dnb-174", "drum and bass breakbeat", drum_and_bass, 174, seed=9)
    simple("boombap-90", "boom-bap hip-hop, swung 16ths", boom_bap, 90, seed=10)
    simple("reggae-75", "reggae one drop (kick on 3 only), off-beat skank", reggae, 75, seed=11)
    simple("techno-130", "techno, off-beat rolling bass", techno, 130, seed=12)
    simple("bossa-130", "bossa nova, syncopated rim and guitar", bossa, 130, seed=13)
    simple("ballad-72", "piano ballad, no drums", ballad, 72, seed=14)
    simple("polka-2-4-120", "polka 2/4", polka, 120, meter=2, seed=15)

    # A tempo step: 108 BPM rock-ish house for 20 s, then 128 for 20 s.
    s = Song("step-108-128", "tempo step 108 -> 128 BPM (four on the floor)", 4, 16)
    bars1 = seconds_to_bars(20, 108, 4)
    bars2 = seconds_to_bars(20, 128, 4)
    s.tempo(0, 108)
    s.tempo(bars1 * 4, 128)
    four_on_the_floor(s, bars1 + bars2)
    s.length_beats = (bars1 + bars2) * 4
    s.change_at_beat = bars1 * 4
    songs.append(s)

    # A drumless breakdown: 12 s of groove, 12 s of pads only, 10 s of groove.
    s = Song("breakdown-122", "groove, drumless breakdown (pads only), groove", 4, 17)
    s.tempo(0, 122)
    a, b, c = (seconds_to_bars(x, 122, 4) for x in (12, 12, 10))
    four_on_the_floor(s, a)
    breakdown(s, b, start=a * 4)
    four_on_the_floor(s, c, start=(a + b) * 4)
    s.length_beats = (a + b + c) * 4
    s.breakdown = (s.seconds_of(a * 4), s.seconds_of((a + b) * 4))
    songs.append(s)
    return songs


def run(cmd):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        sys.exit(f"beat-eval-set: {' '.join(cmd)} failed: {r.stderr.strip()[-500:]}")


def render(song, out, soundfont, noisy):
    mid = os.path.join(out, song.name + ".mid")
    wav = os.path.join(out, song.name + ".wav")
    write_midi(song, mid)
    run(["fluidsynth", "-ni", "-q", "-g", "0.7", "-r", "44100", "-F", wav, soundfont, mid])
    beats = song.beats()
    end = song.seconds_of(song.length_beats)
    # Trim to the last beat plus a little (FluidSynth renders the release tails too).
    trimmed = wav + ".trim.wav"
    run(["sox", wav, trimmed, "trim", "0", f"{end + 0.5:.3f}", "gain", "-n", "-3"])
    os.replace(trimmed, wav)
    meta = [
        f'style = "{song.style}"',
        f"meter = {song.meter}",
        "bpm = [" + ", ".join(str(bpm) for _, bpm in sorted(song.tempos)) + "]",
        f"duration_secs = {end:.3f}",
    ]
    if song.change_at_beat is not None:
        meta.append(f"tempo_change_secs = {song.seconds_of(song.change_at_beat):.4f}")
    if getattr(song, "breakdown", None):
        meta.append(f"breakdown_secs = [{song.breakdown[0]:.3f}, {song.breakdown[1]:.3f}]")
    variants = [(song.name, wav)]
    if noisy:
        room = os.path.join(out, song.name + "-room.wav")
        noise = os.path.join(out, song.name + ".noise.wav")
        # Crowd-like noise: pink noise with a slow tremolo (voices swell), band-limited.
        run(["sox", "-n", "-r", "44100", "-c", "2", "-b", "16", noise, "synth", f"{end + 0.5:.3f}",
             "pinknoise", "tremolo", "0.7", "40", "bandpass", "1000", "1.5o", "gain", "-n", "-17"])
        # The music through a small speaker (150 Hz..9 kHz) in a room (reverb), then the noise.
        wet = room + ".wet.wav"
        run(["sox", wav, wet, "highpass", "150", "lowpass", "9000", "reverb", "45", "50", "70", "100", "10",
             "gain", "-n", "-6"])
        run(["sox", "-m", wet, noise, room, "gain", "-n", "-3"])
        os.remove(wet)
        os.remove(noise)
        variants.append((song.name + "-room", room))
    for name, _ in variants:
        with open(os.path.join(out, name + ".beats"), "w") as f:
            for t, k in beats:
                f.write(f"{t:.4f}\t{k}\n")
        with open(os.path.join(out, name + ".toml"), "w") as f:
            f.write("\n".join(meta + [f"noisy_room = {'true' if name.endswith('-room') else 'false'}"]) + "\n")
    return [v[0] for v in variants]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=".hypna/beat-eval")
    ap.add_argument("--only", nargs="*", help="song names to (re)make")
    ap.add_argument("--secs", type=float, default=30.0, help="length of the simple clips")
    ap.add_argument("--no-noisy", action="store_true", help="skip the noisy-room versions")
    args = ap.parse_args()
    for tool in ("fluidsynth", "sox"):
        if shutil.which(tool) is None:
            sys.exit(f"beat-eval-set: `{tool}` not found; apt-get install fluidsynth fluid-soundfont-gm sox")
    soundfont = next((p for p in SOUNDFONT_CANDIDATES if os.path.isfile(p)), None)
    if soundfont is None:
        sys.exit("beat-eval-set: no GM sound font found; apt-get install fluid-soundfont-gm")
    os.makedirs(args.out, exist_ok=True)
    made = []
    for song in make_songs(args.secs):
        if args.only and song.name not in args.only:
            continue
        made += render(song, args.out, soundfont, not args.no_noisy)
        print(f"  {song.name}: {song.style}", flush=True)
    print(f"wrote {len(made)} clips to {args.out}")


if __name__ == "__main__":
    main()
