//! Attacks on DPoP (RFC 9449; the contract's "Sender-constrained tokens"),
//! each made against the real server: replays at the edge of a proof's
//! window and across replicas, proofs that poison the shared `jti` ledger,
//! nonces across tenants, replicas and time, alg confusion, weak and
//! degenerate keys, repeated members and odd input, downgrades to Bearer,
//! `htu` from forwarded headers, and what a refusal echoes. Each refusal
//! sits beside a request that passes, so every refusal is the rule's doing.
//! Proofs are made here with aws-lc-rs (`jose.rs`), never with the server's
//! or an SDK's code.

use crate::jose::{Key, b64, compact, now};
use casebook_server::clock::Clock;
use casebook_tests::*;
use futures_util::future::join_all;
use reqwest::header::WWW_AUTHENTICATE;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::time::Duration;

const ME: &str = "/api/v1/me";

/// A client's DPoP key and the algorithm it signs with.
struct Holder {
    key: Key,
    alg: &'static str,
}

impl Holder {
    fn ec() -> Self {
        Self {
            key: Key::ec(),
            alg: "ES256",
        }
    }

    fn rsa() -> Self {
        Self {
            key: Key::rsa(),
            alg: "RS256",
        }
    }

    fn ed() -> Self {
        Self {
            key: Key::ed(),
            alg: "EdDSA",
        }
    }

    fn jwk(&self) -> Value {
        let mut jwk = self.key.public_jwk("unused");
        jwk.as_object_mut().expect("object").remove("kid");
        jwk
    }

    fn header(&self) -> Value {
        json!({"typ": "dpop+jwt", "alg": self.alg, "jwk": self.jwk()})
    }

    /// `header` and `claims`, signed with this key under its algorithm.
    fn signed(&self, header: &Value, claims: &Value) -> String {
        compact(header, claims, |input| self.key.sign(self.alg, input))
    }

    fn proof_of(&self, claims: &Value) -> String {
        self.signed(&self.header(), claims)
    }

    fn proof(&self, method: &str, url: &str, token: Option<&str>, nonce: Option<&str>, iat: i64) -> String {
        self.proof_of(&claims(method, url, token, nonce, iat))
    }

    /// A proof for `method` `path` of `app`, for `token`, issued now by the
    /// server's clock.
    fn api_proof(&self, app: &TestApp, method: &str, path: &str, token: &str) -> String {
        self.proof(method, &app.url(path), Some(token), None, server_now(app))
    }

    fn token_proof(&self, app: &TestApp) -> String {
        self.proof("POST", &app.url("/oauth2/token"), None, None, server_now(app))
    }
}

/// A proof's claims with a fresh random `jti`.
fn claims(method: &str, url: &str, token: Option<&str>, nonce: Option<&str>, iat: i64) -> Value {
    let mut claims = json!({"jti": uuid::Uuid::new_v4().to_string(), "htm": method, "htu": url, "iat": iat});
    if let Some(token) = token {
        claims["ath"] = b64(&Sha256::digest(token)).into();
    }
    if let Some(nonce) = nonce {
        claims["nonce"] = nonce.into();
    }
    claims
}

/// A compact JWS of the texts as given: members may repeat, as no JSON
/// library here would write them.
fn raw_compact(header: &str, claims: &str, holder: &Holder) -> String {
    let input = format!("{}.{}", b64(header.as_bytes()), b64(claims.as_bytes()));
    let signature = holder.key.sign(holder.alg, input.as_bytes());
    format!("{input}.{}", b64(&signature))
}

/// The server's clock in Unix seconds: the manual one when the test holds it.
fn server_now(app: &TestApp) -> i64 {
    app.clock.as_ref().map_or_else(now, |clock| clock.now().unix_secs())
}

async fn token_request(app: &TestApp, client_id: &str, secret: &str, proofs: &[&str]) -> reqwest::Response {
    let mut request = app.http.post(app.url("/oauth2/token")).form(&[
        ("grant_type", "client_credentials"),
        ("client_id", client_id),
        ("client_secret", secret),
    ]);
    for proof in proofs {
        request = request.header("DPoP", *proof);
    }
    request.send().await.expect("send")
}

/// A token request with one proof, for futures that outlive a temporary slice.
async fn token_with(app: &TestApp, client_id: &str, secret: &str, proof: &str) -> reqwest::Response {
    token_request(app, client_id, secret, &[proof]).await
}

async fn call_with(app: &TestApp, path: &str, authorization: &str, proof: &str) -> reqwest::Response {
    call(app, path, authorization, &[proof]).await
}

async fn dpop_token(app: &TestApp, client_id: &str, secret: &str, holder: &Holder) -> String {
    let answer = Answer::of(token_request(app, client_id, secret, &[&holder.token_proof(app)]).await).await;
    assert_eq!(
        (answer.status, answer.body["token_type"].as_str()),
        (200, Some("DPoP")),
        "{answer:?}"
    );
    answer.body["access_token"].as_str().expect("token").to_owned()
}

async fn call(app: &TestApp, path: &str, authorization: &str, proofs: &[&str]) -> reqwest::Response {
    let mut request = app.http.get(app.url(path)).header("Authorization", authorization);
    for proof in proofs {
        request = request.header("DPoP", *proof);
    }
    request.send().await.expect("send")
}

/// What came back, read whole.
#[derive(Debug)]
struct Answer {
    status: u16,
    body: Value,
    /// The body as sent, and every header as `name: value` lines.
    text: String,
    challenges: Vec<String>,
    nonce: Option<String>,
    /// Every header's name, in lower case.
    names: Vec<String>,
}

impl Answer {
    async fn of(r: reqwest::Response) -> Self {
        let status = r.status().as_u16();
        let challenges = r
            .headers()
            .get_all(WWW_AUTHENTICATE)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect();
        let nonce = r
            .headers()
            .get("dpop-nonce")
            .map(|v| v.to_str().expect("ascii").to_owned());
        let names = r.headers().keys().map(|name| name.as_str().to_owned()).collect();
        let mut text: String = r
            .headers()
            .iter()
            .map(|(name, value)| format!("{name}: {}\n", String::from_utf8_lossy(value.as_bytes())))
            .collect();
        let body = r.text().await.expect("body");
        text.push_str(&body);
        Self {
            status,
            body: serde_json::from_str(&body).unwrap_or(Value::String(body)),
            text,
            challenges,
            nonce,
            names,
        }
    }

