//! What bounds a federated exchange (the contract's "Federated credentials"): one
//! deadline for judging a token however many credentials match it, a
//! credential's `max_token_lifetime_seconds` and `single_use`, required
//! claims that are exact numbers, and object claims matched by their members.

use crate::federated::{CLUSTER, EXPORTER, Issuer, credential, credentials_path, exchange, refused, trust};
use crate::jose::now;
use crate::key_host::{Answer, KeyHost, ca_file};
use casebook_tests::{Spawn, TestApp, both_backends, expect, field_codes, id_of, pairs, problem};
use serde_json::json;
use std::time::{Duration, Instant};

both_backends!(
    twenty_hanging_key_hosts_are_judged_within_ten_seconds,
    spawn = Spawn::trusting_ca(ca_file(), true),
    |app: TestApp| async move {
        let host = KeyHost::start().await;
        let admin = app.admin_token().await;
        let (view, client_id, _) = app.partner(&admin, "Hanging Hosts", &["engage-worker"]).await;
        let app_id = id_of(&view);
        for n in 0..20 {
            let path = format!("/hang-{n}");
            host.answer(&path, Answer::Stall);
            let body = json!({"name": format!("hanging {n}"), "issuer": CLUSTER,
                "jwks_uri": host.url(&path), "subject": EXPORTER});
            trust(&app, &admin, &app_id, body).await;
        }
        let issuer = Issuer::new();
        let token = issuer.mint(&issuer.claims(EXPORTER, &app.base_url));
        let started = Instant::now();
        // Bounded on our side too, so the code before the deadline (100 s)
        // fails here instead of holding the suite.
        let answer = tokio::time::timeout(Duration::from_secs(15), exchange(&app, &client_id, &token)).await;
        let took = started.elapsed();
        let (status, body) = answer.expect("an answer within 15 s");
        assert_eq!(
            (status, body["error"].as_str()),
            (401, Some("invalid_client")),
            "{body}"
        );
        assert!(took < Duration::from_secs(10), "judged in {took:?}");
        assert!(host.asked("/hang-0") >= 1, "the hosts were asked");
    }
);

both_backends!(
    a_lifetime_bound_and_single_use_are_kept_and_shown,
    |app: TestApp| async move {
        let admin = app.admin_token().await;
        let cluster = Issuer::new();
        let (view, client_id, _) = app.partner(&admin, "Bounded Exporter", &["engage-worker"]).await;
        let app_id = id_of(&view);

        let mut bounded = credential(&cluster, "bounded");
        bounded["max_token_lifetime_seconds"] = json!(3600);
        let shown = trust(&app, &admin, &app_id, bounded).await;
        assert_eq!(shown["max_token_lifetime_seconds"], 3600);
        assert_eq!(shown["single_use"], false);
        let mut decade = cluster.claims(EXPORTER, &app.base_url);
        decade["exp"] = json!(now() + 10 * 365 * 86_400);
        refused(&app, &client_id, &cluster.mint(&decade), "minted for ten years").await;
        let hour = cluster.claims(EXPORTER, &app.base_url);
        assert_eq!(exchange(&app, &client_id, &cluster.mint(&hour)).await.0, 200);
        // Without a bound, the same long-lived token is the issuer's business.
        let (other, other_client, _) = app.partner(&admin, "Unbounded Exporter", &["engage-worker"]).await;
        trust(&app, &admin, &id_of(&other), credential(&cluster, "unbounded")).await;
        assert_eq!(exchange(&app, &other_client, &cluster.mint(&decade)).await.0, 200);

        let (once_view, once_client, _) = app.partner(&admin, "Single Use", &["engage-worker"]).await;
        let mut once = credential(&cluster, "once");
        once["single_use"] = json!(true);
        let shown = trust(&app, &admin, &id_of(&once_view), once).await;
        assert_eq!(shown["single_use"], true);
        let mut claims = cluster.claims(EXPORTER, &app.base_url);
        claims["jti"] = json!(uuid::Uuid::now_v7().to_string());
        let token = cluster.mint(&claims);
        assert_eq!(exchange(&app, &once_client, &token).await.0, 200);
        refused(&app, &once_client, &token, "the same token again").await;
        refused(&app, &once_client, &token, "and a third time").await;
        let without_jti = cluster.mint(&cluster.claims(EXPORTER, &app.base_url));
        refused(&app, &once_client, &without_jti, "no jti to spend").await;
        // A fresh jti is a fresh token.
        claims["jti"] = json!(uuid::Uuid::now_v7().to_string());
        assert_eq!(exchange(&app, &once_client, &cluster.mint(&claims)).await.0, 200);

        let listed = expect(app.get(&credentials_path(&id_of(&once_view)), &admin).await, 200).await;
        assert_eq!(listed["items"][0]["single_use"], true);
        assert!(listed["items"][0].get("max_token_lifetime_seconds").is_none());
        let mut out_of_range = credential(&cluster, "a year");
        out_of_range["max_token_lifetime_seconds"] = json!(365 * 86_400);
        let refusal = problem(
            app.post_json(&credentials_path(&app_id), &admin, &out_of_range).await,
            422,
        )
        .await;
        assert_eq!(
            field_codes(&refusal),
            pairs(&[("max_token_lifetime_seconds", "invalid_value")])
        );
    }
);

both_backends!(
    required_claims_are_exact_numbers_and_objects_match_by_their_members,
    |app: TestApp| async move {
        let admin = app.admin_token().await;
        let cluster = Issuer::new();
        let (view, client_id, _) = app.partner(&admin, "Claims Exporter", &["engage-worker"]).await;
        let app_id = id_of(&view);
        let mut rounded = credential(&cluster, "rounded");
        rounded["claims"] = json!({"acct": 100000000000000000000000_f64});
        let refusal = problem(app.post_json(&credentials_path(&app_id), &admin, &rounded).await, 422).await;
        assert_eq!(field_codes(&refusal), pairs(&[("claims", "invalid_value")]));

        // The README's example: a real projected token carries pod and
        // serviceaccount beside the namespace.
        let mut namespaced = credential(&cluster, "namespaced");
        namespaced["claims"] = json!({"kubernetes.io": {"namespace": "payments"}});
        trust(&app, &admin, &app_id, namespaced).await;
        let mut claims = cluster.claims(EXPORTER, &app.base_url);
        claims["kubernetes.io"]["pod"] = json!({"name": "exporter-7f9c", "uid": "1c2d"});
        assert_eq!(exchange(&app, &client_id, &cluster.mint(&claims)).await.0, 200);
        claims["kubernetes.io"]["namespace"] = json!("billing");
        refused(&app, &client_id, &cluster.mint(&claims), "another namespace").await;
    }
);
