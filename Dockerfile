# voxrelay container image.
#
#   docker build -t voxrelay .
#   docker run --rm -p 8080:8080 \
#     -e CLOUDFLARE_AIG_TOKEN -e DEEPGRAM_API_KEY -e OPENAI_API_KEY -e ASSEMBLYAI_API_KEY -e ELEVENLABS_API_KEY -e CARTESIA_API_KEY -e VOXRELAY_SIGNING_SECRET voxrelay
#
# The image runs `voxrelay serve` as uid 10001 with config/voxrelay.toml at
# /etc/voxrelay/voxrelay.toml. Use your own config by mounting it over that path
# (`-v "$PWD/my.toml:/etc/voxrelay/voxrelay.toml:ro"`) or elsewhere with
# `-e VOXRELAY_CONFIG=/path/in/container.toml`; any setting can be overridden with
# VOXRELAY_<SECTION>__<KEY> variables. The image sets VOXRELAY_SERVER__LISTEN=0.0.0.0:8080, which
# overrides `server.listen` in whatever file you mount. More: docs/running-at-scale.md.

ARG RUST_VERSION=1.95

# ---- builder ---------------------------------------------------------------------------------
FROM rust:${RUST_VERSION}-bookworm AS builder
WORKDIR /build

# Dependencies first, against stub sources, so this layer is reused until Cargo.toml/Cargo.lock
# change. The root manifest is a workspace whose members include bench/, so its manifest (and a
# stub target) must exist for --locked to resolve; only the voxrelay package is built.
COPY Cargo.toml Cargo.lock ./
COPY bench/Cargo.toml bench/Cargo.toml
RUN mkdir -p src bench/src \
    && echo 'fn main() {}' > src/main.rs \
    && echo '//! stub' > src/lib.rs \
    && echo 'fn main() {}' > bench/src/main.rs \
    && cargo build --release --locked -p voxrelay

# The real sources. demo/ is compiled in (include_str! in src/demo.rs). Touch the crate roots so
# cargo rebuilds voxrelay even if the copied files are older than the stub build.
COPY src src
COPY demo demo
RUN touch src/main.rs src/lib.rs \
    && cargo build --release --locked -p voxrelay \
    && install -D -m 0755 target/release/voxrelay /out/voxrelay

# ---- runtime ---------------------------------------------------------------------------------
FROM debian:bookworm-slim AS runtime

LABEL org.opencontainers.image.title="voxrelay" \
      org.opencontainers.image.description="WebSocket relay between browsers and Deepgram / Cloudflare AI Gateway speech APIs" \
      org.opencontainers.image.licenses="Apache-2.0"

# ca-certificates: voxrelay itself trusts the compiled-in webpki roots (plus server.extra_ca_file);
# the system bundle is there for extra_ca_file and for debugging tools. Pinned as hadolint asks
# (DL3008); bump with `apt-cache policy ca-certificates` in debian:bookworm-slim when the build
# reports the version is gone.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates=20250419~deb12u2 \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 voxrelay \
    && useradd --system --uid 10001 --gid 10001 --no-log-init --no-create-home \
       --home-dir /nonexistent --shell /usr/sbin/nologin voxrelay

COPY --from=builder /out/voxrelay /usr/local/bin/voxrelay
COPY config/voxrelay.toml /etc/voxrelay/voxrelay.toml

ENV VOXRELAY_CONFIG=/etc/voxrelay/voxrelay.toml \
    VOXRELAY_SERVER__LISTEN=0.0.0.0:8080

# Numeric so Kubernetes' runAsNonRoot can verify it.
USER 10001:10001
# 8080: the relay; 9464: /metrics (metrics.listen in config/voxrelay.toml)
EXPOSE 8080 9464

# `voxrelay healthcheck` loads the same config (VOXRELAY_CONFIG + env) and GETs /healthz on the
# configured listen address, over TLS when [server.tls] is set; no curl in the image.
HEALTHCHECK --interval=15s --timeout=5s --start-period=10s --retries=3 CMD ["voxrelay", "healthcheck"]

# SIGTERM drains: /readyz turns 503, new upgrades are refused, live sessions get
# server.shutdown_grace (30s in the shipped config), then, spread over server.drain_spread (10s),
# each gets its provider's finalize, its final results, and close 1012 within server.drain_timeout
# (3s). Give the container more than that to stop (docker stop -t 60, compose stop_grace_period,
# k8s terminationGracePeriodSeconds). SIGHUP reloads the configuration in place.
STOPSIGNAL SIGTERM
ENTRYPOINT ["voxrelay"]
CMD ["serve"]
