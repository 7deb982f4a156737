# The two commands of the README. Both install what is missing first (scripts/setup.sh).
#   make run    build and open the default scene (headless PNGs when there is no display)
#   make test   formatting, lints and the whole test suite (what CI runs)
SCENE ?= scenes/dream.toml

.PHONY: run test setup bench

run:
	@scripts/setup.sh run
	cargo build --release
	@scripts/play.sh $(SCENE)

test:
	@scripts/setup.sh test
	cargo fmt --check
	cargo clippy --all-targets -- -D warnings
	cargo test

bench:
	@scripts/setup.sh run
	cargo run --release -- bench
