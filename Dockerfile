# syntax=docker/dockerfile:1
# The relay's production image (docs/deploy.md). Two stages: `build` compiles TypeScript and the native
# modules with a toolchain; the runtime stage gets only what `node lib/server/main.js` needs.
#
#   docker build -t cross-repo-ci-relay .
#   docker build --build-arg WITH_CHDB=false -t cross-repo-ci-relay:server-hud .   # no embedded ClickHouse
#
# Node (docs/deploy.md, "Node version"): an LTS line that package.json "engines" lists and whose
# better-sqlite3 binary its release ships prebuilt: Node 24, maintenance LTS until 2028-04-30. Both stages
# use the same line, since better-sqlite3 is built for one Node ABI.

# ---- build ----------------------------------------------------------------------------------------
FROM node:24-bookworm-slim AS build

# better-sqlite3 downloads a prebuilt binary for this Node ABI from its GitHub release when it can, and
# compiles from source (node-gyp: python3, make, g++) when it cannot, e.g. behind a proxy that blocks
# GitHub release downloads.
RUN apt-get update \
  && apt-get install -y --no-install-recommends python3 make g++ \
  && rm -rf /var/lib/apt/lists/*

WORKDIR /app

# Dependencies first, in their own layer: source edits do not reinstall them.
# --ignore-scripts: the root package's `prepare` script runs `npm run build`, which needs src/ (copied
# below); the one dependency whose install script matters, better-sqlite3, is built explicitly.
# (chdb's install script is `node -e ""`; its native library ships in @chdb/lib-* as plain files.)
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund \
  && npm rebuild better-sqlite3

COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build \
  && npm prune --omit=dev --no-audit --no-fund

# chdb (embedded ClickHouse, ~550 MB) is an optional dependency, only used when CLICKHOUSE_URL is unset.
# A scaled deployment (CLICKHOUSE_URL set) can leave it out; the relay then runs without it
# (docs/hud.md, "Where the data lives").
ARG WITH_CHDB=true
RUN if [ "$WITH_CHDB" = "false" ]; then rm -rf node_modules/chdb node_modules/@chdb; fi

# ---- runtime --------------------------------------------------------------------------------------
FROM node:24-bookworm-slim

# production: WEBHOOK_SECRET and RELAY_TICKET_SECRET become required and logs default to JSON
# (src/config.ts). DATA_DIR: SQLite and embedded chDB (single-instance mode) live on the volume below.
# HOST: Probot's default is localhost, which nothing outside the container could reach.
ENV NODE_ENV=production \
    DATA_DIR=/data \
    HOST=0.0.0.0 \
    PORT=3000

WORKDIR /app

# What the server (and the command line, lib/cli/main.js, e.g. `backup`) reads at run time: the compiled
# code and its production dependencies; package.json (ESM "type": "module", and Probot reads it); app.yml,
# read by Probot's setup page when no App is configured yet (only with NODE_ENV other than production: in
# production Probot stops with "App ID is missing" instead, docs/security.md), and app-downstream.yml, the
# second App's manifest, beside it. The HUD's pages and styles are compiled into lib/ (src/hud/pages/), so
# there are no static assets. No allowlist.yml: it is an example, and production reads the allowlist from
# the config repo (ALLOWLIST_REPO) or a file mounted at ALLOWLIST_FILE.
# root owns the code, so the relay (user node) cannot rewrite it.
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/lib ./lib
COPY package.json app.yml app-downstream.yml ./

# The data directory is the only place the relay writes; the named volume mounted there inherits this
# ownership on first use.
RUN mkdir -p /data && chown node:node /data
VOLUME ["/data"]

# The official Node images ship an unprivileged `node` user (uid 1000).
USER node

EXPOSE 3000

# /readyz answers 503 while a component is not ready (no allowlist loaded yet, the store failing) and 200
# otherwise, "degraded" included (docs/deploy.md, "Health, metrics, logs").
# The slim image has no curl or wget, so Node's own fetch asks; it exits 0 only on a 2xx.
# start-period: the first allowlist read from the config repo and PostgreSQL migrations take a moment.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/readyz', { signal: AbortSignal.timeout(4000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

# Node itself is PID 1: SIGTERM reaches the relay, which stops taking connections, lets in-flight GitHub
# requests finish and flushes the HUD before exiting (src/server/main.ts). Give it the time to:
# `docker stop -t 45`, or stop_grace_period in compose.yaml.
CMD ["node", "lib/server/main.js"]
