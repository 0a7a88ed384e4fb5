# Sourced by ./dev and scripts/setup.sh: works out where the project's environment lives.
#
# The environment is kept outside the clone, under $TASTEBUD_HOME (default
# ~/.cache/tastebud), keyed by hashes of what it was built from, so every clone on
# the machine shares it and a changed pin builds a new one beside the old.
#
# Two kinds:
#   venv    host glibc >= 2.39: a plain venv made by the host's python3.
#   chroot  older glibc (Debian 12): a Debian 13 root made by debootstrap, with the
#           venv inside it; ./dev enters it in a private mount namespace.

TASTEBUD_REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TASTEBUD_HOME="${TASTEBUD_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/tastebud}"
TASTEBUD_SETUP_VERSION=2

_tb_hash() { cat "$@" | sha256sum | cut -c1-12; }

_tb_glibc_ok() {
  # True when the host's glibc is new enough for TFX 1.21's wheels (2.39+).
  local v
  v="$(getconf GNU_LIBC_VERSION 2>/dev/null | awk '{print $2}')"
  [ -n "$v" ] || return 1
  [ "$(printf '%s\n2.39\n' "$v" | sort -V | head -n1)" = "2.39" ]
}

TASTEBUD_REQ_HASH="$(echo "$TASTEBUD_SETUP_VERSION" | cat - "$TASTEBUD_REPO/requirements.lock" | sha256sum | cut -c1-12)"
TASTEBUD_SYS_HASH="$(echo "$TASTEBUD_SETUP_VERSION" | cat - "$TASTEBUD_REPO/scripts/system-packages.txt" | sha256sum | cut -c1-12)"

if [ -n "${TASTEBUD_ENV_KIND:-}" ]; then
  :  # forced by the caller (tests of the launcher, or a user who knows better)
elif _tb_glibc_ok; then
  TASTEBUD_ENV_KIND=venv
else
  TASTEBUD_ENV_KIND=chroot
fi

if [ "$TASTEBUD_ENV_KIND" = venv ]; then
  TASTEBUD_ROOT=""
  TASTEBUD_VENV="$TASTEBUD_HOME/venv-$TASTEBUD_REQ_HASH"
else
  TASTEBUD_ROOT="$TASTEBUD_HOME/debian13-$TASTEBUD_SYS_HASH"
  # The venv's path as seen inside the root.
  TASTEBUD_VENV="/opt/tastebud/venv-$TASTEBUD_REQ_HASH"
fi
TASTEBUD_VENV_ON_HOST="$TASTEBUD_ROOT$TASTEBUD_VENV"

# Serving runtimes (requirements-serving-<tf version>.lock): small venvs with TF Serving's
# and Vertex AI's TensorFlow, for tests/support/tf_serving_standin.py. Each lives in
# $TASTEBUD_HOME/serving-<version>-<hash>/ (complete when it holds .complete; where no
# suitable Python exists, <that dir>.unavailable says why). Same paths inside the root,
# since $HOME is bind-mounted there. "VERSION=DIR VERSION=DIR ..." for the tests.
TASTEBUD_SERVING_ENVS=""
for _tb_lock in "$TASTEBUD_REPO"/requirements-serving-*.lock; do
  [ -f "$_tb_lock" ] || continue
  _tb_v="$(basename "$_tb_lock" .lock)"; _tb_v="${_tb_v#requirements-serving-}"
  TASTEBUD_SERVING_ENVS="$TASTEBUD_SERVING_ENVS${TASTEBUD_SERVING_ENVS:+ }$_tb_v=$TASTEBUD_HOME/serving-$_tb_v-$(_tb_hash "$_tb_lock")"
done
unset _tb_lock _tb_v
export TASTEBUD_REPO TASTEBUD_HOME TASTEBUD_ENV_KIND TASTEBUD_ROOT TASTEBUD_VENV TASTEBUD_SERVING_ENVS
