// Calls Casebook as an external application and prints who it is
// (GET /api/v1/me, as JSON) and what it may do.
//
//   CASEBOOK_URL=https://casebook.example.org \
//   CASEBOOK_CLIENT_ID=cb_0123456789abcdef0123456789abcdef \
//   CASEBOOK_CLIENT_SECRET=cbs_... \
//     node examples/quickstart.mjs
//
// CASEBOOK_URL is the Callback URL cb Admin shows for the application; the
// Client ID and secret come from its expand and key icons.

import { Client, OAuthError } from "@casebook/sdk";

function env(name) {
  const value = process.env[name];
  if (!value) throw new Error(`set ${name}`);
  return value;
}

async function main() {
  const casebook = new Client({
    baseUrl: env("CASEBOOK_URL"),
    clientId: env("CASEBOOK_CLIENT_ID"),
    clientSecret: env("CASEBOOK_CLIENT_SECRET"),
    userAgent: "casebook-sdk-quickstart",
  });

  let me;
  try {
    me = await casebook.me();
  } catch (error) {
    if (error instanceof OAuthError && error.code === "invalid_client") {
      throw new Error("the Client ID or secret was refused: check both, and that the application is enabled");
    }
    throw error;
  }

  console.log(JSON.stringify(me, null, 2));
  console.log();
  console.log(`${me.name} (${me.kind}) may:`);
  for (const permission of me.permissions) console.log(`  ${permission}`);
}

main().catch((error) => {
  console.error(`quickstart: ${error.message}`);
  process.exitCode = 1;
});
