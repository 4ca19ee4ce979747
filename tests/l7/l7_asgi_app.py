"""`uvicorn --factory l7_asgi_app:app` — ProxyApp built from the config file named by
BK_CONFIG, so tests can run the ASGI front door in its own process."""

from __future__ import annotations

import os

from balancekit.config import load
from balancekit_server.http import ProxyApp


def app() -> ProxyApp:
    config = load(os.environ["BK_CONFIG"]).config
    return ProxyApp(config.frontends[0], dict(config.backends))
