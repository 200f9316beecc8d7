#!/usr/bin/env bash
# Installs what the local, Docker-free stack needs (see docs/adr/0002-local-stack-without-docker.md):
#   - uv and the workspace virtualenv (.venv)
#   - PostgreSQL server binaries, nginx, Java 17+ and Maven (Debian packages)
#   - the Kafka broker's runtime classpath in .local/kafka/libs (Maven, deploy/local/kafka/pom.xml)
#   - Chromium and its WebDriver (Debian packages) for the browser tests of the frontend (tests/browser)
# Idempotent and fast when everything is present; non-interactive; safe on a fresh clone as root.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"

KAFKA_POM="deploy/local/kafka/pom.xml"
KAFKA_LIBS=".local/kafka/libs"
KAFKA_STAMP=".local/kafka/libs.stamp"

say() { printf '[bootstrap] %s\n' "$*"; }
die() { printf '[bootstrap] ERROR: %s\n' "$*" >&2; exit 1; }

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; fi
fi

# --- apt helpers: `apt-get update` runs at most once, and only when something must be installed ----------
APT_UPDATED=0
apt_update_once() {
  if [ "$APT_UPDATED" -eq 0 ]; then
    say "apt-get update"
    $SUDO apt-get update -qq >/dev/null
    APT_UPDATED=1
  fi
}
# first_available PKG... : prints the first package name the archive knows (e.g. nginx-light before nginx)
first_available() {
  local p
  for p in "$@"; do
    if apt-cache show "$p" >/dev/null 2>&1; then printf '%s' "$p"; return 0; fi
  done
  return 1
}
apt_install() {
  [ "$#" -gt 0 ] || return 0
  say "apt-get install $*"
  # Do not let the packages start their system services (a cluster on 5432, nginx on 80): we run our own.
  local policy=/usr/sbin/policy-rc.d created_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
    $SUDO chmod +x "$policy"
    created_policy=1
  fi
  local log rc=0
  log="$(mktemp)"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "$@" >"$log" 2>&1 || rc=$?
  if [ "$created_policy" -eq 1 ]; then $SUDO rm -f "$policy"; fi
  if [ "$rc" -ne 0 ]; then tail -n 40 "$log" >&2; rm -f "$log"; die "apt-get install $* failed"; fi
  rm -f "$log"
}

# --- 1. uv and the virtualenv ------------------------------------------------------------------------------
find_uv() {
  if command -v uv >/dev/null 2>&1; then command -v uv; return 0; fi
  local c
  for c in "$HOME/.local/bin/uv" /usr/local/bin/uv; do
    if [ -x "$c" ]; then printf '%s' "$c"; return 0; fi
  done
  return 1
}
UV="$(find_uv || true)"
if [ -z "$UV" ]; then
  say "installing uv (pip)"
  if ! python3 -m pip --version >/dev/null 2>&1; then
    apt_update_once
    apt_install python3-pip
  fi
  python3 -m pip install -q uv 2>/dev/null || python3 -m pip install -q --break-system-packages uv
  hash -r
  UV="$(find_uv || true)"
  [ -n "$UV" ] || die "uv was installed but is not on PATH"
fi
if [ -f uv.lock ]; then
  "$UV" sync --all-packages --frozen -q
else
  "$UV" sync --all-packages -q
fi
say "python env ok (.venv)"

