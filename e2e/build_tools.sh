#!/usr/bin/env bash
# Builds the e2e tier's tools from Go modules into a cache OUTSIDE the repository,
# building only what is missing or out of date.
#
# Why: no prebuilt Pulumi CLI, provider plugin or Kubernetes binary can be
# downloaded on this machine kind; only the Go module proxy and Debian's packages
# are reachable. Each tool family has a wrapper module under e2e/build/ (go.mod +
# go.sum committed) so builds are reproducible and need only the proxy.
#
# Usage: e2e/build_tools.sh [--check] [TOOL...]
#   TOOL: k8s | pulumi | kubernetes | kwok | etcd | versitygw | image   (default: all but image)
#   image: crane and the kubectl the backupper image ships (backupper/image/build_image.sh),
#          for this machine's platform or SCONE_IMAGE_ARCHES ("amd64 arm64").
#   --check  build nothing; print each tool's state; exit 1 if any is missing.
# Cache: ${SCONE_E2E_CACHE:-$HOME/.cache/scone-stack/e2e}  (binaries in bin/,
# build logs in logs/, per-tool stamps in stamps/, timings in build-report.txt).
# Every tool is reported: "up to date", "built in Ns", or "FAILED: why" (exit 1).
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BUILD="$HERE/build"
CACHE=${SCONE_E2E_CACHE:-$HOME/.cache/scone-stack/e2e}
BIN="$CACHE/bin"
LOGS="$CACHE/logs"
STAMPS="$CACHE/stamps"
REPORT="$CACHE/build-report.txt"

# Versions actually built (see e2e/README.md for why each differs from the pins).
K8S_VERSION=v1.26.13        # 1.26.14/15 staging zips for controller-manager are not served
PULUMI_VERSION=v3.274.1     # pkg/v3 3.272.0 and 3.273.0 are not served; SDK pin is 3.272.0
K8S_PROVIDER_VERSION=v4.25.0  # the only provider/v4 version the proxy serves; SDK pin 4.34.2
KWOK_VERSION=v0.8.0
VERSITYGW_VERSION=v1.8.0     # real S3 server (posix backend) for the backupper's tests and bench
IMAGE_KUBECTL_VERSION=v1.30.14  # backupper/Dockerfile's KUBECTL_VERSION; crane is pinned in e2e/build/image
# The image platforms whose kubectl the `image` tool builds: this machine's by default; the
# release workflow asks for both (SCONE_IMAGE_ARCHES="amd64 arm64").
case "$(uname -m)" in aarch64) HOST_ARCH=arm64 ;; *) HOST_ARCH=amd64 ;; esac
IMAGE_ARCHES=${SCONE_IMAGE_ARCHES:-$HOST_ARCH}
NICE=${SCONE_E2E_NICE:-10}

export CGO_ENABLED=0
export GOFLAGS="-buildvcs=false"

mkdir -p "$BIN" "$LOGS" "$STAMPS"

CHECK_ONLY=0
TOOLS=()
for arg in "$@"; do
  case "$arg" in
    --check) CHECK_ONLY=1 ;;
    k8s|pulumi|kubernetes|kwok|etcd|versitygw|image) TOOLS+=("$arg") ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "build_tools: unknown argument '$arg' (allowed: --check k8s pulumi kubernetes kwok etcd versitygw image)" >&2; exit 2 ;;
  esac
done
[ ${#TOOLS[@]} -eq 0 ] && TOOLS=(etcd kwok k8s kubernetes pulumi versitygw)

if ! command -v go >/dev/null 2>&1; then
  echo "build_tools: FAILED: the 'go' command is not on PATH (Go >= 1.26 is needed to build every tool)" >&2
  exit 1
fi

binaries_of() {
  case "$1" in
    k8s) echo "kube-apiserver kube-controller-manager kube-scheduler" ;;
    pulumi) echo "pulumi pulumi-language-python pulumi-language-python-exec pulumi-resource-pulumi-python" ;;
    kubernetes) echo "pulumi-resource-kubernetes" ;;
    kwok) echo "kwok kwok-stages.yaml" ;;
    versitygw) echo "versitygw" ;;
    etcd) echo "" ;;
    image) printf 'crane'; for a in $IMAGE_ARCHES; do printf ' image-kubectl-linux-%s' "$a"; done; echo ;;
  esac
}

