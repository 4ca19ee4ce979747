#!/usr/bin/env bash
# EP7 without Docker: `balance source` then `balance uri`, both with `hash-type consistent`.
source "$(dirname "$0")/../lib.sh"

start_three_apps

start_balancekit haproxy.cfg "$LISTEN_PORT"
echo "balance source: each client address sticks to one server (curl --interface plays clients)"
for client in 127.0.0.11 127.0.0.12 127.0.0.13 127.0.0.11 127.0.0.12 127.0.0.13; do
    show --interface "$client" "http://$LISTEN/"
done
stop_balancekit

start_balancekit haproxy-uri.cfg "$LISTEN_PORT"
echo "balance uri: each path sticks to one server"
for path in /cart /profile /search /cart /profile /search; do
    show "http://$LISTEN$path"
done
