"""One running configuration and its process: the runtime (listeners,
signals), process-wide limits, reload on the same sockets, and `--workers`."""
