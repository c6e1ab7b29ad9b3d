# usersgraph container image.
#
#   docker build -t usersgraph .
#   docker run --rm -p 8080:8080 --stop-timeout 20 usersgraph
#
# With no configuration the server runs in demo mode (an embedded fake of
# Cognigy); set COGNIGY_API_URL and friends with -e, see README.md.
# Multi-platform: docker buildx build --platform linux/amd64,linux/arm64 .
# (the Go compiler cross-compiles; no emulation needed).

# ---- build -------------------------------------------------------------------
FROM --platform=$BUILDPLATFORM golang:1.26-bookworm AS build
WORKDIR /src

# Modules first, in a layer of their own: it is rebuilt only when go.mod or
# go.sum change, not on every source edit.
COPY go.mod go.sum ./
RUN go mod download && go mod verify

COPY . .
# Set by BuildKit for the platform being built (empty with the classic
# builder: then the build machine's own).
ARG TARGETOS
ARG TARGETARCH
# A static binary (no cgo: the final image has no libc), without local paths
# or symbol tables.
RUN CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -ldflags="-s -w" -o /out/usersgraph ./cmd/usersgraph

# ---- run ---------------------------------------------------------------------
# Distroless static: CA certificates, tzdata and /etc/passwd, no shell, no
# package manager; :nonroot runs as uid/gid 65532.
FROM gcr.io/distroless/static-debian12:nonroot

LABEL org.opencontainers.image.title="usersgraph" \
      org.opencontainers.image.description="GraphQL API over Cognigy.AI's user directory"

COPY --from=build /out/usersgraph /usersgraph

# Numeric, so that Kubernetes' runAsNonRoot can verify it.
USER 65532:65532
ENV LISTEN_ADDR=:8080
EXPOSE 8080

# No shell or curl here: the binary probes its own /healthz on LISTEN_ADDR.
# (Kubernetes ignores HEALTHCHECK and uses the probes in deploy/.)
HEALTHCHECK --interval=30s --timeout=5s --start-period=5s --retries=3 \
    CMD ["/usersgraph", "-healthcheck"]

# SIGTERM (the default stop signal) drains in-flight requests for up to 15 s:
# give `docker stop` more than that (--stop-timeout 20; compose:
# stop_grace_period: 20s).
ENTRYPOINT ["/usersgraph"]
