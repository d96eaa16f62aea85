//! A lab's workbook: its accreditation scope and its weekly capacity, the two sheets a
//! lab coordinator keeps in a spreadsheet anyway. The workbook downloads filled in with
//! what the registry holds, and imports back the way a survey does: every row checked,
//! all or nothing, the same row again changing nothing.
//!
//! Rows change the scope and capacity through [`labs::save_accreditation_in`] and
//! [`labs::save_capacity_in`], the steps the API's single changes take, inside one
//! [`Work`]. Entries the lab holds that the file does not list are kept and reported:
//! a sheet cut short by mistake must not take a lab's scope away.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use utoipa::ToSchema;

use super::labs::{self, Accreditation, AccreditationBody, Capacity, CapacityBody};
use super::spreadsheets::{ImportOptions, Layout, RowError, RowErrors, SheetColumn, TestTypes, date_of, int_of, xlsx};
use super::{AppError, AppResult, Work};
use crate::db::Db;
use crate::db::catalog::Catalog;
use crate::db::labs as queries;
use crate::domain::access::Caller;
use crate::domain::paging::PageRequest;
use crate::domain::{FieldError, Kind, Msg};
use crate::sheets::read::{Which, is_xlsx, read_sheet};
use crate::sheets::write::{Book, Column, Value};
use crate::sheets::{Cell, Lang, Table, normalize_header};

/// The scope sheet's names, Russian and English.
pub const SCOPE_SHEET: [&str; 2] = ["Область аккредитации", "Scope"];
/// The capacity sheet's names, Russian and English.
pub const CAPACITY_SHEET: [&str; 2] = ["Мощности", "Capacity"];

/// The scope sheet's columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScopeCol {
    TestType,
    ValidFrom,
    ValidTo,
}

impl SheetColumn for ScopeCol {
    const ALL: &'static [Self] = &[Self::TestType, Self::ValidFrom, Self::ValidTo];

    fn key(self) -> &'static str {
        match self {
            Self::TestType => "test_type",
            Self::ValidFrom => "valid_from",
            Self::ValidTo => "valid_to",
        }
    }

    fn header(self, lang: Lang) -> &'static str {
        match self {
            Self::TestType => lang.pick("Вид испытания", "Test type"),
            Self::ValidFrom => lang.pick("Действует с", "Valid from"),
            Self::ValidTo => lang.pick("Действует по", "Valid to"),
        }
    }

    fn synonyms(self) -> &'static [&'static str] {
        match self {
            Self::TestType => &["код испытания", "испытание", "стандарт", "standard", "test"],
            Self::ValidFrom => &["аккредитован с", "дата аккредитации", "с", "from"],
            Self::ValidTo => &["аккредитован по", "срок действия", "по", "to", "until"],
        }
    }
}

/// The capacity sheet's columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CapacityCol {
    Equipment,
    HoursPerWeek,
    PricePerHour,
}

impl SheetColumn for CapacityCol {
    const ALL: &'static [Self] = &[Self::Equipment, Self::HoursPerWeek, Self::PricePerHour];

    fn key(self) -> &'static str {
        match self {
            Self::Equipment => "equipment",
            Self::HoursPerWeek => "hours_per_week",
            Self::PricePerHour => "price_per_hour",
        }
    }

    fn header(self, lang: Lang) -> &'static str {
        match self {
            Self::Equipment => lang.pick("Оборудование", "Equipment"),
            Self::HoursPerWeek => lang.pick("Часов в неделю", "Hours per week"),
            Self::PricePerHour => lang.pick("Цена часа, руб.", "Price per hour, RUB"),
        }
    }

    fn synonyms(self) -> &'static [&'static str] {
        match self {
            Self::Equipment => &["класс оборудования", "код оборудования", "equipment class"],
            Self::HoursPerWeek => &["часов", "часы", "часов/нед", "hours", "hours/week"],
            Self::PricePerHour => &["цена часа", "цена", "стоимость часа", "price", "price per hour"],
        }
    }
}

/// What one sheet's rows did, or would do.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct SheetCounts {
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
}

/// What a lab workbook's import did, or would do.
#[derive(Debug, Clone, Default, PartialEq, Serialize, ToSchema)]
pub struct LabImportReport {
    pub lab: String,
    /// Both sheets together
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub scope: SheetCounts,
    pub capacity: SheetCounts,
    /// Test types the lab is accredited for that the file does not list; they are kept
    pub scope_not_in_file: Vec<String>,
    /// Equipment classes the lab offers that the file does not list; they are kept
    pub capacity_not_in_file: Vec<String>,
    /// Every bad cell, each naming its sheet; when there is one, nothing was written
    pub errors: Vec<RowError>,
    /// Headers that name no column, as `sheet: header`
    pub ignored_columns: Vec<String>,
    pub dry_run: bool,
    pub written: bool,
}

