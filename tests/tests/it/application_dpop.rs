//! `dpop_bound_access_tokens` on an application (the contract's
//! "Sender-constrained tokens"): off unless asked for, set at registration,
//! changed by a PATCH, answered always, in the audit trail when it moves, and
//! a value that is not a boolean is a 422 naming the field. What the token
//! endpoint does with it is tested beside the token endpoint.

use casebook_sdk::{ApplicationChange, ApplicationForm};
use casebook_tests::*;
use serde_json::{Value, json};

const FIELD: &str = "dpop_bound_access_tokens";

both_backends!(
    an_application_requires_dpop_only_when_told_to,
    |app: TestApp| async move {
        let admin = app.admin_token().await;
        let plain = app
            .register(
                &admin,
                "Bearer Partner",
                "bearer@partner.example.org",
                &["engage-worker"],
            )
            .await;
        assert_eq!(plain[FIELD], false, "the default: {plain}");
        let null = json!({"name": "Null Partner", "email": "null@partner.example.org",
        "roles": ["engage-worker"], FIELD: null});
        let null = expect(app.post_json(APPS, &admin, &null).await, 201).await;
        assert_eq!(null[FIELD], false, "null is the default on registration");

        let body = json!({"name": "Bound Partner", "email": "bound@partner.example.org",
        "roles": ["engage-worker"], FIELD: true});
        let registered = expect(app.post_json(APPS, &admin, &body).await, 201).await;
        assert_eq!(registered[FIELD], true);
        let id = id_of(&registered);
        let path = format!("{APPS}/{id}");
        assert_eq!(expect(app.get(&path, &admin).await, 200).await[FIELD], true);
        let listed = expect(app.get(&format!("{APPS}?limit=100"), &admin).await, 200).await;
        let shown: Vec<(&str, bool)> = listed["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|a| {
                (
                    a["name"].as_str().unwrap(),
                    a[FIELD].as_bool().expect("a boolean, always"),
                )
            })
            .collect();
        assert!(shown.contains(&("Bound Partner", true)), "{shown:?}");
        assert!(shown.contains(&("Bearer Partner", false)), "{shown:?}");

        // Another change leaves it as it is.
        let renamed = expect(app.patch_json(&path, &admin, &json!({"name": "Bound Sync"})).await, 200).await;
        assert_eq!(renamed[FIELD], true);

        let changed = expect(app.patch_json(&path, &admin, &json!({ FIELD: false })).await, 200).await;
        assert_eq!(changed[FIELD], false);
        assert_eq!(expect(app.get(&path, &admin).await, 200).await[FIELD], false);
        let page = expect(
            app.get(
                &format!("/admin/v1/audit-events?action=application.changed&target_id={id}&limit=1"),
                &admin,
            )
            .await,
            200,
        )
        .await;
        assert_eq!(
            page["items"][0]["changes"],
            json!({ FIELD: {"from": true, "to": false} }),
            "{page}"
        );
        let again = expect(app.patch_json(&path, &admin, &json!({ FIELD: true })).await, 200).await;
        assert_eq!(again[FIELD], true);
    }
);

both_backends!(
    a_dpop_requirement_that_is_no_boolean_is_refused_by_name,
    |app: TestApp| async move {
        let admin = app.admin_token().await;
        for value in [json!("yes"), json!(1), json!("true")] {
            let body = json!({"name": "Typo Partner", "email": "typo@partner.example.org",
            "roles": ["engage-worker"], FIELD: value});
            let p = problem(app.post_json(APPS, &admin, &body).await, 422).await;
            assert_eq!(field_codes(&p), pairs(&[(FIELD, "invalid_type")]), "{value}: {p}");
        }
        let registered = app
            .register(&admin, "Typo Partner", "typo@partner.example.org", &["engage-worker"])
            .await;
        let path = format!("{APPS}/{}", id_of(&registered));
        let p = problem(app.patch_json(&path, &admin, &json!({ FIELD: "yes" })).await, 422).await;
        assert_eq!(field_codes(&p), pairs(&[(FIELD, "invalid_type")]), "{p}");
        let p = problem(
            app.patch_json(&path, &admin, &json!({"name": "", FIELD: "yes"})).await,
            422,
        )
        .await;
        assert_eq!(
            field_codes(&p),
            pairs(&[("name", "required"), (FIELD, "invalid_type")]),
            "every error in one answer: {p}"
        );
        let unchanged: Value = expect(app.get(&path, &admin).await, 200).await;
        assert_eq!(unchanged[FIELD], false);
        assert_eq!(unchanged["name"], "Typo Partner");
    }
);

both_backends!(the_sdk_sets_and_reads_the_dpop_requirement, |app: TestApp| async move {
    let admin = app.sdk_admin().await;
    let apps = admin.admin().applications();
    let form = ApplicationForm::new("SDK Bound", "sdk-bound@partner.example.org")
        .roles(["engage-worker"])
        .dpop_bound_access_tokens(true);
    let registered = apps.register(&form).await.expect("register");
    assert!(registered.dpop_bound_access_tokens);
    let changed = apps
        .change(
            &registered.id,
            &ApplicationChange::new().dpop_bound_access_tokens(false),
        )
        .await
        .expect("change");
    assert!(!changed.dpop_bound_access_tokens);
    let plain = apps
        .register(&ApplicationForm::new("SDK Plain", "sdk-plain@partner.example.org").roles(["engage-worker"]))
        .await
        .expect("register");
    assert!(!plain.dpop_bound_access_tokens);
});
