# Sourced by the scripts: finds Java 25 and Maven, installing them from Debian when missing,
# and sets the JVM flags Kvasir's code needs wherever it runs.

KVASIR_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# Memory goes back to the OS after a burst: G1 with a periodic collection when idle (JEP 346),
# keeping at most 30% of the heap free, returns the heap it grew, and a periodic malloc_trim the
# native memory glibc keeps once the 8 MB bodies' buffers are freed. With ParallelGC a server
# settled at 735 MiB stayed at 1,741 MiB after three clients' 8 MB bodies (HostileRssTest); now it
# comes back to 670-686 MiB from 661-785 settled (four runs). The forward pass allocates nothing
# per token, so decode speed is the same (smol135 Q8_0, alternating runs: G1 1.04x and 1.04x).
KVASIR_JVM_FLAGS="--add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -XX:+UseG1GC -XX:G1PeriodicGCInterval=2000 -XX:MinHeapFreeRatio=10 -XX:MaxHeapFreeRatio=30 -XX:TrimNativeHeapInterval=5000"

# Vector width per CPU. HotSpot keeps 256-bit vectors (UseAVX=2, MaxVectorSize=32) on some AVX-512
# Xeons (Skylake-SP/Cascade Lake, for their AVX-512 clock penalty), which halves the lanes of every
# kernel. Where the CPU has the AVX-512 subsets the kernels use (F, BW, VL, DQ), ask for 512-bit
# vectors (figures in the commit that added this). KVASIR_VECTOR_FLAGS overrides the choice
# ("" keeps the JVM's own).
kvasir_vector_flags() {
  if [ -n "${KVASIR_VECTOR_FLAGS+set}" ]; then echo "$KVASIR_VECTOR_FLAGS"; return; fi
  local flags f
  flags=" $(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null | cut -d: -f2) "
  for f in avx512f avx512bw avx512vl avx512dq; do
    [[ "$flags" == *" $f "* ]] || return 0
  done
  echo "-XX:UseAVX=3 -XX:MaxVectorSize=64"
}
KVASIR_VECTOR_FLAGS_CHOSEN="$(kvasir_vector_flags)"
KVASIR_JVM_FLAGS="$KVASIR_JVM_FLAGS${KVASIR_VECTOR_FLAGS_CHOSEN:+ $KVASIR_VECTOR_FLAGS_CHOSEN}"
if [ -z "${KVASIR_QUIET:-}" ]; then
  if [ -n "${KVASIR_VECTOR_FLAGS+set}" ]; then why="KVASIR_VECTOR_FLAGS"
  elif [ -n "$KVASIR_VECTOR_FLAGS_CHOSEN" ]; then why="CPU has AVX-512 F/BW/VL/DQ"
  else why="no AVX-512 F/BW/VL/DQ"; fi
  echo "kvasir: vector flags: ${KVASIR_VECTOR_FLAGS_CHOSEN:-JVM defaults} ($why)" >&2
fi

kvasir_java_major() { # prints the major version of the java binary $1
  # A JDK's release file says it without starting a JVM (which costs a launch ~0.2 s).
  local release; release="$(dirname "$(dirname "$1")")/release"
  if [ -f "$release" ]; then
    sed -n 's/^JAVA_VERSION="\([0-9]*\).*/\1/p' "$release" | head -1
    return
  fi
  "$1" -XshowSettings:properties -version 2>&1 | awk -F'= ' '/java.specification.version/ {print $2; exit}'
}

