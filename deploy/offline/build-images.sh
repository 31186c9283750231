#!/bin/sh
# Images for `docker compose up` on a machine that reaches Debian's and Maven Central's
# package servers and PyPI but no image registry (the development machines): a Debian
# bookworm base made with debootstrap, and stand-ins for the two public images the compose
# file names, built from the same software:
#
#   finsent-base:bookworm   CPython 3.11 with venv: the finsent image's base, by
#                           PYTHON_IMAGE=finsent-base:bookworm at build time
#   apache/kafka:4.1.1      Apache Kafka 4.1.1 from Maven Central (kafka/: the jars of
#                           deploy/kafka/pom.xml and Kafka's command-line tools)
#   postgres:16             Debian's PostgreSQL 15 behind the official image's entry point
#                           conventions (postgres/)
#
# The stand-ins take the public names so that the compose files run unchanged; they carry
# the label io.finsent.stand-in=true. Not for production: there, use the public images.
# Needs root, docker (with a running daemon), debootstrap and mvn. Then, from the checkout:
#
#   PYTHON_IMAGE=finsent-base:bookworm docker compose -f docker-compose.yml -f docker-compose.cpu.yml build
#   docker compose -f docker-compose.yml -f docker-compose.cpu.yml up -d
#
# docs/operations.md ("Running it where no registry is reachable") has the whole run.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
work=${WORK_DIR:-/var/tmp/finsent-offline}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
mkdir -p "$work"

rootfs() {  # rootfs DIR PACKAGES: a minimal bookworm with these packages
    if [ ! -x "$1/usr/bin/python3" ]; then
        rm -rf "$1"
        debootstrap --variant=minbase --include="$2" bookworm "$1" "$mirror"
    fi
    # the CA certificates this host adds (a TLS-inspecting proxy's): pip in the build
    # trusts what the host trusts
    if ls /usr/local/share/ca-certificates/*.crt >/dev/null 2>&1; then
        cp /usr/local/share/ca-certificates/*.crt "$1/usr/local/share/ca-certificates/"
        chroot "$1" update-ca-certificates >/dev/null
    fi
    rm -rf "$1"/var/cache/apt/archives/*.deb "$1"/var/lib/apt/lists/*
    echo "deb $mirror bookworm main" > "$1/etc/apt/sources.list"
}

import_rootfs() {  # import_rootfs DIR TAG
    tar -C "$1" -c . | docker import \
        -c 'ENV LANG=C.UTF-8' \
        -c 'ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt' \
        -c 'ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt' \
        -c 'LABEL io.finsent.stand-in=true' \
        -c 'CMD ["python3"]' - "$2"
}

rootfs "$work/base" python3,python3-venv,python-is-python3,ca-certificates,libgomp1
import_rootfs "$work/base" finsent-base:bookworm

rootfs "$work/peers" python3,ca-certificates,openjdk-17-jre-headless,postgresql-15,postgresql-client-15,procps
import_rootfs "$work/peers" finsent-peers-base:bookworm

# the tag is the version kafka/pom.xml names for the broker
kafka_version=$(sed -n '/<artifactId>kafka_2.13</{n;s/.*<version>\(.*\)<\/version>.*/\1/p;}' "$here/kafka/pom.xml")
rm -rf "$work/kafka"
cp -r "$here/kafka" "$work/kafka"
(cd "$work/kafka" && mvn -q dependency:copy-dependencies -DoutputDirectory=libs)
docker build -t "apache/kafka:$kafka_version" --label io.finsent.stand-in=true "$work/kafka"
docker build -t postgres:16 --label io.finsent.stand-in=true "$here/postgres"
docker images --filter label=io.finsent.stand-in=true
