# kling-mcp over streamable HTTP: python slim, no compilers in the final image, runs as a non-root user, health
# checked on /healthz. Build: docker build -t kling-mcp . — run and deploy: docs/install.md, docs/deploying-http.md.
# It refuses to start without a token (KLING_MCP_AUTH_TOKEN or _FILE) or an OAuth issuer: it listens on 0.0.0.0.

FROM python:3.12-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY src ./src
# Wheels of the package and its dependencies (the PostgreSQL journal's included), installed below without network.
RUN pip wheel --no-cache-dir --wheel-dir /wheels ".[postgres]"

FROM python:3.12-slim-bookworm
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links /wheels "kling-mcp[postgres]" \
    && rm -rf /wheels \
    && useradd --system --uid 10001 --user-group --home-dir /data --create-home kling
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    KLING_MCP_TRANSPORT=streamable-http \
    KLING_MCP_HOST=0.0.0.0 \
    KLING_MCP_PORT=8000 \
    KLING_MCP_JOURNAL=/data/tasks.sqlite3
USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ['KLING_MCP_PORT'] + '/healthz', timeout=4)"]
# SIGTERM: running calls finish for KLING_MCP_SHUTDOWN_GRACE (30 s), then answer with their task ids.
STOPSIGNAL SIGTERM
CMD ["kling-mcp"]