    /// The OAuth error at the token endpoint.
    fn error(&self) -> Option<&str> {
        self.body["error"].as_str()
    }

    /// A DPoP challenge naming `code` (RFC 9449 §7.1).
    fn dpop_error(&self, code: &str) -> bool {
        self.challenges
            .iter()
            .any(|c| c.starts_with("DPoP ") && c.contains(&format!("error=\"{code}\"")))
    }
}

/// 400 `code` at the token endpoint.
async fn refused_at_token_endpoint(r: reqwest::Response, code: &str, why: &str) -> Answer {
    let answer = Answer::of(r).await;
    assert_eq!((answer.status, answer.error()), (400, Some(code)), "{why}: {answer:?}");
    answer
}

/// 401 with a DPoP challenge naming `code` at an API.
async fn refused_at_api(r: reqwest::Response, code: &str, why: &str) -> Answer {
    let answer = Answer::of(r).await;
    assert!(answer.status == 401 && answer.dpop_error(code), "{why}: {answer:?}");
    answer
}

// ------------------------------------------------------------- weaknesses

// A `jti` is only length-checked (judge.rs), and the DPoP ledger shares the
// batching writer of client assertions (jti_ledger.rs): one statement spends
// every waiting `jti`. PostgreSQL refuses a NUL in text, so a proof whose
// `jti` holds one fails the whole batch, twice (the writer tries again), and
// every other grant or API call in it gets 503: any authenticated client can
// knock out other clients' (other tenants' too) DPoP and private_key_jwt
// grants. Client assertions refuse control characters in their `jti`
// already (client_assertion.rs); a proof's must too, and be refused 400.
both_backends!(
    a_jti_with_a_nul_is_refused_and_spoils_no_one_elses_grant,
    |app: TestApp| async move {
        let admin = app.admin_token().await;
        let (_, attacker_id, attacker_secret) = app.partner(&admin, "Nul Partner", &["engage-worker"]).await;
        let (_, victim_id, victim_secret) = app.partner(&admin, "Victim Partner", &["engage-worker"]).await;
        let (attacker, victim) = (Holder::ec(), Holder::ec());
        let token_url = app.url("/oauth2/token");
        let mut attacker_answers = Vec::new();
        let mut victim_failures = Vec::new();
        for _ in 0..4 {
            let poisoned: Vec<String> = (0..12)
                .map(|_| {
                    let mut claims = claims("POST", &token_url, None, None, now());
                    claims["jti"] = format!("nul\u{0}{}", uuid::Uuid::new_v4()).into();
                    attacker.proof_of(&claims)
                })
                .collect();
            let honest: Vec<String> = (0..12).map(|_| victim.token_proof(&app)).collect();
            let attacks = join_all(
                poisoned
                    .iter()
                    .map(|proof| token_with(&app, &attacker_id, &attacker_secret, proof)),
            );
            let grants = join_all(
                honest
                    .iter()
                    .map(|proof| token_with(&app, &victim_id, &victim_secret, proof)),
            );
            let (attacks, grants) = tokio::join!(attacks, grants);
            for r in grants {
                let answer = Answer::of(r).await;
                if answer.status != 200 {
                    victim_failures.push(answer);
                }
            }
            for r in attacks {
                let answer = Answer::of(r).await;
                attacker_answers.push((answer.status, answer.error().map(str::to_owned)));
            }
        }
        assert!(
            victim_failures.is_empty(),
            "{} of 48 honest grants of another client failed beside proofs whose jti holds a NUL: {:?}",
            victim_failures.len(),
            victim_failures.first()
        );
        let refused = attacker_answers
            .iter()
            .filter(|(status, error)| *status == 400 && error.as_deref() == Some("invalid_dpop_proof"))
            .count();
        assert_eq!(
            refused,
            attacker_answers.len(),
            "a jti with a control character must be invalid_dpop_proof, as a client assertion's is: {:?}",
            attacker_answers.iter().find(|(status, _)| *status != 400)
        );
    }
);

// A proof is accepted while `iat >= now - 60` (judge.rs), so still at
// `now == iat + 60`; its `jti` is remembered until `iat + 60`, and the
// ledger takes over a record once `expires_at <= now` (store/clients.rs),
// the rule of client assertions, which are dead at `exp`. At that one
// second the ledger forgets the proof while the judge still accepts it: a
// captured token and proof can be replayed, and as often as the attacker
// likes (each take-over writes the same `expires_at`).
both_backends!(
    a_proof_is_refused_again_up_to_the_last_second_of_its_window,
    spawn = Spawn::with_manual_clock(),
    |app: TestApp| async move {
        let admin = app.admin_token().await;
        let (_, client_id, secret) = app.partner(&admin, "Window Partner", &["engage-worker"]).await;
        let holder = Holder::ec();
        let token = dpop_token(&app, &client_id, &secret, &holder).await;
        let authorization = format!("DPoP {token}");
        // Made as far ahead as the server allows: 60 s.
        let iat = server_now(&app) + 60;
        let proof = holder.proof("GET", &app.url(ME), Some(&token), None, iat);
        assert_eq!(call(&app, ME, &authorization, &[&proof]).await.status(), 200);
        refused_at_api(
            call(&app, ME, &authorization, &[&proof]).await,
            "invalid_dpop_proof",
            "at once",
        )
        .await;
        app.advance_clock(Duration::from_secs(119));
        refused_at_api(
            call(&app, ME, &authorization, &[&proof]).await,
            "invalid_dpop_proof",
            "at iat + 59",
        )
        .await;
        // iat + 60: the judge still takes the proof (its window includes this second).
        app.advance_clock(Duration::from_secs(1));
        assert_eq!(server_now(&app), iat + 60);
        let mut replays = Vec::new();
        for _ in 0..3 {
            replays.push(call(&app, ME, &authorization, &[&proof]).await.status().as_u16());
        }
        assert!(
            replays.iter().all(|status| *status == 401),
            "a proof already spent was accepted again at iat + 60: {replays:?}"
        );
        // One second later the judge refuses it for its iat.
        app.advance_clock(Duration::from_secs(1));
        refused_at_api(
            call(&app, ME, &authorization, &[&proof]).await,
            "invalid_dpop_proof",
            "at iat + 61",
        )
        .await;
    }
);

