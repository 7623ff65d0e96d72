// The README's quickstart as a partner meets it: the package packed into a
// tarball (npm pack), installed into a fresh project, and the quickstart
// copied from the README and checked with `npx tsc --strict --noEmit`; the
// README's testing example too, which uses @casebook/sdk/testing.

import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const PACKAGE = join(dirname(fileURLToPath(import.meta.url)), "..");
const run = promisify(execFile);
const npm = process.platform === "win32" ? "npm.cmd" : "npm";
const npx = process.platform === "win32" ? "npx.cmd" : "npx";

/** The first fenced block of `lang` after the heading `heading` in the README. */
function block(readme, heading, lang) {
  const from = readme.indexOf(`\n${heading}\n`);
  assert.ok(from >= 0, `the README has ${heading}`);
  const match = new RegExp("```" + lang + "\\n([\\s\\S]*?)```").exec(readme.slice(from));
  assert.ok(match, `a ${lang} block under ${heading}`);
  return match[1];
}

let project;
before(async () => {
  project = await mkdtemp(join(tmpdir(), "casebook-sdk-partner-"));
  // The package as published: what `files` lets into the tarball, built.
  const { stdout } = await run(npm, ["pack", "--ignore-scripts", "--json", "--pack-destination", project], { cwd: PACKAGE });
  const [{ filename, files }] = JSON.parse(stdout);
  const packed = files.map((f) => f.path);
  for (const needed of ["package.json", "README.md", "CHANGELOG.md", "dist/index.js", "dist/index.d.ts", "dist/node/index.d.ts", "dist/testing/index.d.ts"]) {
    assert.ok(packed.includes(needed), `the tarball holds ${needed}`);
  }
  assert.ok(!packed.some((p) => p.startsWith("src/") || p.startsWith("test/")), "only what a partner needs");
  const manifest = JSON.parse(await readFile(join(PACKAGE, "package.json"), "utf8"));
  await writeFile(join(project, "package.json"), JSON.stringify({ name: "partner-sync", private: true, type: "module" }));
  await writeFile(
    join(project, "tsconfig.json"),
    JSON.stringify({ compilerOptions: { module: "nodenext", moduleResolution: "nodenext", target: "es2022", types: ["node"], skipLibCheck: false } }),
  );
  // A fresh project's own dev tools, at the SDK's versions (from npm's cache when CI's npm ci filled it).
  await run(
    npm,
    [
      "install",
      "--prefer-offline",
      "--no-audit",
      "--no-fund",
      join(project, filename),
      `typescript@${manifest.devDependencies.typescript}`,
      `@types/node@${manifest.devDependencies["@types/node"]}`,
    ],
    { cwd: project, timeout: 240_000 },
  );
});
after(async () => {
  if (project) await rm(project, { recursive: true, force: true });
});

async function tsc(...flags) {
  try {
    await run(npx, ["--no-install", "tsc", "--strict", "--noEmit", ...flags, "-p", "."], { cwd: project, timeout: 120_000 });
  } catch (error) {
    assert.fail(`tsc --strict --noEmit ${flags.join(" ")} failed:\n${error.stdout}${error.stderr}`);
  }
}

test("the README's quickstart and testing example pass `npx tsc --strict --noEmit` in a fresh project with the tarball installed", async () => {
  const readme = await readFile(join(PACKAGE, "README.md"), "utf8");
  await writeFile(join(project, "quickstart.ts"), block(readme, "## Quickstart", "ts"));
  await writeFile(join(project, "sync.test.ts"), block(readme, "## Testing your integration", "js"));
  const sources = (await readdir(project)).filter((f) => f.endsWith(".ts"));
  assert.deepEqual(sources.sort(), ["quickstart.ts", "sync.test.ts"]);
  await tsc();
  // Stricter still, as some partners build.
  await tsc("--exactOptionalPropertyTypes", "--noUncheckedIndexedAccess");
});

test("a mistake in such a file is caught: the check can fail", async () => {
  await writeFile(
    join(project, "mistake.ts"),
    'import { Client } from "@casebook/sdk";\nnew Client({ baseUrl: 5 });\nnew Client("https://casebook.example.org");\n',
  );
  await assert.rejects(
    run(npx, ["--no-install", "tsc", "--strict", "--noEmit", "-p", "."], { cwd: project, timeout: 120_000 }),
    (error) => {
      assert.match(error.stdout, /mistake\.ts\(2,.*error TS2322/);
      assert.match(error.stdout, /mistake\.ts\(3,.*error TS2345.*ClientOptions/);
      // The messages name the public constructor only: stripInternal left out the internal overload.
      assert.doesNotMatch(error.stdout, /Overload|Transport/);
      return true;
    },
  );
  await rm(join(project, "mistake.ts"));
});
