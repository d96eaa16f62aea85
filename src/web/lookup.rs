//! Catalog look-ups the pages share: names in the page's language, by code.

use std::collections::BTreeMap;

use sea_orm::{ConnectionTrait, DbErr, EntityTrait, QueryOrder};

use super::i18n::Lang;
use crate::entities::{companies, equipment, labs, regions, test_types};

pub struct Catalog {
    pub test_types: BTreeMap<String, test_types::Model>,
    pub equipment: BTreeMap<String, equipment::Model>,
    pub labs: BTreeMap<String, labs::Model>,
    pub regions: BTreeMap<String, regions::Model>,
    pub companies: BTreeMap<String, companies::Model>,
}

impl Catalog {
    pub async fn load<C: ConnectionTrait>(db: &C) -> Result<Self, DbErr> {
        Ok(Self {
            test_types: test_types::Entity::find()
                .order_by_asc(test_types::Column::Code)
                .all(db)
                .await?
                .into_iter()
                .map(|m| (m.code.clone(), m))
                .collect(),
            equipment: equipment::Entity::find().all(db).await?.into_iter().map(|m| (m.code.clone(), m)).collect(),
            labs: labs::Entity::find().all(db).await?.into_iter().map(|m| (m.id.clone(), m)).collect(),
            regions: regions::Entity::find().all(db).await?.into_iter().map(|m| (m.code.clone(), m)).collect(),
            companies: companies::Entity::find().all(db).await?.into_iter().map(|m| (m.id.clone(), m)).collect(),
        })
    }

    pub fn test_type_name(&self, code: &str, lang: Lang) -> String {
        self.test_types.get(code).map_or_else(|| code.to_string(), |t| pick(lang, &t.name, &t.name_en))
    }

    pub fn equipment_name(&self, code: &str, lang: Lang) -> String {
        self.equipment.get(code).map_or_else(|| code.to_string(), |e| pick(lang, &e.name, &e.name_en))
    }

    pub fn lab_name(&self, id: &str, lang: Lang) -> String {
        self.labs.get(id).map_or_else(|| id.to_string(), |l| pick(lang, &l.name, &l.name_en))
    }

    pub fn region_name(&self, code: &str, lang: Lang) -> String {
        self.regions.get(code).map_or_else(|| code.to_string(), |r| pick(lang, &r.name, &r.name_en))
    }

    /// Weeks a test of this type takes at best: its hours at the most one test may use the
    /// equipment in a week (a lab with fewer base hours takes longer).
    pub fn typical_weeks(&self, code: &str) -> Option<u64> {
        let test = self.test_types.get(code)?;
        let rate = self.equipment.get(&test.equipment)?.max_hours_per_test_week.max(1);
        let (hours, rate) = (u64::try_from(test.hours).ok()?, u64::try_from(rate).ok()?);
        Some(hours.div_ceil(rate))
    }
}

/// The Russian name, or the English one on English pages (falling back to Russian).
pub fn pick(lang: Lang, ru: &str, en: &str) -> String {
    if lang == Lang::En && !en.is_empty() { en.to_string() } else { ru.to_string() }
}
