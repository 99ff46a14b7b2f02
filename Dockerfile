# The pkgindex image: one static binary that is both the index server
# (pkgindex serve) and the operator (pkgindex operator).
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/pkgindex .

# distroless/static: no shell, no package manager; the nonroot user
# (65532) is the operator's default runAs for index pods.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/pkgindex /usr/local/bin/pkgindex
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/pkgindex"]
