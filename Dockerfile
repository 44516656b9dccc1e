# Moldau: one static binary in a minimal, non-root image. The same binary is
# the broker and the CLI (moldau topic|produce|consume|group|cluster|version).
#
#   docker build -t moldau --build-arg VERSION=$(git describe --always --dirty) \
#     --build-arg REVISION=$(git rev-parse HEAD) .   # .git is not in the context
#   docker run -p 9092:9092 -p 9644:9644 moldau --advertise-addr localhost:9092
#   docker run --rm --network host moldau topic list --bootstrap localhost:9092
#
# `make deploy-check` runs this file's `go build` line (the one starting with
# RUN CGO_ENABLED=0) on the host, so the binary the image ships is built in CI.
# Keep that command on one line.

# --- build: the Go toolchain named by go.mod -------------------------------
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG REVISION=
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w -X main.version=${VERSION} -X github.com/moldau/moldau/broker.linkRevision=${REVISION} -X github.com/moldau/moldau/broker.linkBuildDate=$(date -u +%Y-%m-%dT%H:%M:%SZ)" -o /out/moldau ./cmd/moldau
# The data directory must exist in the image, owned by the runtime user, so
# that a fresh named volume mounted there inherits that owner.
RUN mkdir -p /out/data && /out/moldau version

# --- run: distroless static (no shell, no libc; /etc/passwd has nonroot) ---
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/moldau /usr/local/bin/moldau
COPY --from=build --chown=65532:65532 /out/data /var/lib/moldau
USER 65532:65532
VOLUME /var/lib/moldau
# 9092: Kafka protocol. 9644: admin HTTP (/metrics, /healthz, /readyz).
# 8081: the built-in schema registry (Confluent Schema Registry's REST API).
# 8080: the web console. 8082: the HTTP proxy (Confluent REST Proxy's API).
EXPOSE 9092 9644 8081 8080 8082
ENV MOLDAU_DATA_DIR=/var/lib/moldau \
    MOLDAU_ADDR=0.0.0.0:9092 \
    MOLDAU_ADMIN_ADDR=0.0.0.0:9644 \
    MOLDAU_SCHEMA_REGISTRY_ADDR=0.0.0.0:8081 \
    MOLDAU_CONSOLE_ADDR=0.0.0.0:8080 \
    MOLDAU_HTTP_PROXY_ADDR=0.0.0.0:8082
ENTRYPOINT ["/usr/local/bin/moldau"]
