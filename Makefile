# The two commands of the README. Both install what is missing first (scripts/setup.sh).
#   make run    build and open the default scene (headless PNGs when there is no display)
#   make test   formatting, lints and the whole test suite (what CI runs)
SCENE ?= scenes/dream.toml

.PHONY: run test setup bench

TARGET ?= $(or $(CARGO_TARGET_DIR),target)

run:
	@scripts/setup.sh run
	cargo build --release
	@scripts/compile-dreams.sh $(TARGET)/release/hypna
	@scripts/play.sh $(SCENE)

# Set-up has installed everything the tests need (a Vulkan driver, ONNX Runtime, Xvfb, the
# OSC and audio peers), so a missing one fails its tests instead of skipping them.
# HYPNA_REQUIRE_GPU=0 make test skips them instead, with a printed SKIPPED line each.
test: export HYPNA_REQUIRE_GPU ?= 1
# The test binary creates GPU devices itself: without a desktop session Mesa's device-select
# layer would make libwayland print "XDG_RUNTIME_DIR is invalid" twice per device (the hypna
# command switches the layer off itself, see quiet_vulkan_device_select in src/main.rs).
test: export NODEVICE_SELECT ?= 1
test:
	@scripts/setup.sh test
	cargo fmt --check
	cargo clippy --all-targets -- -D warnings
	.hypna/venv/bin/python -m unittest discover -s models -p 'test_*.py'
	cargo build
	@scripts/compile-dreams.sh $(TARGET)/debug/hypna
	cargo test
	# MIDI end to end through real ports needs midir's JACK backend (docs/midi.md).
	cargo test --features midi-jack --test it midi_ports

bench:
	@scripts/setup.sh run
	cargo build --release
	@scripts/compile-dreams.sh $(TARGET)/release/hypna
	cargo run --release -- bench
