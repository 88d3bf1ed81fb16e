# One image for the four services; the command picks the service:
#   docker run safecampus python -m services.alarms
FROM python:3.11-slim AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 HOST=0.0.0.0
WORKDIR /app
COPY pyproject.toml README.md ./
COPY shared ./shared
COPY services ./services
COPY tools ./tools
COPY deploy/county.yaml ./deploy/county.yaml
RUN pip install --no-cache-dir . && useradd --system --uid 10001 safecampus
USER safecampus
EXPOSE 8001 8002 8003 8004
HEALTHCHECK --interval=10s --timeout=3s CMD python -c "import os,urllib.request as u; u.urlopen(f'http://127.0.0.1:{os.environ[\"SERVICE_PORT\"]}/healthz')"
CMD ["python", "-m", "services.alarms"]
