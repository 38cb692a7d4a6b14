# syntax=docker/dockerfile:1
# One image for every MyChat service (the command picks which), plus the nginx edge.
#   docker build --target runtime -t mychat .      auth, chat, gateway or all-in-one
#   docker build --target edge -t mychat-edge .    nginx with the built web app
# compose.yaml builds both; see README "Topology".

# --- web: build the single-page app with Node ----------------------------------------------
FROM node:20-bookworm-slim AS web
WORKDIR /web
COPY web/package.json web/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY web/ ./
RUN npm run build

# --- edge: nginx serving the built app, proxying to the services -----------------------------
FROM nginx:1.27-alpine AS edge
COPY nginx.conf /etc/nginx/nginx.conf
COPY --from=web /web/dist /usr/share/nginx/html
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
    CMD wget -q -O /dev/null http://127.0.0.1/healthz || exit 1

# --- runtime: slim Python as a non-root user (the default target) -----------------------------
FROM python:3.11-slim AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
# Dependencies first, pinned by the lock file, so code changes do not reinstall them.
COPY pyproject.toml requirements.lock ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > /tmp/requirements.txt \
    && pip install -c requirements.lock -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt
COPY mychat ./mychat
COPY auth_service ./auth_service
COPY chat_service ./chat_service
COPY gateway ./gateway
COPY assembly ./assembly
COPY db ./db
RUN pip install --no-deps -c requirements.lock . \
    && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin mychat \
    && mkdir -p /app/data \
    && chown mychat /app/data
# The embedded mode (`mychat serve`) serves the web app itself.
COPY --from=web /web/dist ./web/dist
ENV MYCHAT_HOST=0.0.0.0 \
    MYCHAT_DATA_DIR=/app/data \
    MYCHAT_WEB_DIST=/app/web/dist
USER mychat
EXPOSE 8080 8000 8001 8002
# MYCHAT_PORT is set per service in compose.yaml; `mychat serve` alone listens on 8080.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('MYCHAT_PORT', '8080'), timeout=3)"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["mychat"]
CMD ["serve"]
