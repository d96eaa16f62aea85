//! Which page of a list to answer, and the page answered.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Errors, Msg};

pub const DEFAULT_PER_PAGE: u64 = 50;
pub const MAX_PER_PAGE: u64 = 500;
/// Far beyond any list of the registry, and small enough that the row offset of the last
/// page never overflows a database integer.
pub const MAX_PAGE: u64 = 1_000_000;

/// Checked page parameters: `page` from 1, `per_page` from 1 to [`MAX_PER_PAGE`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    pub page: u64,
    pub per_page: u64,
}

impl Default for PageRequest {
    fn default() -> Self {
        Self { page: 1, per_page: DEFAULT_PER_PAGE }
    }
}

impl PageRequest {
    /// Every item at once, for callers that read a whole (small) list.
    pub const ALL: Self = Self { page: 1, per_page: u64::MAX / MAX_PAGE };

    pub fn parse(page: Option<i64>, per_page: Option<i64>) -> Result<Self, Vec<super::FieldError>> {
        let mut errors = Errors::default();
        let page = match page {
            None => 1,
            Some(p) if (1..=MAX_PAGE as i64).contains(&p) => p as u64,
            Some(_) => {
                errors.push("page", Msg::Range(1, MAX_PAGE as i64));
                1
            }
        };
        let per_page = match per_page {
            None => DEFAULT_PER_PAGE,
            Some(n) if (1..=MAX_PER_PAGE as i64).contains(&n) => n as u64,
            Some(_) => {
                errors.push("per_page", Msg::Range(1, MAX_PER_PAGE as i64));
                DEFAULT_PER_PAGE
            }
        };
        errors.finish().map(|()| Self { page, per_page })
    }

    pub fn offset(self) -> u64 {
        (self.page - 1).saturating_mul(self.per_page)
    }
}

/// One page of a list: `{items, total, page, per_page}`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ListResponse<T> {
    pub items: Vec<T>,
    /// Items in the whole list
    pub total: u64,
    /// This page's number, from 1
    pub page: u64,
    pub per_page: u64,
}

impl<T> ListResponse<T> {
    pub fn new(items: Vec<T>, total: u64, page: PageRequest) -> Self {
        Self { items, total, page: page.page, per_page: page.per_page }
    }

    pub fn map<U>(self, f: impl FnMut(T) -> U) -> ListResponse<U> {
        ListResponse {
            items: self.items.into_iter().map(f).collect(),
            total: self.total,
            page: self.page,
            per_page: self.per_page,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_are_bounded() {
        assert_eq!(PageRequest::parse(None, None), Ok(PageRequest::default()));
        assert!(PageRequest::parse(Some(9_223_372_036_854_775_806), None).is_err());
        assert!(PageRequest::parse(Some(0), Some(501)).map_err(|e| e.len()) == Err(2));
        assert_eq!(PageRequest::parse(Some(MAX_PAGE as i64), Some(500)).map(PageRequest::offset), Ok(499_999_500));
    }
}
