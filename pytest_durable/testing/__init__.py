"""The pytest face of pytest-durable: the plugin, the ``durable_sim`` harness, assertions, Hypothesis
strategies and state machine, pinned regressions, and a throwaway PostgreSQL server for tests."""
