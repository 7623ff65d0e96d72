//! The token endpoint and `me` for each signing algorithm: one new install
//! per algorithm (as `CASEBOOK_TOKEN_SIGNING_ALG` makes it), each measured
//! against its own `/healthz`, taken before and after its steps, so the
//! ratios compare across algorithms even on a noisy machine.

use super::Bench;
use super::assertions::KeyedClient;
use super::dpop::ProofKey;
use super::load::{Load, Script};
use super::server::{Backend, Database, Server};
use super::setup::{get_token, register, sign_in, token_form};
use casebook_domain::SigningAlgorithm;
use casebook_server::crypto::MasterKey;

#[derive(Debug, Clone, Copy)]
pub(super) struct AlgorithmPoint {
    pub(super) alg: SigningAlgorithm,
    pub(super) healthz: Load,
    pub(super) token: Load,
    /// The same grant, the client authenticated by `private_key_jwt`.
    pub(super) assertion: Load,
    pub(super) me: Load,
    /// The secret grant with a DPoP proof, and `me` with a DPoP-bound token.
    pub(super) dpop_token: Load,
    pub(super) dpop_me: Load,
}

impl AlgorithmPoint {
    pub(super) fn token_ratio(&self) -> f64 {
        self.token.rps / self.healthz.rps
    }

    pub(super) fn assertion_ratio(&self) -> f64 {
        self.assertion.rps / self.healthz.rps
    }

    /// `private_key_jwt` beside the client-secret grant of the same install.
    pub(super) fn assertion_vs_secret(&self) -> f64 {
        self.assertion.rps / self.token.rps
    }

    pub(super) fn me_ratio(&self) -> f64 {
        self.me.rps / self.healthz.rps
    }

    /// The grant with a DPoP proof beside the same grant without one.
    pub(super) fn dpop_vs_secret(&self) -> f64 {
        self.dpop_token.rps / self.token.rps
    }

    /// `me` with a DPoP-bound token and a proof beside `me` with a bearer token.
    pub(super) fn dpop_me_vs_bearer(&self) -> f64 {
        self.dpop_me.rps / self.me.rps
    }

    /// The floors on two cores: RS256 pays 243 µs a signature, ES256
    /// 16 µs, EdDSA 9.5 µs (aws-lc-rs, one core).
    pub(super) fn token_target(&self) -> f64 {
        match self.alg {
            SigningAlgorithm::Rs256 => 0.05,
            SigningAlgorithm::Es256 => 0.3,
            SigningAlgorithm::EdDsa => 0.22,
        }
    }
}

/// The floor: verifying an ES256 assertion (51 µs) and spending its
/// `jti` may cost at most this much of the client-secret grant's rate.
pub(super) const ASSERTION_VS_SECRET_TARGET: f64 = 0.6;

/// `me` verifies a cached token, whatever signed it.
pub(super) const ME_TARGET: f64 = 0.8;

/// The floors for DPoP: the grant with a proof beside the secret
/// grant (on an RS256 install), and `me` with a proof beside `me` with a
/// bearer token.
pub(super) const DPOP_GRANT_TARGET: f64 = 0.7;
pub(super) const DPOP_ME_TARGET: f64 = 0.5;

impl Bench {
    pub(super) fn algorithms(&self) -> Result<Vec<AlgorithmPoint>, String> {
        println!("\n== signing algorithms (SQLite) ==");
        SigningAlgorithm::ALL
            .into_iter()
            .map(|alg| self.algorithm(alg))
            .collect()
    }

    fn algorithm(&self, alg: SigningAlgorithm) -> Result<AlgorithmPoint, String> {
        let master_key = MasterKey::generate_base64();
        let database = Database::create(&Backend::Sqlite, &format!("alg-{alg}"))?;
        let server = Server::start_signing(&self.binary, &database, &master_key, alg)?;
        let session = sign_in(&server)?;
        let (client_id, secret) = register(&server, &session, 1)?;
        let keyed = KeyedClient::register(&server, &session, 1)?;
        let token = get_token(server.addr, &client_id, &secret)?;
        let signed_with = token
            .split('.')
            .next()
            .and_then(|h| base64_json(h)?.get("alg")?.as_str().map(str::to_owned));
        if signed_with.as_deref() != Some(alg.as_str()) {
            return Err(format!("an install of {alg} signed with {signed_with:?}"));
        }
        let dir = &database.dir;
        let forms = dir.file("token-forms.txt", &format!("{}\n", token_form(&client_id, &secret)))?;
        let health = Script::Get { bearer: None };
        let healthz_before = self.measure(dir, &server, "/healthz", &health, "GET /healthz")?;
        let token_load = self.measure(
            dir,
            &server,
            "/oauth2/token",
            &Script::Token { forms },
            &format!("POST /oauth2/token, {alg}"),
        )?;
        let assertion = self.measure_assertions(
            dir,
            &server,
            &keyed,
            token_load.rps,
            &format!("POST /oauth2/token, private_key_jwt, {alg}"),
        )?;
        let me = self.measure(
            dir,
            &server,
            "/api/v1/me",
            &Script::Get { bearer: Some(token) },
            &format!("GET /api/v1/me, {alg}"),
        )?;
        let proof_key = ProofKey::new(&format!("http://{}", server.addr))?;
        let form = token_form(&client_id, &secret);
        let dpop_token = self.measure_proofs(
            dir,
            &server,
            &proof_key,
            ("POST", "/oauth2/token"),
            None,
            Some(&form),
            token_load.rps,
            &format!("POST /oauth2/token, DPoP, {alg}"),
        )?;
        let bound = proof_key.token(&server, &form)?;
        let dpop_me = self.measure_proofs(
            dir,
            &server,
            &proof_key,
            ("GET", "/api/v1/me"),
            Some(&bound),
            None,
            me.rps,
            &format!("GET /api/v1/me, DPoP, {alg}"),
        )?;
        // Bracketed: the machine's speed drifts within a run (other tenants),
        // and one `/healthz` before the steps would charge them the drift.
        let healthz_after = self.measure(dir, &server, "/healthz", &health, "GET /healthz, again")?;
        let healthz = Load {
            rps: (healthz_before.rps + healthz_after.rps) / 2.0,
            ..healthz_before
        };
        let point = AlgorithmPoint {
            alg,
            healthz,
            token: token_load,
            assertion,
            me,
            dpop_token,
            dpop_me,
        };
        println!(
            "  {alg}: ratio token/healthz {:.3}, private_key_jwt/healthz {:.3} ({:.3} of the secret grant), me/healthz {:.3}",
            point.token_ratio(),
            point.assertion_ratio(),
            point.assertion_vs_secret(),
            point.me_ratio()
        );
        println!(
            "  {alg}: ratio DPoP grant/secret grant {:.3}, me with DPoP/me with bearer {:.3}",
            point.dpop_vs_secret(),
            point.dpop_me_vs_bearer()
        );
        Ok(point)
    }
}

fn base64_json(part: &str) -> Option<serde_json::Value> {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part).ok()?;
    serde_json::from_slice(&bytes).ok()
}