impl LabImportReport {
    pub fn refused(&self) -> bool {
        !self.errors.is_empty()
    }

    fn count(&mut self, sheet: Sheet, outcome: Outcome) {
        let counts = match sheet {
            Sheet::Scope => &mut self.scope,
            Sheet::Capacity => &mut self.capacity,
        };
        let (one, all) = match outcome {
            Outcome::Created => (&mut counts.created, &mut self.created),
            Outcome::Updated => (&mut counts.updated, &mut self.updated),
            Outcome::Unchanged => (&mut counts.unchanged, &mut self.unchanged),
        };
        *one += 1;
        *all += 1;
    }
}

#[derive(Clone, Copy)]
enum Sheet {
    Scope,
    Capacity,
}

#[derive(Clone, Copy)]
enum Outcome {
    Created,
    Updated,
    Unchanged,
}

fn file_error(text: impl Into<String>) -> AppError {
    AppError::field("file", Msg::Invalid(text.into()))
}

fn read(bytes: &[u8], names: &[&str]) -> AppResult<Table> {
    read_sheet(bytes, Which::Named(names)).map_err(|e| file_error(e.to_string()))
}

/// The file's columns that a sheet needs and lacks, as errors on its header row.
fn missing<C: SheetColumn>(table: &Table, layout: &Layout<C>, required: &[C], lang: Lang) -> Vec<RowError> {
    let mut errors = RowErrors::new(&table.sheet, table.header_row);
    for col in required.iter().filter(|c| !layout.at.contains_key(c)) {
        errors.push(col.key(), Msg::MissingColumn(col.header(lang).to_string()));
    }
    errors.out
}

/// Reads a lab's workbook and brings its scope and capacity to what it says; all or nothing.
pub async fn import_lab<C: Db>(
    db: &C,
    caller: &Caller,
    lab: &str,
    bytes: &[u8],
    options: &ImportOptions,
) -> AppResult<LabImportReport> {
    labs::keeps(caller, lab)?;
    labs::find_lab(db, lab).await?;
    if !is_xlsx(bytes) {
        return Err(file_error(format!(
            "a lab's workbook is an XLSX file with the sheets '{}' and '{}' (or '{}' and '{}')",
            SCOPE_SHEET[0], CAPACITY_SHEET[0], SCOPE_SHEET[1], CAPACITY_SHEET[1]
        )));
    }
    let scope = read(bytes, &SCOPE_SHEET)?;
    let capacity = read(bytes, &CAPACITY_SHEET)?;
    let scope_layout = Layout::<ScopeCol>::of(&scope);
    let capacity_layout = Layout::<CapacityCol>::of(&capacity);
    let mut report = LabImportReport { lab: lab.to_string(), dry_run: options.dry_run, ..LabImportReport::default() };
    for (table, ignored) in [(&scope, &scope_layout.ignored), (&capacity, &capacity_layout.ignored)] {
        report.ignored_columns.extend(ignored.iter().map(|h| format!("{}: {h}", table.sheet)));
    }
    report.errors.extend(missing(&scope, &scope_layout, &[ScopeCol::TestType, ScopeCol::ValidFrom], options.lang));
    report.errors.extend(missing(&capacity, &capacity_layout, CapacityCol::ALL, options.lang));
    if report.refused() {
        return Ok(report);
    }

    let mut work = Work::begin(db, caller).await?;
    let first_entry = work.noted();
    let catalog = Catalog::load(work.db()).await?;
    let test_types = TestTypes::of(&catalog);
    let (held, _) = queries::accreditations_page(work.db(), lab, PageRequest::ALL).await?;
    let mut held: BTreeMap<String, Accreditation> =
        held.into_iter().map(|m| (m.test_type.clone(), Accreditation::from(m))).collect();
    let mut offered: BTreeMap<String, Capacity> = queries::capacities(work.db(), Some(lab))
        .await?
        .into_iter()
        .map(|m| (m.equipment.clone(), Capacity::from(m)))
        .collect();

    let mut seen: HashMap<String, u32> = HashMap::new();
    for (row, cells) in &scope.rows {
        let mut errors = RowErrors::new(&scope.sheet, *row);
        let outcome = scope_row(&mut work, lab, &test_types, &scope_layout, cells, &mut held, &mut seen, &mut errors);
        if let Some(outcome) = outcome.await? {
            report.count(Sheet::Scope, outcome);
        }
        report.errors.extend(errors.out);
    }
    report.scope_not_in_file = held.keys().filter(|k| !seen.contains_key(*k)).cloned().collect();

    let equipment = EquipmentNames::of(&catalog);
    let mut seen: HashMap<String, u32> = HashMap::new();
    for (row, cells) in &capacity.rows {
        let mut errors = RowErrors::new(&capacity.sheet, *row);
        let outcome =
            capacity_row(&mut work, lab, &equipment, &capacity_layout, cells, &mut offered, &mut seen, &mut errors);
        if let Some(outcome) = outcome.await? {
            report.count(Sheet::Capacity, outcome);
        }
        report.errors.extend(errors.out);
    }
    report.capacity_not_in_file = offered.keys().filter(|k| !seen.contains_key(*k)).cloned().collect();

    work.tag_since(first_entry, "import_file", &options.file_name);
    if report.refused() || options.dry_run || work.noted() == first_entry {
        work.rollback().await?;
        return Ok(report);
    }
    work.commit().await?;
    report.written = true;
    Ok(report)
}

