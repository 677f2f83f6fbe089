# The kas container images (kas-container spec section 7, KC-150..155).
#
#   docker build --target kas      -t kas/kas:<version> .     (OpenEmbedded/Yocto)
#   docker build --target kas-isar -t kas/kas-isar:<version> . (Isar)
#
# contrib/build-images does this with the right tags.  The base image is a
# build argument so that CI can build offline from a local image, e.g.
#   --build-arg BASE_IMAGE=localhost/debian-base:trixie --build-arg DEBIAN_TAG=trixie
#
# Layer order (deviation from the reference layout, KC-155 allows it): all apt
# installs come first; kas itself is installed in the separate stage
# `kas-install` from the copied source tree and copied into the final stages
# last, so a source change only rebuilds those last layers and not the large
# package layers.  Consequently `kas-base` holds the common packages, the
# builder user and the git/sudo configuration but not kas itself.
#
# Not done (deviations): no switch to snapshot.debian.org sources for tags
# containing a digit (KC-150/154: the CI mirror has no snapshots), no
# SOURCE_DATE_EPOCH / CACHE_SHARING build args and no apt cache mounts (the
# legacy docker builder has no RUN --mount).

ARG DEBIAN_TAG=trixie-slim
ARG BASE_IMAGE=debian:${DEBIAN_TAG}

FROM ${BASE_IMAGE} AS kas-base

ARG DEBIAN_TAG
# (build-time only, not in the images' environment)
ARG DEBIAN_FRONTEND=noninteractive
ENV DEBIAN_BASE_IMAGE_TAG=${DEBIAN_TAG} \
    LANG=en_US.utf8

