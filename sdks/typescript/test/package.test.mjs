// What makes the package usable beyond Node: no runtime dependencies, and
// built modules that import nothing but each other.

import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
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

test("the built modules import only each other, never Node's modules or globals", async () => {
  const dir = join(PACKAGE, "dist");
  const files = (await readdir(dir, { recursive: true })).filter((f) => f.endsWith(".js"));
  assert.ok(files.includes("index.js"));
  for (const file of files) {
    const source = await readFile(join(dir, file), "utf8");
    for (const [, specifier] of source.matchAll(/\b(?:from|import)\s*\(?\s*["']([^"']+)["']/g)) {
      assert.ok(specifier.startsWith("./") || specifier.startsWith("../"), `${file} imports ${specifier}`);
    }
    assert.doesNotMatch(source, /\brequire\(|\bprocess\.|\bBuffer\b/, file);
  }
});
