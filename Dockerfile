# The Kohonen map service.
#   docker build . -t kohonen
#   docker run -d --name kohonen -p 8000:80 -v kohonen-models:/app/saved_models kohonen:latest
# Models live in the volume /app/saved_models (seeded with the four samples), so a new
# container keeps them. Logs go to stdout and to /app/logs.
# `docker stop` sends SIGTERM and kills 10 s later: requests get 7 of those seconds, which
# leaves time to record interrupted trainings and exit. With `docker stop -t N`, set
# KOHONEN_SHUTDOWN_GRACE_SECONDS a few seconds under N.

FROM rust:1.95-slim-bookworm AS builder
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY migrations ./migrations
COPY assets ./assets
COPY benches ./benches
RUN cargo build --release --locked --bin kohonen \
    && mkdir /out \
    && cp target/release/kohonen /out/kohonen

FROM debian:bookworm-slim
# setcap lets the non-root user bind port 80 under every runtime (Docker allows it anyway;
# podman and others do not); the object store's HTTPS client (several replicas, --store)
# needs the system's CA certificates, without which it cannot even be built. Debian's
# versions are not pinned: the archive replaces them.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends libcap2-bin ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --uid 10001 --no-create-home --home-dir /app --shell /usr/sbin/nologin kohonen
COPY --from=builder /out/kohonen /usr/local/bin/kohonen
RUN setcap cap_net_bind_service=+ep /usr/local/bin/kohonen
WORKDIR /app
COPY --chown=kohonen:kohonen saved_models ./saved_models
COPY --chown=kohonen:kohonen saved_plots ./saved_plots
RUN mkdir logs && chown kohonen:kohonen logs
USER 10001:10001
ENV PORT=80 KOHONEN_SHUTDOWN_GRACE_SECONDS=7
EXPOSE 80
VOLUME ["/app/saved_models"]
# Without a URL, `kohonen health` asks 127.0.0.1 on $PORT, so `-e PORT=...` moves both.
HEALTHCHECK --interval=10s --timeout=5s --start-period=5s --retries=3 \
    CMD ["kohonen", "health"]
CMD ["kohonen"]
