"""What operators see and steer: log lines, traffic counters, health-check
probes, the runtime API (`stats socket`), the stats page and Prometheus metrics."""
