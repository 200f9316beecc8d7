#!/usr/bin/env bash
# `make images`: every image of deploy/docker/Dockerfile (the services, the frontend, the stand-ins and the
# runtime's topics job), built here with podman — no Docker daemon, no public image registry — on a base made
# of Debian's packages (mmdebstrap), the same Dockerfile as with Docker, only PYTHON_IMAGE differs.
#
#   localhost/kundencenter/python-base:bookworm    python3, ca-certificates, tzdata, passwd (the runtime stage)
#   localhost/kundencenter/python-build:bookworm   the same and python3-pip (the build stage: pip installs uv)
#
# Pinned: deploy/docker/debian/<base>.packages lists every Debian package of each base with its version; a build
# whose packages differ fails (a new Debian point release: re-run with KC_IMAGES_UPDATE_LOCK=1, review the diff,
# commit it). SOURCE_DATE_EPOCH makes mmdebstrap's tarball reproducible for the same packages.
# Where a registry is reachable, the official base needs none of this:
#   docker build -f deploy/docker/Dockerfile --build-arg SERVICE=erp-sync .        (PYTHON_IMAGE=python:3.11-slim)
#
# Each image gets a package list (an SBOM in plain text: Debian packages and Python distributions with their
# versions) in .local/images/<image>.packages, and is checked: runs as 10001, no pip/pytest/compilers inside.
# CPU-heavy: not part of `make test`. Options (environment): KC_IMAGES="users approval" (a subset),
# KC_IMAGE_TAG (default: local), KC_IMAGES_CA_BUNDLE (the CA bundle the build trusts for PyPI; default: the
# host's, which matters where a proxy re-signs TLS).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

OUT=.local/images
LOCKS=deploy/docker/debian
SUITE=bookworm
MIRROR="${KC_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
SECURITY="${KC_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}"
BASE=localhost/kundencenter/python-base:$SUITE
BUILD_BASE=localhost/kundencenter/python-build:$SUITE
TAG="${KC_IMAGE_TAG:-local}"
read -r -a IMAGES <<<"${KC_IMAGES:-registration users approval erp-sync notifications frontend standins runtime}"
CA="${KC_IMAGES_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}"
# 2025-05-20, the Debian snapshot the machines' apt sources name: the tarball's timestamps
EPOCH="${SOURCE_DATE_EPOCH:-1747699200}"

say() { printf '[images] %s\n' "$*"; }
die() { printf '[images] ERROR: %s\n' "$*" >&2; exit 1; }

# --- tools: podman (buildah inside), runc, mmdebstrap from Debian ---------------------------------------------
missing=()
command -v podman >/dev/null || missing+=(podman)
command -v runc >/dev/null || missing+=(runc)
command -v mmdebstrap >/dev/null || missing+=(mmdebstrap)
if [ "${#missing[@]}" -gt 0 ]; then
  [ "$(id -u)" -eq 0 ] || die "need ${missing[*]} (apt-get install ${missing[*]}) and am not root"
  say "apt-get install ${missing[*]}"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# podman here: runc (crun fails on these machines' hybrid cgroups) and ulimits the sandbox lets us set
mkdir -p "$OUT"
cat >"$OUT/containers.conf" <<'EOF'
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]

[engine]
runtime = "runc"
EOF
export CONTAINERS_CONF="$ROOT/$OUT/containers.conf"

