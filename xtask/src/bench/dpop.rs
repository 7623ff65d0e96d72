//! DPoP under load: the grant with a proof beside the client secret, and
//! `me` with a DPoP-bound token and a proof per call.
//!
//! Every proof's `jti` is accepted once, so every request needs its own.
//! As with client assertions, they are signed here before the timed window
//! (ES256, the SDKs' default) and each wrk thread walks its own stride of
//! the file. Their `iat` is set 50 s ahead: the server accepts a proof
//! within 60 s of its `iat` either way, so a proof signed now is good from
//! now until 110 s on, longer than set-up, warm-up and the phase.

use super::client::{FORM, request_with_headers, send, str_field};
use super::load::{Load, Script};
use super::server::{Server, TempDir};
use super::{Bench, WRK_THREADS};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use casebook_domain::client_keys::{AssertionAlg, KeyMaterial};
use casebook_domain::dpop::{ProofFor, proof_claims, proof_header};
use casebook_domain::jose;
use std::fmt::Write as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How far ahead of the clock proofs are dated (see the module's note).
const IAT_AHEAD_SECS: i64 = 50;

/// A DPoP key, and the public URL proofs name.
pub(super) struct ProofKey {
    key: EcdsaKeyPair,
    material: KeyMaterial,
    public_url: String,
}

impl ProofKey {
    pub(super) fn new(public_url: &str) -> Result<Self, String> {
        let key = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).map_err(|e| format!("P-256 key: {e}"))?;
        let point = key.public_key().as_ref();
        let material = KeyMaterial::P256 {
            x: point[1..33].to_vec(),
            y: point[33..].to_vec(),
        };
        Ok(Self {
            key,
            material,
            public_url: public_url.trim_end_matches('/').to_owned(),
        })
    }

    /// `count` proofs for `method` on `path`, one a line.
    pub(super) fn proofs(&self, method: &str, path: &str, token: Option<&str>, count: usize) -> Result<String, String> {
        let rng = SystemRandom::new();
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_err(|e| e.to_string())?
            .as_secs() as i64;
        let url = format!("{}{path}", self.public_url);
        let request = ProofFor {
            method,
            url: &url,
            access_token: token,
            nonce: None,
        };
        let header = jose::encode_header(&proof_header(AssertionAlg::Es256, &self.material));
        let mut lines = String::with_capacity(count * 700);
        let mut jti = [0u8; 16];
        for _ in 0..count {
            rng.fill(&mut jti).map_err(|e| format!("jti: {e}"))?;
            let claims = proof_claims(&request, now + IAT_AHEAD_SECS, &jose::encode_part(&jti))
                .ok_or_else(|| format!("{url} is no absolute URL"))?;
            let input = jose::signing_input(&header, claims.to_string().as_bytes());
            let signature = self
                .key
                .sign(&rng, input.as_bytes())
                .map_err(|e| format!("signing: {e}"))?;
            let _ = writeln!(lines, "{}", jose::compact(input, signature.as_ref()));
        }
        Ok(lines)
    }

    /// A DPoP-bound token for `form`'s client, outside the timed window.
    pub(super) fn token(&self, server: &Server, form: &str) -> Result<String, String> {
        let proof = self.proofs("POST", "/oauth2/token", None, 1)?;
        let request = request_with_headers(
            server.addr,
            "POST",
            "/oauth2/token",
            &[("DPoP", proof.trim_end())],
            Some((FORM, form)),
        );
        let (status, body) = send(server.addr, "POST", "/oauth2/token", &request)?;
        if status != 200 || body["token_type"] != "DPoP" {
            return Err(format!("a DPoP token request: {status} {body}"));
        }
        str_field(&body, "access_token")
    }
}

/// The lua of a run where each request carries its own proof: a header
/// line `DPoP: …` from the file, each wrk thread on its own stride. Out of
/// proofs, a request carries a broken one, fails, and so fails the run.
pub(super) fn proof_script(
    method: &str,
    proofs: &std::path::Path,
    authorization: Option<&str>,
    form: Option<&str>,
) -> String {
    let mut lua = String::new();
    let _ = write!(
        lua,
        r#"
local proofs = {{}}
for line in io.lines("{}") do proofs[#proofs + 1] = line end
local threads = 0
setup = function(thread)
  thread:set("id", threads)
  threads = threads + 1
end
local sent = 0
local headers = {{}}
"#,
        proofs.display()
    );
    if let Some(value) = authorization {
        let _ = writeln!(lua, "headers[\"Authorization\"] = \"{value}\"");
    }
    let body = match form {
        Some(form) => {
            let _ = writeln!(lua, "headers[\"Content-Type\"] = \"{FORM}\"");
            format!("\"{form}\"")
        }
        None => "nil".to_owned(),
    };
    let _ = write!(
        lua,
        r#"
request = function()
  local i = sent * {WRK_THREADS} + id + 1
  sent = sent + 1
  headers["DPoP"] = proofs[i] or "spent"
  return wrk.format("{method}", nil, headers, {body})
end
"#
    );
    lua
}

impl Bench {
    /// Warm up, then measure, each run on proofs of its own: twice as many
    /// as `expected_rps` would spend.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn measure_proofs(
        &self,
        dir: &TempDir,
        server: &Server,
        key: &ProofKey,
        (method, path): (&str, &str),
        token: Option<&str>,
        form: Option<&str>,
        expected_rps: f64,
        label: &str,
    ) -> Result<Load, String> {
        let enough = |window: Duration| (expected_rps.max(500.0) * window.as_secs_f64().max(1.0) * 2.0) as usize;
        let authorization = token.map(|t| format!("DPoP {t}"));
        let mut load = Load::default();
        for (run, window) in [("warmup", self.plan.warmup), ("phase", self.plan.phase)] {
            let proofs = dir.file(
                &format!("proofs-{}-{run}.txt", path.replace('/', "_")),
                &key.proofs(method, path, token, enough(window))?,
            )?;
            let script = Script::Lua(proof_script(method, &proofs, authorization.as_deref(), form));
            load = self.wrk_run(dir, server, path, &script, window, None)?;
        }
        println!(
            "  {label:<44} {:>9.0} req/s  p50 {:>7.2} ms  p99 {:>7.2} ms",
            load.rps,
            load.p50_us / 1000.0,
            load.p99_us / 1000.0
        );
        Ok(load)
    }
}
