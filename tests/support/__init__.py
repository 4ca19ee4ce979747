"""Real-process helpers for the test suite: HAProxy, loopback backends, clients."""
