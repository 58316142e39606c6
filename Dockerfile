# salespipe container image. Stage 1 builds build/salespipe with Debian's
# toolchain and the -dev packages of deps/build.txt; stage 2 is debian:12-slim
# with only the shared libraries of deps/runtime.txt (the package lists live
# in deps/, one place for `make deps` and this file). Runs as a non-root user.
#   docker build -t salespipe .      docker run --rm salespipe --help

FROM debian:12 AS build
ARG DEBIAN_FRONTEND=noninteractive
WORKDIR /src
COPY deps/ deps/
# A deps line is "PACKAGE [COMMAND]"; the first word is the package.
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
       $(grep -v '^#' deps/build.txt | cut -d' ' -f1) \
    && rm -rf /var/lib/apt/lists/*
COPY Makefile ./
COPY src/ src/
RUN make -j"$(nproc)" build/salespipe \
    && strip build/salespipe

FROM debian:12-slim
LABEL org.opencontainers.image.title="salespipe" \
      org.opencontainers.image.description="Regional sales CSVs to a Parquet lake and a PostgreSQL star schema"
ARG DEBIAN_FRONTEND=noninteractive
COPY deps/runtime.txt /tmp/runtime.txt
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
       $(grep -v '^#' /tmp/runtime.txt | cut -d' ' -f1) \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /tmp/runtime.txt \
    && useradd --system --no-log-init --uid 10001 --user-group --create-home --home-dir /work \
       --shell /usr/sbin/nologin salespipe \
    && mkdir -p /work/.salespipe /data \
    && chown salespipe:salespipe /work/.salespipe
COPY --from=build /src/build/salespipe /usr/local/bin/salespipe
USER salespipe
WORKDIR /work
# Relative defaults (./lake, ./warehouse.db, ./.salespipe) land in /work;
# compose mounts the regional CSVs read-only at /data.
ENV DATA_DIR=/data
ENTRYPOINT ["salespipe"]
CMD ["run"]
