//! MIDI: scene bindings with located errors (no ports needed), and end to end through real
//! MIDI ports: a private JACK server with its dummy driver (no sound hardware), a test sender
//! and receiver made with midir (a second client), and hypna's MIDI service between them:
//! CC to params, learn saved to the settings file, feedback out, MIDI clock tempo, program
//! change, and hot-plug (the sender's port goes away and comes back).
//!
//! The port test needs hypna built with the `midi-jack` feature (midir's JACK backend), which
//! `make test` runs as its own step: `cargo test --features midi-jack --test it midi_ports`.
//! ALSA (the default backend) needs `/dev/snd/seq`, which containers and CI runners lack.

use hypna::scene::Scene;

/// A scene with `param` lines in `[params.zoom]`, written to a temp dir.
fn scene_with(param: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("p.wgsl"),
        "@fragment fn fs_main(@builtin(position) p: vec4f) -> @location(0) vec4f { return vec4f(params.zoom); }\n",
    )
    .unwrap();
    let path = dir.path().join("s.toml");
    std::fs::write(
        &path,
        format!(
            "[scene]\nname = \"m\"\n\n[params.zoom]\ndefault = 0.0\nrange = [-2, 2]\n{param}\n\n[[pass]]\nname = \"p\"\nshader = \"p.wgsl\"\n"
        ),
    )
    .unwrap();
    (dir, path)
}

#[test]
fn midi_bindings_in_scenes_are_parsed_and_errors_located() {
    let (_d, path) = scene_with("midi = \"cc 1 74\"");
    let scene = Scene::read(&path).unwrap();
    assert_eq!(scene.params[0].midi.unwrap().to_string(), "cc 1 74");
    let (_d, path) = scene_with("midi = { note = 60, channel = 10, mode = \"velocity\" }");
    let scene = Scene::read(&path).unwrap();
    assert_eq!(
        scene.params[0].midi.unwrap().to_string(),
        "note 10 60 velocity"
    );
    let (_d, path) = scene_with("midi = \"cc 17 74\"");
    let err = Scene::read(&path).unwrap_err().to_string();
    assert!(
        err.contains("s.toml:7:8") && err.contains("param `zoom`") && err.contains("channel 17"),
        "{err}"
    );
    let (_d, path) = scene_with("midi = { cc = 1, note = 2 }");
    let err = Scene::read(&path).unwrap_err().to_string();
    assert!(
        err.contains("s.toml:7:") && err.contains("exactly one"),
        "{err}"
    );
}

#[cfg(feature = "midi-jack")]
mod ports {
    use std::path::Path;
    use std::process::{Child, Command, Stdio};
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    use hypna::midi::{Midi, MidiAction};
    use hypna::scene::midi::{ControllerMap, MidiBinding, MidiConfig};
    use hypna::scene::{Location, ParamDef};
    use midir::os::unix::{VirtualInput, VirtualOutput};
    use midir::{MidiInput, MidiInputConnection, MidiOutput, MidiOutputConnection};

    use crate::common;

    const CHILD_ENV: &str = "HYPNA_MIDI_JACK_CHILD";
    const SERVER: &str = "hypna-midi-test";
    const WAIT: Duration = Duration::from_secs(20);

    fn param(name: &str, min: f32, max: f32, midi: Option<&str>) -> ParamDef {
        ParamDef {
            name: name.into(),
            at: Location::default(),
            default: 0.0,
            min,
            max,
            smooth_secs: 0.0,
            label: name.into(),
            group: None,
            osc: Vec::new(),
            midi: midi.map(|m| MidiBinding::parse(m).unwrap()),
            modulation: None,
            names: Vec::new(),
        }
    }

    /// The private JACK server, killed when dropped.
    struct Jack(Child);

    impl Drop for Jack {
        fn drop(&mut self) {
            drop(self.0.kill());
            drop(self.0.wait());
        }
    }

