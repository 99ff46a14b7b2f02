# The pkgindex image: one static binary that is both the index server
# (pkgindex serve) and the operator (pkgindex operator). The final stage is
# empty but for the binary, CA certificates and a passwd entry for the
# non-root user, like distroless/static; make image builds the same file
# system without a container engine (hack/image).
#
#   docker build --build-arg VERSION=v1.2.3 --build-arg REVISION=$(git rev-parse HEAD) -t pkgindex .

FROM golang:1.26 AS build
WORKDIR /src
# Modules first, so a source change does not download them again.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG TARGETARCH
RUN CGO_ENABLED=0 GOOS=linux GOARCH=${TARGETARCH:-amd64} \
    go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/pkgindex . \
 && mkdir -p /out/etc /out/home/nonroot /out/tmp \
 && chmod 1777 /out/tmp \
 && printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >/out/etc/passwd \
 && printf 'root:x:0:\nnonroot:x:65532:\n' >/out/etc/group

FROM scratch
ARG VERSION=dev
ARG REVISION=
LABEL org.opencontainers.image.title="pkgindex" \
      org.opencontainers.image.description="Private Python package index server and its Kubernetes operator" \
      org.opencontainers.image.source="https://github.com/pkgindex/pkgindex" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/etc/ /etc/
COPY --from=build --chown=65532:65532 /out/home/ /home/
COPY --from=build /out/tmp/ /tmp/
COPY --from=build /out/pkgindex /pkgindex
ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
# Numeric, so the kubelet can check runAsNonRoot without reading /etc/passwd;
# 65532 is also the operator's default runAs for index pods.
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/pkgindex"]
CMD ["serve", "--root=/data"]
