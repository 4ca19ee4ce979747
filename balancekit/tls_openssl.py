"""The OpenSSL settings HAProxy configs use that Python's `ssl` module cannot make:
TLS 1.3 cipher suites (`ciphersuites`), key exchange groups (`curves`), and the
Diffie-Hellman group of DHE ciphers from memory or by name (`ssl-dh-param-file`,
`tune.ssl.default-dh-param`, DH parameters inside a certificate file).

`ssl.SSLContext` wraps an OpenSSL `SSL_CTX` and offers only `set_ciphers` (TLS 1.2
and below) and `set_ecdh_curve` (one curve).  OpenSSL itself has
`SSL_CTX_set_ciphersuites`, `SSL_CTX_set1_groups_list` and
`SSL_CTX_set0_tmp_dh_pkey`; this module calls them,
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
from typing import Any

__all__ = [
    "OpenSSLUnavailable",
    "key_bits",
    "set_ciphersuites",
    "set_dh_group",
    "set_dh_params",
    "set_groups",
]

#: `SSL_CTRL_SET_GROUPS_LIST`: `SSL_CTX_set1_groups_list` is a macro over SSL_CTX_ctrl.
_SET_GROUPS_LIST = 92
#: `EVP_PKEY_RSA`, `EVP_PKEY_DSA`: the key types whose size bounds the DH group.
_RSA, _DSA = 6, 116
#: RFC 7919's groups, by size: the ones HAProxy 2.6 uses with OpenSSL 3.
_FFDHE = {2048: 1126, 4096: 1128}


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
        self.lib = lib
        self.get_options.argtypes = [ctypes.c_void_p]
        self.get_options.restype = ctypes.c_uint64
        self.set_ciphersuites.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
        self.set_ciphersuites.restype = ctypes.c_int
        self.ctrl.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_long, ctypes.c_char_p]
        self.ctrl.restype = ctypes.c_long


_lib: _LibSSL | None = None


def _ssl_ctx(ctx: ssl.SSLContext) -> tuple[_LibSSL, int]:
    lib = _loaded()
    pointer = ctypes.c_void_p.from_address(id(ctx) + object.__basicsize__).value
    if not pointer or lib.get_options(pointer) != int(ctx.options):
        raise OpenSSLUnavailable("cannot find the OpenSSL context of this Python's SSLContext")
    return lib, pointer


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


def _function(name: str, argtypes: list[object], restype: object) -> Any:
    """An OpenSSL 3 function (libcrypto's too, through _ssl's handle), typed."""
    try:
        function = getattr(_loaded().lib, name)
    except AttributeError:
        raise OpenSSLUnavailable(f"this OpenSSL lacks {name} (OpenSSL 3 is needed)") from None
    function.argtypes = argtypes
    function.restype = restype
    return function


def _loaded() -> _LibSSL:
    global _lib
    if _lib is None:
        _lib = _LibSSL()
    return _lib


def _set_dh_pkey(ctx: ssl.SSLContext, pkey: int | None) -> bool:
    """Hand `pkey` (an EVP_PKEY of DH parameters) to the context, which owns it if
    OpenSSL takes it; False when OpenSSL refuses it (too small for its security
    level), as HAProxy's ssl_sock_set_tmp_dh reports."""
    lib, pointer = _ssl_ctx(ctx)
    if not pkey:
        lib.clear_errors()
        return False
    set0 = _function("SSL_CTX_set0_tmp_dh_pkey", [ctypes.c_void_p, ctypes.c_void_p], ctypes.c_int)
    if set0(pointer, pkey) == 1:
        return True
    _function("EVP_PKEY_free", [ctypes.c_void_p], None)(pkey)
    lib.clear_errors()
    return False


def set_dh_params(ctx: ssl.SSLContext, pem: bytes) -> bool:
    """Use the first `DH PARAMETERS` block of `pem` for DHE ciphers.  False when
    OpenSSL refuses them, or `pem` holds none."""
    new_bio = _function("BIO_new_mem_buf", [ctypes.c_char_p, ctypes.c_int], ctypes.c_void_p)
    free_bio = _function("BIO_free", [ctypes.c_void_p], ctypes.c_int)
    read = _function("PEM_read_bio_Parameters", [ctypes.c_void_p, ctypes.c_void_p], ctypes.c_void_p)
    start = pem.find(b"-----BEGIN DH PARAMETERS-----")
    if start < 0:
        return False
    bio = new_bio(pem[start:], len(pem) - start)
    try:
        pkey = read(bio, None)
    finally:
        free_bio(bio)
    return _set_dh_pkey(ctx, pkey)


def set_dh_group(ctx: ssl.SSLContext, bits: int) -> bool:
    """Use RFC 7919's `ffdhe<bits>` group (2048 or 4096) for DHE ciphers."""
    new_ctx = _function(
        "EVP_PKEY_CTX_new_from_name",
        [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p],
        ctypes.c_void_p,
    )
    init = _function("EVP_PKEY_paramgen_init", [ctypes.c_void_p], ctypes.c_int)
    set_nid = _function("EVP_PKEY_CTX_set_dh_nid", [ctypes.c_void_p, ctypes.c_int], ctypes.c_int)
    generate = _function(
        "EVP_PKEY_paramgen", [ctypes.c_void_p, ctypes.POINTER(ctypes.c_void_p)], ctypes.c_int
    )
    free_ctx = _function("EVP_PKEY_CTX_free", [ctypes.c_void_p], None)
    pctx = new_ctx(None, b"DH", None)
    pkey = ctypes.c_void_p()
    try:
        ok = pctx and init(pctx) == 1 and set_nid(pctx, _FFDHE[bits]) == 1
        ok = ok and generate(pctx, ctypes.byref(pkey)) == 1
    finally:
        if pctx:
            free_ctx(pctx)
    return _set_dh_pkey(ctx, pkey.value if ok else None)


def key_bits(ctx: ssl.SSLContext) -> int:
    """The size of the context's private key if it is RSA or DSA, else 0: what
    bounds the DH group HAProxy picks (ssl_get_tmp_dh)."""
    _, pointer = _ssl_ctx(ctx)
    get_key = _function("SSL_CTX_get0_privatekey", [ctypes.c_void_p], ctypes.c_void_p)
    base_id = _function("EVP_PKEY_get_base_id", [ctypes.c_void_p], ctypes.c_int)
    bits = _function("EVP_PKEY_get_bits", [ctypes.c_void_p], ctypes.c_int)
    pkey = get_key(pointer)
    if not pkey or base_id(pkey) not in (_RSA, _DSA):
        return 0
    return int(bits(pkey))
