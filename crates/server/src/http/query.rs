//! Query parameters shared by the list operations.

use crate::error::ApiError;
use casebook_domain::pagination::{page_cursor, page_size};
use serde::Deserialize;
use utoipa::IntoParams;

/// `?limit=&cursor=`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    /// 1 to 100; 50 when absent.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    #[param(min_length = 1, max_length = 64, pattern = "^[A-Za-z0-9_-]+$")]
    pub cursor: Option<String>,
}

impl PageQuery {
    pub fn limit(&self) -> Result<u32, ApiError> {
        page_size(self.limit).map_err(ApiError::field)
    }

    pub fn cursor(&self) -> Result<Option<&str>, ApiError> {
        page_cursor(self.cursor.as_deref()).map_err(ApiError::field)
    }
}
