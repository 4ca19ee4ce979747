"""`balancekit-server`: run or check an haproxy.cfg, with haproxy's own flags.

    balancekit-server -c -f haproxy.cfg            # check, like `haproxy -c -f`
    balancekit-server -f conf.d/ -f extra.cfg      # run (directories: their *.cfg in order)

Check mode prints every error as `file:line: message` and exits 1, or prints
"Configuration file is valid" and exits 0.  Warnings are printed as
`[WARNING] file:line: message` in both modes (`-q` silences them).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import ipaddress
import socket
import sys
from collections.abc import Sequence
from typing import Any

from balancekit.config import Config, ConfigErrors, LoadResult, load
from balancekit_server import native

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="balancekit-server",
        description="Run an haproxy.cfg with balancekit (HAProxy 2.6 compatible).",
    )
    parser.add_argument(
        "-f",
        dest="files",
        action="append",
        default=[],
        metavar="FILE",
        help="configuration file or directory of *.cfg files; repeatable, read in order",
    )
    parser.add_argument(
        "-c", dest="check", action="store_true", help="check the configuration and exit"
    )
    parser.add_argument("-q", dest="quiet", action="store_true", help="print no warnings")
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="worker processes sharing the listeners (default: nbthread, else 1)",
    )
    parser.add_argument(
        "--demo",
        nargs="?",
        const="default",
        default=None,
        metavar="NAME",
        help="run a seed scenario: weighted (default), roundrobin, random, source, uri, acl, "
        "tcp, l7, mysql (see docs/quickstart.md)",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=None,
        metavar="N",
        help="with --demo: the proxy's port (default 8080, or a free one if taken; 0 = any)",
    )
    parser.add_argument(
        "--version", action=_Version, nargs=0, help="print the version and build, then exit"
    )
    return parser


class _Version(argparse.Action):
    """`--version`, worked out only when asked: finding the compiled modules takes
    a dozen module lookups that every other start can skip."""

    def __call__(self, parser: argparse.ArgumentParser, *args: Any) -> None:
        try:
            number = importlib.metadata.version("balancekit")
        except importlib.metadata.PackageNotFoundError:
            number = "(not installed)"
        print(f"balancekit-server {number}, HAProxy 2.6 compatible; {native.describe()}")
        parser.exit()


# What `pip install 'balancekit[server]'` adds: the imports that running (not
# checking) a configuration needs.
SERVER_EXTRA_MODULES = frozenset(
    {"anyio", "starlette", "uvicorn", "httptools", "wsproto", "uvloop", "flask", "mypy_extensions"}
)


def _missing_server_extra(error: ModuleNotFoundError) -> bool:
    return (error.name or "").partition(".")[0] in SERVER_EXTRA_MODULES


def _print_missing_extra(error: ModuleNotFoundError) -> None:
    print(
        f"balancekit-server: running a configuration needs the server extra (missing module "
        f"'{error.name}'): pip install 'balancekit[server]'.  Checking one (-c) does not.",
        file=sys.stderr,
    )


def unresolvable_servers(config: Config) -> list[str]:
    """`file:line: message` for every server whose name does not resolve.

    HAProxy 2.6 resolves server names (its default `init-addr last,libc`) while it
    reads the configuration, so `haproxy -c` fails on one that does not resolve;
    the library reads no network, so the command does it here, for `-c` and a
    start alike.
    """
    errors: list[str] = []
    seen: dict[str, bool] = {}
    for name, backend in config.backends.items():
        for member in backend.backend.members:
            host = member.server.host
            if host in seen or _is_ip(host):
                continue
            try:
                socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
                seen[host] = True
            except (OSError, UnicodeError):
                seen[host] = False
                extra = backend.extras(member.name)
                where = f"{extra.file}:{extra.line}: " if extra.file else ""
                errors.append(
                    f"{where}'server {name}/{member.name}' : could not resolve address '{host}'"
                )
    return errors


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _print_warnings(result_warnings: Sequence[Any], quiet: bool) -> None:
    if quiet:
        return
    for warning in result_warnings:
        print(f"[WARNING] {warning}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status.

    0: valid (or ran); 1: configuration errors; 2: usage error, or (with -c) a
    valid configuration with no listener, as haproxy -c reports it.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.demo is not None:
        try:
            from balancekit_server.demo import run_demo
        except ModuleNotFoundError as missing:
            if not _missing_server_extra(missing):
                raise
            _print_missing_extra(missing)
            return 1
        return run_demo(args.demo, port=args.port)
    if not args.files:
        parser.print_usage(sys.stderr)
        print("balancekit-server: error: no configuration file given (-f FILE)", file=sys.stderr)
        return 2
    try:
        result = load(args.files)
    except ConfigErrors as failure:
        _print_warnings(failure.warnings, args.quiet)
        for problem in failure.errors:
            print(str(problem), file=sys.stderr)
        print(f"Configuration is invalid: {len(failure.errors)} error(s) found.", file=sys.stderr)
        return 1
    _print_warnings(result.warnings, args.quiet)
    unresolved = unresolvable_servers(result.config)
    if unresolved:
        for line in unresolved:
            print(line, file=sys.stderr)
        print(f"Configuration is invalid: {len(unresolved)} error(s) found.", file=sys.stderr)
        return 1
    if args.check:
        if not any(frontend.binds for frontend in result.config.frontends):
            # haproxy -c says the same and exits 2: valid, but nothing would listen.
            print(
                "Configuration file has no error but will not start (no listener) => exit(2).",
                file=sys.stderr,
            )
            return 2
        if not args.quiet:
            print("Configuration file is valid")
        return 0
    return _run_hook(result, args)


def _run_hook(result: LoadResult, args: argparse.Namespace) -> int:
    """Serve the configuration: the supervisor (`workers`, N processes or this one)
    around what serves one process (`reload.serve`, which re-reads the files on
    SIGUSR2/SIGHUP).  Imported here: checking needs neither, nor their dependencies.
    """
    try:
        from balancekit_server import reload, runtime, workers

        runtime.tune_gc()  # the process's own entry point: nothing else lives in it yet
        status = workers.run(
            result.config,
            reload.serve,
            files=list(args.files),
            quiet=args.quiet,
            workers=args.workers,
        )
    except ModuleNotFoundError as error:
        if not _missing_server_extra(error):
            raise
        _print_missing_extra(error)
        return 1
    return int(status or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
