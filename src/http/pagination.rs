//! `?page=&per_page=` and the `{items,total,page,per_page}` envelope every list answers with.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::error::{ApiError, FieldError};

pub const DEFAULT_PER_PAGE: u64 = 50;
pub const MAX_PER_PAGE: u64 = 500;

#[derive(Debug, Clone, Copy, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// 1-based page number (default 1)
    pub page: Option<i64>,
    /// Items per page (default 50, at most 500)
    pub per_page: Option<i64>,
}

/// Checked page parameters.
#[derive(Debug, Clone, Copy)]
pub struct Page {
    pub page: u64,
    pub per_page: u64,
}

impl PageParams {
    pub fn parse(self) -> Result<Page, ApiError> {
        let mut errors = Vec::new();
        let page = match self.page {
            None => 1,
            Some(p) if p >= 1 => p as u64,
            Some(_) => {
                errors.push(FieldError::new("page", "must be 1 or more"));
                1
            }
        };
        let per_page = match self.per_page {
            None => DEFAULT_PER_PAGE,
            Some(n) if (1..=MAX_PER_PAGE as i64).contains(&n) => n as u64,
            Some(_) => {
                errors.push(FieldError::new("per_page", format!("must be between 1 and {MAX_PER_PAGE}")));
                DEFAULT_PER_PAGE
            }
        };
        if errors.is_empty() { Ok(Page { page, per_page }) } else { Err(ApiError::Validation(errors)) }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ListResponse<T> {
    pub items: Vec<T>,
    pub total: u64,
    pub page: u64,
    pub per_page: u64,
}

impl<T> ListResponse<T> {
    pub fn new(items: Vec<T>, total: u64, page: Page) -> Self {
        Self { items, total, page: page.page, per_page: page.per_page }
    }
}