# --- the bases -------------------------------------------------------------------------------------------------
base() {  # base NAME IMAGE PACKAGES...
  local name="$1" image="$2"
  shift 2
  local lock="$LOCKS/$name.packages" list="$OUT/$name.packages"
  say "base $image: mmdebstrap $SUITE ($*)"
  SOURCE_DATE_EPOCH="$EPOCH" mmdebstrap --quiet --mode=root --variant=essential --include="$(IFS=,; echo "$*")" \
    --customize-hook='chroot "$1" dpkg-query -W -f="\${Package} \${Version}\n" | sort > "$1/tmp/packages"' \
    --customize-hook="copy-out /tmp/packages $OUT" \
    --customize-hook='rm -f "$1/tmp/packages"; rm -rf "$1"/var/cache/apt/* "$1"/var/lib/apt/lists/*' \
    "$SUITE" "$OUT/$name.tar" \
    "deb $MIRROR $SUITE main" "deb $MIRROR $SUITE-updates main" "deb $SECURITY $SUITE-security main"
  mv "$OUT/packages" "$list"
  if [ ! -f "$lock" ] || [ "${KC_IMAGES_UPDATE_LOCK:-0}" = 1 ]; then
    mkdir -p "$LOCKS"
    { echo "# Debian packages of $image (scripts/images.sh; KC_IMAGES_UPDATE_LOCK=1 rewrites this list)"; cat "$list"; } >"$lock"
    say "wrote $lock ($(wc -l <"$list") packages): review and commit it"
  elif ! diff <(grep -v '^#' "$lock") "$list" >"$OUT/$name.packages.diff"; then
    cat "$OUT/$name.packages.diff" >&2
    die "$image: Debian's packages differ from $lock (above). KC_IMAGES_UPDATE_LOCK=1 to take them, then commit"
  fi
  # the same tarball as the image already made of it (reproducible): keep that image, and the builds' cache with it
  local sum
  sum="$(sha256sum "$OUT/$name.tar" | cut -d' ' -f1)"
  if [ "$(cat "$OUT/$name.tar.sha256" 2>/dev/null)" != "$sum" ] || ! podman image exists "$image"; then
    podman rmi -f "$image" >/dev/null 2>&1 || true
    podman import --quiet --change 'CMD ["/bin/sh"]' "$OUT/$name.tar" "$image" >/dev/null
    printf '%s\n' "$sum" >"$OUT/$name.tar.sha256"
  fi
  say "base $image: $(wc -l <"$list") packages, tarball sha256 $(sha256sum "$OUT/$name.tar" | cut -c1-16)…"
}
base python-base "$BASE" python3 ca-certificates tzdata passwd
base python-build "$BUILD_BASE" python3 python3-pip ca-certificates passwd

# --- the images ------------------------------------------------------------------------------------------------
mounts=()
[ -f "$CA" ] && mounts=(--volume "$CA:/etc/ssl/certs/ca-certificates.crt:ro")
for service in "${IMAGES[@]}"; do
  image="kundencenter/$service:$TAG"
  say "build $image"
  SECONDS=0
  podman build --quiet --network host "${mounts[@]}" -f deploy/docker/Dockerfile \
    --build-arg PYTHON_IMAGE="$BASE" --build-arg BUILD_IMAGE="$BUILD_BASE" --build-arg SERVICE="$service" \
    -t "$image" . >"$OUT/$service.build.log" 2>&1 || { tail -n 30 "$OUT/$service.build.log" >&2; die "build of $image failed"; }

  # the package list (Debian packages, then the Python distributions of the venv) and the checks
  podman run --rm --network none --entrypoint /bin/sh "$image" -c '
    echo "# debian"; dpkg-query -W -f="\${Package} \${Version}\n" | sort
    echo "# python (/app/.venv)"
    python -c "import importlib.metadata as m; [print(d.metadata[\"Name\"], d.version) for d in sorted(m.distributions(), key=lambda d: d.metadata[\"Name\"].lower())]"
  ' >"$OUT/$service.packages"
  user="$(podman image inspect --format '{{.Config.User}}' "$image")"
  [ "$user" = "10001:10001" ] || die "$image runs as '$user', not 10001:10001"
  if grep -iE '^(pip|pytest|ruff|mypy|setuptools|uv|gcc|cpp|make|python3-pip|apt) ' "$OUT/$service.packages" >&2; then
    die "$image holds a development tool (above)"
  fi
  say "  $image: user $user, $(grep -c . "$OUT/$service.packages") packages listed, $(podman image inspect --format '{{.Size}}' "$image" | awk '{printf "%.0f MB", $1/1e6}'), ${SECONDS}s"
done
say "done: ${IMAGES[*]} (tag $TAG); package lists in $OUT/*.packages"
