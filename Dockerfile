# backup-auditor: a slim, non-root image for `auditor serve` (and every other command).
#   docker build -t backup-auditor:0.1.0 .
#   docker run --rm -p 9750:9750 backup-auditor:0.1.0 serve --demo --listen 0.0.0.0:9750
# Runs with a read-only root filesystem: only /tmp must be writable (the credential fingerprint key is
# created under $XDG_CONFIG_HOME unless AUDITOR_FINGERPRINT_KEY_FILE names a mounted one).
#
# BASE is any Debian bookworm image with python3 (and python3-venv where venv is not built in): the public
# python:3.11-slim-bookworm by default, or one made from Debian's own packages when public registries are out
# of reach (README, "Container image"; tests/test_image.py does it with mmdebstrap):
#   pip wheel --wheel-dir wheels . && podman build --build-arg BASE=localhost/bookworm-python \
#       --build-arg WHEELS=context -t backup-auditor .
# WHEELS=source (default) builds the wheels here from the source and PyPI; WHEELS=context takes them, and every
# dependency, from wheels/ in the build context and fetches nothing.
ARG BASE=python:3.11-slim-bookworm
ARG WHEELS=source

FROM ${BASE} AS wheels-source
WORKDIR /src
COPY pyproject.toml README.md ./
COPY auditor ./auditor
COPY rules ./rules
COPY reports ./reports
RUN python3 -m venv /opt/build \
    && /opt/build/bin/pip wheel --no-cache-dir --wheel-dir /wheels .

FROM scratch AS wheels-context
COPY wheels/ /wheels/

FROM wheels-${WHEELS} AS wheels

FROM ${BASE}
# WeasyPrint's system libraries (PDF reports), a font and its cache (fontconfig; a cache that a copy made stale
# is rebuilt under XDG_CACHE_HOME in /tmp, never on the read-only root), and etcdctl (`auditor backup etcd`).
# Only what the base lacks is installed, so a base that has them all needs no package mirror.
RUN missing=""; \
    for p in libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core fontconfig etcd-client; do \
      dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"; \
    done; \
    if [ -n "$missing" ]; then \
      apt-get update \
      && apt-get install -y --no-install-recommends $missing \
      && rm -rf /var/lib/apt/lists/*; \
    fi; \
    fc-cache --system-only --really-force
# One virtualenv on the base's own python3 (/usr/local/bin in the public image, /usr/bin in Debian's), from the
# wheels mounted for this step only (no layer keeps them). Compiled here with hash-checked .pyc files, so a
# read-only root filesystem never makes Python compile at start (timestamps do not survive every copy).
RUN --mount=type=bind,from=wheels,source=/wheels,target=/wheels \
    python3 -m venv /opt/backup-auditor \
    && /opt/backup-auditor/bin/pip install --no-cache-dir --no-compile --no-index --find-links /wheels \
       backup-auditor \
    && /opt/backup-auditor/bin/pip uninstall --yes --quiet pip setuptools \
    && /opt/backup-auditor/bin/python -m compileall -q -j 0 --invalidation-mode checked-hash /opt/backup-auditor \
    && groupadd --system --gid 10001 auditor \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent auditor
ENV PATH=/opt/backup-auditor/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    XDG_CONFIG_HOME=/tmp/config \
    XDG_CACHE_HOME=/tmp/cache
USER 10001:10001
EXPOSE 9750
ENTRYPOINT ["auditor"]
CMD ["serve", "--in-cluster", "--listen", "0.0.0.0:9750"]