// The contract: a nonce is accepted by "every replica ... without shared
// storage". A nonce names the period it was minted in, and a replica refuses
// a period ahead of its own clock (`nonce_period_accepted`, dpop.rs). Two
// replicas whose clocks differ by a few seconds (well within the 60 s the
// server grants a proof's iat) disagree at every period boundary: for those
// seconds the slower one refuses every nonce the faster one hands out.
both_backends!(
    a_nonce_from_a_replica_whose_clock_runs_a_little_ahead_is_accepted,
    spawn = Spawn {
        dpop_nonce: true,
        ..Spawn::with_manual_clock()
    },
    |app: TestApp| async move {
        let admin = app.admin_token().await;
        let (_, client_id, secret) = app.partner(&admin, "Skewed Partner", &["engage-worker"]).await;
        let slow = app
            .beside(Spawn {
                dpop_nonce: true,
                master_key: Some(app.master_key.clone()),
                ..Spawn::with_manual_clock()
            })
            .await;
        // The fast replica 2 s into a nonce period, the slow one 2 s before it.
        let (fast_clock, slow_clock) = (app.clock.clone().expect("clock"), slow.clock.clone().expect("clock"));
        let (fast_now, slow_now) = (fast_clock.now().unix_micros(), slow_clock.now().unix_micros());
        let period = 300 * 1_000_000;
        let mut boundary = (fast_now.max(slow_now) / period + 1) * period;
        if boundary - 2_000_000 <= fast_now.max(slow_now) {
            boundary += period;
        }
        fast_clock.advance(Duration::from_micros((boundary + 2_000_000 - fast_now) as u64));
        slow_clock.advance(Duration::from_micros((boundary - 2_000_000 - slow_now) as u64));
        let holder = Holder::ec();
        let token_url = app.url("/oauth2/token");

        // The slow replica's nonce is good at the fast one.
        let bare = |at: &TestApp| holder.proof("POST", &token_url, None, None, server_now(at));
        let r = token_request(&slow, &client_id, &secret, &[&bare(&slow)]).await;
        let slow_nonce = refused_at_token_endpoint(r, "use_dpop_nonce", "no nonce")
            .await
            .nonce
            .expect("nonce");
        let proof = holder.proof("POST", &token_url, None, Some(&slow_nonce), server_now(&app));
        let answer = Answer::of(token_request(&app, &client_id, &secret, &[&proof]).await).await;
        assert_eq!(
            answer.status, 200,
            "the slow replica's nonce at the fast one: {answer:?}"
        );

        // The fast replica's nonce at the slow one, 4 s behind it.
        let r = token_request(&app, &client_id, &secret, &[&bare(&app)]).await;
        let fast_nonce = refused_at_token_endpoint(r, "use_dpop_nonce", "no nonce")
            .await
            .nonce
            .expect("nonce");
        let proof = holder.proof("POST", &token_url, None, Some(&fast_nonce), server_now(&slow));
        let answer = Answer::of(token_request(&slow, &client_id, &secret, &[&proof]).await).await;
        assert_eq!(
            answer.status, 200,
            "a nonce minted by a replica whose clock is 4 s ahead was refused: {answer:?}"
        );
    }
);

// ------------------------------------------------- regressions: withstood

both_backends!(
    alg_confusion_is_refused_at_the_token_endpoint,
    |app: TestApp| async move {
        let admin = app.admin_token().await;
        let (_, client_id, secret) = app.partner(&admin, "Confused Partner", &["engage-worker"]).await;
        let (ec, rsa) = (Holder::ec(), Holder::rsa());
        let token_url = app.url("/oauth2/token");
        let good = || claims("POST", &token_url, None, None, now());
        let ec_jwk = ec.jwk();
        let mut rsa_with_alg = rsa.jwk();
        rsa_with_alg["alg"] = "RS256".into();
        // HS256 keyed with the public key's bytes, as a confused verifier would.
        let hs256 = {
            let header = json!({"typ": "dpop+jwt", "alg": "HS256", "jwk": ec_jwk});
            let x = base64::Engine::decode(
                &base64::engine::general_purpose::URL_SAFE_NO_PAD,
                ec_jwk["x"].as_str().expect("x"),
            )
            .expect("x");
            let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &x);
            compact(&header, &good(), |input| {
                aws_lc_rs::hmac::sign(&key, input).as_ref().to_vec()
            })
        };
        let none = compact(
            &json!({"typ": "dpop+jwt", "alg": "none", "jwk": ec_jwk}),
            &good(),
            |_| Vec::new(),
        );
        // ES256 as DER (what some libraries emit) rather than r || s.
        let der = compact(&ec.header(), &good(), |input| {
            let fixed = ec.key.sign("ES256", input);
            let int = |half: &[u8]| {
                let trimmed: Vec<u8> = half.iter().copied().skip_while(|b| *b == 0).collect();
                let mut out = if trimmed.first().is_some_and(|b| *b >= 0x80) {
                    vec![0]
                } else {
                    vec![]
                };
                out.extend(trimmed);
                [vec![0x02, out.len() as u8], out].concat()
            };
            let body = [int(&fixed[..32]), int(&fixed[32..])].concat();
            [vec![0x30, body.len() as u8], body].concat()
        });
        let cases: Vec<(&str, String)> = vec![
            ("HS256 keyed with the jwk", hs256),
            ("alg none, no signature", none),
            (
                "RS256 named over an EC jwk",
                ec.signed(&json!({"typ": "dpop+jwt", "alg": "RS256", "jwk": ec_jwk}), &good()),
            ),
            (
                "ES256 named over an RSA jwk",
                rsa.signed(&json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": rsa.jwk()}), &good()),
            ),
            (
                "PS256 where the jwk says RS256",
                Holder {
                    alg: "PS256",
                    ..Holder::rsa()
                }
                .signed(
                    &json!({"typ": "dpop+jwt", "alg": "PS256", "jwk": rsa_with_alg}),
                    &good(),
                ),
            ),
            (
                "ES384",
                ec.signed(&json!({"typ": "dpop+jwt", "alg": "ES384", "jwk": ec_jwk}), &good()),
            ),
            (
                "es256 in lower case",
                ec.signed(&json!({"typ": "dpop+jwt", "alg": "es256", "jwk": ec_jwk}), &good()),
            ),
            ("ES256 signature as DER", der),
            (
                "alg as a list",
                ec.signed(&json!({"typ": "dpop+jwt", "alg": ["ES256"], "jwk": ec_jwk}), &good()),
            ),
        ];
        for (why, proof) in cases {
            refused_at_token_endpoint(
                token_request(&app, &client_id, &secret, &[&proof]).await,
                "invalid_dpop_proof",
                why,
            )
            .await;
        }
        // The same keys, honestly used, pass.
        for holder in [ec, rsa, Holder::ed()] {
            dpop_token(&app, &client_id, &secret, &holder).await;
        }
    }
);