/// A field error of a lab operation, put on the row's column of that name.
fn field_errors(errors: &mut RowErrors, fields: Vec<FieldError>) {
    for e in fields {
        errors.push(&e.field, e.message);
    }
}

#[allow(clippy::too_many_arguments)]
async fn scope_row(
    work: &mut Work,
    lab: &str,
    test_types: &TestTypes,
    layout: &Layout<ScopeCol>,
    cells: &[Cell],
    held: &mut BTreeMap<String, Accreditation>,
    seen: &mut HashMap<String, u32>,
    errors: &mut RowErrors,
) -> AppResult<Option<Outcome>> {
    let test_type = match layout.text(cells, ScopeCol::TestType) {
        Some(text) => errors.take(ScopeCol::TestType, test_types.resolve(&text)),
        None => errors.take::<String>(ScopeCol::TestType, Err(Msg::Required)),
    };
    let valid_from = errors.take(ScopeCol::ValidFrom, date_of(&layout.cell(cells, ScopeCol::ValidFrom)));
    let valid_to = match layout.cell(cells, ScopeCol::ValidTo) {
        cell if cell.is_empty() => Some(None),
        cell => errors.take(ScopeCol::ValidTo, date_of(&cell)).map(Some),
    };
    let (Some(test_type), Some(valid_from), Some(valid_to)) = (test_type, valid_from, valid_to) else {
        return Ok(None);
    };
    if let Some(first) = seen.insert(test_type.clone(), errors.row) {
        errors.push(ScopeCol::TestType.key(), Msg::RepeatedRow(first));
        return Ok(None);
    }
    let wanted = Accreditation { test_type: test_type.clone(), valid_from, valid_to };
    let before = held.get(&test_type).cloned();
    if before.as_ref() == Some(&wanted) {
        return Ok(Some(Outcome::Unchanged));
    }
    let outcome = if before.is_some() { Outcome::Updated } else { Outcome::Created };
    let body = AccreditationBody { valid_from, valid_to };
    match labs::save_accreditation_in(work, lab, &test_type, &body, before).await {
        Ok(saved) => {
            held.insert(test_type, saved);
            Ok(Some(outcome))
        }
        Err(AppError::Validation(fields)) => {
            field_errors(errors, fields);
            Ok(None)
        }
        Err(other) => Err(other),
    }
}

/// The catalog's equipment classes by code, and by name in either language.
struct EquipmentNames(HashMap<String, String>);

impl EquipmentNames {
    fn of(catalog: &Catalog) -> Self {
        let mut names = HashMap::new();
        for e in catalog.equipment.values() {
            for name in [&e.name, &e.name_en] {
                names.entry(normalize_header(name)).or_insert_with(|| e.code.clone());
            }
        }
        // A code wins over a name that happens to read the same.
        for code in catalog.equipment.keys() {
            names.insert(normalize_header(code), code.clone());
        }
        Self(names)
    }

    fn resolve(&self, text: &str) -> Result<String, Msg> {
        self.0.get(&normalize_header(text)).cloned().ok_or_else(|| Msg::Unknown(Kind::Equipment, text.to_string()))
    }
}

