# shellcheck shell=bash
# Python tools of our own, in venvs under .data/tools: nothing installed
# system-wide but Debian's python3-venv when it is missing. Sourced after
# scripts/lib/stack.sh (it uses log and as_root).
#
#   python_venv DIR [PIN...]   a venv in DIR holding exactly PIN... (pip
#                              requirement specifiers); rebuilt when the pins
#                              change, left alone (fast) when they have not

python_venv() { # DIR [PIN...]
  local dir=$1
  shift
  if [[ -x $dir/bin/python && -f $dir/pins && $(<"$dir/pins") == "$*" ]]; then
    return 0
  fi
  log "making the venv $dir${*:+ with $* (PyPI)}"
  rm -rf "$dir"
  mkdir -p "$(dirname "$dir")"
  python3 -m venv "$dir" 2>/dev/null || {
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq || return 1
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv || return 1
    python3 -m venv "$dir" || return 1
  }
  if (($#)); then
    "$dir/bin/pip" install --quiet --disable-pip-version-check "$@" || return 1
  fi
  echo "$*" >"$dir/pins"
}
