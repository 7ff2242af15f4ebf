# pdm's container image: a build stage that compiles the pdm binary, and a runtime stage with
# only the shared libraries it links, a non-root user, `pdm serve` as the entry point and a
# health check (docs/deploy.md).
#
#   scripts/image.sh build          # makes the Debian 12 base with mmdebstrap, then builds
#   podman build -t pdm --build-arg BASE=docker.io/library/debian:bookworm .   # with a registry
#
# BASE is any Debian 12 (bookworm) image; scripts/image.sh makes one locally from Debian's
# packages, so no image registry is needed.
ARG BASE=localhost/pdm-debian:bookworm

FROM ${BASE} AS build
ENV DEBIAN_FRONTEND=noninteractive
COPY scripts/setup.sh /src/scripts/setup.sh
RUN /src/scripts/setup.sh build && rm -rf /var/lib/apt/lists/*
COPY . /src
WORKDIR /src
# The commit, when the build context has no .git (scripts/image.sh passes it).
ARG PDM_GIT_COMMIT=unknown
# A ccache directory may be mounted at /ccache (scripts/image.sh mounts the host's): the same
# compiler and flags as the CI build, so its objects are reused.
ENV CCACHE_DIR=/ccache CCACHE_BASEDIR=/src CCACHE_NOHASHDIR=1
RUN cmake --preset ci -DPDM_BUILD_TESTS=OFF -DPDM_BUILD_BENCH=OFF \
        -DPDM_GIT_COMMIT_OVERRIDE="${PDM_GIT_COMMIT}" >/dev/null \
 && cmake --build --preset ci --target pdm \
 && install -D -m 0755 build/ci/src/cli/pdm /out/usr/local/bin/pdm \
 && strip /out/usr/local/bin/pdm \
 && scripts/runtime_packages.sh /out/usr/local/bin/pdm > /out/runtime-packages \
 && cat /out/runtime-packages

FROM ${BASE} AS runtime
ENV DEBIAN_FRONTEND=noninteractive
COPY --from=build /out/runtime-packages /tmp/runtime-packages
# The packages of the libraries pdm links (found by ldd in the build stage), curl for the health
# check, and CA certificates for TLS to brokers, webhooks and sinks.
RUN apt-get update \
 && xargs -a /tmp/runtime-packages apt-get install -y --no-install-recommends curl ca-certificates \
 && rm -rf /var/lib/apt/lists/* /tmp/runtime-packages \
 && groupadd --system --gid 10001 pdm \
 && useradd --system --uid 10001 --gid pdm --home-dir /var/lib/pdm --shell /usr/sbin/nologin pdm \
 && mkdir -p /var/lib/pdm /etc/pdm \
 && chown pdm:pdm /var/lib/pdm
COPY --from=build /out/usr/local/bin/pdm /usr/local/bin/pdm
COPY deploy/container/server.yaml /etc/pdm/server.yaml

USER 10001:10001
WORKDIR /var/lib/pdm
VOLUME ["/var/lib/pdm"]
ENV PDM_CONFIG=/etc/pdm/server.yaml
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD curl -fsS "http://127.0.0.1:${PDM_PORT:-8080}/livez" >/dev/null || exit 1
ENTRYPOINT ["/usr/local/bin/pdm"]
CMD ["serve"]
