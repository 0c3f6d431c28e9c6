# backup-auditor: a slim, non-root image for `auditor serve` (and every other command).
#   docker build -t backup-auditor:0.1.0 .
#   docker run --rm -p 9750:9750 backup-auditor:0.1.0 serve --demo --listen 0.0.0.0:9750
# Runs with a read-only root filesystem: only /tmp must be writable (the credential fingerprint key is
# created under $XDG_CONFIG_HOME unless AUDITOR_FINGERPRINT_KEY_FILE names a mounted one).

FROM python:3.11-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY auditor ./auditor
COPY rules ./rules
COPY reports ./reports
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim-bookworm
# WeasyPrint's system libraries (PDF reports) and a font; nothing else.
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
       libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-compile /wheels/*.whl && rm -rf /wheels \
    && groupadd --system --gid 10001 auditor \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent auditor
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    XDG_CONFIG_HOME=/tmp/config
USER 10001:10001
EXPOSE 9750
ENTRYPOINT ["auditor"]
CMD ["serve", "--in-cluster", "--listen", "0.0.0.0:9750"]
