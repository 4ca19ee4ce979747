#!/usr/bin/env bash
# EP9 without Docker: weighted round robin 2:1:3 over the tutorial's three Flask apps.
source "$(dirname "$0")/../lib.sh"

start_three_apps
start_balancekit haproxy.cfg "$LISTEN_PORT"

echo "balancekit-server on $LISTEN: server1 weight 2, server2 weight 1, server3 weight 3"
for _ in 1 2 3 4 5 6; do
    show "http://$LISTEN/"
done
show "http://$LISTEN/data"
echo "over 12 more requests (two full cycles):"
for _ in $(seq 12); do
    curl -sS --max-time 10 "http://$LISTEN/"
    echo
done | sort | uniq -c