both_backends!(
    private_weak_and_degenerate_keys_are_refused,
    |app: TestApp| async move {
        let admin = app.admin_token().await;
        let (_, client_id, secret) = app.partner(&admin, "Weak Partner", &["engage-worker"]).await;
        let (ec, rsa, ed) = (Holder::ec(), Holder::rsa(), Holder::ed());
        let token_url = app.url("/oauth2/token");
        let good = || claims("POST", &token_url, None, None, now());
        let with = |holder: &Holder, jwk: Value| {
            holder.signed(&json!({"typ": "dpop+jwt", "alg": holder.alg, "jwk": jwk}), &good())
        };
        let edit = |jwk: Value, member: &str, value: Value| {
            let mut jwk = jwk;
            jwk[member] = value;
            jwk
        };
        let private_d = b64(&[7; 32]);
        let modulus = |bytes: usize| {
            let mut n = vec![0xc5; bytes];
            n[bytes - 1] = 0xc7;
            b64(&n)
        };
        let rsa_n = rsa.jwk()["n"].as_str().expect("n").to_owned();
        let mut off_curve_y = base64::Engine::decode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            ec.jwk()["y"].as_str().expect("y"),
        )
        .expect("y");
        off_curve_y[31] ^= 1;
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let mut p_plus_one = [0xff_u8; 32];
        p_plus_one[0] = 0xee;
        p_plus_one[31] = 0x7f;
        let cases: Vec<(&str, String)> = vec![
            (
                "an EC private key (d)",
                with(&ec, edit(ec.jwk(), "d", private_d.clone().into())),
            ),
            (
                "an RSA private key (p)",
                with(&rsa, edit(rsa.jwk(), "p", private_d.clone().into())),
            ),
            (
                "a symmetric key",
                ec.signed(
                    &json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": {"kty": "oct", "k": private_d}}),
                    &good(),
                ),
            ),
            (
                "RSA of 1024 bits",
                with(&rsa, json!({"kty": "RSA", "e": "AQAB", "n": modulus(128)})),
            ),
            (
                "RSA of 9000 bits",
                with(&rsa, json!({"kty": "RSA", "e": "AQAB", "n": modulus(1125)})),
            ),
            (
                "RSA with e = 3",
                with(&rsa, json!({"kty": "RSA", "e": "Aw", "n": rsa_n})),
            ),
            (
                "RSA with e = 1",
                with(&rsa, json!({"kty": "RSA", "e": "AQ", "n": rsa_n})),
            ),
            (
                "an even RSA modulus",
                with(&rsa, json!({"kty": "RSA", "e": "AQAB", "n": b64(&[0xc4; 256])})),
            ),
            (
                "an RSA modulus with a leading zero",
                with(
                    &rsa,
                    json!({"kty": "RSA", "e": "AQAB", "n": b64(&[&[0u8][..], &[0xc5; 256]].concat())}),
                ),
            ),
            (
                "a P-256 point off the curve",
                with(&ec, edit(ec.jwk(), "y", b64(&off_curve_y).into())),
            ),
            (
                "a P-256 x of 31 bytes",
                with(&ec, edit(ec.jwk(), "x", b64(&[9; 31]).into())),
            ),
            ("P-384", with(&ec, edit(ec.jwk(), "crv", "P-384".into()))),
            ("secp256k1", with(&ec, edit(ec.jwk(), "crv", "secp256k1".into()))),
            (
                "the Ed25519 identity",
                with(&ed, json!({"kty": "OKP", "crv": "Ed25519", "x": b64(&identity)})),
            ),
            (
                "an Ed25519 y not reduced (p + 1)",
                with(&ed, json!({"kty": "OKP", "crv": "Ed25519", "x": b64(&p_plus_one)})),
            ),
            ("X25519", with(&ed, edit(ed.jwk(), "crv", "X25519".into()))),
            ("a certificate chain", with(&ec, edit(ec.jwk(), "x5c", json!(["MIIB"])))),
            ("use enc", with(&ec, edit(ec.jwk(), "use", "enc".into()))),
            ("key_ops sign", with(&ec, edit(ec.jwk(), "key_ops", json!(["sign"])))),
            ("a jwk that is a string", with(&ec, Value::String(ec.jwk().to_string()))),
        ];
        for (why, proof) in cases {
            let answer = refused_at_token_endpoint(
                token_request(&app, &client_id, &secret, &[&proof]).await,
                "invalid_dpop_proof",
                why,
            )
            .await;
            assert!(
                !answer.text.contains(&private_d),
                "{why}: the private member's value is echoed"
            );
        }
        for holder in [ec, rsa, ed] {
            dpop_token(&app, &client_id, &secret, &holder).await;
        }
    }
);

