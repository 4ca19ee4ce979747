#!/usr/bin/env bash
# In-app routing without Docker: EP 9's Flask apps, and a Starlette app on uvicorn whose
# BalancerMiddleware runs haproxy.cfg's frontend rules in-process.
source "$(dirname "$0")/../lib.sh"

start_three_apps ../weighted/app.py   # EP 9's Flask apps, from the weighted example
APP_PORT=$(free_port)
start starlette "$PYTHON" -m uvicorn --app-dir "$HERE" app:app --host 127.0.0.1 --port "$APP_PORT"
wait_port "$APP_PORT"
URL="http://127.0.0.1:$APP_PORT"

echo "the Starlette app on $URL runs haproxy.cfg's rules before its own routes"
echo "/ is the app's own route (the header rule ran first):"
show "$URL/"
echo "/data goes to the Flask apps, weighted 2:1:3:"
for _ in 1 2 3 4 5 6; do
    show "$URL/data"
done
echo "/admin is denied unless the client is in 127.0.10.0/24:"
show "$URL/admin"
show --interface 127.0.10.5 "$URL/admin"
echo "/home is redirected:"
printf '$ curl -D - %s\n' "$URL/home"
curl -sS -D - -o /dev/null "$URL/home" | tr -d '\r' | grep -i -E '^(HTTP/|location:)'
