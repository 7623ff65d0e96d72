//! Page sizes of every list.

use crate::validation::{ErrorCode, FieldError};

pub const DEFAULT_PAGE_SIZE: u32 = 50;
pub const MAX_PAGE_SIZE: u32 = 100;

/// `?limit=`: 1 to 100, 50 when absent.
pub fn page_size(requested: Option<i64>) -> Result<u32, FieldError> {
    match requested {
        None => Ok(DEFAULT_PAGE_SIZE),
        Some(n) if (1..=i64::from(MAX_PAGE_SIZE)).contains(&n) => Ok(n as u32),
        Some(n) => Err(FieldError::new(
            "limit",
            ErrorCode::InvalidValue,
            format!("limit must be between 1 and {MAX_PAGE_SIZE} (got {n})"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits() {
        assert_eq!(page_size(None).unwrap(), 50);
        assert_eq!(page_size(Some(1)).unwrap(), 1);
        assert_eq!(page_size(Some(100)).unwrap(), 100);
        assert!(page_size(Some(0)).is_err());
        assert!(page_size(Some(101)).is_err());
        assert!(page_size(Some(-5)).is_err());
    }
}
