#!/usr/bin/env bash
# pdm's container image with podman, from Debian's packages only (no image registry needed):
#   scripts/image.sh base    the Debian 12 base image (mmdebstrap into `podman import`), once
#   scripts/image.sh build   the base if missing, then the Dockerfile: localhost/pdm:<commit> and
#                            localhost/pdm:latest
#   scripts/image.sh push DEST        tags localhost/pdm:latest as DEST and pushes it (log in
#                            first: podman login, as .gitlab-ci.yml does)
#   scripts/image.sh podman ARGS...   podman with this machine's settings (below)
#
# Settings for machines like this one (a container without CAP_SYS_RESOURCE, cgroups v1): podman
# runs with runc, and the containers' file and process limits are set at or below the host's
# (crun and podman's defaults try to raise them and fail). They come from a containers.conf that
# this script writes, unless CONTAINERS_CONF is set. The host's ccache directory is mounted
# into the build stage, so a machine that built the CI preset compiles little.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
BASE_IMAGE=${PDM_BASE_IMAGE:-localhost/pdm-debian:bookworm}
IMAGE=${PDM_IMAGE:-localhost/pdm}
MIRROR=${PDM_DEBIAN_MIRROR:-http://deb.debian.org/debian}
SECURITY=${PDM_DEBIAN_SECURITY:-http://deb.debian.org/debian-security}

if [[ -z "${CONTAINERS_CONF:-}" ]]; then
  conf_dir=${XDG_RUNTIME_DIR:-/tmp}/pdm-podman
  mkdir -p "$conf_dir"
  nofile=$(ulimit -Hn)
  nproc=$(ulimit -Hu)
  [[ "$nofile" == unlimited ]] && nofile=1048576
  [[ "$nproc" == unlimited ]] && nproc=65536
  nofile=$((nofile > 65536 ? 65536 : nofile))
  nproc=$((nproc > 4096 ? 4096 : nproc))
  cat > "$conf_dir/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=${nofile}:${nofile}", "nproc=${nproc}:${nproc}"]
[engine]
runtime = "runc"
CONF
  export CONTAINERS_CONF=$conf_dir/containers.conf
fi

make_base() {
  if podman image exists "$BASE_IMAGE"; then
    echo "image: base $BASE_IMAGE present"
    return
  fi
  local tar
  tar=$(mktemp /tmp/pdm-base.XXXXXX.tar)
  echo "image: making $BASE_IMAGE with mmdebstrap ($MIRROR)"
  mmdebstrap --quiet --variant=minbase --include=ca-certificates bookworm "$tar" \
    "deb $MIRROR bookworm main" "deb $MIRROR bookworm-updates main" \
    "deb $SECURITY bookworm-security main"
  podman import --change 'CMD ["/bin/bash"]' "$tar" "$BASE_IMAGE" >/dev/null
  rm -f "$tar"
}

build() {
  make_base
  local commit ccache_dir volume=()
  commit=$(git -C "$root" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
  if ! git -C "$root" diff --quiet HEAD 2>/dev/null; then commit="${commit}-dirty"; fi
  ccache_dir=$(ccache -k cache_dir 2>/dev/null || true)
  if [[ -n "$ccache_dir" ]]; then
    mkdir -p "$ccache_dir"
    # The container's ccache reads the cache's own ccache.conf: give it the host's size limit,
    # so that it does not trim the host's cache to ccache's default 5 GB.
    CCACHE_DIR=$ccache_dir ccache --max-size "$(ccache -k max_size)" >/dev/null
    volume=(--volume "$ccache_dir:/ccache")
  fi
  echo "image: building $IMAGE:$commit"
  local common=(--format docker --layers --build-arg BASE="$BASE_IMAGE"
                --build-arg PDM_GIT_COMMIT="$commit" "${volume[@]}" -f "$root/Dockerfile")
  # docker format: the OCI image format has no HEALTHCHECK. The build stage is tagged too
  # ($IMAGE-build:latest), so that pruning below keeps its cached package layer.
  podman build "${common[@]}" --target build -t "$IMAGE-build:latest" "$root"
  podman build "${common[@]}" -t "$IMAGE:$commit" -t "$IMAGE:latest" "$root"
  # What earlier builds left: images of other commits, then every image no tag holds. Without
  # this, each build of a new commit keeps about 1.4 GB.
  podman images --format '{{.Repository}}:{{.Tag}}' | grep "^$IMAGE:" |
    grep -v -e ":latest\$" -e ":$commit\$" | xargs -r podman rmi > /dev/null || true
  podman image prune -f > /dev/null
}

case "${1:-build}" in
  base) make_base ;;
  build) build ;;
  push)
    dest=${2:?usage: scripts/image.sh push DEST}
    podman tag "$IMAGE:latest" "$dest"
    podman push "$dest"
    ;;
  podman) shift; exec podman "$@" ;;
  *) echo "usage: scripts/image.sh base|build|push DEST|podman ARGS..." >&2; exit 2 ;;
esac
