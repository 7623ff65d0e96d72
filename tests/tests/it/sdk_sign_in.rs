//! The Rust SDK and the contract's "Signing in strongly": the second step of
//! a sign-in as a typed error that finishes itself, a sign-in with the code
//! at once, codes for the secret operations, enrolment, the tenant's
//! setting, invitations, resets and disabled people; and no code or token in
//! any `Debug`.

use crate::password_links::delivered_link_token;
use casebook_sdk::{
    AccountKind, ApplicationForm, Client, Error, NewClientSecret, Password, Reauthentication, RoleForm, SecondFactor,
    UserChange, UserForm,
};
use casebook_server::totp::code_for_base32;
use casebook_tests::{ADMIN_EMAIL, ADMIN_PASSWORD, Spawn, TestApp, USER_PASSWORD, both_backends};
use std::time::Duration;

/// The code the person's app shows now, by the server's clock.
fn code_now(app: &TestApp, secret: &str) -> String {
    let now = (app.running.state.db().now_micros() / 1_000_000) as u64;
    code_for_base32(secret, now).expect("a code")
}

/// The app's next code: the clock moves on a step first, since a code is
/// accepted once.
fn next_code(app: &TestApp, secret: &str) -> SecondFactor {
    app.advance_clock(Duration::from_secs(30));
    SecondFactor::totp(code_now(app, secret))
}

fn anonymous(app: &TestApp) -> Client {
    Client::builder(&app.base_url).build().expect("client")
}

/// Enrols an authenticator app for the signed-in `person` through the SDK:
/// its base32 secret and the recovery codes. Neither shows in `Debug`.
async fn enrol(app: &TestApp, person: &Client, password: &str) -> (String, Vec<String>) {
    let totp = person.admin().totp();
    let enrolment = totp.begin(&Password::new(password)).await.expect("begin");
    assert!(enrolment.otpauth_uri.starts_with("otpauth://totp/"));
    assert!(enrolment.qr_svg.contains("<svg"));
    let shown = format!("{enrolment:?}");
    assert!(!shown.contains(&enrolment.secret), "{shown}");
    let codes = totp.confirm(&code_now(app, &enrolment.secret)).await.expect("confirm");
    assert_eq!(codes.recovery_codes.len(), 10);
    let shown = format!("{codes:?}");
    assert!(
        codes.recovery_codes.iter().all(|c| !shown.contains(c.as_str())),
        "{shown}"
    );
    (enrolment.secret.clone(), codes.recovery_codes.clone())
}

/// The step a sign-in stopped at, with no token in its `Debug` or `Display`.
fn second_step(result: Result<Client, Error>) -> casebook_sdk::SecondStep {
    match result {
        Err(error @ Error::SecondFactorRequired(_)) => {
            let shown = format!("{error:?} {error}");
            assert!(!shown.contains("cbmfa_") && shown.contains("[redacted]"), "{shown}");
            assert_eq!(error.status(), Some(401));
            error.second_step().expect("a step").clone()
        }
        other => panic!("a second step was due: {other:?}"),
    }
}

both_backends!(
    a_sign_in_stops_at_the_second_step_and_finishes_there,
    spawn = Spawn::with_manual_clock(),
    |app: TestApp| async move {
        let admin = app.sdk_admin().await;
        let (secret, codes) = enrol(&app, &admin, ADMIN_PASSWORD).await;
        let password = Password::new(ADMIN_PASSWORD);

        // The password alone stops at the second step; the app's code finishes it.
        let step = second_step(anonymous(&app).sign_in(ADMIN_EMAIL, &password).await);
        assert!(step.detail().contains("authenticator"), "{}", step.detail());
        let signed_in = step.complete(&next_code(&app, &secret)).await.expect("complete");
        assert_eq!(signed_in.me().await.expect("me").kind, AccountKind::User);
        assert!(!signed_in.admin().users().list().all().await.unwrap().is_empty());
        // The step works once.
        match step.complete(&next_code(&app, &secret)).await {
            Err(Error::Api { status: 401, .. }) => {}
            other => panic!("a spent step is refused: {other:?}"),
        }

        // A refused code answers a new step, which a recovery code finishes.
        let step = second_step(anonymous(&app).sign_in(ADMIN_EMAIL, &password).await);
        let again = second_step(step.complete(&SecondFactor::totp("000000")).await);
        assert!(again.detail().contains("not accepted"), "{}", again.detail());
        assert_ne!(again, step);
        let typed = codes[0].to_uppercase();
        again
            .complete(&SecondFactor::recovery_code(typed))
            .await
            .expect("a recovery code, as people type it");

        // In one request: the password and a recovery code, or a code from the app.
        let with_recovery = anonymous(&app)
            .sign_in_with(ADMIN_EMAIL, &password, &SecondFactor::recovery_code(&codes[1]))
            .await
            .expect("sign in with a recovery code");
        with_recovery.sign_out().await.expect("sign out");
        let with_code = anonymous(&app)
            .sign_in_with(ADMIN_EMAIL, &password, &next_code(&app, &secret))
            .await
            .expect("sign in with the app's code");
        // A code used already stops at the step rather than signing in.
        let reused = SecondFactor::totp(code_now(&app, &secret));
        second_step(anonymous(&app).sign_in_with(ADMIN_EMAIL, &password, &reused).await);

        // Nothing of a code or a token in any Debug.
        let spare = SecondFactor::recovery_code(&codes[2]);
        let again = Reauthentication::new(password.clone()).second_factor(spare.clone());
        let shown = format!("{spare:?} {reused:?} {again:?} {with_code:?} {with_recovery:?}");
        for hidden in [codes[2].as_str(), &code_now(&app, &secret), ADMIN_PASSWORD, "cbsess_"] {
            assert!(!shown.contains(hidden), "{hidden} in {shown}");
        }
    }
);

