#!/usr/bin/env bash
# Installs the Swagger UI that boxerd serves at /swagger: static files from the npm package
# swagger-ui-dist, pinned to an exact version by hack/swagger-ui/package.json and package-lock.json.
# Nothing is fetched from a CDN at run time.
#
#   hack/swagger-ui.sh OUTDIR [NPMDIR]
#
# OUTDIR receives swagger-ui.css, swagger-ui-bundle.js, swagger-ui-standalone-preset.js and
# favicon-32x32.png from the package, its LICENSE and NOTICE (not served), Boxer's own index.html
# (the UI of /openapi.json), and .stamp, written last, naming the version and the inputs' hash.
# NPMDIR keeps the npm project with every package of the lock file, devDependencies included
# (the OpenAPI validator of tests/integration/openapi_test.sh); without NPMDIR a temporary
# directory is used, without devDependencies, and removed.
#
# - Returns at once, without running npm, when OUTDIR (and NPMDIR) are complete for the lock file
#   and this script.
# - Works offline when npm's cache holds the packages: `npm ci --offline` is tried first, then
#   `npm ci --prefer-offline` with short network timeouts.
# - When npm is missing or cannot get the packages, it prints a warning, leaves OUTDIR holding only
#   a file UNAVAILABLE that gives the reason, and exits 0: the build never depends on the npm
#   registry. boxerd answers /swagger with 503 while UNAVAILABLE exists or index.html does not
#   (docs/api.md).
set -euo pipefail
shopt -s inherit_errexit

usage() {
    echo "usage: hack/swagger-ui.sh OUTDIR [NPMDIR]" >&2
    exit 2
}
[[ $# -ge 1 && $# -le 2 && -n $1 ]] || usage

SELF=$(readlink -f "${BASH_SOURCE[0]}")
readonly SELF
readonly SRC=${SELF%/*}/swagger-ui
readonly OUT=$1
readonly NPMDIR=${2:-}
# The files of the package that the UI needs; LICENSE and NOTICE go with them.
readonly ASSETS=(swagger-ui.css swagger-ui-bundle.js swagger-ui-standalone-preset.js favicon-32x32.png)
readonly LEGAL=(LICENSE NOTICE)

VERSION=$(sed -n 's/^ *"swagger-ui-dist": *"\([^"]*\)".*/\1/p' "$SRC/package.json")
readonly VERSION
[[ $VERSION =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || {
    echo "swagger-ui.sh: $SRC/package.json must pin swagger-ui-dist to an exact version" >&2
    exit 1
}
HASH=$(cat "$SRC/package.json" "$SRC/package-lock.json" "$SELF" | sha256sum | cut -c1-16)
STAMP="swagger-ui-dist $VERSION $HASH"
readonly HASH STAMP

complete() {
    local f
    [[ -f $OUT/.stamp && $(<"$OUT/.stamp") == "$STAMP" && ! -e $OUT/UNAVAILABLE ]] || return 1
    for f in index.html "${ASSETS[@]}"; do
        [[ -s $OUT/$f ]] || return 1
    done
    if [[ -n $NPMDIR ]]; then
        [[ -f $NPMDIR/.stamp && $(<"$NPMDIR/.stamp") == "$STAMP" ]] || return 1
    fi
}
complete && exit 0

# The build goes on without the UI; boxerd tells clients of /swagger so.
unavailable() {
    echo "swagger-ui.sh: WARNING: the Swagger UI assets (swagger-ui-dist $VERSION) are NOT installed: $1" >&2
    echo "swagger-ui.sh: WARNING: the build continues; boxerd answers GET /swagger with 503 until they are (see docs/api.md)" >&2
    rm -rf "$OUT"
    mkdir -p "$OUT"
    printf 'swagger-ui-dist %s is not installed: %s\n' "$VERSION" "$1" >"$OUT/UNAVAILABLE"
    exit 0
}

command -v npm >/dev/null || unavailable "npm is not installed (hack/deps.sh build installs it)"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/boxer-swagger-ui.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
if [[ -n $NPMDIR ]]; then
    project=$NPMDIR
    omit=()
else
    project=$tmp/npm
    omit=(--omit=dev)
fi
mkdir -p "$project"
rm -f "$project/.stamp"
cp "$SRC/package.json" "$SRC/package-lock.json" "$project/"

# --ignore-scripts: no package needs an install script (swagger-ui-dist's dependency @scarf/scarf
# only reports the download); SCARF_ANALYTICS=false says the same to it.
npm_ci() {
    (cd "$project" && SCARF_ANALYTICS=false npm ci --no-audit --no-fund --ignore-scripts \
        --no-update-notifier --loglevel=error "${omit[@]}" "$@") >"$tmp/npm.log" 2>&1
}
if ! npm_ci --offline; then
    echo "swagger-ui.sh: the pinned packages are not all in npm's cache; fetching them from $(npm config get registry 2>/dev/null)" >&2
    if ! npm_ci --prefer-offline --fetch-retries=1 --fetch-retry-mintimeout=2000 \
        --fetch-retry-maxtimeout=5000 --fetch-timeout=20000; then
        grep -v '^npm error  *at ' "$tmp/npm.log" | head -n 4 | sed 's/^/  /' >&2
        unavailable "npm ci failed in $project (registry unreachable and the packages not in npm's cache?)"
    fi
fi

pkg=$project/node_modules/swagger-ui-dist
got=$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$pkg/package.json" | head -n1)
[[ $got == "$VERSION" ]] || unavailable "npm installed swagger-ui-dist $got, not the pinned $VERSION"

mkdir -p "$(dirname "$OUT")"
stage=$(mktemp -d "$(dirname "$OUT")/.swagger-ui.XXXXXX")
trap 'rm -rf "$tmp" "$stage"' EXIT
for f in "${ASSETS[@]}" "${LEGAL[@]}"; do
    [[ -s $pkg/$f ]] || unavailable "swagger-ui-dist $VERSION has no $f"
    cp "$pkg/$f" "$stage/"
done

# Boxer's page, not the package's (which shows the Petstore example). The base makes the ./ links
# resolve under /swagger/ whether the page is fetched as /swagger or /swagger/.
cat >"$stage/index.html" <<'EOF'
<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="UTF-8">
  <base href="/swagger/">
  <title>Boxer API</title>
  <link rel="stylesheet" type="text/css" href="./swagger-ui.css">
  <link rel="icon" type="image/png" href="./favicon-32x32.png" sizes="32x32">
  <style>
    html { box-sizing: border-box; overflow-y: scroll; }
    *, *:before, *:after { box-sizing: inherit; }
    body { margin: 0; background: #fafafa; }
  </style>
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="./swagger-ui-bundle.js" charset="UTF-8"></script>
  <script src="./swagger-ui-standalone-preset.js" charset="UTF-8"></script>
  <script>
    window.onload = function () {
      window.ui = SwaggerUIBundle({
        url: "/openapi.json",
        dom_id: "#swagger-ui",
        deepLinking: true,
        presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
        plugins: [SwaggerUIBundle.plugins.DownloadUrl],
        layout: "StandaloneLayout"
      });
    };
  </script>
</body>
</html>
EOF
printf '%s\n' "$STAMP" >"$stage/.stamp"
chmod 0755 "$stage"

rm -rf "$OUT"
mv "$stage" "$OUT"
[[ -n $NPMDIR ]] && printf '%s\n' "$STAMP" >"$NPMDIR/.stamp"
echo "swagger-ui.sh: installed swagger-ui-dist $VERSION into $OUT" >&2
