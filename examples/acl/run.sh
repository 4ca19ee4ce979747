#!/usr/bin/env bash
# EP4 without Docker: ACL routing and denies in front of the tutorial's two Flask apps.
source "$(dirname "$0")/../lib.sh"

APP1_PORT=$(free_port)
APP2_PORT=$(free_port)
LISTEN_PORT=$(free_port)
export APP1="127.0.0.1:$APP1_PORT" APP2="127.0.0.1:$APP2_PORT" LISTEN="127.0.0.1:$LISTEN_PORT"

start_flask app1 "$APP1_PORT" app1.py
start_flask app2 "$APP2_PORT" app2.py
start_balancekit haproxy.cfg "$LISTEN_PORT"

echo "balancekit-server on $LISTEN"
echo "GET / goes to app1; POST /submit goes to app2:"
show "http://$LISTEN/"
show -X POST "http://$LISTEN/submit"
echo "a client in the blocked range 127.0.1.0/24 is denied:"
show --interface 127.0.1.7 "http://$LISTEN/"
echo "/admin is denied from outside 127.0.10.0/24 and let through (to app1, which has no such page) from inside:"
show "http://$LISTEN/admin"
show --interface 127.0.10.5 "http://$LISTEN/admin"
