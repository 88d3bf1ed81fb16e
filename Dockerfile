# One image for the four services; the command picks the service:
#   docker run safecampus python -m services.alarms
# The base image is pinned to a full version; pin it by digest too where the registry is
# reachable (python:3.11.7-slim-bookworm@sha256:…).

# Build stage: the locked dependencies alone (requirements.lock: every version with the hashes
# of its files), so a change to the code reuses this layer.
FROM python:3.11.7-slim-bookworm AS dependencies
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
COPY requirements.lock /tmp/requirements.lock
RUN python -m venv /opt/safecampus \
 && /opt/safecampus/bin/pip install --require-hashes -r /tmp/requirements.lock

FROM python:3.11.7-slim-bookworm AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/safecampus/bin:$PATH HOST=0.0.0.0 \
    JOURNAL_DIR=/var/lib/safecampus/journal
# a user of its own, and the one directory the services write (the press journal: mount a
# volume there so journaled presses outlive the container)
RUN useradd --system --uid 10001 --home-dir /app safecampus \
 && mkdir -p /var/lib/safecampus/journal \
 && chown -R safecampus /var/lib/safecampus
COPY --from=dependencies /opt/safecampus /opt/safecampus
WORKDIR /app
COPY pyproject.toml README.md ./
COPY schemas ./schemas
COPY shared ./shared
COPY services ./services
COPY tools ./tools
COPY deploy/county.yaml ./deploy/county.yaml
RUN pip install --no-cache-dir --no-deps .
USER safecampus
VOLUME /var/lib/safecampus/journal
EXPOSE 8001 8002 8003 8004
# healthy when the service in this container answers /healthz, whichever it is
HEALTHCHECK --interval=10s --timeout=3s CMD ["python", "-c", "import os, urllib.request as u; ports = [os.environ[k] for k in ('SERVICE_PORT', 'ALARMS_PORT', 'PATROLS_PORT', 'NOTIFICATIONS_PORT', 'REPORTING_PORT') if k in os.environ] or ['8001', '8002', '8003', '8004']; any(u.urlopen(f'http://127.0.0.1:{p}/healthz', timeout=2).status == 200 for p in ports if __import__('socket').socket().connect_ex(('127.0.0.1', int(p))) == 0) or exit(1)"]
CMD ["python", "-m", "services.alarms"]
