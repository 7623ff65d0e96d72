//! The application list's filters fold case the way people expect, accents
//! included, on both backends.

use casebook_tests::{TestApp, both_backends};
use serde_json::Value;

both_backends!(filters_fold_case_beyond_ascii, |app: TestApp| async move {
    let admin = app.admin_token().await;
    app.register(&admin, "Émile Services", "Contact@Émile.example.org", &["auditor"])
        .await;
    app.register(&admin, "Other Partner", "other@partner.example.org", &["auditor"])
        .await;
    for (query, expected) in [
        ("name=%C3%A9mile", vec!["Émile Services"]),
        ("name=%C3%89MILE", vec!["Émile Services"]),
        ("name=partner", vec!["Other Partner"]),
        ("email=contact%40%C3%A9mile", vec!["Émile Services"]),
        ("email=PARTNER.EXAMPLE", vec!["Other Partner"]),
        ("name=100%25", vec![]),
    ] {
        let page: Value = app
            .get(&format!("/admin/v1/external-applications?{query}"), &admin)
            .await
            .json()
            .await
            .unwrap();
        let names: Vec<&str> = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, expected, "{query}");
    }
});

both_backends!(a_client_id_finds_its_application, |app: TestApp| async move {
    let admin = app.admin_token().await;
    let quoted = app
        .register(&admin, "Quoted Partner", "quoted@partner.example.org", &["auditor"])
        .await;
    app.register(&admin, "Other Partner", "other@partner.example.org", &["auditor"])
        .await;
    let client_id = quoted["client_id"].as_str().unwrap();
    let names = |page: Value| -> Vec<String> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let page: Value = app
        .get(
            &format!("/admin/v1/external-applications?client_id={client_id}"),
            &admin,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(names(page), ["Quoted Partner"]);
    // Whole, as issued: a part of it finds nothing.
    let page: Value = app
        .get(
            &format!("/admin/v1/external-applications?client_id={}", &client_id[..8]),
            &admin,
        )
        .await
        .json()
        .await
        .unwrap();
    assert!(names(page).is_empty());
});