both_backends!(
    secrets_take_a_code_once_the_person_has_a_second_factor,
    spawn = Spawn::with_manual_clock(),
    |app: TestApp| async move {
        let admin = app.sdk_admin().await;
        let apps = admin.admin().applications();
        let registered = apps
            .register(&ApplicationForm::new("Coded Sync", "coded-sync@partner.example.org").roles(["engage-worker"]))
            .await
            .expect("register");
        let id = &registered.id;
        let (secret, codes) = enrol(&app, &admin, ADMIN_PASSWORD).await;
        let password = Password::new(ADMIN_PASSWORD);

        // The password alone is no longer enough, and says what is missing.
        match apps.reveal_secret(id, &password).await {
            Err(Error::Api {
                status: 403, detail, ..
            }) => assert!(detail.contains("totp_code"), "{detail}"),
            other => panic!("a code is needed: {other:?}"),
        }
        let with_code = Reauthentication::new(password.clone()).second_factor(next_code(&app, &secret));
        let shown = apps
            .reveal_secret_with(id, &with_code)
            .await
            .expect("reveal with a code");
        assert_eq!(shown.client_id, registered.client_id);
        // The same code twice is refused.
        match apps.reveal_secret_with(id, &with_code).await {
            Err(Error::Api {
                status: 403, detail, ..
            }) => assert!(detail.contains("not accepted"), "{detail}"),
            other => panic!("a code works once: {other:?}"),
        }

        let with_recovery =
            Reauthentication::new(password.clone()).second_factor(SecondFactor::recovery_code(&codes[0]));
        let rotated = apps
            .rotate_secret_with(id, &with_recovery, Duration::from_secs(60))
            .await
            .expect("rotate with a recovery code");
        assert_ne!(rotated.client_secret.expose(), shown.client_secret.expose());
        let added = apps
            .add_secret_with(
                id,
                &Reauthentication::from(&password).second_factor(next_code(&app, &secret)),
                &NewClientSecret::new().label("staging"),
            )
            .await
            .expect("add with a code");
        let by_id = apps
            .reveal_secret_by_id_with(
                id,
                &added.id,
                &Reauthentication::from(&password).second_factor(SecondFactor::recovery_code(&codes[1])),
            )
            .await
            .expect("reveal by id with a recovery code");
        assert_eq!(by_id.client_secret.expose(), added.client_secret.expose());

        // Removing the app takes a code too; then the password is enough again.
        match admin.admin().totp().remove(&Reauthentication::from(&password)).await {
            Err(Error::Api { status: 403, .. }) => {}
            other => panic!("removing asks for a code: {other:?}"),
        }
        admin
            .admin()
            .totp()
            .remove(&Reauthentication::from(&password).second_factor(next_code(&app, &secret)))
            .await
            .expect("remove");
        apps.reveal_secret(id, &password).await.expect("the password alone");
        anonymous(&app)
            .sign_in(ADMIN_EMAIL, &password)
            .await
            .expect("signing in takes the password alone");
    }
);