kvasir_find_java() {
  local candidates=()
  [ -n "${JAVA_HOME:-}" ] && candidates+=("$JAVA_HOME")
  candidates+=(/usr/lib/jvm/temurin-25-jdk-amd64 /usr/lib/jvm/java-25-openjdk-amd64 /usr/lib/jvm/*25* /usr/lib/jvm/*)
  local c v
  for c in "${candidates[@]}"; do
    [ -x "$c/bin/java" ] || continue
    v=$(kvasir_java_major "$c/bin/java")
    if [ -n "$v" ] && [ "$v" -ge 25 ] 2>/dev/null; then export JAVA_HOME="$c"; return 0; fi
  done
  if command -v java >/dev/null; then
    v=$(kvasir_java_major "$(command -v java)")
    if [ -n "$v" ] && [ "$v" -ge 25 ] 2>/dev/null; then
      export JAVA_HOME="$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")"; return 0
    fi
  fi
  return 1
}

kvasir_apt_install() {
  command -v apt-get >/dev/null || return 1
  local sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "kvasir: installing $* from Debian packages" >&2
  $sudo apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >&2
}

kvasir_setup() {
  if ! kvasir_find_java; then
    kvasir_apt_install openjdk-25-jdk-headless || true
    kvasir_find_java || { echo "kvasir: Java 25 is required and none was found; install a JDK 25 and set JAVA_HOME" >&2; exit 1; }
  fi
  export PATH="$JAVA_HOME/bin:$PATH"
  if ! command -v mvn >/dev/null; then
    kvasir_apt_install maven || { echo "kvasir: Maven is required; install it (apt-get install maven)" >&2; exit 1; }
  fi
}

# kvasir_variant ARGS...: prints "cuda" when the command line asks for --device cuda, else "cpu".
kvasir_variant() {
  case " $* " in *" --device cuda "* | *" --device=cuda "*) echo cuda ;; *) echo cpu ;; esac
}

# True when the jars of the last launcher build are there and no input changed since it started.
# Inputs are what goes into the jars: the poms and every module's src/main (a directory's time
# changes when a file in it is added or removed), and for the "cuda" variant the CUDA sources
# and their build scripts; never anything under target/ (generated sources are outputs).
kvasir_up_to_date() {
  local variant="$1" stamp="$KVASIR_ROOT/target/launcher/built"
  [ -f "$stamp" ] && [ -f "$KVASIR_ROOT/server/target/kvasir-server-0.1.0-SNAPSHOT.jar" ] \
    && [ -f "$KVASIR_ROOT/bench/target/kvasir-bench-0.1.0-SNAPSHOT.jar" ] || return 1
  [ "$variant" = cpu ] || [ "$(cat "$stamp")" = cuda ] || return 1
  local inputs=("$KVASIR_ROOT"/pom.xml "$KVASIR_ROOT"/*/pom.xml "$KVASIR_ROOT"/*/src/main)
  [ "$variant" = cuda ] && inputs+=("$KVASIR_ROOT/native/src" "$KVASIR_ROOT/native/scripts")
  [ -z "$(find "${inputs[@]}" -newer "$stamp" -print -quit 2>/dev/null)" ]
}

# kvasir_build_if_needed [cpu|cuda]: builds the module jars and their dependency folders (mvn
# package, tests compiled but not run) when kvasir_up_to_date says so. "cpu" (the default)
# skips the CUDA fatbin, so serving on the CPU never waits for nvcc; "cuda" builds it. One build
# at a time per tree: a launch that finds another building waits on its lock, then re-checks.
kvasir_build_if_needed() {
  local variant="${1:-cpu}"
  kvasir_up_to_date "$variant" && return 0
  local dir="$KVASIR_ROOT/target/launcher"
  mkdir -p "$dir"
  local lock_fd
  exec {lock_fd}>"$dir/lock"
  if command -v flock >/dev/null; then
    if ! flock -n "$lock_fd"; then
      echo "kvasir: another launch is building this tree; waiting for it ..." >&2
      flock "$lock_fd"
    fi
  fi
  if ! kvasir_up_to_date "$variant"; then
    local started="$dir/started.$$" flags=(-DskipTests)
    [ "$variant" = cuda ] || flags+=(-Dkvasir.fatbin.skip=true)
    # Stamped with the time the build started: a source edited during the build is newer than it.
    touch "$started"
    echo "kvasir: building ($variant; mvn package, tests skipped) ..." >&2
    if ! (cd "$KVASIR_ROOT" && mvn -B -q "${flags[@]}" package >&2); then
      rm -f "$started"
      echo "kvasir: build failed" >&2
      exit 1
    fi
    echo "$variant" > "$dir/built.$$"
    touch -r "$started" "$dir/built.$$"
    mv -f "$dir/built.$$" "$dir/built"
    rm -f "$started"
  fi
  exec {lock_fd}>&-
}

# Maven 3.8's bundled Guava warns about sun.misc.Unsafe on Java 24+; the warning is noise.
export MAVEN_OPTS="${MAVEN_OPTS:-} --sun-misc-unsafe-memory-access=allow"
