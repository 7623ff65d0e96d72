// What makes the package usable beyond Node: no runtime dependencies, and
// built modules that import nothing but each other.

import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";
import { dirname, join, sep } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const PACKAGE = join(dirname(fileURLToPath(import.meta.url)), "..");

test("the package has no runtime dependencies", async () => {
  const manifest = JSON.parse(await readFile(join(PACKAGE, "package.json"), "utf8"));
  assert.equal(manifest.dependencies, undefined);
  assert.equal(manifest.peerDependencies, undefined);
  assert.equal(manifest.type, "module");
  for (const version of Object.values(manifest.devDependencies)) assert.match(version, /^\d+\.\d+\.\d+$/, "pinned exactly");
});

/** The subpaths that are Node's alone: `@casebook/sdk/node` and `@casebook/sdk/testing`. */
const NODE_ONLY = ["node/", "testing/"];

test("the built modules import only each other, never Node's modules or globals; the Node subpaths only Node's own", async () => {
  const dir = join(PACKAGE, "dist");
  const files = (await readdir(dir, { recursive: true })).filter((f) => f.endsWith(".js"));
  assert.ok(files.includes("index.js"));
  assert.ok(files.includes(join("node", "index.js")));
  assert.ok(files.includes(join("testing", "index.js")));
  for (const file of files) {
    // Code alone: the doc comments show partners' imports.
    const source = (await readFile(join(dir, file), "utf8")).replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
    const nodeOnly = NODE_ONLY.some((prefix) => file.startsWith(prefix.replace("/", sep)));
    for (const [, specifier] of source.matchAll(/\b(?:from|import)\s*\(?\s*["']([^"']+)["']/g)) {
      if (nodeOnly && specifier.startsWith("node:")) continue;
      assert.ok(specifier.startsWith("./") || specifier.startsWith("../"), `${file} imports ${specifier}`);
      // The main entry never reaches into the Node subpaths.
      if (!nodeOnly) assert.ok(!NODE_ONLY.some((p) => specifier.includes(p)), `${file} imports ${specifier}`);
    }
    if (!nodeOnly) assert.doesNotMatch(source, /\brequire\(|\bprocess\.|\bBuffer\b/, file);
  }
});

test("the manifest exports the main entry and the two subpaths, each with its types", async () => {
  const manifest = JSON.parse(await readFile(join(PACKAGE, "package.json"), "utf8"));
  for (const [subpath, file] of [[".", "index"], ["./node", "node/index"], ["./testing", "testing/index"]]) {
    assert.deepEqual(manifest.exports[subpath], { types: `./dist/${file}.d.ts`, import: `./dist/${file}.js` });
  }
  assert.ok(manifest.files.includes("CHANGELOG.md"));
});

test("the declarations name nothing internal: stripInternal leaves no @internal overload for error messages", async () => {
  const tsconfig = JSON.parse(await readFile(join(PACKAGE, "tsconfig.json"), "utf8"));
  assert.equal(tsconfig.compilerOptions.stripInternal, true);
  const dir = join(PACKAGE, "dist");
  for (const file of (await readdir(dir, { recursive: true })).filter((f) => f.endsWith(".d.ts"))) {
    const source = await readFile(join(dir, file), "utf8");
    assert.doesNotMatch(source, /@internal/, file);
  }
  const api = await readFile(join(dir, "api.d.ts"), "utf8");
  assert.doesNotMatch(api, /Transport/, "the client's internal constructor is gone from its declaration");
});

test("the form rules the SDK checks are the table's: src/generated/form-rules.ts is up to date", async () => {
  const { generated } = await import("../scripts/form-rules.mjs");
  const have = await readFile(join(PACKAGE, "src", "generated", "form-rules.ts"), "utf8");
  assert.equal(have, generated(), "run `npm run generate:forms`");
});
