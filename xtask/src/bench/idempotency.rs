//! `Idempotency-Key` under load: creating cases with a fresh key on every
//! request beside creating them without one, on one install. Each keyed
//! request claims its key in the database and keeps its sealed answer, so
//! the ratio is what that bookkeeping costs a write.

use super::Bench;
use super::WRK_THREADS;
use super::client::JSON;
use super::load::{Load, Script, Side};
use super::server::{Backend, Database, Server};
use super::setup::{get_token, register, sign_in};
use casebook_server::crypto::MasterKey;

#[derive(Debug, Clone, Copy)]
pub(super) struct KeyedPair {
    pub(super) plain: Load,
    pub(super) keyed: Load,
}

impl KeyedPair {
    pub(super) fn keyed_vs_plain(&self) -> f64 {
        self.keyed.rps / self.plain.rps
    }
}

/// SQLite always; PostgreSQL when `CASEBOOK_BENCH_PG` names one.
#[derive(Debug, Clone, Copy)]
pub(super) struct IdempotencyPoint {
    pub(super) sqlite: KeyedPair,
    pub(super) postgres: Option<KeyedPair>,
}

/// The issue's floor: a keyed POST keeps most of a plain one's rate.
pub(super) const KEYED_VS_PLAIN_TARGET: f64 = 0.8;

/// A POST of a case, with a key of its own on each request when `keyed`.
fn create_script(token: &str, keyed: bool) -> Script {
    let key = if keyed {
        // Unique per thread and request; a run's prefix keeps runs apart.
        r#"headers["Idempotency-Key"] = run .. "-" .. id .. "-" .. sent
  sent = sent + 1"#
            .to_owned()
    } else {
        String::new()
    };
    Script::Lua(format!(
        r#"
local threads = 0
local run = tostring(os.time()) .. tostring(math.random(1000000))
setup = function(thread)
  thread:set("id", threads)
  threads = threads + 1
end
local sent = 0
local headers = {{ ["Authorization"] = "Bearer {token}", ["Content-Type"] = "{JSON}" }}
local body = '{{"title":"Bench case"}}'
request = function()
  {key}
  return wrk.format("POST", nil, headers, body)
end
-- {WRK_THREADS} threads share the run's prefix and differ by id.
"#
    ))
}

impl Bench {
    pub(super) fn idempotency(&self, postgres: Option<&str>) -> Result<IdempotencyPoint, String> {
        let sqlite = self.keyed_pair(&Backend::Sqlite)?;
        let postgres = match postgres {
            Some(url) => Some(self.keyed_pair(&Backend::Postgres(url.to_owned()))?),
            None => None,
        };
        Ok(IdempotencyPoint { sqlite, postgres })
    }

    fn keyed_pair(&self, backend: &Backend) -> Result<KeyedPair, String> {
        let name = match backend {
            Backend::Sqlite => "SQLite",
            Backend::Postgres(_) => "PostgreSQL",
        };
        println!("\n== Idempotency-Key ({name}) ==");
        let master_key = MasterKey::generate_base64();
        let database = Database::create(backend, "idempotency")?;
        let dir = &database.dir;
        let server = Server::start(&self.binary, &database, &master_key)?;
        let session = sign_in(&server)?;
        let (client_id, secret) = register(&server, &session, 1)?;
        let token = get_token(server.addr, &client_id, &secret)?;
        let (plain_script, keyed_script) = (create_script(&token, false), create_script(&token, true));
        let path = "/api/v1/engage/cases";
        let (plain, keyed) = self.alternate(
            dir,
            &Side {
                server: &server,
                path,
                script: &plain_script,
                label: "POST /api/v1/engage/cases",
            },
            &Side {
                server: &server,
                path,
                script: &keyed_script,
                label: "POST /api/v1/engage/cases, Idempotency-Key",
            },
        )?;
        let pair = KeyedPair { plain, keyed };
        println!("  ratio keyed/plain {:.3}", pair.keyed_vs_plain());
        Ok(pair)
    }
}
