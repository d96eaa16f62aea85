//! Catalog names the pages show, in the page's language.

use super::i18n::Lang;
pub use crate::db::catalog::Catalog;

/// Names by code in a language; an unknown code shows as itself.
pub trait Names {
    fn test_type_name(&self, code: &str, lang: Lang) -> String;
    fn equipment_name(&self, code: &str, lang: Lang) -> String;
    fn lab_name(&self, id: &str, lang: Lang) -> String;
    fn region_name(&self, code: &str, lang: Lang) -> String;
}

impl Names for Catalog {
    fn test_type_name(&self, code: &str, lang: Lang) -> String {
        self.test_types.get(code).map_or_else(|| code.to_string(), |t| pick(lang, &t.name, &t.name_en))
    }

    fn equipment_name(&self, code: &str, lang: Lang) -> String {
        self.equipment.get(code).map_or_else(|| code.to_string(), |e| pick(lang, &e.name, &e.name_en))
    }

    fn lab_name(&self, id: &str, lang: Lang) -> String {
        self.labs.get(id).map_or_else(|| id.to_string(), |l| pick(lang, &l.name, &l.name_en))
    }

    fn region_name(&self, code: &str, lang: Lang) -> String {
        self.regions.get(code).map_or_else(|| code.to_string(), |r| pick(lang, &r.name, &r.name_en))
    }
}

/// The Russian name, or the English one on English pages (falling back to Russian).
pub fn pick(lang: Lang, ru: &str, en: &str) -> String {
    if lang == Lang::En && !en.is_empty() { en.to_string() } else { ru.to_string() }
}
