# syntax=docker/dockerfile:1
# Temporal worker image (cmd/worker) for ECS Fargate on ARM64.
# Build from the repository root:
#   docker buildx build --platform linux/arm64 -f infra/worker.Dockerfile -t memberflow-worker .
# The Go toolchain runs natively on the build machine and cross-compiles, so no
# emulation is needed on x86 hosts.

ARG GO_VERSION=1.26

FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG TARGETOS=linux
ARG TARGETARCH=arm64
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -ldflags="-s -w" -o /out/worker ./cmd/worker

# Static binary, CA certificates and tzdata (quiet hours) included, no shell,
# runs as uid 65532.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/worker /worker
USER nonroot:nonroot
ENTRYPOINT ["/worker"]
