#!/usr/bin/env bash
# EP2 without Docker: two Flask instances behind balancekit-server in `mode tcp`.
source "$(dirname "$0")/../lib.sh"

FLASK1_PORT=$(free_port)
FLASK2_PORT=$(free_port)
LISTEN_PORT=$(free_port)
export FLASK1="127.0.0.1:$FLASK1_PORT" FLASK2="127.0.0.1:$FLASK2_PORT"
export LISTEN="127.0.0.1:$LISTEN_PORT"

start_flask flask1 "$FLASK1_PORT" app.py
start_flask flask2 "$FLASK2_PORT" app.py
start_balancekit haproxy.cfg "$LISTEN_PORT"

echo "balancekit-server relays TCP on $LISTEN to $FLASK1 and $FLASK2 (roundrobin)"
for _ in 1 2 3 4; do
    show "http://$LISTEN/"
done
