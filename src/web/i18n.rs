//! The pages' two languages. Texts live in one JSON dictionary per language, so a
//! translator edits data, not code; a test holds the two to the same keys.
//! Field messages come from the API's checks in English; Russian pages show them
//! through a table of message patterns, falling back to the English text.

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

const SECTIONS: &[(&str, &str, &str)] = &sections!["common", "planning", "lab", "dashboard", "admin"];

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

fn patterns() -> &'static [(String, String)] {
    static PATTERNS: OnceLock<Vec<(String, String)>> = OnceLock::new();
    PATTERNS.get_or_init(|| {
        serde_json::from_str(include_str!("i18n/messages_ru.json")).unwrap_or_else(|e| {
            tracing::error!(error = %e, "message patterns do not parse");
            Vec::new()
        })
    })
}

/// Matches `message` against a pattern whose `{}` stand for any text; returns the pieces.
fn matches(pattern: &str, message: &str) -> Option<Vec<String>> {
    let parts: Vec<&str> = pattern.split("{}").collect();
    let mut rest = message.strip_prefix(parts[0])?;
    let mut values = Vec::new();
    for (i, part) in parts.iter().enumerate().skip(1) {
        let last = i == parts.len() - 1;
        let at = if last {
            if part.is_empty() { Some(rest.len()) } else { rest.strip_suffix(part).map(str::len) }
        } else {
            rest.find(part)
        }?;
        values.push(rest[..at].to_string());
        rest = &rest[at + part.len()..];
    }
    rest.is_empty().then_some(values)
}

/// A field message in the page's language. Patterns are tried in file order, so a
/// specific one must come before a general one it would also match.
pub fn message(lang: Lang, english: &str) -> String {
    if lang == Lang::Ru {
        for (pattern, russian) in patterns() {
            if let Some(values) = matches(pattern, english) {
                let mut out = String::new();
                let mut pieces = russian.split("{}");
                out.push_str(pieces.next().unwrap_or_default());
                for (value, piece) in values.iter().zip(pieces) {
                    out.push_str(value);
                    out.push_str(piece);
                }
                return out;
            }
        }
    }
    let mut chars = english.chars();
    match chars.next() {
        Some(first) => {
            let sentence = first.to_uppercase().chain(chars).collect::<String>();
            if sentence.ends_with('.') { sentence } else { sentence + "." }
        }
        None => String::new(),
    }
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
        assert_eq!(message(Lang::Ru, "must be between 1 and 10000"), "Введите число от 1 до 10000.");
        assert_eq!(message(Lang::Ru, "unknown lab 'L999'"), "Неизвестная лаборатория «L999».");
        assert_eq!(
            message(Lang::Ru, "lab 'L001' offers no capacity on 'EMC'"),
            "Лаборатория «L001» не предоставляет мощности оборудования «EMC»."
        );
        assert_eq!(message(Lang::En, "must be between 1 and 10000"), "Must be between 1 and 10000.");
        // An unknown message still reaches the user, in English.
        assert_eq!(message(Lang::Ru, "something new"), "Something new.");
        assert_eq!(patterns().len(), 34);
    }
}