    fn start_jack() -> Jack {
        let child = Command::new("jackd")
            .args([
                "--no-realtime",
                "-n",
                SERVER,
                "-d",
                "dummy",
                "-r",
                "48000",
                "-p",
                "256",
            ])
            .env("JACK_NO_AUDIO_RESERVATION", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("jackd starts");
        let jack = Jack(child);
        common::wait_until("the JACK server", WAIT, || {
            Command::new("jack_lsp")
                .env("JACK_DEFAULT_SERVER", SERVER)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        });
        jack
    }

    fn sender() -> MidiOutputConnection {
        MidiOutput::new("midi-test")
            .unwrap()
            .create_virtual("ctl")
            .unwrap()
    }

    /// Frames: drains `midi` until `want` holds for what came out, calling `feedback` each
    /// frame with the targets.
    fn frames(
        midi: &mut Midi,
        params: &[ParamDef],
        targets: &mut [f32],
        what: &str,
        mut want: impl FnMut(&[MidiAction], &Midi) -> bool,
    ) -> Vec<MidiAction> {
        let mut seen = Vec::new();
        common::wait_until(what, WAIT, || {
            midi.drain(params, |a| seen.push(a));
            for a in &seen {
                if let MidiAction::Param { param, value } = a {
                    targets[*param] = *value;
                }
            }
            midi.feedback(targets.iter().copied(), params);
            want(&seen, midi)
        });
        seen
    }

    #[test]
    fn midi_ports_end_to_end() {
        let test = "midi_ports_end_to_end";
        let have_jack = Command::new("jackd")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok();
        if !common::prerequisite(test, "jackd", have_jack, "apt-get install jackd2") {
            return;
        }
        if std::env::var_os(CHILD_ENV).is_none() {
            // Its own process: the JACK server's name is read from the environment.
            common::take_turn(common::Turn::Timing);
            let dir = tempfile::tempdir().unwrap();
            common::alone(
                &format!("midi::ports::{test}"),
                &[
                    (CHILD_ENV, dir.path().as_os_str()),
                    ("JACK_DEFAULT_SERVER", std::ffi::OsStr::new(SERVER)),
                    ("JACK_NO_AUDIO_RESERVATION", std::ffi::OsStr::new("1")),
                ],
            );
            return;
        }
        let dir = std::path::PathBuf::from(std::env::var_os(CHILD_ENV).unwrap());
        let _jack = start_jack();
        run(&dir);
    }

    fn run(dir: &Path) {
        let settings = dir.join("hypna.toml");
        let params = [
            param("zoom", -2.0, 2.0, Some("cc 1 74")),
            param("speed", 0.0, 1.0, None),
            param("hue", 0.0, 1.0, None),
        ];
        let mut targets = [0.0f32; 3];
        let config = MidiConfig {
            inputs: vec!["midi-test".into()],
            outputs: vec!["midi-fb".into()],
            poll: Duration::from_millis(100),
            controllers: vec![ControllerMap {
                port: "midi-test".into(),
                bindings: vec![("speed".into(), MidiBinding::parse("cc 1 1").unwrap())],
            }],
            ..MidiConfig::default()
        };
        let received = Arc::new(Mutex::new(Vec::<Vec<u8>>::new()));
        let sink = Arc::clone(&received);
        let _feedback: MidiInputConnection<()> = MidiInput::new("midi-fb")
            .unwrap()
            .create_virtual(
                "fb",
                move |_, bytes, ()| sink.lock().unwrap().push(bytes.to_vec()),
                (),
            )
            .unwrap();
        let mut out = sender();
        let mut midi = Midi::start(config, Some(settings.clone()), &params).unwrap();
        frames(
            &mut midi,
            &params,
            &mut targets,
            "the sender's port connected",
            |_, m| m.status().inputs == 1 && m.status().outputs == 1,
        );

        // A scene binding and a controller binding, scaled into their ranges.
        out.send(&[0xb0, 74, 127]).unwrap();
        out.send(&[0xb0, 1, 64]).unwrap();
        let seen = frames(
            &mut midi,
            &params,
            &mut targets,
            "CC 74 and CC 1",
            |seen, _| seen.len() >= 2,
        );
        assert_eq!(
            seen[..2],
            [
                MidiAction::Param {
                    param: 0,
                    value: 2.0
                },
                MidiAction::Param {
                    param: 1,
                    value: 64.0 / 127.0
                },
            ]
        );

        // Feedback: a change made elsewhere goes out as CC on the feedback port; what the
        // controller sent itself is not echoed.
        received.lock().unwrap().clear();
        targets[0] = 0.0;
        frames(
            &mut midi,
            &params,
            &mut targets,
            "feedback CC 74 = 64",
            |_, _| {
                received
                    .lock()
                    .unwrap()
                    .iter()
                    .any(|m| m == &[0xb0, 74, 64])
            },
        );
        assert!(
            !received.lock().unwrap().iter().any(|m| m == &[0xb0, 1, 64]),
            "an echo of the controller's own value: {:?}",
            received.lock().unwrap()
        );

        // MIDI learn: the next control moved binds to `hue` and is saved.
        midi.learn(Some(2));
        out.send(&[0xb3, 20, 127]).unwrap();
        let seen = frames(
            &mut midi,
            &params,
            &mut targets,
            "learned CC 20",
            |seen, _| {
                seen.iter()
                    .any(|a| matches!(a, MidiAction::Param { param: 2, .. }))
            },
        );
        assert!(
            seen.iter().any(|a| matches!(a, MidiAction::Learned { param: 2, binding, .. } if binding.to_string() == "cc 4 20")),
            "{seen:?}"
        );
        assert_eq!(midi.learning(), None);
        common::wait_until("the learned binding saved", WAIT, || {
            std::fs::read_to_string(&settings).is_ok_and(|t| t.contains("hue = \"cc 4 20\""))
        });
        let saved = hypna::settings::load(&settings).unwrap().midi.unwrap();
        assert!(
            saved
                .controllers
                .iter()
                .any(|c| c.port.contains("midi-test")
                    && c.bindings
                        .iter()
                        .any(|(p, b)| p == "hue" && b.to_string() == "cc 4 20")),
            "{saved:?}"
        );

        // Program change: a scene switch.
        out.send(&[0xc0, 3]).unwrap();
        frames(
            &mut midi,
            &params,
            &mut targets,
            "program change 3",
            |seen, _| seen.contains(&MidiAction::Program(3)),
        );

        // MIDI clock at 120 BPM: start, then two beats of clocks on a fixed schedule.
        out.send(&[0xfa]).unwrap();
        let t0 = Instant::now();
        let tick = Duration::from_secs_f64(60.0 / (120.0 * 24.0));
        for k in 0..=48u32 {
            let due = t0 + tick * k;
            std::thread::sleep(due.saturating_duration_since(Instant::now()));
            out.send(&[0xf8]).unwrap();
        }
        let mut tempo = None;
        frames(
            &mut midi,
            &params,
            &mut targets,
            "the clock's tempo",
            |_, m| {
                tempo = m.tempo(Instant::now());
                tempo.is_some_and(|t| t.beats >= 2.0)
            },
        );
        let tempo = tempo.unwrap();
        assert!((tempo.bpm - 120.0).abs() < 3.0, "{tempo:?}");
        assert!(tempo.running && tempo.beats < 2.1, "{tempo:?}");

        // Hot-plug: the controller goes away and comes back.
        drop(out);
        frames(&mut midi, &params, &mut targets, "the port gone", |_, m| {
            m.status().inputs == 0 && m.status().disconnects == 1
        });
        let mut out = sender();
        frames(&mut midi, &params, &mut targets, "the port back", |_, m| {
            m.status().inputs == 1 && m.status().connects == 2
        });
        out.send(&[0xb0, 74, 0]).unwrap();
        frames(
            &mut midi,
            &params,
            &mut targets,
            "CC after the re-plug",
            |seen, _| {
                seen.contains(&MidiAction::Param {
                    param: 0,
                    value: -2.0,
                })
            },
        );
        assert_eq!(midi.status().dropped, 0);
    }
}

/// Two Ableton Link peers in this process find each other over the machine's network
/// interfaces (multicast, no other machine): a tempo set on either is followed by the other,
/// and they agree on the beat. Only with `--features link` (GPL; docs/tempo.md).
#[cfg(feature = "link")]
#[test]
fn link_peers_share_tempo_and_beat() {
    use std::time::{Duration, Instant};

    use hypna::midi::link::Link;

    let wait = Duration::from_secs(30);
    let mut a = Link::join(120.0);
    let mut b = Link::join(120.0);
    crate::common::wait_until("the two Link peers find each other", wait, || {
        a.peers() >= 1 && b.peers() >= 1
    });
    // Link sends tempo as microseconds per beat: 133 BPM arrives as 133.00002.
    b.set_tempo(133.0);
    crate::common::wait_until("peer a follows 133 BPM", wait, || {
        a.tempo(Instant::now())
            .is_some_and(|t| (t.bpm - 133.0).abs() < 0.01)
    });
    a.set_tempo(97.0);
    crate::common::wait_until("peer b follows 97 BPM", wait, || {
        b.tempo(Instant::now())
            .is_some_and(|t| (t.bpm - 97.0).abs() < 0.01)
    });
    let (ta, tb) = (
        a.tempo(Instant::now()).unwrap(),
        b.tempo(Instant::now()).unwrap(),
    );
    let apart = (ta.beats - tb.beats).rem_euclid(4.0);
    assert!(apart.min(4.0 - apart) < 0.05, "{ta:?} {tb:?}");
}
