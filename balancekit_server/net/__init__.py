"""Sockets and bytes: the epoll poller and its C relay loop, socket options,
TLS on the wire, the PROXY protocol, the timer wheel the sessions share."""
