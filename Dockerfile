FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    OMNIHUB_HOST=0.0.0.0 OMNIHUB_PORT=8000 \
    OMNIHUB_DATA_DIR=/data

WORKDIR /app
COPY pyproject.toml README.md ./
COPY hub ./hub
COPY widget ./widget
RUN pip install --no-cache-dir . && useradd --system --home /data omnihub \
    && mkdir -p /data && chown omnihub /data

USER omnihub
VOLUME /data
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:8000/healthz')" || exit 1
CMD ["omnihub", "serve"]
