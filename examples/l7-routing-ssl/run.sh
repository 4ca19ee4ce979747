#!/usr/bin/env bash
# EP3 without Docker: /static to the static app, the rest to the dynamic app, over
# HTTP and HTTPS (TLS terminated by balancekit-server with a throwaway certificate).
source "$(dirname "$0")/../lib.sh"

STATIC_PORT=$(free_port)
DYNAMIC_PORT=$(free_port)
LISTEN_PORT=$(free_port)
TLS_PORT=$(free_port)
export STATIC1="127.0.0.1:$STATIC_PORT" DYNAMIC1="127.0.0.1:$DYNAMIC_PORT"
export LISTEN="127.0.0.1:$LISTEN_PORT" LISTEN_TLS="127.0.0.1:$TLS_PORT"
export CERT="$LOGDIR/site.pem"

openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=localhost" \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
    -keyout "$LOGDIR/key.pem" -out "$LOGDIR/cert.pem" 2>/dev/null
cat "$LOGDIR/cert.pem" "$LOGDIR/key.pem" >"$CERT"

start_flask static "$STATIC_PORT" static_app.py
start_flask dynamic "$DYNAMIC_PORT" dynamic_app.py
start_balancekit haproxy.cfg "$LISTEN_PORT"
wait_port "$TLS_PORT"

echo "balancekit-server: http://$LISTEN and https://localhost:$TLS_PORT"
show "http://$LISTEN/"
show "http://$LISTEN/api/data"
show "http://$LISTEN/static/hello.txt"
show --cacert "$LOGDIR/cert.pem" "https://localhost:$TLS_PORT/"
show --cacert "$LOGDIR/cert.pem" "https://localhost:$TLS_PORT/static/hello.txt"