# The stamp is a hash of everything that decides the build's output: the recipe
# (this script), the wrapper module's files and the Go version.
stamp_key() {
  local tool=$1 dir=""
  case "$tool" in
    k8s) dir="$BUILD/k8s" ;; pulumi) dir="$BUILD/pulumi" ;; kubernetes) dir="$BUILD/kubernetes" ;;
    image) dir="$BUILD/image" ;;
  esac
  {
    # Each tool's key names the versions it was built with; the first four stay in every key so that
    # caches built before versitygw and the image tools were added remain valid.
    case "$tool" in
      versitygw) echo "$tool $K8S_VERSION $PULUMI_VERSION $K8S_PROVIDER_VERSION $KWOK_VERSION $VERSITYGW_VERSION" ;;
      image) echo "$tool $K8S_VERSION $PULUMI_VERSION $K8S_PROVIDER_VERSION $KWOK_VERSION $IMAGE_KUBECTL_VERSION $IMAGE_ARCHES" ;;
      *) echo "$tool $K8S_VERSION $PULUMI_VERSION $K8S_PROVIDER_VERSION $KWOK_VERSION" ;;
    esac
    go version
    sed -n "/^build_$tool()/,/^}/p" "$0"
    if [ -n "$dir" ]; then
      find "$dir" -type f \( -name go.mod -o -name go.sum -o -name '*.go' \) -print0 | sort -z | xargs -0 cat
    fi
  } | sha256sum | cut -d' ' -f1
}

is_current() {
  local tool=$1 b
  if [ "$tool" = etcd ]; then command -v etcd >/dev/null 2>&1; return; fi
  [ -f "$STAMPS/$tool" ] && [ "$(cat "$STAMPS/$tool")" = "$(stamp_key "$tool")" ] || return 1
  for b in $(binaries_of "$tool"); do [ -e "$BIN/$b" ] || return 1; done
}

build_etcd() {
  # Debian's etcd-server (3.4.23) is in the range Kubernetes 1.26 supports.
  if command -v etcd >/dev/null 2>&1; then return 0; fi
  if [ "$(id -u)" != 0 ]; then
    echo "etcd is not installed and installing it needs root: run 'apt-get install etcd-server'"
    return 1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq etcd-server \
    || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq etcd-server; }
  command -v etcd >/dev/null 2>&1 || { echo "apt-get install etcd-server did not provide an 'etcd' command"; return 1; }
  # Debian's package may start a system service; the harness runs its own etcd.
  if command -v systemctl >/dev/null 2>&1; then systemctl disable --now etcd >/dev/null 2>&1 || true; fi
}

build_kwok() {
  local src f
  GOBIN="$BIN" nice -n "$NICE" go install -trimpath -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION" \
    || return 1
  # kwok v0.8 starts only with stages configured; take upstream's "fast" node/pod
  # stages and the lease heartbeat from the same module (what kwokctl uses).
  src=$(go mod download -json "sigs.k8s.io/kwok@$KWOK_VERSION" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])') || return 1
  : > "$BIN/kwok-stages.yaml"
  for f in node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
           pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
    [ -f "$src/kustomize/stage/$f" ] || { echo "kwok stage file missing: $f"; return 1; }
    { echo "---"; cat "$src/kustomize/stage/$f"; } >> "$BIN/kwok-stages.yaml"
  done
}

build_versitygw() {
  # A real S3 server (Go, posix backend) next to moto for the backupper's tests and bench.
  GOBIN="$BIN" nice -n "$NICE" go install -trimpath -ldflags "-s -w" \
    "github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION"
}

build_k8s() {
  local ld="-s -w" pkg commit
  commit=$(cd "$BUILD/k8s" && go mod download -json "k8s.io/kubernetes@$K8S_VERSION" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin).get("Origin",{}).get("Hash","") or "unknown")')
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld="$ld -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=26"
    ld="$ld -X $pkg.gitCommit=$commit -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  done
  # providerless: drops the in-tree cloud providers (nothing here talks to a cloud).
  (cd "$BUILD/k8s" && nice -n "$NICE" go build -trimpath -tags providerless -ldflags "$ld" -o "$BIN/" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler)
}

build_image() {
  # crane for the host; kubectl for each image platform asked for. The kubectl binaries are named
  # so that they never shadow a `kubectl` on PATH (or look like a kubectl plugin).
  local dir="$BUILD/image" pkg arch ld="-s -w"
  (cd "$dir" && nice -n "$NICE" go build -trimpath -ldflags "-s -w" -o "$BIN/crane" \
    github.com/google/go-containerregistry/cmd/crane) || return 1
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld="$ld -X $pkg.gitVersion=$IMAGE_KUBECTL_VERSION -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  done
  for arch in $IMAGE_ARCHES; do
    case "$arch" in amd64|arm64) ;; *) echo "SCONE_IMAGE_ARCHES: '$arch' is not amd64 or arm64"; return 1 ;; esac
    (cd "$dir" && GOOS=linux GOARCH=$arch nice -n "$NICE" go build -trimpath -ldflags "$ld" \
      -o "$BIN/image-kubectl-linux-$arch" ./kubectl) || return 1
  done
}

