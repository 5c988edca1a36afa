#!/usr/bin/env bash
# The REST API's OpenAPI document (api/openapi.yaml) and what the build makes of it.
#
#   openapi_test.sh            the source tree's document, the build's openapi.json and Swagger UI
#   openapi_test.sh DOC.yaml   DOC.yaml alone (converted like the build does), e.g. a broken copy
#                              to see this test fail
#
# - tests/integration/openapi_contract.py: every operation and status code of the HTTP contract
#   ($BOXER_CONTRACT, default docs/http-contract.md) is in the document, with the contract's
#   request and response fields and types, and every error is an `Error`;
# - tests/integration/openapi_validate.js: @apidevtools/swagger-parser validates the document
#   (YAML and JSON) against the OpenAPI 3.0 schema, plus unique operationIds, declared path
#   parameters, and examples that fit their schemas (ajv). The validators come from the build's
#   npm project ($BOXER_BUILD_DIR/api/npm, hack/swagger-ui.sh) and run offline; without them this
#   test SKIPs, after the contract check;
# - the build's openapi.json is the document, and its Swagger UI directory is either complete
#   (the page loads /openapi.json and exactly the assets GET /swagger/{asset} lists) or holds
#   only UNAVAILABLE.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SRC=${BOXER_SOURCE_DIR:-$ROOT}
PY=/usr/bin/python3
contract=${BOXER_CONTRACT:-$SRC/docs/http-contract.md}
npm_modules=$BUILD/api/npm/node_modules

$PY -c 'import yaml' 2>/dev/null || { fail "$PY cannot import yaml (python3-yaml; hack/deps.sh build)"; finish; }

if [[ $# -ge 1 ]]; then
    doc=$1
    json=$WORK/openapi.json
    check "$doc converts to JSON (hack/openapi-json.py)" \
        "$PY" "$SRC/hack/openapi-json.py" "$doc" "$json"
else
    doc=$SRC/api/openapi.yaml
    json=$BUILD/api/openapi.json
    check "the build made $json" test -s "$json"
fi

check "the document has every operation, status code and field of $contract" \
    "$PY" "$SRC/tests/integration/openapi_contract.py" "$doc" "$contract"

# The Swagger UI the build installed (hack/swagger-ui.sh), against the document's asset list.
# shellcheck disable=SC2317 # called through check
ui_check() {
    local ui=$BUILD/api/swagger-ui
    if [[ -e $ui/UNAVAILABLE ]]; then
        echo "swagger-ui: not installed by the build: $(<"$ui/UNAVAILABLE")"
        [[ $(ls -A "$ui") == UNAVAILABLE ]]
        return
    fi
    "$PY" - "$doc" "$ui" <<'EOF'
import os, re, sys, yaml
doc, ui = sys.argv[1], sys.argv[2]
api = yaml.safe_load(open(doc, encoding="utf-8"))
params = api["paths"]["/swagger/{asset}"]["get"]["parameters"]
listed = set(next(p for p in params if p["name"] == "asset")["schema"]["enum"])
page = open(os.path.join(ui, "index.html"), encoding="utf-8").read()
loaded = set(re.findall(r'(?:href|src)="\./([^"]+)"', page))
ok = True
def check(cond, what):
    global ok
    print(("ok: " if cond else "NOT OK: ") + what)
    ok = ok and cond
check(loaded == listed, f"the page loads {sorted(loaded)}, GET /swagger/{{asset}} lists {sorted(listed)}")
for f in sorted(listed):
    check(os.path.getsize(os.path.join(ui, f)) > 0, f"{f} is installed")
check('<base href="/swagger/">' in page, "the page's assets resolve under /swagger/")
check('url: "/openapi.json"' in page and "petstore" not in page, "the page shows /openapi.json")
sys.exit(0 if ok else 1)
EOF
}
[[ $# -eq 0 ]] && check "the build's Swagger UI directory is complete, or marked UNAVAILABLE" ui_check

if [[ ! -f $npm_modules/@apidevtools/swagger-parser/package.json ]] || ! command -v node >/dev/null; then
    [[ $FAILS -eq 0 ]] || finish
    skip "no OpenAPI validator: node, or $npm_modules/@apidevtools/swagger-parser (installed by the build from hack/swagger-ui/package-lock.json) is missing"
fi
check "the OpenAPI validators accept the document" \
    env NODE_PATH="$npm_modules" node "$SRC/tests/integration/openapi_validate.js" "$doc" "$json"

finish
