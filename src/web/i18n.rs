//! The pages' two languages. Texts live in one JSON dictionary per language, so a
//! translator edits data, not code; a test holds the two to the same keys.
//! Field messages come from the application's checks as a code with values; each code
//! has its text in both dictionaries (`msg_<code>`).

use std::collections::HashMap;
use std::sync::OnceLock;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    Ru,
    En,
}

impl Lang {
    pub fn parse(raw: &str) -> Self {
        if raw.eq_ignore_ascii_case("en") { Self::En } else { Self::Ru }
    }

    pub fn code(self) -> &'static str {
        match self {
            Self::Ru => "ru",
            Self::En => "en",
        }
    }
}

pub type Texts = HashMap<String, String>;

/// One dictionary file per section of the site and language: (section, Russian, English).
macro_rules! sections {
    ($($name:literal),* $(,)?) => {
        [$(($name, include_str!(concat!("i18n/", $name, ".ru.json")), include_str!(concat!("i18n/", $name, ".en.json")))),*]
    };
}

const SECTIONS: &[(&str, &str, &str)] =
    &sections!["common", "planning", "lab", "dashboard", "scenarios", "admin", "messages", "life", "imports"];

fn load(lang: Lang) -> Texts {
    let mut texts = Texts::new();
    for (name, ru, en) in SECTIONS {
        let source = if lang == Lang::En { en } else { ru };
        match serde_json::from_str::<Texts>(source) {
            Ok(section) => texts.extend(section),
            Err(e) => tracing::error!(section = name, lang = lang.code(), error = %e, "dictionary does not parse"),
        }
    }
    texts
}

pub fn texts(lang: Lang) -> &'static Texts {
    static RU: OnceLock<Texts> = OnceLock::new();
    static EN: OnceLock<Texts> = OnceLock::new();
    match lang {
        Lang::Ru => RU.get_or_init(|| load(Lang::Ru)),
        Lang::En => EN.get_or_init(|| load(Lang::En)),
    }
}

/// One text; a missing key shows as itself, which the dictionary test prevents.
pub fn text(lang: Lang, key: &str) -> String {
    texts(lang).get(key).cloned().unwrap_or_else(|| key.to_string())
}

/// A field message in the page's language, by its code, with its values in place.
pub fn message(lang: Lang, error: &crate::domain::FieldError) -> String {
    let key = format!("msg_{}", error.code);
    let Some(template) = texts(lang).get(&key) else {
        // A code without a text still reaches the user, in English.
        return error.message.to_string();
    };
    let mut out = template.clone();
    for (i, value) in error.message.args().iter().enumerate() {
        out = out.replace(&format!("{{{i}}}"), value);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_section_parses_and_no_key_is_defined_twice() {
        let mut seen = std::collections::HashMap::new();
        for (name, ru, en) in SECTIONS {
            for (lang, source) in [("ru", ru), ("en", en)] {
                let section: Texts = serde_json::from_str(source).unwrap_or_else(|e| panic!("{name}.{lang}.json: {e}"));
                if lang == "ru" {
                    for key in section.keys() {
                        if let Some(other) = seen.insert(key.clone(), *name) {
                            panic!("key {key} is in both {other} and {name}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn both_dictionaries_have_the_same_keys() {
        let ru: std::collections::BTreeSet<_> = texts(Lang::Ru).keys().collect();
        let en: std::collections::BTreeSet<_> = texts(Lang::En).keys().collect();
        assert!(!ru.is_empty());
        let only_ru: Vec<_> = ru.difference(&en).collect();
        let only_en: Vec<_> = en.difference(&ru).collect();
        assert!(only_ru.is_empty() && only_en.is_empty(), "only in ru: {only_ru:?}; only in en: {only_en:?}");
    }

    #[test]
    fn messages_are_translated_with_their_values() {
        use crate::domain::{FieldError, Kind, Msg};
        let range = FieldError::new("samples", Msg::Range(1, 10000));
        assert_eq!(message(Lang::Ru, &range), "Введите число от 1 до 10000.");
        assert_eq!(message(Lang::En, &range), "Enter a number from 1 to 10000.");
        let lab = FieldError::new("excluded_labs[0]", Msg::Unknown(Kind::Lab, "L999".into()));
        assert_eq!(message(Lang::Ru, &lab), "Неизвестная лаборатория «L999».");
        let capacity = FieldError::new("equipment", Msg::NoCapacity("L001".into(), "EMC".into()));
        assert_eq!(message(Lang::Ru, &capacity), "Лаборатория «L001» не предоставляет мощности оборудования «EMC».");
    }

    #[test]
    fn every_message_code_has_a_text_in_both_languages() {
        use crate::domain::{Kind, Msg};
        let date = chrono::NaiveDate::from_ymd_opt(2027, 1, 5).expect("a date");
        let mut all = vec![
            Msg::Required,
            Msg::TooLong(1),
            Msg::CodeChars,
            Msg::Range(1, 2),
            Msg::Seconds(1, 2),
            Msg::Fraction,
            Msg::NotMonday(date),
            Msg::DueBeforeReady,
            Msg::Priority,
            Msg::TooManyLabs(1),
            Msg::ListedTwice("x".into()),
            Msg::NoCapacity("a".into(), "b".into()),
            Msg::Date,
            Msg::DateRange,
            Msg::OwnCompany("x".into()),
            Msg::ReasonRequired,
            Msg::RegionCode,
            Msg::Duplicate,
            Msg::Referenced,
            Msg::ValidToBeforeFrom,
            Msg::Email("x".into()),
            Msg::PasswordShort,
            Msg::UserExists("x".into()),
            Msg::NeedsCompany,
            Msg::NeedsLab,
            Msg::NoBinding("x".into()),
            Msg::InnDigits,
            Msg::InnLength,
            Msg::InnCheck,
            Msg::ExpectedObject,
            Msg::OneOf("x".into()),
            Msg::NotAVersion,
            Msg::ControlChars,
            Msg::WholeNumber,
            Msg::SheetDate,
            Msg::MissingColumn("x".into()),
            Msg::NoInn("x".into()),
            Msg::AmbiguousStandard("x".into(), "y".into()),
            Msg::RepeatedRow(2),
            Msg::Invalid("x".into()),
        ];
        for kind in [Kind::Company, Kind::TestType, Kind::Lab, Kind::Region, Kind::Equipment, Kind::User] {
            all.push(Msg::Unknown(kind, "x".into()));
            all.push(Msg::NotInRegistry(kind, "x".into()));
        }
        for msg in all {
            for lang in [Lang::Ru, Lang::En] {
                let key = format!("msg_{}", msg.code());
                assert!(texts(lang).contains_key(&key), "{key} has no {} text", lang.code());
            }
        }
    }
}
