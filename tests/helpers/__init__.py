"""Workflows, scenarios and helpers the tests share: worker worlds under a virtual clock (``worlds``),
scenario modules the simulator isolates, the live app worker processes serve, and the kill -9 soak."""
