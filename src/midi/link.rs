//! Ableton Link (the `link` cargo feature, off by default: the Link library is
//! GPL-2.0-or-later, so a build with it is a GPL build; docs/tempo.md). hypna joins the
//! session on the local network as a peer: it reads tempo and beat position as a beat source
//! ([`Link::tempo`]) and can set the session's tempo from its own analysis
//! ([`Link::set_tempo`]).
//!
//! Link runs its own threads (discovery, measurement); the app-thread calls used here capture
//! and commit a session state without waiting on the network.

use std::time::Instant;

use rusty_link::{AblLink, SessionState};

use super::clock::Tempo;

/// Beats per bar in Link's terms (the quantum): the bar of the beat globals.
const QUANTUM: f64 = 4.0;

/// A Link peer; see the module docs.
pub struct Link {
    link: AblLink,
    state: SessionState,
}

impl std::fmt::Debug for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Link")
            .field("peers", &self.link.num_peers())
            .finish_non_exhaustive()
    }
}

impl Link {
    /// Joins (or starts) a Link session, proposing `bpm` if it is the first peer.
    #[must_use]
    pub fn join(bpm: f64) -> Self {
        let link = AblLink::new(bpm);
        link.enable(true);
        Self {
            link,
            state: SessionState::new(),
        }
    }

    /// Other peers in the session.
    #[must_use]
    pub fn peers(&self) -> u64 {
        self.link.num_peers()
    }

    /// The session's tempo and beat position now (the beat on Link's timeline, so every peer
    /// agrees on beat and bar phase). Link's transport start/stop is not followed: the beat
    /// runs whenever the session exists.
    pub fn tempo(&mut self, _now: Instant) -> Option<Tempo> {
        self.link.capture_app_session_state(&mut self.state);
        let micros = self.link.clock_micros();
        let bpm = self.state.tempo();
        (bpm.is_finite() && bpm > 0.0).then(|| Tempo {
            bpm,
            beats: self.state.beat_at_time(micros, QUANTUM),
            running: true,
        })
    }

    /// Sets the session's tempo (every peer follows), from now.
    pub fn set_tempo(&mut self, bpm: f64) {
        if !(bpm.is_finite() && (20.0..=999.0).contains(&bpm)) {
            return;
        }
        self.link.capture_app_session_state(&mut self.state);
        let micros = self.link.clock_micros();
        self.state.set_tempo(bpm, micros);
        self.link.commit_app_session_state(&self.state);
    }
}
