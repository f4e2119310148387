#!/usr/bin/env bash
# The README's test command: installs what the tests need when it is missing, then runs
# them. The Magento bridge's tests start a real MariaDB server (Debian's mariadb-server);
# the console's tests drive a real headless Chromium (Debian's chromium and
# chromium-driver). SEGMINT_SKIP_MARIADB=1 / SEGMINT_SKIP_BROWSER=1 skip them (and their
# install). Arguments go to `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
if [ "${SEGMINT_SKIP_MARIADB:-}" != 1 ] && ! command -v mariadbd >/dev/null && [ ! -x /usr/sbin/mariadbd ]; then
    echo "installing mariadb-server: the Magento bridge's tests start a real MariaDB server" >&2
    missing+=(mariadb-server)
fi
if [ "${SEGMINT_SKIP_BROWSER:-}" != 1 ] && ! command -v chromedriver >/dev/null; then
    echo "installing chromium and chromium-driver: the console's tests drive a headless Chromium" >&2
    missing+=(chromium chromium-driver)
fi
if [ ${#missing[@]} -gt 0 ]; then
    sudo=""
    [ "$(id -u)" = 0 ] || sudo=sudo
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get install -y "${missing[@]}" || { $sudo apt-get update && $sudo apt-get install -y "${missing[@]}"; }
fi
exec cargo test --release --locked "$@"
