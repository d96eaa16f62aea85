//! Spreadsheets in and out: reading an uploaded XLSX or CSV file into rows of cells within
//! fixed limits, and writing XLSX workbooks. No database, no users: the operations in
//! `app::spreadsheets` give the cells their meaning.

pub mod read;
pub mod write;

pub use read::{Cell, ReadError, Table, read};

/// The language of a workbook's headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    Ru,
    En,
}

impl Lang {
    /// From an `Accept-Language` header: English when English comes before Russian,
    /// Russian otherwise (the product's first language).
    pub fn from_accept_language(header: Option<&str>) -> Self {
        let Some(header) = header else { return Self::Ru };
        for part in header.split(',') {
            let tag = part.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
            if tag.starts_with("en") {
                return Self::En;
            }
            if tag.starts_with("ru") {
                return Self::Ru;
            }
        }
        Self::Ru
    }

    pub fn pick(self, ru: &'static str, en: &'static str) -> &'static str {
        match self {
            Self::Ru => ru,
            Self::En => en,
        }
    }
}

/// Header text compared the forgiving way: case, spaces, `_`, `-`, `.` and `ё` ignored.
pub fn normalize_header(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, '_' | '-' | '.' | '*' | ':'))
        .flat_map(char::to_lowercase)
        .map(|c| if c == 'ё' { 'е' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_match_whatever_their_case_and_spacing() {
        assert_eq!(normalize_header("  Дата  готовности "), normalize_header("дата_готовности"));
        assert_eq!(normalize_header("External-Ref"), "externalref");
        assert_eq!(normalize_header("Исключённые"), "исключенные");
    }

    #[test]
    fn the_language_comes_from_accept_language() {
        assert_eq!(Lang::from_accept_language(Some("en-US,en;q=0.9")), Lang::En);
        assert_eq!(Lang::from_accept_language(Some("ru-RU,en;q=0.5")), Lang::Ru);
        assert_eq!(Lang::from_accept_language(None), Lang::Ru);
        assert_eq!(Lang::from_accept_language(Some("de")), Lang::Ru);
    }
}
