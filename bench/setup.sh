#!/usr/bin/env bash
# Installs what `npm run bench` needs, only when missing (idempotent; safe to run every time).
#   Debian packages: nginx-light (nginx with the mirror and stub_status modules),
#   libnginx-mod-http-echo (echo_sleep for the slow upstream), wrk, util-linux (taskset).
#   npm dependencies (npm ci) when node_modules is missing.
# --check: only report, exit 1 if something is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

ECHO_MODULE=${ECHO_MODULE:-/usr/lib/nginx/modules/ngx_http_echo_module.so}
missing=()
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
[ -f "$ECHO_MODULE" ] || missing+=(libnginx-mod-http-echo)
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
command -v taskset >/dev/null 2>&1 || missing+=(util-linux)
command -v getconf >/dev/null 2>&1 || missing+=(libc-bin)

if [ "${1:-}" = "--check" ]; then
  [ ${#missing[@]} -eq 0 ] && [ -d node_modules ] && exit 0
  echo "bench/setup.sh: missing: ${missing[*]:-} $([ -d node_modules ] || echo node_modules)" >&2
  exit 1
fi

if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "bench/setup.sh: installing ${missing[*]}" >&2
  # keep the packages' postinst from starting a system-wide nginx on port 80
  made_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod +x /usr/sbin/policy-rc.d
    made_policy=1
  fi
  trap '[ $made_policy -eq 1 ] && $SUDO rm -f /usr/sbin/policy-rc.d' EXIT
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if [ ! -d node_modules ]; then
  echo "bench/setup.sh: npm ci" >&2
  npm ci --no-audit --no-fund
fi
echo "bench/setup.sh: ok ($(nginx -v 2>&1 | sed 's/.*: //'), $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2), node $(node -v))" >&2
