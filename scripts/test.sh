#!/usr/bin/env bash
# The README's test command: installs what the tests need when it is missing, then runs
# them. The Magento bridge's tests start a real MariaDB server (Debian's mariadb-server);
# SEGMINT_SKIP_MARIADB=1 skips them (and the install). Arguments go to `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${SEGMINT_SKIP_MARIADB:-}" != 1 ] && ! command -v mariadbd >/dev/null && [ ! -x /usr/sbin/mariadbd ]; then
    echo "installing mariadb-server: the Magento bridge's tests start a real MariaDB server" >&2
    sudo=""
    [ "$(id -u)" = 0 ] || sudo=sudo
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get install -y mariadb-server || { $sudo apt-get update && $sudo apt-get install -y mariadb-server; }
fi
exec cargo test --release --locked "$@"