both_backends!(
    settings_invitations_resets_and_disabled_people_through_the_sdk,
    spawn = Spawn::with_manual_clock(),
    |app: TestApp| async move {
        let admin = app.sdk_admin().await;
        let settings = admin.admin().settings();
        assert!(!settings.get().await.expect("settings").require_mfa_for_admins);
        // Nobody requires of others what they have not got.
        match settings.require_mfa_for_admins(true).await {
            Err(Error::Api { status: 409, .. }) => {}
            other => panic!("enrol first: {other:?}"),
        }
        enrol(&app, &admin, ADMIN_PASSWORD).await;
        assert!(
            settings
                .require_mfa_for_admins(true)
                .await
                .expect("require")
                .require_mfa_for_admins
        );

        // An administrator without a second factor can only enrol.
        let users = admin.admin().users();
        let viewers = admin
            .admin()
            .roles()
            .create(&RoleForm::new("Viewers", ["admin:view".parse().unwrap()]))
            .await
            .expect("role");
        let viewer = users
            .create(&UserForm::new("viewer@agency.org", "Viewer", Password::new(USER_PASSWORD)).roles([&viewers.id]))
            .await
            .expect("viewer");
        assert!(viewer.second_factors.is_empty() && viewer.last_sign_in_at.is_none());
        let as_viewer = anonymous(&app)
            .sign_in("viewer@agency.org", &Password::new(USER_PASSWORD))
            .await
            .expect("the viewer signs in");
        let refused = as_viewer.admin().users().list().all().await.unwrap_err();
        assert!(refused.second_factor_enrolment_required(), "{refused:?}");
        enrol(&app, &as_viewer, USER_PASSWORD).await;
        as_viewer
            .admin()
            .users()
            .list()
            .all()
            .await
            .expect("enrolled, the viewer may look");
        let seen = users.get(&viewer.id).await.unwrap();
        assert_eq!(seen.second_factors, ["totp"]);
        assert!(seen.last_sign_in_at.is_some());
        settings
            .require_mfa_for_admins(false)
            .await
            .expect("no longer required");

        // Disabled, a person cannot sign in and their session ends.
        let leaving = users
            .create(&UserForm::new(
                "leaving@agency.org",
                "Leaving",
                Password::new(USER_PASSWORD),
            ))
            .await
            .expect("user");
        let as_leaving = anonymous(&app)
            .sign_in("leaving@agency.org", &Password::new(USER_PASSWORD))
            .await
            .unwrap();
        let disabled = users
            .change(&leaving.id, &UserChange::new().enabled(false))
            .await
            .unwrap();
        assert!(!disabled.enabled);
        assert_eq!(as_leaving.me().await.unwrap_err().status(), Some(401));
        match anonymous(&app)
            .sign_in("leaving@agency.org", &Password::new(USER_PASSWORD))
            .await
        {
            Err(Error::Api {
                status: 401, detail, ..
            }) => assert!(detail.contains("disabled"), "{detail}"),
            other => panic!("a disabled person cannot sign in: {other:?}"),
        }
        assert!(
            users
                .change(&leaving.id, &UserChange::new().enabled(true))
                .await
                .unwrap()
                .enabled
        );
        anonymous(&app)
            .sign_in("leaving@agency.org", &Password::new(USER_PASSWORD))
            .await
            .expect("enabled again");

        // An invitation: no password, a link by email, a password set through the SDK.
        let invited = users
            .create(&UserForm::invitation("new.hire@agency.org", "New Hire"))
            .await
            .expect("invite");
        assert!(invited.invitation_pending);
        let token = delivered_link_token(&app).await;
        let client = anonymous(&app);
        match client.set_password(&token, &Password::new("short")).await {
            Err(Error::Validation(errors)) => assert_eq!(errors.errors()[0].field, "password"),
            other => panic!("a weak password is refused unsent: {other:?}"),
        }
        let chosen = Password::new("a sturdy passphrase for work");
        client.set_password(&token, &chosen).await.expect("set the password");
        match client.set_password(&token, &chosen).await {
            Err(Error::Api { status: 400, .. }) => {}
            other => panic!("a link works once: {other:?}"),
        }
        client
            .sign_in("new.hire@agency.org", &chosen)
            .await
            .expect("the new hire signs in");
        assert!(!users.get(&invited.id).await.unwrap().invitation_pending);

        // A reset is accepted for any address, an account or not.
        client
            .request_password_reset("nobody@agency.org")
            .await
            .expect("accepted");
        client
            .request_password_reset("new.hire@agency.org")
            .await
            .expect("accepted");
    }
);
