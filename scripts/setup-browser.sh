#!/usr/bin/env bash
# Installs the headless browser the end-to-end tests of the web pages drive:
# Debian's `chromium` and `chromium-driver`. It does nothing when both are
# already there, so scripts/test.sh can call it on every run.
set -euo pipefail
if [[ -x /usr/bin/chromium && -x /usr/bin/chromedriver ]]; then
    exit 0
fi
if [[ $(id -u) -eq 0 ]]; then
    sudo=()
else
    sudo=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null
