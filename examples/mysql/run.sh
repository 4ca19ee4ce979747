#!/usr/bin/env bash
# The MySQL tutorial without Docker: a throwaway MariaDB, balancekit-server in
# `mode tcp` in front of it (maxconn 10), and the tutorial's Flask app behind that.
source "$(dirname "$0")/../lib.sh"

DB_PORT=$(free_port)
LISTEN_PORT=$(free_port)
APP_PORT=$(free_port)
export MYSQL1="127.0.0.1:$DB_PORT" LISTEN="127.0.0.1:$LISTEN_PORT"
export STATS_SOCKET="$LOGDIR/stats.sock"
export DB_URI="mysql+pymysql://haproxy_user:tester@127.0.0.1:$LISTEN_PORT"

# A private MariaDB: its own datadir and socket, loopback only, gone on exit.
mariadb-install-db --no-defaults --datadir="$LOGDIR/db" --user="$(id -un)" \
    --auth-root-authentication-method=socket >"$LOGDIR/install.log" 2>&1
start mariadb mariadbd --no-defaults --datadir="$LOGDIR/db" --user="$(id -un)" \
    --bind-address=127.0.0.1 --port="$DB_PORT" --socket="$LOGDIR/mysql.sock" \
    --pid-file="$LOGDIR/mysql.pid" --skip-log-bin --innodb-buffer-pool-size=16M
wait_port "$DB_PORT"
mariadb --no-defaults --socket="$LOGDIR/mysql.sock" -u "$(id -un)" <"$HERE/init.sql" ||
    mariadb --no-defaults --socket="$LOGDIR/mysql.sock" -u root <"$HERE/init.sql"

start_balancekit haproxy.cfg "$LISTEN_PORT"
start_flask app "$APP_PORT" app.py

echo "MariaDB on $MYSQL1, balancekit-server on $LISTEN, the Flask app on 127.0.0.1:$APP_PORT"
show "http://127.0.0.1:$APP_PORT/"
show "http://127.0.0.1:$APP_PORT/todos"
echo "three slow queries at once, each through the proxy:"
sleepers=()
for n in 1 2 3; do
    curl -sS --max-time 20 "http://127.0.0.1:$APP_PORT/sleep/1" >"$LOGDIR/sleep.$n" &
    sleepers+=($!)
done
wait "${sleepers[@]}"
for n in 1 2 3; do
    cat "$LOGDIR/sleep.$n"
done
