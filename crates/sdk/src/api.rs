//! The Casebook API under `/api/v1`, for applications and users alike; each
//! call needs the permission its documentation names.

use crate::client::Client;
use crate::error::Error;
use crate::model::{Case, Me, Report};
use crate::pagination::List;
use casebook_domain::records::{CaseChange, CaseForm, ReportChange, ReportForm};
use casebook_domain::{CaseId, ReportId};
use reqwest::Method;

const CASES: [&str; 4] = ["api", "v1", "engage", "cases"];
const REPORTS: [&str; 4] = ["api", "v1", "intake", "reports"];

fn with_id<'a>(base: &[&'a str], id: &'a str) -> Vec<&'a str> {
    let mut path = base.to_vec();
    path.push(id);
    path
}

impl Client {
    /// `GET /api/v1/me`: who the caller is and what it may do. Any valid token will do.
    pub async fn me(&self) -> Result<Me, Error> {
        self.send(Method::GET, &["api", "v1", "me"], &[], None::<&()>).await
    }

    /// Engage cases (`/api/v1/engage/cases`).
    pub fn cases(&self) -> Cases<'_> {
        Cases { client: self }
    }

    /// Intake reports (`/api/v1/intake/reports`).
    pub fn reports(&self) -> Reports<'_> {
        Reports { client: self }
    }
}

/// Engage cases; from [`Client::cases`].
#[derive(Debug, Clone, Copy)]
pub struct Cases<'a> {
    client: &'a Client,
}

impl Cases<'_> {
    /// Lists cases, oldest first (`engage:view`).
    pub fn list(&self) -> List<Case> {
        List::new(self.client, &CASES)
    }

    /// One case (`engage:view`).
    pub async fn get(&self, id: &CaseId) -> Result<Case, Error> {
        self.client
            .send(Method::GET, &with_id(&CASES, id.as_str()), &[], None::<&()>)
            .await
    }

    /// Opens a case (`engage:create`). The form is checked against the
    /// server's rules first: a bad one fails with [`Error::Validation`] unsent.
    pub async fn create(&self, form: &CaseForm) -> Result<Case, Error> {
        form.validate()?;
        self.client.send(Method::POST, &CASES, &[], Some(form)).await
    }

    /// Changes the fields set in `change` (`engage:edit`), checked first like [`create`](Self::create).
    pub async fn change(&self, id: &CaseId, change: &CaseChange) -> Result<Case, Error> {
        change.validate()?;
        self.client
            .send(Method::PATCH, &with_id(&CASES, id.as_str()), &[], Some(change))
            .await
    }

    /// Removes a case (`engage:delete`).
    pub async fn remove(&self, id: &CaseId) -> Result<(), Error> {
        self.client
            .send_empty(Method::DELETE, &with_id(&CASES, id.as_str()), None::<&()>)
            .await
    }
}

/// Intake reports; from [`Client::reports`].
#[derive(Debug, Clone, Copy)]
pub struct Reports<'a> {
    client: &'a Client,
}

impl Reports<'_> {
    /// Lists reports, oldest first (`intake:view`).
    pub fn list(&self) -> List<Report> {
        List::new(self.client, &REPORTS)
    }

    /// One report (`intake:view`).
    pub async fn get(&self, id: &ReportId) -> Result<Report, Error> {
        self.client
            .send(Method::GET, &with_id(&REPORTS, id.as_str()), &[], None::<&()>)
            .await
    }

    /// Files a report (`intake:create`). The form is checked against the
    /// server's rules first: a bad one fails with [`Error::Validation`] unsent.
    pub async fn create(&self, form: &ReportForm) -> Result<Report, Error> {
        form.validate()?;
        self.client.send(Method::POST, &REPORTS, &[], Some(form)).await
    }

    /// Changes the fields set in `change` (`intake:edit`), checked first like [`create`](Self::create).
    pub async fn change(&self, id: &ReportId, change: &ReportChange) -> Result<Report, Error> {
        change.validate()?;
        self.client
            .send(Method::PATCH, &with_id(&REPORTS, id.as_str()), &[], Some(change))
            .await
    }

    /// Removes a report (`intake:delete`).
    pub async fn remove(&self, id: &ReportId) -> Result<(), Error> {
        self.client
            .send_empty(Method::DELETE, &with_id(&REPORTS, id.as_str()), None::<&()>)
            .await
    }
}
