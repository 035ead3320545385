#!/usr/bin/env bash
# Builds the CAS DB backupper's OCI image without a Docker daemon and without Docker Hub.
#
# Why: the machines that build and test this project reach only Debian's and PyPI's package
# repositories and the Go module proxy. The image is made from exactly those:
#   - a root filesystem from Debian bookworm packages (python3.11, tar, ca-certificates and
#     what they depend on), resolved and downloaded by apt with an empty package database
#     and unpacked with dpkg-deb (no maintainer scripts run: nothing in them is needed here);
#   - the backupper and its pinned dependencies (backupper/requirements.txt) from PyPI wheels
#     for the target platform, in a venv at /opt/backupper like backupper/Dockerfile's;
#   - kubectl at the Dockerfile's KUBECTL_VERSION, built from k8s.io/kubectl;
#   - assembled by crane (go-containerregistry) onto an empty base, pushed to a registry crane
#     serves on loopback, and written out as an OCI image layout (one index, one manifest per
#     platform).
# The image behaves like backupper/Dockerfile's: user 10001:10001, HOME=/tmp, entry point
# scone-backupper, command loop, metrics port 9102, nothing written to the root filesystem.
#
# Usage: backupper/image/build_image.sh [--platform linux/amd64] [--platform linux/arm64]
#                                       [--out DIR] [--push REF]
#   --platform  one or more of linux/amd64, linux/arm64 (default: this machine's)
#   --out       where the OCI layout goes (default: $SCONE_E2E_CACHE/backupper-image/oci)
#   --push      also copy the image (index and all platforms) to REF, e.g.
#               registry.example.com/team/osc-scone-cas-db-backupper:5.8.0 (crane uses the
#               credentials of `crane auth login` / ~/.docker/config.json)
# Needs: root (files owned by root in the layer), apt configured with Debian bookworm sources,
# python3 with pip, and the `image` tools (e2e/build_tools.sh image: crane + kubectl).
# Prints the image digest as the last line: digest=sha256:...
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BACKUPPER=$(dirname "$HERE")
ROOT=$(dirname "$BACKUPPER")
CACHE=${SCONE_E2E_CACHE:-$HOME/.cache/scone-stack/e2e}
BIN="$CACHE/bin"
PYTHON=${PYTHON:-python3}
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git -C "$ROOT" log -1 --format=%ct 2>/dev/null || echo 0)}
# The Debian packages of the runtime; apt adds what they depend on.
PACKAGES=(python3.11 tar)
PY_VERSION=3.11
UID_GID=10001:10001
NAME=scone-cas-db-backupper

fail() { echo "build_image: FAILED: $*" >&2; exit 1; }

PLATFORMS=()
OUT="$CACHE/backupper-image/oci"
PUSH=""
while [ $# -gt 0 ]; do
  case "$1" in
    --platform) [ $# -ge 2 ] || fail "--platform needs a value (linux/amd64 or linux/arm64)"
      case "$2" in linux/amd64|linux/arm64) PLATFORMS+=("$2") ;;
        *) fail "--platform '$2' is not supported (allowed: linux/amd64, linux/arm64)" ;; esac
      shift 2 ;;
    --out) [ $# -ge 2 ] || fail "--out needs a directory"; OUT=$2; shift 2 ;;
    --push) [ $# -ge 2 ] || fail "--push needs an image reference"; PUSH=$2; shift 2 ;;
    -h|--help) sed -n '2,30p' "$0"; exit 0 ;;
    *) fail "unknown argument '$1' (allowed: --platform, --out, --push)" ;;
  esac
done
if [ ${#PLATFORMS[@]} -eq 0 ]; then
  case "$(uname -m)" in x86_64) PLATFORMS=(linux/amd64) ;; aarch64) PLATFORMS=(linux/arm64) ;;
    *) fail "this machine ($(uname -m)) is neither amd64 nor arm64: pass --platform" ;; esac
fi

[ "$(id -u)" = 0 ] || fail "run as root: the image's files must be owned by root (uid 0) in its layer"
command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null \
  || fail "apt-get and dpkg-deb are needed (a Debian or Ubuntu machine)"
