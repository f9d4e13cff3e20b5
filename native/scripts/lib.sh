# Sourced by the native build scripts.

# newer_than OUT FILES...: true when OUT exists and is newer than every file given, so a build
# step whose output is up to date is skipped.
newer_than() {
  local out="$1"; shift
  [ -f "$out" ] || return 1
  local f
  for f in "$@"; do [ "$f" -nt "$out" ] && return 1; done
  return 0
}
