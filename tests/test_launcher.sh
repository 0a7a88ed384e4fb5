#!/usr/bin/env bash
# Host-side checks of ./dev and make setup, run by `make test` before pytest (pytest
# itself runs inside ./dev, so it cannot see the launcher from the outside).
set -uo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
passed=0; failed=0
check() {
  local name="$1"; shift
  if "$@" >/dev/null 2>&1; then passed=$((passed + 1)); echo "ok - $name"
  else failed=$((failed + 1)); echo "FAIL - $name"; fi
}
tmp="$(mktemp -d)"; echo hello >"$tmp/marker.txt"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"

# A server left running in the background while other ./dev calls come and go.
./dev python -m http.server --bind 127.0.0.1 "$port" --directory "$tmp" >/dev/null 2>&1 &
server=$!
for _ in $(seq 60); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.5; done
check "a second ./dev reaches a server left running by the first" \
  ./dev python -c "import urllib.request as u; assert u.urlopen('http://127.0.0.1:$port/marker.txt').read() == b'hello\n'"
check "concurrent ./dev calls all succeed" bash -c './dev true & a=$!; ./dev true & b=$!; ./dev true & c=$!; wait $a && wait $b && wait $c'
check "the host sees none of the environment's mounts" bash -c "! grep -q ' ${TASTEBUD_ROOT:-/nonexistent}/' /proc/self/mounts"
kill "$server"; wait "$server" 2>/dev/null
check "same paths inside: working directory and /tmp" ./dev bash -c "[ \"\$PWD\" = '$PWD' ] && [ -f '$tmp/marker.txt' ]"
check "python and packages come from the environment" \
  ./dev python -c "import sys, tfx, tensorflow_transform, tensorflow_model_analysis; assert sys.prefix == '$TASTEBUD_VENV'"
check "the tastebud command is on PATH" ./dev tastebud --help
check "exit codes pass through" bash -c './dev sh -c "exit 7"; [ $? = 7 ]'
check "./dev inside ./dev runs in the same environment" ./dev ./dev python -c "import sys; assert sys.prefix == '$TASTEBUD_VENV'"
check "every serving runtime is built, or setup wrote why it cannot be" ./dev bash -c \
  '[ -n "$TASTEBUD_SERVING_ENVS" ] && for e in $TASTEBUD_SERVING_ENVS; do [ -f "${e#*=}/.complete" ] || [ -f "${e#*=}.unavailable" ] || exit 1; done'
check "a second make setup is a quick no-op" bash -c 'start=$(date +%s); scripts/setup.sh && [ $(( $(date +%s) - start )) -lt 30 ]'
check "no mounts left behind after the calls" bash -c "! grep -q ' ${TASTEBUD_ROOT:-/nonexistent}/' /proc/self/mounts"
rm -rf "$tmp"
echo "launcher: $passed passed, $failed failed"
[ "$failed" = 0 ]
