# syntax=docker/dockerfile:1
# BotGateway: one image for the gateway (`serve`) and the workers (`worker`). README: "Running on several machines".
#   docker build -t botgateway .
#   docker run --env-file botgateway.env -v botgateway-data:/var/lib/botgateway -p 8080:8080 botgateway serve --poll

# Build: the release binary, with the Swift runtime linked in so the final image needs no toolchain.
FROM swift:6.2-bookworm AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libtesseract-dev libleptonica-dev libcurl4-openssl-dev libsqlite3-dev pkg-config \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Dependencies first: this layer is reused while only the sources change.
COPY Package.swift ./
RUN swift package resolve
COPY Sources ./Sources
COPY Tests ./Tests
RUN swift build -c release --product botgateway --static-swift-stdlib \
 && install -D -m 0755 "$(swift build -c release --show-bin-path)/botgateway" /out/botgateway

# Run: Debian's Tesseract, Leptonica, libcurl, SQLite and poppler (PDF pages), nothing else.
FROM debian:bookworm-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libtesseract5 liblept5 tesseract-ocr-eng tesseract-ocr-osd libcurl4 libsqlite3-0 poppler-utils \
      ca-certificates curl tzdata \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --home-dir /var/lib/botgateway --shell /usr/sbin/nologin botgateway \
 && install -d -m 0700 -o botgateway -g botgateway /var/lib/botgateway
COPY --from=build /out/botgateway /usr/local/bin/botgateway

USER botgateway:botgateway
WORKDIR /var/lib/botgateway
# The data folder: SQLite (when DATABASE_URL is unset), documents (when BLOB_STORE is local), reports, scratch.
VOLUME ["/var/lib/botgateway"]
ENV BOT_DATA_DIR=/var/lib/botgateway \
    BOT_HOST=0.0.0.0 \
    BOT_PORT=8080 \
    LOG_FORMAT=json \
    HEALTH_PORT=8080
# 8080: serve's webhook, /healthz and /metrics; 8081: a worker's /healthz and /metrics (`worker --port`).
EXPOSE 8080 8081
# A worker container sets HEALTH_PORT to its --port.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD curl -fsS "http://127.0.0.1:${HEALTH_PORT}/healthz" || exit 1
# SIGTERM: serve stops taking updates; a worker hands its running steps back.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/botgateway"]
CMD ["serve"]
