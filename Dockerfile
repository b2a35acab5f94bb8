# tapwire's container image (docs/kubernetes.md). Two stages on one base: the build stage compiles TypeScript
# and better-sqlite3's native addon; the runtime stage carries production dependencies and dist/ only.
# ARG BASE lets CI substitute a locally built base image (no registry pull needed).
ARG BASE=node:20-bookworm-slim

FROM ${BASE} AS build
WORKDIR /src
# better-sqlite3 falls back to node-gyp when no prebuilt binary matches: it needs python3, make and g++.
# It is built here, on the same base as the runtime stage, so the addon matches the runtime's glibc and Node ABI.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY bin ./bin
COPY src ./src
COPY scripts/copy-assets.mjs ./scripts/copy-assets.mjs
RUN npm run build \
 && npm prune --omit=dev --no-audit --no-fund \
 && npm cache clean --force

FROM ${BASE}
ENV NODE_ENV=production
WORKDIR /app
# A fixed non-root uid/gid (10001): the manifests' runAsUser/fsGroup name it, and it owns nothing in the image
# except the data directory. /etc/tapwire holds the config (a ConfigMap in Kubernetes).
RUN groupadd --system --gid 10001 tapwire \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin tapwire \
 && mkdir -p /etc/tapwire /var/lib/tapwire \
 && chown 10001:10001 /var/lib/tapwire
COPY --from=build /src/package.json ./package.json
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/bin ./bin
COPY --from=build /src/dist ./dist
# The dashboard's static files are in dist/admin/assets (npm run build copies them beside the compiled code).
USER 10001:10001
# SQLite (storage: sqlite:/var/lib/tapwire/tapwire.db) lives on a volume; the root filesystem can be read-only.
VOLUME ["/var/lib/tapwire"]
EXPOSE 8080 9901
# Exec form, no shell and no npm in between: SIGTERM reaches node, which drains and exits 0.
ENTRYPOINT ["node", "dist/cli/main.js"]
CMD ["run", "-c", "/etc/tapwire/tapwire.yaml"]
