# Sourced by ./mvnw, ./qforge and .ci/run: points JAVA_HOME at a JDK >= 25 (qforge needs the FFM API
# and the Vector API of JDK 25). Keeps a JAVA_HOME that is already new enough; otherwise prefers
# Temurin 25 in its usual place, then any JDK >= 25 under /usr/lib/jvm, then `java` on the PATH.
qforge_java_major() {
  "$1/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p' | head -n 1
}
qforge_find_jdk() {
  local candidate major noglob=""
  case $- in *f*) noglob=1; set +f ;; esac   # mvnw runs with globbing off
  for candidate in "${JAVA_HOME:-}" /usr/lib/jvm/temurin-25-jdk-amd64 /usr/lib/jvm/temurin-25-jdk-arm64 \
      /usr/lib/jvm/*25* /usr/lib/jvm/*2[6-9]* /usr/lib/jvm/* \
      "$(dirname "$(dirname "$(readlink -f "$(command -v java 2>/dev/null || echo /nonexistent)")")")"; do
    [ -n "$candidate" ] && [ -x "$candidate/bin/java" ] && [ -x "$candidate/bin/javac" ] || continue
    major=$(qforge_java_major "$candidate")
    case "$major" in ''|*[!0-9]*) continue ;; esac
    if [ "$major" -ge 25 ]; then
      JAVA_HOME="$candidate"; export JAVA_HOME
      [ -z "$noglob" ] || set -f
      return 0
    fi
  done
  [ -z "$noglob" ] || set -f
  echo "qforge: no JDK 25 or newer found (looked at JAVA_HOME, /usr/lib/jvm and the PATH); install Temurin 25 and set JAVA_HOME" >&2
  return 1
}