build_kubernetes() {
  local dir="$BUILD/kubernetes" src
  src=$(cd "$dir" && go mod download -json github.com/pulumi/pulumi-kubernetes/provider/v4 \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])') || return 1
  # What upstream's generate.go does: schema.json with the version set, and the
  # terraform mapping, both re-marshalled compactly, embedded by main.go.
  python3 - "$src/cmd/pulumi-resource-kubernetes" "$dir" "${K8S_PROVIDER_VERSION#v}" <<'PY' || return 1
import json, sys, pathlib
src, dst, version = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), sys.argv[3]
schema = json.loads((src / "schema.json").read_text())
schema["version"] = version
(dst / "schema-embed.json").write_text(json.dumps(schema, separators=(",", ":")))
mapping = json.loads((src / "terraform-mapping.json").read_text())
(dst / "terraform-mapping-embed.json").write_text(json.dumps(mapping, separators=(",", ":")))
PY
  (cd "$dir" && nice -n "$NICE" go build -trimpath \
    -ldflags "-s -w -X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=$K8S_PROVIDER_VERSION" \
    -o "$BIN/pulumi-resource-kubernetes" .)
}

build_pulumi() {
  local dir="$BUILD/pulumi" sdk ld
  ld="-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$PULUMI_VERSION"
  (cd "$dir" && nice -n "$NICE" go build -trimpath -tags osusergo,grpcnotrace -ldflags "$ld" \
    -o "$BIN/pulumi" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi) || return 1
  (cd "$dir" && nice -n "$NICE" go build -trimpath -tags osusergo,grpcnotrace -ldflags "$ld" \
    -o "$BIN/pulumi-language-python" ./pylanghost) || return 1
  # The two scripts the Go build does not produce ship in the sdk/v3 module zip;
  # zips carry no exec bit and the module cache is read-only, so copy + chmod.
  sdk=$(cd "$dir" && go list -m -f '{{.Dir}}' github.com/pulumi/pulumi/sdk/v3) || return 1
  install -m 0755 "$sdk/python/cmd/pulumi-language-python-exec" "$BIN/pulumi-language-python-exec" || return 1
  install -m 0755 "$sdk/python/dist/pulumi-resource-pulumi-python" "$BIN/pulumi-resource-pulumi-python"
}

: > "$REPORT.tmp"
FAILED=()
for tool in "${TOOLS[@]}"; do
  if is_current "$tool"; then
    echo "build_tools: $tool: up to date ($(binaries_of "$tool" | tr ' ' ',' | sed 's/^$/system etcd/'))"
    echo "$tool up-to-date 0" >> "$REPORT.tmp"
    continue
  fi
  if [ "$CHECK_ONLY" = 1 ]; then
    echo "build_tools: $tool: MISSING or out of date (run e2e/build_tools.sh $tool)"
    FAILED+=("$tool")
    continue
  fi
  echo "build_tools: $tool: building (log: $LOGS/$tool.log) ..."
  start=$(date +%s)
  if "build_$tool" > "$LOGS/$tool.log" 2>&1; then
    secs=$(( $(date +%s) - start ))
    [ "$tool" != etcd ] && stamp_key "$tool" > "$STAMPS/$tool"
    echo "build_tools: $tool: built in ${secs}s ($(binaries_of "$tool" | tr ' ' ',' | sed 's/^$/etcd from Debian/'))"
    echo "$tool built $secs" >> "$REPORT.tmp"
  else
    secs=$(( $(date +%s) - start ))
    echo "build_tools: $tool: FAILED after ${secs}s; last lines of $LOGS/$tool.log:" >&2
    tail -n 25 "$LOGS/$tool.log" | sed 's/^/    /' >&2
    echo "$tool failed $secs" >> "$REPORT.tmp"
    FAILED+=("$tool")
  fi
done
mv "$REPORT.tmp" "$REPORT"

if [ ${#FAILED[@]} -gt 0 ]; then
  echo "build_tools: FAILED or missing: ${FAILED[*]}" >&2
  exit 1
fi
echo "build_tools: all tools ready in $BIN"
