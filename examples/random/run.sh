#!/usr/bin/env bash
# EP8 without Docker: `balance random` with `random draw 2` (power of two choices).
source "$(dirname "$0")/../lib.sh"

start_three_apps
start_balancekit haproxy.cfg "$LISTEN_PORT"

echo "balancekit-server on $LISTEN picks the less loaded of 2 random servers"
for _ in 1 2 3 4 5 6; do
    show "http://$LISTEN/"
done
show "http://$LISTEN/data"
