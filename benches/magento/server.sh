# Sourced by the Magento benches: a private MariaDB server in "$work" (a directory the
# caller made), stopped and removed on exit; `sql` runs the mariadb client on it.
#   start_server BUFFER_POOL_SIZE
server=""
finish() {
    if [ -n "$server" ]; then kill "$server"; wait "$server" || true; fi
    rm -rf "$work"
}
trap finish EXIT
start_server() {
    local run_as_root=()
    [ "$(id -u)" = 0 ] && run_as_root=(--user=root)
    mariadb-install-db --no-defaults --auth-root-authentication-method=normal \
        --datadir="$work/data" "${run_as_root[@]}" > "$work/install.log"
    mariadbd --no-defaults --datadir="$work/data" --socket="$work/sock" --skip-networking \
        --innodb-buffer-pool-size="$1" "${run_as_root[@]}" > "$work/server.log" 2>&1 &
    server=$!
    for _ in $(seq 100); do
        sql -e "SELECT 1" > /dev/null 2>&1 && return
        sleep 0.2
    done
    echo "MariaDB did not start: see $work/server.log" >&2
    return 1
}
sql() { mariadb --no-defaults --socket="$work/sock" -uroot "$@"; }
timed() { /usr/bin/time -f "  %e s, peak RSS %M KB" "$@" 2>&1 | grep -v " INFO \|^note: "; }
