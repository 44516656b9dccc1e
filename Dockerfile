# Moldau: one static binary in a minimal image.
#   docker build -t moldau .
#   docker run -p 9092:9092 moldau --addr 0.0.0.0:9092 --advertise-addr localhost:9092
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/moldau ./cmd/moldau && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/moldau /usr/local/bin/moldau
COPY --from=build --chown=65532:65532 /out/data /var/lib/moldau
VOLUME /var/lib/moldau
EXPOSE 9092 9644
ENV MOLDAU_DATA_DIR=/var/lib/moldau MOLDAU_ADDR=0.0.0.0:9092 MOLDAU_ADMIN_ADDR=0.0.0.0:9644
ENTRYPOINT ["/usr/local/bin/moldau"]
