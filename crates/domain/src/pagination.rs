//! Page sizes and cursors of every list.

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

/// The longest cursor a page hands out: ids are UUIDs or role slugs.
pub const MAX_CURSOR_LEN: usize = 64;

/// `?cursor=`: the `next_cursor` of an earlier page, which is always a record
/// id. Anything else is refused rather than read as "after some id", which
/// would answer a typo with a silently empty page.
pub fn page_cursor(requested: Option<&str>) -> Result<Option<&str>, FieldError> {
    let Some(cursor) = requested else {
        return Ok(None);
    };
    let well_formed = !cursor.is_empty()
        && cursor.len() <= MAX_CURSOR_LEN
        && cursor
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if well_formed {
        Ok(Some(cursor))
    } else {
        Err(FieldError::new(
            "cursor",
            ErrorCode::InvalidValue,
            "cursor must be the next_cursor of an earlier page",
        ))
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

    #[test]
    fn cursors() {
        assert_eq!(page_cursor(None).unwrap(), None);
        for good in ["019372a4-7d1c-7cc0-9e5f-3b1f0c2d4e5a", "case-worker", "x_1"] {
            assert_eq!(page_cursor(Some(good)).unwrap(), Some(good));
        }
        let too_long = "a".repeat(MAX_CURSOR_LEN + 1);
        for bad in ["", "a b", "a%", "é", "../x", too_long.as_str()] {
            let err = page_cursor(Some(bad)).unwrap_err();
            assert_eq!(err.field, "cursor", "{bad:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn a_cursor_is_accepted_exactly_when_it_could_be_an_id(raw in "[A-Za-z0-9_-]{0,70}|\\PC{1,8}") {
            let expected = !raw.is_empty()
                && raw.len() <= MAX_CURSOR_LEN
                && raw.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            proptest::prop_assert_eq!(page_cursor(Some(&raw)).is_ok(), expected);
        }
    }
}
