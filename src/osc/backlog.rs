//! What the socket thread holds while the frame loop's ring is full: events in arrival
//! order, where a new value for a param replaces the value of that param still waiting
//! (counted as [`Counter::Coalesced`]). So under any flood the newest value of every param
//! reaches the frame loop, and old values are what is dropped, never the last one.
//!
//! Size: at most `capacity` other events (beyond it they are dropped and counted as
//! [`Counter::QueueOverflow`]) plus one waiting value per param, so the backlog is bounded by
//! the scene. Timed bundle messages are not coalesced (each has its own time).

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use super::counters::{Counter, OscCounters};
use super::ingest::Queued;
use super::route::OscEvent;

/// Events waiting for room in the ring, oldest first.
#[derive(Debug)]
pub(crate) struct Backlog {
    /// Waiting events; `None` where a value was replaced by a newer one.
    items: VecDeque<Option<Queued>>,
    /// Absolute position (see `base`) of the waiting immediate value of each param.
    params: HashMap<Arc<str>, u64>,
    /// Absolute position of `items[0]`.
    base: u64,
    /// Waiting events that are not param values.
    others: usize,
    capacity: usize,
}

/// The param an event sets at once (not timed), if it is one.
fn immediate_param(q: &Queued) -> Option<&Arc<str>> {
    match (&q.event, q.due) {
        (OscEvent::SetParam { name, .. }, None) => Some(name),
        _ => None,
    }
}

impl Backlog {
    /// An empty backlog holding up to `capacity` events besides param values.
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            items: VecDeque::new(),
            params: HashMap::new(),
            base: 0,
            others: 0,
            capacity,
        }
    }

    /// True when nothing waits.
    pub(crate) fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Hands `q` on: straight into the ring when nothing waits and there is room, else into
    /// the backlog (coalescing param values, dropping other events beyond the capacity).
    pub(crate) fn offer(
        &mut self,
        q: Queued,
        producer: &mut rtrb::Producer<Queued>,
        counters: &OscCounters,
    ) {
        let q = if self.items.is_empty() {
            match producer.push(q) {
                Ok(()) => return,
                Err(rtrb::PushError::Full(q)) => q,
            }
        } else {
            q
        };
        self.hold(q, counters);
    }

    fn hold(&mut self, q: Queued, counters: &OscCounters) {
        let position = self.base + self.items.len() as u64;
        if let Some(name) = immediate_param(&q) {
            if let Some(old) = self.params.insert(Arc::clone(name), position) {
                let slot = usize::try_from(old - self.base)
                    .ok()
                    .and_then(|i| self.items.get_mut(i));
                if let Some(slot) = slot {
                    *slot = None;
                }
                counters.problem(Counter::Coalesced, || {
                    "the frame loop's queue is full: older values of a param are replaced by its newest".into()
                });
            }
        } else {
            if self.others >= self.capacity {
                counters.problem(Counter::QueueOverflow, || {
                    "event queue full (the frame loop is not draining); events other than param values dropped".into()
                });
                return;
            }
            self.others += 1;
        }
        self.items.push_back(Some(q));
    }

    /// Moves waiting events into the ring, oldest first, while there is room.
    pub(crate) fn flush(&mut self, producer: &mut rtrb::Producer<Queued>) {
        while let Some(front) = self.items.front_mut() {
            if let Some(q) = front.take() {
                let param = immediate_param(&q).cloned();
                if let Err(rtrb::PushError::Full(q)) = producer.push(q) {
                    *front = Some(q);
                    return;
                }
                match param {
                    // The entry is this slot's unless a newer value replaced it since.
                    Some(name) if self.params.get(&name) == Some(&self.base) => {
                        self.params.remove(&name);
                    }
                    Some(_) => {}
                    None => self.others = self.others.saturating_sub(1),
                }
            }
            self.items.pop_front();
            self.base += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    fn set(name: &Arc<str>, value: f32) -> Queued {
        Queued {
            due: None,
            received_at: Instant::now(),
            event: OscEvent::SetParam {
                name: Arc::clone(name),
                value,
            },
        }
    }

    fn drain(consumer: &mut rtrb::Consumer<Queued>) -> Vec<OscEvent> {
        let mut out = Vec::new();
        while let Ok(q) = consumer.pop() {
            out.push(q.event);
        }
        out
    }

    #[test]
    fn a_full_ring_keeps_the_newest_value_of_every_param_in_order() {
        let counters = OscCounters::default();
        let (mut producer, mut consumer) = rtrb::RingBuffer::new(2);
        let mut backlog = Backlog::new(8);
        let (a, b): (Arc<str>, Arc<str>) = ("a".into(), "b".into());
        for i in 0..1000 {
            backlog.offer(set(&a, i as f32), &mut producer, &counters);
            backlog.offer(set(&b, -(i as f32)), &mut producer, &counters);
        }
        let tap = Queued {
            due: None,
            received_at: Instant::now(),
            event: OscEvent::Tap,
        };
        backlog.offer(tap, &mut producer, &counters);
        // The ring took the first two; a and b wait with their newest values, then the tap.
        assert_eq!(drain(&mut consumer).len(), 2);
        backlog.flush(&mut producer);
        let first = drain(&mut consumer);
        backlog.flush(&mut producer);
        let second = drain(&mut consumer);
        assert!(backlog.is_empty());
        let all: Vec<OscEvent> = first.into_iter().chain(second).collect();
        assert_eq!(
            all,
            vec![
                OscEvent::SetParam {
                    name: Arc::clone(&a),
                    value: 999.0
                },
                OscEvent::SetParam {
                    name: Arc::clone(&b),
                    value: -999.0
                },
                OscEvent::Tap
            ]
        );
        // 2000 values + 1 tap: 2 went straight in, 2 newest waited, the rest were replaced.
        assert_eq!(counters.get(Counter::Coalesced), 2000 - 4);
        assert_eq!(counters.get(Counter::QueueOverflow), 0);
    }

    #[test]
    fn other_events_beyond_the_capacity_are_dropped_and_counted() {
        let counters = OscCounters::default();
        let (mut producer, mut consumer) = rtrb::RingBuffer::new(1);
        let mut backlog = Backlog::new(3);
        for _ in 0..10 {
            let q = Queued {
                due: None,
                received_at: Instant::now(),
                event: OscEvent::Tap,
            };
            backlog.offer(q, &mut producer, &counters);
        }
        let a: Arc<str> = "a".into();
        backlog.offer(set(&a, 1.0), &mut producer, &counters);
        assert_eq!(counters.get(Counter::QueueOverflow), 6);
        let mut got = drain(&mut consumer);
        for _ in 0..5 {
            backlog.flush(&mut producer);
            got.extend(drain(&mut consumer));
        }
        assert_eq!(got.len(), 5, "1 + 3 taps + the param value");
        assert_eq!(
            got.last(),
            Some(&OscEvent::SetParam {
                name: a,
                value: 1.0
            })
        );
    }
}