both_backends!(
    repeated_members_oversized_and_odd_proofs_are_refused_without_harm,
    |app: TestApp| async move {
        let admin = app.admin_token().await;
        let (_, client_id, secret) = app.partner(&admin, "Odd Partner", &["engage-worker"]).await;
        let (holder, victim) = (Holder::ec(), Holder::ec());
        let token_url = app.url("/oauth2/token");
        let good = || claims("POST", &token_url, None, None, now());
        let header = holder.header().to_string();
        let body = good().to_string();
        let set = |key: &str, value: Value| {
            let mut claims = good();
            claims[key] = value;
            holder.proof_of(&claims)
        };
        let without = |key: &str| {
            let mut claims = good();
            claims.as_object_mut().expect("object").remove(key);
            holder.proof_of(&claims)
        };
        let nested = format!("{}{}", "[".repeat(2000), "]".repeat(2000));
        let cases: Vec<(&str, Vec<u8>)> = vec![
            (
                "the jwk twice: another key's, then the signer's",
                raw_compact(
                    &format!(
                        r#"{{"typ":"dpop+jwt","alg":"ES256","jwk":{},"jwk":{}}}"#,
                        victim.jwk(),
                        holder.jwk()
                    ),
                    &body,
                    &holder,
                )
                .into(),
            ),
            (
                "alg twice",
                raw_compact(&header.replacen('{', r#"{"alg":"none","#, 1), &body, &holder).into(),
            ),
            (
                "htu twice",
                raw_compact(
                    &header,
                    &body.replacen('{', r#"{"htu":"http://evil.example/oauth2/token","#, 1),
                    &holder,
                )
                .into(),
            ),
            (
                "jti twice",
                raw_compact(&header, &body.replacen('{', r#"{"jti":"other","#, 1), &holder).into(),
            ),
            (
                "a member repeated deep in the jwk",
                raw_compact(
                    &header.replacen(r#""kty":"EC""#, r#""kty":"EC","kty":"RSA""#, 1),
                    &body,
                    &holder,
                )
                .into(),
            ),
            (
                "crit",
                holder
                    .signed(
                        &json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": holder.jwk(), "crit": ["htu"]}),
                        &good(),
                    )
                    .into(),
            ),
            ("over 8 KiB", set("pad", "a".repeat(9 * 1024).into()).into()),
            (
                "2000 nested lists",
                raw_compact(
                    &header,
                    &body.replacen('{', &format!(r#"{{"deep":{nested},"#), 1),
                    &holder,
                )
                .into(),
            ),
            ("an empty jti", set("jti", "".into()).into()),
            ("a jti of 257 characters", set("jti", "j".repeat(257).into()).into()),
            ("a jti that is a number", set("jti", 7.into()).into()),
            ("iat as text", set("iat", now().to_string().into()).into()),
            ("iat of 1e300", set("iat", json!(1e300)).into()),
            ("iat of u64::MAX", set("iat", json!(u64::MAX)).into()),
            ("no iat", without("iat").into()),
            ("no htm", without("htm").into()),
            ("no jti", without("jti").into()),
            ("htm in lower case", set("htm", "post".into()).into()),
            (
                "htu with user info",
                set("htu", token_url.replace("http://", "http://u:p@").into()).into(),
            ),
            ("htu not a URL", set("htu", "/oauth2/token".into()).into()),
            (
                "htu with a bad escape",
                set("htu", format!("{token_url}%zz").into()).into(),
            ),
            (
                "no typ",
                holder
                    .signed(&json!({"alg": "ES256", "jwk": holder.jwk()}), &good())
                    .into(),
            ),
            (
                "typ JWT",
                holder
                    .signed(&json!({"typ": "JWT", "alg": "ES256", "jwk": holder.jwk()}), &good())
                    .into(),
            ),
            ("a header that is a list", raw_compact("[]", &body, &holder).into()),
            ("claims that are a list", raw_compact(&header, "[]", &holder).into()),
            ("padded base64", format!("{}=", holder.proof_of(&good())).into()),
            ("four parts", format!("{}.e30", holder.proof_of(&good())).into()),
            ("only dots", b"..".to_vec()),
            ("empty", Vec::new()),
            ("bytes that are not UTF-8", b"\xff\xfe.\xfd.\xfc".to_vec()),
        ];
        for (why, proof) in cases {
            let value = reqwest::header::HeaderValue::from_bytes(&proof).expect("a header value");
            let r = app
                .http
                .post(app.url("/oauth2/token"))
                .form(&[
                    ("grant_type", "client_credentials"),
                    ("client_id", client_id.as_str()),
                    ("client_secret", secret.as_str()),
                ])
                .header("DPoP", value)
                .send()
                .await
                .expect("send");
            refused_at_token_endpoint(r, "invalid_dpop_proof", why).await;
        }
        // Still serving, and the same key with honest proofs passes.
        dpop_token(&app, &client_id, &secret, &holder).await;
    }
);

both_backends!(
    a_bound_token_is_no_bearer_token_however_it_is_spelled,
    |app: TestApp| async move {
        let admin = app.admin_token().await;
        let (_, client_id, secret) = app.partner(&admin, "Spelling Partner", &["auditor"]).await;
        let holder = Holder::ec();
        let token = dpop_token(&app, &client_id, &secret, &holder).await;
        // Schemes compare without case (RFC 9110 §11.1).
        for scheme in ["dpop", "DPOP", "DPoP"] {
            let proof = holder.api_proof(&app, "GET", ME, &token);
            let r = call(&app, ME, &format!("{scheme} {token}"), &[&proof]).await;
            assert_eq!(r.status(), 200, "{scheme}");
        }
        // The token is in the cache now: every downgrade meets the cached binding.
        for scheme in ["Bearer", "bearer", "BEARER"] {
            for with_proof in [false, true] {
                let proof = holder.api_proof(&app, "GET", ME, &token);
                let proofs: Vec<&str> = if with_proof { vec![proof.as_str()] } else { vec![] };
                let answer = Answer::of(call(&app, ME, &format!("{scheme} {token}"), &proofs).await).await;
                assert!(
                    answer.status == 401 && answer.challenges.iter().any(|c| c.contains("invalid_token")),
                    "{scheme}, proof {with_proof}: {answer:?}"
                );
            }
        }
        // Two Authorization headers, one of each scheme, in either order.
        for (first, second) in [("Bearer", "DPoP"), ("DPoP", "Bearer")] {
            let proof = holder.api_proof(&app, "GET", ME, &token);
            let r = app
                .http
                .get(app.url(ME))
                .header("Authorization", format!("{first} {token}"))
                .header("Authorization", format!("{second} {token}"))
                .header("DPoP", &proof)
                .send()
                .await
                .expect("send");
            assert_eq!(r.status(), 400, "{first} then {second}");
        }
        // Odd spellings of the credential.
        let proof = holder.api_proof(&app, "GET", ME, &token);
        for authorization in [
            format!("DPoP {token}, Bearer {token}"),
            format!("DPoP {token}.x"),
            "DPoP".to_owned(),
            "DPoP ".to_owned(),
            format!("DPoP\t{token}"),
            format!("Basic {token}"),
        ] {
            let r = call(&app, ME, &authorization, &[&proof]).await;
            assert_eq!(r.status(), 401, "{authorization}");
        }
        // A session as DPoP.
        let proof = holder.api_proof(&app, "GET", "/admin/v1/roles", &admin);
        assert_eq!(
            call(&app, "/admin/v1/roles", &format!("DPoP {admin}"), &[&proof])
                .await
                .status(),
            401
        );
        // At another tenant, with a proof made for that tenant's URL.
        let (tenant, _, _) = app
            .create_tenant(&admin, "elsewhere", "admin@elsewhere.example.org")
            .await;
        let proof = holder.api_proof(&tenant, "GET", ME, &token);
        assert_eq!(
            call(&tenant, ME, &format!("DPoP {token}"), &[&proof]).await.status(),
            401
        );
        // The token still works as it should.
        let proof = holder.api_proof(&app, "GET", ME, &token);
        assert_eq!(call(&app, ME, &format!("DPoP {token}"), &[&proof]).await.status(), 200);
    }
);

both_backends!(
    a_stolen_bound_token_is_useless_without_the_key,
    |app: TestApp| async move {
        let admin = app.admin_token().await;
        let (_, client_id, secret) = app.partner(&admin, "Robbed Partner", &["engage-worker"]).await;
        let (_, thief_id, thief_secret) = app.partner(&admin, "Thief Partner", &["engage-worker"]).await;
        let (victim, thief) = (Holder::ec(), Holder::ec());
        let token = dpop_token(&app, &client_id, &secret, &victim).await;
        let authorization = format!("DPoP {token}");
        let me_url = app.url(ME);
        let fresh = || claims("GET", &me_url, Some(&token), None, now());
        // The thief's own key.
        let own = thief.api_proof(&app, "GET", ME, &token);
        refused_at_api(
            call(&app, ME, &authorization, &[&own]).await,
            "invalid_dpop_proof",
            "the thief's key",
        )
        .await;
        // The victim's public key in the header, the thief's signature.
        let borrowed = thief.signed(
            &json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": victim.jwk()}),
            &fresh(),
        );
        refused_at_api(
            call(&app, ME, &authorization, &[&borrowed]).await,
            "invalid_dpop_proof",
            "borrowed jwk",
        )
        .await;
        // The victim's public key, HS256 keyed with it.
        let hs = compact(
            &json!({"typ": "dpop+jwt", "alg": "HS256", "jwk": victim.jwk()}),
            &fresh(),
            |input| {
                let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, victim.jwk().to_string().as_bytes());
                aws_lc_rs::hmac::sign(&key, input).as_ref().to_vec()
            },
        );
        refused_at_api(
            call(&app, ME, &authorization, &[&hs]).await,
            "invalid_dpop_proof",
            "HS256",
        )
        .await;
        // A victim's proof seen on the wire: spent, or for another request.
        let seen = victim.api_proof(&app, "GET", ME, &token);
        assert_eq!(call(&app, ME, &authorization, &[&seen]).await.status(), 200);
        refused_at_api(
            call(&app, ME, &authorization, &[&seen]).await,
            "invalid_dpop_proof",
            "spent",
        )
        .await;
        let unspent = victim.api_proof(&app, "GET", ME, &token);
        let r = app
            .http
            .post(app.url("/api/v1/engage/cases"))
            .header("Authorization", &authorization)
            .header("DPoP", &unspent)
            .json(&json!({"title": "x"}))
            .send()
            .await
            .expect("send");
        refused_at_api(r, "invalid_dpop_proof", "a GET proof at a POST").await;
        let r = app
            .http
            .head(app.url(ME))
            .header("Authorization", &authorization)
            .header("DPoP", &unspent)
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), 401, "a GET proof at a HEAD");
        // A proof for another token of the same key.
        let other_token = dpop_token(&app, &client_id, &secret, &victim).await;
        let for_other = victim.api_proof(&app, "GET", ME, &other_token);
        refused_at_api(
            call(&app, ME, &authorization, &[&for_other]).await,
            "invalid_dpop_proof",
            "ath",
        )
        .await;
        // The thief's own client learns nothing of it by introspection.
        let r = app
            .http
            .post(app.url("/oauth2/introspect"))
            .basic_auth(&thief_id, Some(&thief_secret))
            .form(&[("token", token.as_str())])
            .send()
            .await
            .expect("send");
        let answer = Answer::of(r).await;
        assert_eq!(
            (answer.status, &answer.body),
            (200, &json!({"active": false})),
            "{answer:?}"
        );
    }
);

both_backends!(
    htu_ignores_host_and_forwarded_headers_even_from_a_trusted_proxy,
    spawn = Spawn::behind_proxies("127.0.0.0/8"),
    |app: TestApp| async move {
        let admin = app.admin_token().await;
        let (_, client_id, secret) = app.partner(&admin, "Proxied Partner", &["engage-worker"]).await;
        let holder = Holder::ec();
        let forwarded = |request: reqwest::RequestBuilder| {
            request
                .header("Host", "evil.example")
                .header("X-Forwarded-Host", "evil.example")
                .header("X-Forwarded-Proto", "https")
                .header("X-Forwarded-For", "203.0.113.9")
                .header("Forwarded", "for=203.0.113.9;host=evil.example;proto=https")
        };
        let token_request = |proof: String| {
            forwarded(app.http.post(app.url("/oauth2/token")))
                .form(&[
                    ("grant_type", "client_credentials"),
                    ("client_id", client_id.as_str()),
                    ("client_secret", secret.as_str()),
                ])
                .header("DPoP", proof)
                .send()
        };
        for htu in ["https://evil.example/oauth2/token", "http://evil.example/oauth2/token"] {
            let proof = holder.proof("POST", htu, None, None, now());
            let r = token_request(proof).await.expect("send");
            refused_at_token_endpoint(r, "invalid_dpop_proof", htu).await;
        }
        let r = token_request(holder.token_proof(&app)).await.expect("send");
        let token = Answer::of(r).await.body["access_token"]
            .as_str()
            .expect("token")
            .to_owned();
        let authorization = format!("DPoP {token}");
        for htu in ["https://evil.example/api/v1/me", "http://evil.example/api/v1/me"] {
            let proof = holder.proof("GET", htu, Some(&token), None, now());
            let r = forwarded(app.http.get(app.url(ME)))
                .header("Authorization", &authorization)
                .header("DPoP", proof)
                .send()
                .await
                .expect("send");
            refused_at_api(r, "invalid_dpop_proof", htu).await;
        }
        let proof = holder.api_proof(&app, "GET", ME, &token);
        let r = forwarded(app.http.get(app.url(ME)))
            .header("Authorization", &authorization)
            .header("DPoP", proof)
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), 200, "the public URL, whatever the proxy says");
    }
);

both_backends!(
    nonces_are_the_tenants_own_unforgeable_and_go_stale,
    spawn = Spawn {
        dpop_nonce: true,
        ..Spawn::with_manual_clock()
    },
    |app: TestApp| async move {
        let admin = app.admin_token().await;
        let (_, client_id, secret) = app.partner(&admin, "Nonce Partner", &["engage-worker"]).await;
        let (tenant, tenant_admin, _) = app.create_tenant(&admin, "agency", "admin@agency.example.org").await;
        let (_, tenant_client, tenant_secret) = tenant
            .partner(&tenant_admin, "Tenant Nonce Partner", &["agency.engage-worker"])
            .await;
        let holder = Holder::ec();
        let nonce_of = |answer: Answer| answer.nonce.expect("a DPoP-Nonce header");
        let with_nonce = |at: &TestApp, nonce: &str| {
            holder.proof("POST", &at.url("/oauth2/token"), None, Some(nonce), server_now(at))
        };
        let r = token_request(&app, &client_id, &secret, &[&holder.token_proof(&app)]).await;
        let root_nonce = nonce_of(refused_at_token_endpoint(r, "use_dpop_nonce", "root, no nonce").await);
        let r = token_request(&tenant, &tenant_client, &tenant_secret, &[&holder.token_proof(&tenant)]).await;
        let tenant_nonce = nonce_of(refused_at_token_endpoint(r, "use_dpop_nonce", "tenant, no nonce").await);
        assert_ne!(root_nonce, tenant_nonce);
        // Each tenant's nonce is refused at the other.
        let r = token_request(&app, &client_id, &secret, &[&with_nonce(&app, &tenant_nonce)]).await;
        refused_at_token_endpoint(r, "use_dpop_nonce", "the tenant's nonce at the root").await;
        let r = token_request(
            &tenant,
            &tenant_client,
            &tenant_secret,
            &[&with_nonce(&tenant, &root_nonce)],
        )
        .await;
        refused_at_token_endpoint(r, "use_dpop_nonce", "the root's nonce at the tenant").await;
        // Forged: the root's MAC under a later period, periods at the ends of
        // i64, a MAC cut short or left long.
        let bytes =
            base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, &root_nonce).expect("b64");
        let period = i64::from_be_bytes(bytes[..8].try_into().expect("8 bytes"));
        let forge = |period: i64, mac: &[u8]| b64(&[&period.to_be_bytes()[..], mac].concat());
        for (why, forged) in [
            ("the next period", forge(period + 1, &bytes[8..])),
            ("i64::MAX", forge(i64::MAX, &bytes[8..])),
            ("i64::MIN", forge(i64::MIN, &bytes[8..])),
            ("a short MAC", forge(period, &bytes[8..20])),
            ("a long MAC", forge(period, &[&bytes[8..], &[0u8][..]].concat())),
            ("zeros", forge(period, &[0; 18])),
            ("padded", format!("{root_nonce}=")),
        ] {
            let r = token_request(&app, &client_id, &secret, &[&with_nonce(&app, &forged)]).await;
            refused_at_token_endpoint(r, "use_dpop_nonce", why).await;
        }
        // The root's own nonce passes; the answer carries the next.
        let r = token_request(&app, &client_id, &secret, &[&with_nonce(&app, &root_nonce)]).await;
        let answer = Answer::of(r).await;
        assert_eq!(answer.status, 200, "{answer:?}");
        let token = answer.body["access_token"].as_str().expect("token").to_owned();
        let api_nonce = answer.nonce.expect("the next nonce");
        let api_proof = |nonce: &str| holder.proof("GET", &app.url(ME), Some(&token), Some(nonce), server_now(&app));
        assert_eq!(
            call(&app, ME, &format!("DPoP {token}"), &[&api_proof(&api_nonce)])
                .await
                .status(),
            200
        );
        // Ten minutes and a second later, both are stale.
        app.advance_clock(Duration::from_secs(601));
        let r = token_request(&app, &client_id, &secret, &[&with_nonce(&app, &root_nonce)]).await;
        refused_at_token_endpoint(r, "use_dpop_nonce", "a stale nonce").await;
        let r = call(&app, ME, &format!("DPoP {token}"), &[&api_proof(&api_nonce)]).await;
        refused_at_api(r, "use_dpop_nonce", "a stale nonce at the API").await;
    }
);

both_backends!(
    one_proof_sent_at_once_to_two_replicas_passes_once,
    |app: TestApp| async move {
        let admin = app.admin_token().await;
        let (_, client_id, secret) = app.partner(&admin, "Racing Partner", &["engage-worker"]).await;
        let second = app.replica().await;
        let holder = Holder::ec();
        // At the token endpoint.
        let proof = holder.token_proof(&app);
        let requests = (0..16).map(|i| {
            let at = if i % 2 == 0 { &app } else { &second };
            token_with(at, &client_id, &secret, &proof)
        });
        let statuses: Vec<u16> = join_all(requests).await.iter().map(|r| r.status().as_u16()).collect();
        assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "{statuses:?}");
        assert_eq!(statuses.iter().filter(|s| **s == 400).count(), 15, "{statuses:?}");
        // At the API.
        let token = dpop_token(&app, &client_id, &secret, &holder).await;
        let authorization = format!("DPoP {token}");
        let proof = holder.api_proof(&app, "GET", ME, &token);
        let calls = (0..16).map(|i| {
            let at = if i % 2 == 0 { &app } else { &second };
            call_with(at, ME, &authorization, &proof)
        });
        let statuses: Vec<u16> = join_all(calls).await.iter().map(|r| r.status().as_u16()).collect();
        assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "{statuses:?}");
        assert_eq!(statuses.iter().filter(|s| **s == 401).count(), 15, "{statuses:?}");
    }
);

