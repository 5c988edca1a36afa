// Validates Boxer's OpenAPI document with real validators from npm, pinned by
// hack/swagger-ui/package-lock.json and installed by the build (hack/swagger-ui.sh):
//
//   NODE_PATH=NODE_MODULES node openapi_validate.js DOC.yaml [DOC.json]
//
// - @apidevtools/swagger-parser validate(): the document against the OpenAPI 3.0 JSON Schema,
//   every $ref resolved;
// - what that schema cannot see: operationIds unique, each path template's parameters declared
//   (and no others), and every example (media type, parameter, schema) valid against its schema,
//   checked with ajv;
// - with DOC.json: it validates too, and holds the same document as DOC.yaml read by js-yaml (a
//   YAML 1.2 reader; the build converts with PyYAML, a YAML 1.1 one).
// Prints one PASS/FAIL line per check; exits 1 when any fails.
"use strict";

const fs = require("node:fs");
const util = require("node:util");
const SwaggerParser = require("@apidevtools/swagger-parser");
const Ajv = require("ajv");

let failures = 0;
function check(ok, what) {
  console.log(`${ok ? "PASS" : "FAIL"}: ${what}`);
  if (!ok) failures++;
}
// For the many small checks: only failures are printed, then one line for them all.
function quiet(ok, what) {
  if (!ok) check(false, what);
  return ok;
}

const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

function* operations(api) {
  for (const [path, item] of Object.entries(api.paths || {})) {
    for (const method of METHODS) {
      if (item[method]) yield { path, method, item, op: item[method] };
    }
  }
}

// OpenAPI 3.0 schema objects are JSON Schema draft 4-ish with extra keywords (example, nullable,
// format int64...); ajv without strict mode ignores what it does not know. `nullable` is the one
// that changes validation: honoured here by allowing null.
function toJsonSchema(schema, seen = new Map()) {
  if (schema === null || typeof schema !== "object") return schema;
  if (seen.has(schema)) return seen.get(schema);
  const out = Array.isArray(schema) ? [] : {};
  seen.set(schema, out);
  for (const [k, v] of Object.entries(schema)) {
    if (k === "example" || k === "xml" || k === "externalDocs" || k === "discriminator") continue;
    out[k] = toJsonSchema(v, seen);
  }
  if (!Array.isArray(schema) && schema.nullable === true) {
    delete out.nullable;
    return { anyOf: [out, { type: "null" }] };
  }
  return out;
}

function checkExamples(api) {
  const ajv = new Ajv({ strict: false, validateFormats: false, allErrors: true });
  let n = 0;
  let bad = 0;
  const validate = (schema, value, where) => {
    n++;
    const fn = ajv.compile(toJsonSchema(schema));
    if (!quiet(fn(value), `example ${where} does not fit its schema: ${ajv.errorsText(fn.errors)}`)) {
      bad++;
    }
  };
  const walkSchema = (schema, where, seen = new Set()) => {
    if (!schema || typeof schema !== "object" || seen.has(schema)) return;
    seen.add(schema);
    if (schema.example !== undefined) validate(schema, schema.example, where);
    for (const [name, p] of Object.entries(schema.properties || {})) {
      walkSchema(p, `${where}.${name}`, seen);
    }
    if (schema.items) walkSchema(schema.items, `${where}[]`, seen);
    for (const k of ["allOf", "anyOf", "oneOf"]) {
      (schema[k] || []).forEach((s, i) => walkSchema(s, `${where}.${k}[${i}]`, seen));
    }
    if (typeof schema.additionalProperties === "object") {
      walkSchema(schema.additionalProperties, `${where}{}`, seen);
    }
  };
  const withExamples = (holder, where) => {
    if (!holder || !holder.schema) return;
    if (holder.example !== undefined) validate(holder.schema, holder.example, where);
    for (const [name, ex] of Object.entries(holder.examples || {})) {
      if (ex && ex.value !== undefined) validate(holder.schema, ex.value, `${where} "${name}"`);
    }
  };
  for (const [name, schema] of Object.entries((api.components || {}).schemas || {})) {
    walkSchema(schema, `#/components/schemas/${name}`);
  }
  for (const { path, method, item, op } of operations(api)) {
    const id = `${method.toUpperCase()} ${path}`;
    for (const p of [...(item.parameters || []), ...(op.parameters || [])]) {
      withExamples(p, `${id} parameter ${p.name}`);
    }
    for (const [type, media] of Object.entries((op.requestBody || {}).content || {})) {
      withExamples(media, `${id} request ${type}`);
    }
    for (const [code, resp] of Object.entries(op.responses || {})) {
      for (const [type, media] of Object.entries(resp.content || {})) {
        withExamples(media, `${id} ${code} ${type}`);
      }
    }
  }
  check(n > 0 && bad === 0, `${n - bad} of ${n} examples fit their schemas (ajv)`);
}

function checkOperations(api) {
  const ids = new Map();
  let n = 0;
  let bad = 0;
  for (const { path, method, item, op } of operations(api)) {
    const id = `${method.toUpperCase()} ${path}`;
    const opId = op.operationId;
    const templated = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]).sort();
    const declared = [...(item.parameters || []), ...(op.parameters || [])]
      .filter((p) => p.in === "path").map((p) => p.name).sort();
    const ok = [
      quiet(Boolean(opId), `${id} has no operationId`),
      quiet(!opId || !ids.has(opId), `${id}: operationId ${opId} is also ${ids.get(opId)}'s`),
      quiet(util.isDeepStrictEqual(templated, declared),
        `${id}: path parameters [${templated}] but declared [${declared}]`),
    ].every(Boolean);
    if (opId && !ids.has(opId)) ids.set(opId, id);
    n++;
    if (!ok) bad++;
  }
  check(n > 0 && bad === 0,
    `${n - bad} of ${n} operations have a unique operationId and declare their path parameters`);
}

async function validate(path) {
  try {
    // A fresh parse each time: validate() dereferences the object it works on.
    const api = await SwaggerParser.validate(path);
    check(true, `${path}: valid OpenAPI ${api.openapi} (swagger-parser)`);
    return true;
  } catch (err) {
    const lines = String(err.message).trim().split("\n");
    const more = lines.length > 8 ? `\n  ... (${lines.length - 8} more lines)` : "";
    check(false, `${path}: swagger-parser: ${lines.slice(0, 8).join("\n")}${more}`);
    return false;
  }
}

async function main() {
  const [yamlPath, jsonPath] = process.argv.slice(2);
  if (!yamlPath) {
    console.error("usage: node openapi_validate.js DOC.yaml [DOC.json]");
    process.exit(2);
  }
  const ok = await validate(yamlPath);
  if (jsonPath) {
    await validate(jsonPath);
    let same = false;
    try {
      const fromYaml = await SwaggerParser.parse(yamlPath);
      const fromJson = JSON.parse(fs.readFileSync(jsonPath, "utf8"));
      same = util.isDeepStrictEqual(JSON.parse(JSON.stringify(fromYaml)), fromJson);
    } catch (err) {
      console.log(`  ${err.message}`);
    }
    check(same, `${jsonPath} holds the same document as ${yamlPath}`);
  }
  if (ok) {
    const api = await SwaggerParser.dereference(yamlPath);
    checkOperations(api);
    checkExamples(api);
  }
  console.log(`openapi_validate: ${failures} failed`);
  process.exit(failures ? 1 : 0);
}

main().catch((err) => {
  console.log(`FAIL: ${err.stack || err}`);
  process.exit(1);
});
