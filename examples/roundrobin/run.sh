#!/usr/bin/env bash
# EP5 without Docker: three Flask apps behind balancekit-server, `balance roundrobin`.
source "$(dirname "$0")/../lib.sh"

start_three_apps
start_balancekit haproxy.cfg "$LISTEN_PORT"

echo "balancekit-server on $LISTEN spreads requests over app1..app3 in turn"
for _ in 1 2 3 4 5 6; do
    show "http://$LISTEN/"
done
