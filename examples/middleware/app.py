"""A Starlette app with one haproxy.cfg frontend running inside it.

`BalancerMiddleware` evaluates haproxy.cfg's rules before the app: /admin is
denied (403) unless the client is on the internal network, /home is redirected,
/data is proxied to EP 9's three Flask apps with weighted round robin (2:1:3),
and everything else reaches the routes below with the X-Balancer header that
`http-request set-header` added.  Health checks of the Flask apps run in the
app's lifespan.

    uvicorn app:app --port 8000      # with the Flask apps on APP1..APP3 (see run.sh)
"""

import os

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from balancekit_server.integrations.middleware import BalancerMiddleware

CONFIG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "haproxy.cfg")


async def home(request: Request) -> PlainTextResponse:
    marker = request.headers.get("x-balancer", "-")
    return PlainTextResponse(f"Hello from the Starlette app! (X-Balancer: {marker})")


async def admin(request: Request) -> PlainTextResponse:
    return PlainTextResponse(f"Admin page, for {request.client.host if request.client else '?'}")


app = Starlette(routes=[Route("/", home), Route("/admin", admin)])
app.add_middleware(BalancerMiddleware, config=CONFIG, frontend="web")