# ssh-client is a virtual package (openssh-client) on bookworm and trixie.
RUN apt-get update && \
    apt-get install -y --no-install-recommends locales && \
    sed -i -e 's/^# *\(en_US.UTF-8 UTF-8\)/\1/' /etc/locale.gen && \
    locale-gen && \
    apt-get install -y --no-install-recommends \
        python3-pip python3-setuptools python3-wheel python3-yaml \
        python3-distro python3-jsonschema python3-newt python3-colorlog \
        python3-kconfiglib python3-websockets gosu lsb-release file vim \
        less procps tree tar bzip2 zstd pigz lz4 unzip tmux libncurses-dev \
        git-lfs mercurial iproute2 ssh-client telnet curl rsync gnupg \
        awscli sudo socat bash-completion python3-shtab python3-git \
        python3-gnupg python3-cairo && \
    rm -rf /var/lib/apt/lists/* /var/log/apt /var/log/dpkg.log /var/cache/debconf/*-old

# git-lfs filters as the only system git configuration; the builder user
# (uid/gid 30000, home /builder) with passwordless sudo keeping the proxies.
RUN git lfs install --system --skip-repo && \
    groupadd -g 30000 builder && \
    useradd -m -d /builder -s /bin/bash -u 30000 -g 30000 builder && \
    printf '%s\n' 'Defaults env_keep += "ftp_proxy http_proxy https_proxy no_proxy"' \
        'builder ALL=NOPASSWD: ALL' > /etc/sudoers.d/builder && \
    chmod 0440 /etc/sudoers.d/builder

ENV GIT_PROXY_COMMAND=oe-git-proxy \
    NO_PROXY=*

ENTRYPOINT ["/container-entrypoint"]

# ---------------------------------------------------------------------------
# kas from this source tree, in a stage of its own (copied into the targets).
FROM kas-base AS kas-install

COPY pyproject.toml README.md /tmp/kas-src/
COPY kas /tmp/kas-src/kas
# kas-container (a script-files entry of pyproject.toml) is not installed in
# the image (KC-151): an empty placeholder satisfies the build and is removed.
RUN cd /tmp/kas-src && \
    printf '#!/bin/sh\n' > kas-container && \
    pip install -q --no-deps --no-build-isolation \
        --break-system-packages --root-user-action=ignore . && \
    rm -f /usr/local/bin/kas-container && \
    cd / && rm -rf /tmp/kas-src /root/.cache && \
    kas --version && \
    mkdir -p /usr/local/share/bash-completion/completions && \
    python3 -c 'import shtab, kas.cli; \
print(shtab.complete(kas.cli.build_parser("kas"), shell="bash"))' \
        > /usr/local/share/bash-completion/completions/kas
# (no COPY --chmod: the legacy docker builder lacks it)
COPY contrib/oe-git-proxy /usr/bin/oe-git-proxy
COPY container-entrypoint /container-entrypoint
RUN chmod 0755 /usr/bin/oe-git-proxy /container-entrypoint

# ---------------------------------------------------------------------------
FROM kas-base AS kas-isar

ARG DEBIAN_FRONTEND=noninteractive
ENV LC_ALL=en_US.UTF-8

# /etc/kas-isar is the marker that enables the Isar-only parts of
# container-entrypoint (binfmt_misc registration, /etc/subuid and /etc/subgid).
# The host tools of Isar's user manual plus what its rootless mode
# (ISAR_ROOTLESS, build_system: isar-rootless) calls directly: unshare
# --map-users inner:outer:count needs util-linux 2.39 or newer, and
# mmdebstrap before 1.4 leaves ./dev out of the rootfs; Debian 13 (trixie,
# the default base) has both, Debian 12 has neither.  The en_US.UTF-8 locale
# Isar insists on comes from kas-base.  The check below makes an image from
# a too old base fail here, naming the package, rather than minutes into an
# Isar build.
RUN apt-get update && \
    apt-get install -y --no-install-recommends \
        bzip2 mmdebstrap arch-test apt-utils dosfstools dpkg-dev gettext-base \
        git mtools parted python3 quilt qemu-user-static reprepro sudo unzip \
        git-buildpackage pristine-tar sbuild schroot zstd umoci skopeo \
        python3-botocore bubblewrap debootstrap uidmap acl binfmt-support \
        xz-utils e2fsprogs fdisk && \
    rm -rf /var/lib/apt/lists/* /var/log/apt /var/log/dpkg.log /var/cache/debconf/*-old && \
    sbuild-adduser builder >/dev/null && \
    touch /etc/kas-isar
RUN for need in "util-linux 2.39" "mmdebstrap 1.4"; do \
        set -- $need; \
        have=$(dpkg-query -W -f='${Version}' "$1"); \
        dpkg --compare-versions "$have" ge "$2" || { \
            echo "kas-isar: $1 $have is older than $2 (rootless Isar builds):" \
                 "build from Debian 13 (trixie) or newer" >&2; exit 1; }; \
    done && \
    locale -a | grep -qix 'en_US.utf8' || { \
        echo "kas-isar: no en_US.UTF-8 locale (Isar needs it)" >&2; exit 1; }

COPY --from=kas-install /usr/local/ /usr/local/
COPY --from=kas-install /usr/bin/oe-git-proxy /usr/bin/oe-git-proxy
COPY --from=kas-install /container-entrypoint /container-entrypoint
RUN kas --version

USER builder

# ---------------------------------------------------------------------------
FROM kas-base AS kas

ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update && \
    multilib="" && \
    if [ "$(dpkg --print-architecture)" = amd64 ]; then \
        multilib="gcc-multilib g++-multilib"; \
    fi && \
    apt-get install -y --no-install-recommends \
        gawk wget git diffstat unzip texinfo gcc build-essential chrpath \
        socat cpio python3 python3-pip python3-pexpect xz-utils debianutils \
        iputils-ping python3-git python3-jinja2 libegl1 libsdl1.2-dev pylint \
        xterm python3-subunit mesa-common-dev zstd lz4 $multilib && \
    rm -rf /var/lib/apt/lists/* /var/log/apt /var/log/dpkg.log /var/cache/debconf/*-old

COPY --from=kas-install /usr/local/ /usr/local/
COPY --from=kas-install /usr/bin/oe-git-proxy /usr/bin/oe-git-proxy
COPY --from=kas-install /container-entrypoint /container-entrypoint
RUN kas --version

USER builder
