# syntax=docker/dockerfile:1
# netpolgen as a static binary on a distroless, non-root base; the image
# deploy/drift runs. Build from the repository root:
#   docker build -t netpolgen:dev .

FROM golang:1.26 AS build
WORKDIR /src
# Modules first, so source edits do not re-download them.
COPY go.mod go.sum ./
RUN go mod download
COPY cmd ./cmd
COPY pkg ./pkg
COPY internal ./internal
# Static: the distroless base has no libc. The version comes from the
# module's build info (netpolgen version).
RUN CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags="-s -w" -o /out/netpolgen ./cmd/netpolgen

FROM gcr.io/distroless/static:nonroot
COPY --from=build /out/netpolgen /netpolgen
# distroless's nonroot user; deploy/drift asks for the same UID.
USER 65532:65532
ENTRYPOINT ["/netpolgen"]
