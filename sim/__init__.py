"""The deterministic simulator (DESIGN §5): durable workflows in one seeded, single-threaded trio
world with injected faults. Built out in its own issue; this package reserves its place."""
