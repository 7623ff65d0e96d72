// Writes src/generated/form-rules.ts from sdks/fixtures/form-rules.json, the
// table of the forms' storage-free rules the SDK checks offline; with
// --check, fails when the file is not what the table makes (a test runs it).
//
//   node scripts/form-rules.mjs [--check]

import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const PACKAGE = join(dirname(fileURLToPath(import.meta.url)), "..");
const SOURCE = join(PACKAGE, "..", "fixtures", "form-rules.json");
const TARGET = join(PACKAGE, "src", "generated", "form-rules.ts");

/** The TypeScript module the table makes: the table as a constant, nothing else. */
export function generated() {
  const table = JSON.parse(readFileSync(SOURCE, "utf8"));
  const { about: _about, kinds: _kinds, presences: _presences, ...rules } = table;
  return [
    "// Generated from sdks/fixtures/form-rules.json by `npm run generate:forms`: do not edit.",
    "// The storage-free rules of the forms, as the server applies them (see the table's `about`).",
    "",
    `export const FORM_RULES = ${JSON.stringify(rules, null, 2)} as const;`,
    "",
  ].join("\n");
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const want = generated();
  const name = relative(process.cwd(), TARGET);
  if (process.argv.includes("--check")) {
    let have = "";
    try {
      have = readFileSync(TARGET, "utf8");
    } catch {
      // Missing is out of date too.
    }
    if (have !== want) {
      console.error(`${name} was not up-to-date with sdks/fixtures/form-rules.json: run \`npm run generate:forms\` and commit`);
      process.exit(1);
    }
  } else {
    writeFileSync(TARGET, want);
    console.log(`wrote ${name}`);
  }
}