both_backends!(
    a_replay_is_one_whatever_the_query_or_the_spelling_of_htu,
    |app: TestApp| async move {
        let admin = app.admin_token().await;
        let (_, client_id, secret) = app.partner(&admin, "Spelling Replayer", &["auditor"]).await;
        let holder = Holder::ec();
        let token = dpop_token(&app, &client_id, &secret, &holder).await;
        let authorization = format!("DPoP {token}");
        let roles = "/admin/v1/roles";
        let proof_claims = claims("GET", &app.url(roles), Some(&token), None, now());
        let proof = holder.proof_of(&proof_claims);
        assert_eq!(
            call(&app, &format!("{roles}?limit=1"), &authorization, &[&proof])
                .await
                .status(),
            200
        );
        for path in [roles.to_owned(), format!("{roles}?limit=2"), format!("{roles}?limit=1")] {
            refused_at_api(
                call(&app, &path, &authorization, &[&proof]).await,
                "invalid_dpop_proof",
                &path,
            )
            .await;
        }
        // The same jti under another spelling of the same URL, signed anew.
        let respelled =
            app.url("/admin/v1/%72oles")
                .replacen("http://", "HTTP://", 1)
                .replacen("127.0.0.1:", "127.0.0.1:0", 1);
        let mut again = proof_claims.clone();
        again["htu"] = respelled.clone().into();
        again["iat"] = (now() - 1).into();
        refused_at_api(
            call(&app, roles, &authorization, &[&holder.proof_of(&again)]).await,
            "invalid_dpop_proof",
            &respelled,
        )
        .await;
        // The respelling itself is one URL: with a new jti it passes.
        again["jti"] = uuid::Uuid::new_v4().to_string().into();
        assert_eq!(
            call(&app, roles, &authorization, &[&holder.proof_of(&again)])
                .await
                .status(),
            200
        );
    }
);

