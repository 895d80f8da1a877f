# Pairgate's container image: `pairgate` built with the Swift toolchain on Debian 12, run on a slim
# Debian 12 with only what the binary needs at run time, as a non-root user. Configuration comes
# from PAIRGATE_* variables (docs/configuration.md); secrets belong in the orchestrator's secret
# store, never in the image.
#
#   docker build -t pairgate .
#   docker run --rm -e PAIRGATE_DATABASE_URL=… pairgate migrate
#   docker run -p 8080:8080 -e PAIRGATE_DATABASE_URL=… -e PAIRGATE_CREDENTIALS_MASTER_KEY=… pairgate
#
# The test machines have no container engine, so this file is linted (hadolint, in
# ops/check-artifacts.sh) but its build is not tested there; docs/operations.md says so.

FROM swift:6.3-bookworm AS build
# The -dev packages of the system libraries the package links (Sources/CLibPQ, Sources/CZlib).
# hadolint ignore=DL3008
RUN export DEBIAN_FRONTEND=noninteractive \
    && apt-get update -q \
    && apt-get install -y -q --no-install-recommends libpq-dev zlib1g-dev libssl-dev pkgconf \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /build
# The manifest alone first: resolving the dependencies is a layer of its own, reused while only
# our sources change.
COPY Package.swift ./
RUN swift package resolve
# SwiftPM loads every target of the manifest, the test targets included, so Tests/ comes too.
COPY Sources ./Sources
COPY Tests ./Tests
# The Swift runtime and Foundation are linked statically: the run stage needs no toolchain.
# swift-backtrace-static prints a symbolicated backtrace if the process ever crashes.
RUN swift build -c release --product pairgate --static-swift-stdlib \
    && mkdir /staging \
    && cp "$(swift build -c release --show-bin-path)/pairgate" /staging/ \
    && cp /usr/libexec/swift/linux/swift-backtrace-static /staging/

FROM debian:12-slim
# libpq5 and zlib1g: linked by the binary (libpq brings libssl3); libcurl4: Foundation's URLSession
# (`pairgate wa-version`); ca-certificates: wss:// to WhatsApp and TLS to PostgreSQL; curl: the
# health check. Versions follow Debian 12's security updates, so they are not pinned.
# hadolint ignore=DL3008
RUN export DEBIAN_FRONTEND=noninteractive \
    && apt-get update -q \
    && apt-get install -y -q --no-install-recommends libpq5 zlib1g libssl3 libcurl4 ca-certificates tzdata curl \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 pairgate \
    && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/pairgate --create-home --shell /usr/sbin/nologin pairgate
COPY --from=build /staging/pairgate /staging/swift-backtrace-static /usr/local/bin/
USER 10001:10001
WORKDIR /var/lib/pairgate
# A container listens on every interface (the default 127.0.0.1 would be unreachable from outside).
ENV PAIRGATE_HTTP_HOST=0.0.0.0 \
    PAIRGATE_HTTP_PORT=8080 \
    SWIFT_BACKTRACE=enable=yes,sanitize=yes,threads=all,images=all,interactive=no,swift-backtrace=/usr/local/bin/swift-backtrace-static
EXPOSE 8080
# Liveness only: /healthz answers while the process serves. Readiness (/readyz: the database
# answers and the schema is current) is the orchestrator's probe, not a reason to restart.
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
    CMD ["/bin/sh", "-c", "curl -fsS -o /dev/null http://127.0.0.1:${PAIRGATE_HTTP_PORT}/healthz || exit 1"]
# SIGTERM stops it gracefully: the HTTP server first, then every device connection, each lease
# released so another instance takes the devices at once (docs/operations.md).
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/pairgate"]
CMD ["serve"]
