"""balancekit inside other programs: the Starlette/ASGI middleware, and
the `--demo` scenarios."""