grep -qs 'deb.debian.org/debian\|/debian ' /etc/apt/sources.list /etc/apt/sources.list.d/* \
  || fail "apt has no Debian sources configured (/etc/apt/sources.list*): the root filesystem is made from Debian bookworm packages"
"$PYTHON" -m pip --version >/dev/null 2>&1 || fail "'$PYTHON -m pip' does not work: set PYTHON to a python with pip"
for tool in crane "${PLATFORMS[@]/#linux\//image-kubectl-linux-}"; do
  [ -x "$BIN/$tool" ] || fail "$BIN/$tool is missing: run e2e/build_tools.sh image"
done
CRANE="$BIN/crane"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/backupper-image.XXXXXX")
REGISTRY_PID=""
cleanup() {
  local rc=$?
  if [ -n "$REGISTRY_PID" ]; then kill "$REGISTRY_PID" 2>/dev/null || true; wait "$REGISTRY_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT

step() { echo "build_image: $*" >&2; }

# --- apt with its own, empty package database, one per architecture (kept between builds) ---
apt_for() {
  local arch=$1 dir="$CACHE/backupper-image/apt-$1"
  mkdir -p "$dir/state/lists/partial" "$dir/cache/archives/partial"
  : > "$dir/status"
  APT=(apt-get -q -o "Dir::State=$dir/state" -o "Dir::State::status=$dir/status" -o "Dir::Cache=$dir/cache"
       -o "APT::Architecture=$arch" -o "APT::Architectures::=$arch" -o Debug::NoLocking=1
       -o APT::Install-Recommends=false -o APT::Sandbox::User=root)
  ARCHIVES="$dir/cache/archives"
}

unpack() {  # unpack one .deb into the root filesystem, keeping the merged-/usr symlinks
  dpkg-deb --fsys-tarfile "$1" | tar -x --keep-directory-symlink -C "$2"
}

build_rootfs() {
  local arch=$1 rootfs=$2 deb site dist script
  apt_for "$arch"
  step "$arch: resolving and downloading ${PACKAGES[*]} ca-certificates from Debian"
  "${APT[@]}" update >&2 || fail "apt-get update for $arch failed (see above)"
  rm -f "$ARCHIVES"/*.deb
  "${APT[@]}" install --download-only -y "${PACKAGES[@]}" >&2 || fail "apt could not download ${PACKAGES[*]} for $arch"
  # ca-certificates alone: its dependencies (openssl, debconf, perl) only serve its
  # maintainer script, whose bundle is built below the same way.
  (cd "$ARCHIVES" && "${APT[@]}" download ca-certificates >&2) || fail "apt could not download ca-certificates"

  mkdir -p "$rootfs"/usr/{bin,sbin,lib} "$rootfs"/{etc,tmp,opt,var/tmp}
  for d in bin sbin lib; do ln -s "usr/$d" "$rootfs/$d"; done
  [ "$arch" = amd64 ] && mkdir -p "$rootfs/usr/lib64" && ln -s usr/lib64 "$rootfs/lib64"
  for deb in "$ARCHIVES"/*.deb; do unpack "$deb" "$rootfs"; done
  ls "$ARCHIVES"/*.deb | sed 's#.*/##' > "$WORK/packages-$arch.txt"

  # What update-ca-certificates would write: every Mozilla certificate in one bundle.
  mkdir -p "$rootfs/etc/ssl/certs"
  cat "$rootfs"/usr/share/ca-certificates/mozilla/*.crt > "$rootfs/etc/ssl/certs/ca-certificates.crt"
  # What the maintainer scripts and base-files would provide that the program needs.
  [ -e "$rootfs/usr/bin/python3" ] || ln -s "python$PY_VERSION" "$rootfs/usr/bin/python3"
  printf 'root:x:0:0:root:/root:/usr/sbin/nologin\nbackupper:x:10001:10001::/tmp:/usr/sbin/nologin\n' \
    > "$rootfs/etc/passwd"
  printf 'root:x:0:\nbackupper:x:10001:\n' > "$rootfs/etc/group"
  chmod 1777 "$rootfs/tmp" "$rootfs/var/tmp"
  rm -rf "$rootfs"/usr/share/{man,info,lintian} "$rootfs"/usr/share/doc/*/changelog*

  # The venv /opt/backupper: Debian's python3.11 with the backupper's wheels.
  site="$rootfs/opt/backupper/lib/python$PY_VERSION/site-packages"
  mkdir -p "$site" "$rootfs/opt/backupper/bin"
  ln -s "/usr/bin/python$PY_VERSION" "$rootfs/opt/backupper/bin/python3"
  ln -s python3 "$rootfs/opt/backupper/bin/python"
  printf 'home = /usr/bin\ninclude-system-site-packages = false\nversion = %s\n' \
    "$(ls "$ARCHIVES" | sed -n "s/^python$PY_VERSION-minimal_\([0-9.]*\)-.*/\1/p")" > "$rootfs/opt/backupper/pyvenv.cfg"
  step "$arch: installing the backupper and backupper/requirements.txt from PyPI wheels"
  # Every manylinux tag bookworm's glibc (2.36) runs; pip does not widen a --platform itself.
  # Dependencies not in requirements.txt are held to the versions of constraints.txt.
  local machine platforms=() v
  machine=$( [ "$arch" = amd64 ] && echo x86_64 || echo aarch64)
  for v in $(seq 17 36); do platforms+=(--platform "manylinux_2_${v}_$machine"); done
  "$PYTHON" -m pip install -q --disable-pip-version-check --no-compile --only-binary=:all: \
    "${platforms[@]}" --python-version "$PY_VERSION" --implementation cp --target "$site" \
    -c "$ROOT/constraints.txt" -r "$BACKUPPER/requirements.txt" "$WORK/wheels/"*.whl >&2 \
    || fail "pip could not install the wheels for $arch"
  rm -rf "$site/bin"
  # The console script pip would write, pointing at the venv's python.
  dist=$(ls -d "$site"/scone_backupper-*.dist-info)
  script=$(sed -n 's/^scone-backupper *= *\(.*\):\(.*\)$/\1 \2/p' "$dist/entry_points.txt")
  [ -n "$script" ] || fail "no scone-backupper console script in $dist/entry_points.txt"
  set -- $script
  printf '#!/opt/backupper/bin/python3\nimport sys\nfrom %s import %s\nsys.exit(%s())\n' "$1" "$2" "$2" \
    > "$rootfs/opt/backupper/bin/scone-backupper"
  chmod 0755 "$rootfs/opt/backupper/bin/scone-backupper"
  # Byte code ahead of time (the root filesystem is read-only at run time); hash-checked,
  # so timestamps do not matter.
  "$PYTHON" -m compileall -q --invalidation-mode checked-hash -s "$rootfs" -p / "$rootfs/opt/backupper" >&2
  mkdir -p "$rootfs/usr/local/bin"
  install -m 0755 "$BIN/image-kubectl-linux-$arch" "$rootfs/usr/local/bin/kubectl"
}

