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
import os
import sys
from collections.abc import Sequence
from typing import Any

from balancekit.config import ConfigErrors, LoadResult, load
from balancekit_server import native
from balancekit_server.process.init_addr import resolve_servers

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
    # haproxy's own flags that varnishtest (HAProxy's reg-tests) and init scripts pass
    parser.add_argument(
        "-cc",
        dest="condition",
        default=None,
        metavar="COND",
        help="evaluate a conditional-block condition (`.if` syntax): exit 0 if true, "
        "1 if false, 2 if it cannot be evaluated",
    )
    parser.add_argument(
        "-d", dest="debug", action="store_true", help="foreground (haproxy's debug mode)"
    )
    parser.add_argument("-db", dest="foreground", action="store_true", help="foreground")
    parser.add_argument(
        "-D", dest="daemon", action="store_true", help="go to the background (daemon)"
    )
    parser.add_argument(
        "-W",
        dest="master_worker",
        action="store_true",
        help="master-worker mode: accepted (balancekit-server always supervises its workers)",
    )
    parser.add_argument(
        "-S",
        dest="master_cli",
        default=None,
        metavar="ADDR",
        help="haproxy's master CLI socket: accepted with a warning, not served",
    )
    parser.add_argument(
        "-L",
        dest="peer_name",
        default=None,
        metavar="NAME",
        help="local peer name in `peers` sections (default: localpeer, else the host name)",
    )
    parser.add_argument(
        "-p", dest="pidfile", default=None, metavar="FILE", help="write the process id to FILE"
    )
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
            from balancekit_server.integrations.demo import run_demo
        except ModuleNotFoundError as missing:
            if not _missing_server_extra(missing):
                raise
            _print_missing_extra(missing)
            return 1
        return run_demo(args.demo, port=args.port)
    if args.condition is not None:
        return _check_condition(args.condition)
    if not args.files:
        parser.print_usage(sys.stderr)
        print("balancekit-server: error: no configuration file given (-f FILE)", file=sys.stderr)
        return 2
    if args.peer_name:
        # As HAProxy does: the name reaches the config (and reloads, and workers) this way.
        os.environ["HAPROXY_LOCALPEER"] = args.peer_name
    try:
        result = load(args.files)
    except ConfigErrors as failure:
        _print_warnings(failure.warnings, args.quiet)
        for problem in failure.errors:
            print(str(problem), file=sys.stderr)
        print(f"Configuration is invalid: {len(failure.errors)} error(s) found.", file=sys.stderr)
        return 1
    _print_warnings(result.warnings, args.quiet)
    # HAProxy gives server names their address while it reads the configuration
    # (`init-addr`), so `haproxy -c` fails on one that does not resolve; the library
    # reads no network, so the command does it here, for `-c` and a start alike.
    addresses = resolve_servers(result.config)
    _print_warnings(addresses.warnings, args.quiet)
    if addresses.errors:
        for line in addresses.errors:
            print(line, file=sys.stderr)
        count = len(addresses.errors)
        print(f"Configuration is invalid: {count} error(s) found.", file=sys.stderr)
        return 1
    if args.check:
        # HAProxy reads the server state files in check mode too, and says what is wrong.
        from balancekit_server.ops.server_state import read_states

        _print_warnings(read_states(result.config)[1], args.quiet)
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
    if args.master_cli is not None and not args.quiet:
        print(
            f"[WARNING] -S {args.master_cli}: balancekit-server has no master CLI; "
            "use a 'stats socket' (the flag is accepted and otherwise ignored)",
            file=sys.stderr,
        )
    if args.daemon:
        child = os.fork()
        if child:  # the parent reports the daemon's pid and leaves it running
            _write_pidfile(args.pidfile, child)
            return 0
        os.setsid()
    else:
        _write_pidfile(args.pidfile, os.getpid())
    return _run_hook(result, args)


def _write_pidfile(path: str | None, pid: int) -> None:
    """`-p FILE`: the pid of the process that supervises the workers, as haproxy -p."""
    if path is not None:
        with open(path, "w") as out:
            out.write(f"{pid}\n")


def _check_condition(condition: str) -> int:
    """`-cc COND`, as haproxy -cc: 0 true, 1 false (an empty condition too), 2 (with
    an ALERT) unparsable.

    Predicates about HAProxy's build (`feature(OPENSSL)`…) cannot be answered for
    balancekit: they are errors here too, as in a `.if` block.
    """
    from balancekit.config._cond import evaluate
    from balancekit.config.lexer import split_words

    try:
        # Read as a config line is (quotes, escapes, ${VAR}), then as `.if` reads it.
        words = split_words(condition, env=os.environ)
        if not words:
            return 1  # haproxy: an empty condition is false
        return 0 if evaluate(" ".join(words), os.environ) else 1
    except ValueError as exc:  # ConfigError is one too
        print(f"[ALERT] Failed to evaluate condition: {exc}", file=sys.stderr)
        return 2


def _run_hook(result: LoadResult, args: argparse.Namespace) -> int:
    """Serve the configuration: the supervisor (`workers`, N processes or this one)
    around what serves one process (`reload.serve`, which re-reads the files on
    SIGUSR2/SIGHUP).  Imported here: checking needs neither, nor their dependencies.
    """
    try:
        from balancekit_server.process import reload, runtime, workers

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
