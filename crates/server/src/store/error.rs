//! What storage can refuse, in its own terms. The HTTP layer decides what
//! each means on the wire (see `impl From<StoreError> for ApiError`), so the
//! store knows nothing of status codes or problem bodies.

use casebook_domain::{MissingPermissions, ValidationErrors};

use casebook_domain::wire::Holder;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The row the change names does not exist (or is not visible).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The change conflicts with what is stored: a role still held, the last
    /// administrator.
    #[error("{detail}")]
    Conflict {
        detail: String,
        holders: Option<Vec<Holder>>,
    },
    /// A field is refused for a fact only storage knows: a name or email in
    /// use, a role that does not exist.
    #[error("{0}")]
    Refused(ValidationErrors),
    /// The grant rule refused the change: the author lacks these.
    #[error("{0}")]
    MissingPermissions(MissingPermissions),
    /// A stored value cannot be read back (a sealed secret that does not
    /// open): never the caller's fault.
    #[error("stored data cannot be read: {0}")]
    Corrupt(Box<dyn std::error::Error + Send + Sync>),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

impl StoreError {
    pub fn refused(field: casebook_domain::FieldError) -> Self {
        Self::Refused(field.into())
    }

    pub fn corrupt(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::Corrupt(error.into())
    }
}
