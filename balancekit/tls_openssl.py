"""The two OpenSSL settings HAProxy configs use that Python's `ssl` module cannot
make: TLS 1.3 cipher suites (`ciphersuites`) and key exchange groups (`curves`).

`ssl.SSLContext` wraps an OpenSSL `SSL_CTX` and offers only `set_ciphers` (TLS 1.2
and below) and `set_ecdh_curve` (one curve).  OpenSSL itself has
`SSL_CTX_set_ciphersuites` and `SSL_CTX_set1_groups_list`; this module calls them,
through ctypes, on the very `SSL_CTX` the context holds, in the libssl that Python's
`_ssl` module is linked with (so there is one OpenSSL in the process, never two).

The `SSL_CTX` pointer is the first field after the object header of CPython's
`PySSLContext`.  Before any call, the pointer is checked against the context: the
options OpenSSL reports for it must be those Python reports.  If CPython ever lays
the object out differently, the settings fail with a clear error rather than
writing to the wrong memory.
"""

from __future__ import annotations

import ctypes
import ssl

__all__ = ["OpenSSLUnavailable", "set_ciphersuites", "set_groups"]

#: `SSL_CTRL_SET_GROUPS_LIST`: `SSL_CTX_set1_groups_list` is a macro over SSL_CTX_ctrl.
_SET_GROUPS_LIST = 92


class OpenSSLUnavailable(RuntimeError):
    """The running Python gives no safe way to reach its OpenSSL."""


class _LibSSL:
    """libssl's functions, loaded on first use."""

    def __init__(self) -> None:
        import _ssl  # the extension module: its handle also resolves libssl's symbols

        path = getattr(_ssl, "__file__", None)
        if path is None:
            raise OpenSSLUnavailable(
                "Python's _ssl module is built in; its OpenSSL is not reachable"
            )
        lib = ctypes.CDLL(path)
        try:
            self.get_options = lib.SSL_CTX_get_options
            self.set_ciphersuites = lib.SSL_CTX_set_ciphersuites
            self.ctrl = lib.SSL_CTX_ctrl
            self.clear_errors = lib.ERR_clear_error
        except AttributeError as exc:  # an OpenSSL older than 1.1.1, or LibreSSL
            raise OpenSSLUnavailable(f"this OpenSSL lacks {exc}") from None
        self.get_options.argtypes = [ctypes.c_void_p]
        self.get_options.restype = ctypes.c_uint64
        self.set_ciphersuites.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
        self.set_ciphersuites.restype = ctypes.c_int
        self.ctrl.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_long, ctypes.c_char_p]
        self.ctrl.restype = ctypes.c_long


_lib: _LibSSL | None = None


def _ssl_ctx(ctx: ssl.SSLContext) -> tuple[_LibSSL, int]:
    global _lib
    if _lib is None:
        _lib = _LibSSL()
    pointer = ctypes.c_void_p.from_address(id(ctx) + object.__basicsize__).value
    if not pointer or _lib.get_options(pointer) != int(ctx.options):
        raise OpenSSLUnavailable("cannot find the OpenSSL context of this Python's SSLContext")
    return _lib, pointer


def set_ciphersuites(ctx: ssl.SSLContext, suites: str) -> None:
    """Offer and accept exactly these TLS 1.3 cipher suites (`TLS_AES_128_GCM_SHA256:…`).

    Raises ValueError when OpenSSL accepts none of them, as HAProxy refuses the line.
    """
    lib, pointer = _ssl_ctx(ctx)
    if lib.set_ciphersuites(pointer, suites.encode()) != 1:
        lib.clear_errors()  # leave no stale error for Python's next ssl call to find
        raise ValueError(f"unable to set TLS 1.3 cipher suites to '{suites}'")


def set_groups(ctx: ssl.SSLContext, groups: str) -> None:
    """Offer these key exchange groups, in this order (`X25519:P-256`: HAProxy's
    `curves`).  Raises ValueError for a list OpenSSL refuses."""
    lib, pointer = _ssl_ctx(ctx)
    if lib.ctrl(pointer, _SET_GROUPS_LIST, 0, groups.encode()) != 1:
        lib.clear_errors()
        raise ValueError(f"unable to set SSL curves list to '{groups}'")