both_backends!(
    refusals_echo_neither_token_nor_proof_and_inject_no_header,
    |app: TestApp| async move {
        let admin = app.admin_token().await;
        let (_, client_id, secret) = app.partner(&admin, "Quiet Partner", &["engage-worker"]).await;
        let holder = Holder::ec();
        let token = dpop_token(&app, &client_id, &secret, &holder).await;
        let authorization = format!("DPoP {token}");
        let me_url = app.url(ME);
        let fresh = || claims("GET", &me_url, Some(&token), None, now());
        let mut injected_jwk = holder.jwk();
        injected_jwk["kty"] = "EC\"\r\nSet-Cookie: pwn=1\r\nX-Injected: \"yes".into();
        let spent = holder.api_proof(&app, "GET", ME, &token);
        assert_eq!(call(&app, ME, &authorization, &[&spent]).await.status(), 200);
        let mut bad_signature = holder.api_proof(&app, "GET", ME, &token);
        bad_signature.push_str("AAAA");
        let proofs = vec![
            ("another key", Holder::ec().api_proof(&app, "GET", ME, &token)),
            ("spent", spent),
            ("a bad signature", bad_signature),
            (
                "a kty that would inject headers",
                holder.signed(
                    &json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": injected_jwk}),
                    &fresh(),
                ),
            ),
            ("a jti of secrets", {
                let mut claims = fresh();
                claims["jti"] = secret.clone().into();
                claims["htm"] = "PUT".into();
                holder.proof_of(&claims)
            }),
        ];
        for (why, proof) in &proofs {
            let answer = refused_at_api(
                call(&app, ME, &authorization, &[proof]).await,
                "invalid_dpop_proof",
                why,
            )
            .await;
            assert!(
                !answer
                    .names
                    .iter()
                    .any(|name| name == "set-cookie" || name == "x-injected"),
                "{why}: {answer:?}"
            );
            for (name, value) in [
                ("token", token.as_str()),
                ("proof", proof.as_str()),
                ("secret", secret.as_str()),
            ] {
                assert!(!answer.text.contains(value), "{why}: the {name} is echoed: {answer:?}");
            }
        }
        // At the token endpoint, the secret and the proof stay unsaid too.
        for (why, proof) in &proofs {
            let answer = Answer::of(token_request(&app, &client_id, &secret, &[proof]).await).await;
            assert_eq!(answer.status, 400, "{why}: {answer:?}");
            assert!(
                !answer.names.iter().any(|name| name == "set-cookie"),
                "{why}: {answer:?}"
            );
            for value in [proof.as_str(), secret.as_str()] {
                assert!(!answer.text.contains(value), "{why}: {answer:?}");
            }
        }
    }
);
