//! The `private_key_jwt` grant under load: an application registered with
//! an EC P-256 public key, and assertions signed before the timed window.
//!
//! Each assertion's `jti` is accepted once, so every request needs its own.
//! Signing them inside the load generator would measure the generator; they
//! are signed here, beforehand (ES256, 16 µs each), written one form a line,
//! and each wrk thread walks its own stride of the file once.

use super::Bench;
use super::client::{JSON, expect, str_field};
use super::load::{Load, Script};
use super::server::{Server, TempDir};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use casebook_domain::client_assertion::ASSERTION_TYPE;
use std::fmt::Write as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const KID: &str = "bench-p256";

/// The server refuses an assertion living longer than five minutes; these
/// must outlive set-up, warm-up and the phase.
const LIFETIME_SECS: u64 = 290;

/// An application that authenticates with its key.
pub(super) struct KeyedClient {
    client_id: String,
    key: EcdsaKeyPair,
    /// The server's issuer identifier, every assertion's one audience.
    issuer: String,
}

fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

impl KeyedClient {
    pub(super) fn register(server: &Server, session: &str, n: usize) -> Result<Self, String> {
        let key = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).map_err(|e| format!("P-256 key: {e}"))?;
        let point = key.public_key().as_ref();
        let jwk = serde_json::json!({"kty": "EC", "crv": "P-256", "kid": KID,
            "x": b64(&point[1..33]), "y": b64(&point[33..])});
        let form = serde_json::json!({
            "name": format!("Bench keyed partner {n}"),
            "email": format!("bench-keyed-{n}@example.com"),
            "roles": [super::setup::ROLE_ID],
            "token_endpoint_auth_method": "private_key_jwt",
            "jwks": {"keys": [jwk]},
        })
        .to_string();
        let app = expect(
            server.addr,
            "POST",
            "/admin/v1/external-applications",
            Some(session),
            Some((JSON, &form)),
            201,
        )?;
        let metadata = expect(
            server.addr,
            "GET",
            "/.well-known/oauth-authorization-server",
            None,
            None,
            200,
        )?;
        Ok(Self {
            client_id: str_field(&app, "client_id")?,
            key,
            issuer: str_field(&metadata, "issuer")?,
        })
    }

    /// `count` token request forms, each with a fresh assertion.
    pub(super) fn forms(&self, count: usize) -> Result<String, String> {
        let rng = SystemRandom::new();
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_err(|e| e.to_string())?
            .as_secs();
        let header = b64(serde_json::json!({"alg": "ES256", "kid": KID, "typ": "JWT"}).to_string());
        let mut forms = String::with_capacity(count * 600);
        let mut jti = [0u8; 16];
        for _ in 0..count {
            rng.fill(&mut jti).map_err(|e| format!("jti: {e}"))?;
            let claims = serde_json::json!({"iss": self.client_id, "sub": self.client_id, "aud": self.issuer,
                "iat": now, "exp": now + LIFETIME_SECS, "jti": b64(jti)});
            let input = format!("{header}.{}", b64(claims.to_string()));
            let signature = self
                .key
                .sign(&rng, input.as_bytes())
                .map_err(|e| format!("signing: {e}"))?;
            // base64url needs no escaping; the type URN's colons are escaped.
            let _ = writeln!(
                forms,
                "grant_type=client_credentials&client_id={}&client_assertion_type={}&client_assertion={input}.{}",
                self.client_id,
                ASSERTION_TYPE.replace(':', "%3A"),
                b64(signature.as_ref())
            );
        }
        Ok(forms)
    }
}

impl Bench {
    /// Warm up, then measure, each run on assertions of its own: twice as
    /// many as `expected_rps` would spend, so that a faster grant than
    /// expected still finds fresh ones.
    pub(super) fn measure_assertions(
        &self,
        dir: &TempDir,
        server: &Server,
        client: &KeyedClient,
        expected_rps: f64,
        label: &str,
    ) -> Result<Load, String> {
        let enough = |window: Duration| (expected_rps.max(500.0) * window.as_secs_f64().max(1.0) * 2.0) as usize;
        let mut load = Load::default();
        for (run, window) in [("warmup", self.plan.warmup), ("phase", self.plan.phase)] {
            let forms = dir.file(&format!("assertions-{run}.txt"), &client.forms(enough(window))?)?;
            load = self.wrk_run(dir, server, "/oauth2/token", &Script::OnceEach { forms }, window, None)?;
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