layer_of() {  # a reproducible tar of the root filesystem
  tar -C "$1" --sort=name --numeric-owner --owner=0 --group=0 --mtime="@$SOURCE_DATE_EPOCH" --clamp-mtime \
    --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime -cf "$2" .
}

start=$(date +%s)
step "building the backupper wheel"
mkdir -p "$WORK/wheels"
"$PYTHON" -m pip wheel -q --disable-pip-version-check --no-deps -w "$WORK/wheels" "$BACKUPPER" >&2 \
  || fail "pip could not build the backupper wheel from $BACKUPPER"
VERSION=$(ls "$WORK/wheels" | sed -n 's/^scone_backupper-\([^-]*\)-.*/\1/p')

# crane's registry on a free loopback port (it logs the port it got), blobs on disk.
mkdir -p "$WORK/registry"
: > "$WORK/registry.log"
"$CRANE" registry serve --address 127.0.0.1:0 --disk "$WORK/registry" > "$WORK/registry.log" 2>&1 &
REGISTRY_PID=$!
PORT=""
for _ in $(seq 1 6000); do
  PORT=$(sed -n 's/.*serving on port \([0-9]*\).*/\1/p' "$WORK/registry.log")
  [ -n "$PORT" ] && break
  kill -0 "$REGISTRY_PID" 2>/dev/null || fail "crane registry serve exited: $(cat "$WORK/registry.log")"
  sleep 0.1
done
[ -n "$PORT" ] || fail "crane registry serve did not report its port: $(cat "$WORK/registry.log")"
LOCAL="127.0.0.1:$PORT/$NAME"

MANIFESTS=()
for platform in "${PLATFORMS[@]}"; do
  arch=${platform#linux/}
  build_rootfs "$arch" "$WORK/rootfs-$arch"
  layer_of "$WORK/rootfs-$arch" "$WORK/layer-$arch.tar"
  step "$arch: assembling the image ($(du -sh "$WORK/layer-$arch.tar" | cut -f1) layer)"
  "$CRANE" append --oci-empty-base -f "$WORK/layer-$arch.tar" -t "$LOCAL:$arch" >&2
  "$CRANE" mutate "$LOCAL:$arch" -t "$LOCAL:$arch" \
    --set-platform "$platform" --entrypoint scone-backupper --cmd loop --user "$UID_GID" --workdir /tmp \
    --env "PATH=/opt/backupper/bin:/usr/local/bin:/usr/bin:/bin" --env HOME=/tmp \
    --env PYTHONDONTWRITEBYTECODE=1 --env PYTHONUNBUFFERED=1 \
    --env SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt --exposed-ports 9102/tcp \
    --label "org.opencontainers.image.title=$NAME" --label "org.opencontainers.image.version=$VERSION" \
    --label "org.opencontainers.image.created=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)" >&2
  MANIFESTS+=(-m "$LOCAL:$arch")
  rm -rf "$WORK/rootfs-$arch" "$WORK/layer-$arch.tar"
done
"$CRANE" index append "${MANIFESTS[@]}" -t "$LOCAL:$VERSION" >&2
rm -rf "$OUT"
mkdir -p "$(dirname "$OUT")"
"$CRANE" pull --format oci "$LOCAL:$VERSION" "$OUT" >&2
for platform in "${PLATFORMS[@]}"; do cp "$WORK/packages-${platform#linux/}.txt" "$(dirname "$OUT")/"; done
DIGEST=$("$CRANE" digest "$LOCAL:$VERSION")
if [ -n "$PUSH" ]; then
  step "pushing to $PUSH"
  "$CRANE" copy "$LOCAL:$VERSION" "$PUSH" >&2
fi
step "built ${PLATFORMS[*]} in $(( $(date +%s) - start ))s: $OUT"
echo "digest=$DIGEST"