# --- 2. system packages --------------------------------------------------------------------------------------
have_pg() {
  local d
  for d in /usr/lib/postgresql/*/bin; do
    if [ -x "$d/pg_ctl" ] && [ -x "$d/initdb" ] && [ -x "$d/postgres" ]; then return 0; fi
  done
  command -v pg_ctl >/dev/null 2>&1 && command -v initdb >/dev/null 2>&1
}
have_nginx() { command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]; }
java_major() {
  command -v java >/dev/null 2>&1 || { echo 0; return; }
  java -version 2>&1 | awk -F'"' '/version/ { split($2, v, "."); print (v[1] == "1" ? v[2] : v[1]); exit }'
}

missing=()
have_pg || missing+=(postgres)
have_nginx || missing+=(nginx)
[ "$(java_major)" -ge 17 ] 2>/dev/null || missing+=(java)
command -v mvn >/dev/null 2>&1 || missing+=(maven)
# the browser tests drive Debian's Chromium through its matching driver (no browser download from elsewhere)
{ [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; } || missing+=(chromium)

if [ "${#missing[@]}" -gt 0 ]; then
  [ "$(id -u)" -eq 0 ] || [ -n "$SUDO" ] || die "need to install ${missing[*]} but am neither root nor have sudo"
  apt_update_once
  pkgs=()
  for m in "${missing[@]}"; do
    case "$m" in
      postgres) p="$(first_available postgresql-15 postgresql)" ;;
      nginx)    p="$(first_available nginx-light nginx)" ;;
      java)     p="$(first_available openjdk-17-jre-headless default-jre-headless)" ;;
      maven)    p="$(first_available maven)" ;;
      chromium) p="$(first_available chromium) $(first_available chromium-driver)" ;;
    esac || die "no Debian package found for $m"
    # shellcheck disable=SC2206  # (chromium: two package names)
    pkgs+=($p)
  done
  apt_install "${pkgs[@]}"
  have_pg || die "PostgreSQL server binaries still missing"
  have_nginx || die "nginx still missing"
fi
say "system packages ok (postgresql, nginx, java $(java_major), maven, chromium)"

# --- 3. Kafka broker classpath -------------------------------------------------------------------------------
pom_hash="$(sha256sum "$KAFKA_POM" | cut -d' ' -f1)"
if [ -f "$KAFKA_STAMP" ] && [ "$(cat "$KAFKA_STAMP")" = "$pom_hash" ] && ls "$KAFKA_LIBS"/kafka_2.13-*.jar >/dev/null 2>&1; then
  say "kafka libs ok ($(ls "$KAFKA_LIBS" | wc -l) jars)"
else
  say "collecting kafka libs with maven (first run downloads ~45 MB)"
  mkdir -p .local/kafka
  rm -rf "$KAFKA_LIBS.tmp"
  mvn -q -B -Dstyle.color=never -f "$KAFKA_POM" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$ROOT/$KAFKA_LIBS.tmp" >.local/kafka/maven.log 2>&1 \
    || { tail -n 40 .local/kafka/maven.log >&2; die "maven failed (full log: .local/kafka/maven.log)"; }
  ls "$KAFKA_LIBS.tmp"/kafka_2.13-*.jar >/dev/null 2>&1 || die "maven did not produce the kafka_2.13 jar"
  rm -rf "$KAFKA_LIBS"
  mv "$KAFKA_LIBS.tmp" "$KAFKA_LIBS"
  printf '%s\n' "$pom_hash" >"$KAFKA_STAMP"
  say "kafka libs ok ($(ls "$KAFKA_LIBS" | wc -l) jars: $(cd "$KAFKA_LIBS" && ls kafka_2.13-*.jar))"
fi

# --- 4. the load generator of `make bench` (vegeta, MIT; built from the Go module proxy) ---------------------
VEGETA_VERSION="v12.13.0"
VEGETA=".local/bin/vegeta"
if [ -x "$VEGETA" ] && [ "$(cat "$VEGETA.version" 2>/dev/null)" = "$VEGETA_VERSION" ]; then
  say "vegeta ok ($VEGETA_VERSION)"
else
  GO="$(command -v go || true)"
  [ -n "$GO" ] || [ ! -x /usr/local/go/bin/go ] || GO=/usr/local/go/bin/go
  if [ -z "$GO" ]; then
    apt_update_once
    apt_install golang-go
    GO="$(command -v go)"
  fi
  say "building vegeta $VEGETA_VERSION with $("$GO" version | cut -d' ' -f3) (first run: ~1 min)"
  mkdir -p .local/bin
  GOBIN="$ROOT/.local/bin" GOFLAGS=-mod=mod "$GO" install "github.com/tsenart/vegeta/v12@$VEGETA_VERSION" \
    >.local/bin/vegeta.log 2>&1 || { tail -n 20 .local/bin/vegeta.log >&2; die "building vegeta failed"; }
  printf '%s\n' "$VEGETA_VERSION" >"$VEGETA.version"
  say "vegeta ok ($VEGETA_VERSION)"
fi
say "done"