#[allow(clippy::too_many_arguments)]
async fn capacity_row(
    work: &mut Work,
    lab: &str,
    equipment: &EquipmentNames,
    layout: &Layout<CapacityCol>,
    cells: &[Cell],
    offered: &mut BTreeMap<String, Capacity>,
    seen: &mut HashMap<String, u32>,
    errors: &mut RowErrors,
) -> AppResult<Option<Outcome>> {
    let class = match layout.text(cells, CapacityCol::Equipment) {
        Some(text) => errors.take(CapacityCol::Equipment, equipment.resolve(&text)),
        None => errors.take::<String>(CapacityCol::Equipment, Err(Msg::Required)),
    };
    let hours = errors.take(CapacityCol::HoursPerWeek, int_of(&layout.cell(cells, CapacityCol::HoursPerWeek)));
    let price = errors.take(CapacityCol::PricePerHour, int_of(&layout.cell(cells, CapacityCol::PricePerHour)));
    let (Some(class), Some(hours), Some(price)) = (class, hours, price) else {
        return Ok(None);
    };
    if let Some(first) = seen.insert(class.clone(), errors.row) {
        errors.push(CapacityCol::Equipment.key(), Msg::RepeatedRow(first));
        return Ok(None);
    }
    let before = offered.get(&class).cloned();
    if before.as_ref().is_some_and(|b| i64::from(b.hours_per_week) == hours && b.price_per_hour == price) {
        return Ok(Some(Outcome::Unchanged));
    }
    let outcome = if before.is_some() { Outcome::Updated } else { Outcome::Created };
    let body = CapacityBody { hours_per_week: hours, price_per_hour: price };
    match labs::save_capacity_in(work, lab, &class, &body, before).await {
        Ok(saved) => {
            offered.insert(class, saved);
            Ok(Some(outcome))
        }
        Err(AppError::Validation(fields)) => {
            field_errors(errors, fields);
            Ok(None)
        }
        Err(other) => Err(other),
    }
}

/// The lab's workbook as the registry holds it: its scope and capacity in the columns the
/// import reads, and two sheets to choose from (test types, equipment classes).
pub async fn workbook<C: Db>(db: &C, caller: &Caller, lab: &str, lang: Lang) -> AppResult<Vec<u8>> {
    let records = labs::records(db, caller, lab).await?;
    let catalog = Catalog::load(db).await?;
    let pick = |ru: &'static str, en: &'static str| lang.pick(ru, en);
    let name_of = |ru: &str, en: &str| if lang == Lang::En { en.to_string() } else { ru.to_string() };

    let mut book = Book::new();
    let mut scope: Vec<Column> = ScopeCol::ALL.iter().map(|c| Column::new(c.header(lang), 18.0)).collect();
    scope.push(Column::new(pick("Стандарт", "Standard"), 22.0));
    scope.push(Column::new(pick("Наименование", "Name"), 44.0));
    let rows = records.accreditations.iter().map(|a| {
        let t = catalog.test_types.get(&a.test_type);
        vec![
            a.test_type.clone().into(),
            a.valid_from.into(),
            Value::from(a.valid_to),
            t.map(|t| t.standard.clone()).into(),
            t.map(|t| name_of(&t.name, &t.name_en)).into(),
        ]
    });
    book.sheet(SCOPE_SHEET[usize::from(lang == Lang::En)], &scope, rows).map_err(xlsx)?;

    let mut capacity: Vec<Column> = CapacityCol::ALL.iter().map(|c| Column::new(c.header(lang), 18.0)).collect();
    capacity.push(Column::new(pick("Наименование", "Name"), 36.0));
    let rows = records.capacities.iter().map(|c| {
        let e = catalog.equipment.get(&c.equipment);
        vec![
            c.equipment.clone().into(),
            c.hours_per_week.into(),
            c.price_per_hour.into(),
            e.map(|e| name_of(&e.name, &e.name_en)).into(),
        ]
    });
    book.sheet(CAPACITY_SHEET[usize::from(lang == Lang::En)], &capacity, rows).map_err(xlsx)?;

    let types = [
        Column::new(pick("Код", "Code"), 18.0),
        Column::new(pick("Стандарт", "Standard"), 22.0),
        Column::new(pick("Наименование", "Name"), 44.0),
        Column::new(pick("Оборудование", "Equipment"), 14.0),
    ];
    let rows = catalog.test_types.values().map(|t| {
        vec![
            t.code.clone().into(),
            t.standard.clone().into(),
            name_of(&t.name, &t.name_en).into(),
            t.equipment.clone().into(),
        ]
    });
    book.sheet(pick("Виды испытаний", "Test types"), &types, rows).map_err(xlsx)?;
    let classes = [Column::new(pick("Код", "Code"), 14.0), Column::new(pick("Наименование", "Name"), 40.0)];
    let rows = catalog.equipment.values().map(|e| vec![e.code.clone().into(), name_of(&e.name, &e.name_en).into()]);
    book.sheet(pick("Оборудование", "Equipment"), &classes, rows).map_err(xlsx)?;
    book.finish().map_err(xlsx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_sheets_find_their_columns_by_any_name() {
        assert_eq!(ScopeCol::of_header("Действует  с"), Some(ScopeCol::ValidFrom));
        assert_eq!(ScopeCol::of_header("valid_to"), Some(ScopeCol::ValidTo));
        assert_eq!(CapacityCol::of_header("ЧАСОВ В НЕДЕЛЮ"), Some(CapacityCol::HoursPerWeek));
        assert_eq!(CapacityCol::of_header("Цена часа, руб."), Some(CapacityCol::PricePerHour));
        assert_eq!(CapacityCol::of_header("Цвет"), None);
    }
}
