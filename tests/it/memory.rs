//! The memory janitor (`hypna::ops::memory`): freed memory that glibc keeps in an arena
//! is given back, and requests are served. A test binary of its own, so that no other test
//! allocates while resident memory is compared.

use std::time::Duration;

use crate::common;

use hypna::ops::health::resident_memory_bytes;
use hypna::ops::memory::{configure_allocator, release_now, release_soon, stats};

#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[test]
fn freed_memory_held_by_an_arena_is_given_back() {
    if !common::alone("memory::freed_memory_held_by_an_arena_is_given_back", &[]) {
        return;
    }
    // A thread allocates 64 MiB in 16 KiB blocks (below the mmap threshold, so they live in
    // its arena), keeps the last block alive so that the arena's top cannot shrink, frees the
    // rest and ends. The freed pages stay resident: that is what a switched-out scene leaves.
    let keep = std::thread::spawn(|| {
        let mut blocks: Vec<Vec<u8>> = (0..4096).map(|_| vec![1u8; 16 * 1024]).collect();
        let keep = blocks.pop();
        drop(blocks);
        keep
    })
    .join()
    .unwrap();
    let before = resident_memory_bytes().unwrap();
    let counts = stats();
    assert!(release_now(), "expected glibc to release the freed blocks");
    let after = resident_memory_bytes().unwrap();
    assert!(
        before.saturating_sub(after) > 48 << 20,
        "expected the trim to give back most of the 64 MiB freed: {before} -> {after} bytes"
    );
    assert_eq!(stats().trims, counts.trims + 1);
    assert_eq!(stats().released, counts.released + 1);
    drop(keep);
}

#[test]
fn a_burst_of_requests_is_served_by_the_janitor() {
    if !common::alone("memory::a_burst_of_requests_is_served_by_the_janitor", &[]) {
        return;
    }
    let before = stats();
    for _ in 0..100 {
        release_soon();
    }
    // Wait until the janitor has served every request, then count its trims.
    common::wait_until(
        "the janitor to serve 100 requests",
        Duration::from_secs(10),
        || stats().served >= before.served + 100,
    );
    // The burst is one trim (or two, when the first request woke the janitor early).
    let trims = stats().trims - before.trims;
    assert!(
        (1..=2).contains(&trims),
        "expected a burst of 100 requests to cause 1-2 trims, got {trims}"
    );
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[test]
fn large_blocks_go_back_to_the_system_every_time_they_are_freed() {
    if !common::alone(
        "memory::large_blocks_go_back_to_the_system_every_time_they_are_freed",
        &[],
    ) {
        return;
    }
    // With glibc's default, the first free of a 24 MiB block raises the mmap threshold to
    // 24 MiB and the trim threshold to 48 MiB: the second block then comes from an arena and
    // stays resident after it is freed.
    assert!(
        configure_allocator(),
        "expected the thresholds to be set (is MALLOC_*_THRESHOLD_ or GLIBC_TUNABLES set?)"
    );
    let base = resident_memory_bytes().unwrap();
    for round in 0..3 {
        std::thread::spawn(|| {
            let block = vec![1u8; 24 << 20];
            std::hint::black_box(&block);
        })
        .join()
        .unwrap();
        let now = resident_memory_bytes().unwrap();
        assert!(
            now < base + (8 << 20),
            "expected a freed 24 MiB block to leave resident memory, round {round}: \
             {base} -> {now} bytes"
        );
    }
}
