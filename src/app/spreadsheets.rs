//! Test requests in spreadsheets: the survey template, the import of a filled-in survey
//! (XLSX or CSV) and the exports of the request list and of a plan.
//!
//! An import files and changes requests through [`requests::file`] and
//! [`requests::change`], the same steps as one filing through the API, all inside one
//! [`Work`]: every row is checked, and any bad row leaves the registry as it was. A row
//! is known again by its company and its `external_ref`: the same row again changes
//! nothing, a changed one changes its request while that may still be edited.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use serde::Serialize;
use utoipa::ToSchema;

use super::policy::Op;
use super::requests::{self, NewRequest, RequestPatch, TestRequest};
use super::{AppError, AppResult, Work, require};
use crate::db::Db;
use crate::db::catalog::Catalog;
use crate::db::requests::{self as queries, RequestFilter};
use crate::domain::access::Caller;
use crate::domain::request::{RawRequestFields, RequestFields};
use crate::domain::{FieldError, Kind, Msg};
use crate::sheets::write::{Book, Column, Value};
use crate::sheets::{Cell, Lang, Table, normalize_header};

/// How to run an import.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// Check everything and report, write nothing.
    pub dry_run: bool,
    /// Add companies named by an unknown INN (with name and region columns); planner and admin only.
    pub create_companies: bool,
    /// The uploaded file's name, kept in the audit rows.
    pub file_name: String,
    /// The language a missing column's header is named in.
    pub lang: Lang,
}

/// One refused cell or row: `row` is the sheet's own row number (the header is row 1),
/// `column` the column's key (empty for the row as a whole).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct RowError {
    /// The sheet, in a workbook read by more than one
    #[serde(skip_serializing_if = "String::is_empty")]
    pub sheet: String,
    pub row: u32,
    pub column: String,
    pub message: String,
    /// The message's code, as the pages translate it
    pub code: String,
    /// The message itself, for the pages to put in their language with its values
    #[serde(skip)]
    pub msg: Option<Msg>,
}

/// What an import did, or would do.
#[derive(Debug, Clone, Default, PartialEq, Serialize, ToSchema)]
pub struct ImportReport {
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    /// Companies added from INN, name and region (`create_companies`)
    pub companies_created: usize,
    /// Every bad cell; when there is one, nothing was written
    pub errors: Vec<RowError>,
    /// Headers that name no column of the survey
    pub ignored_columns: Vec<String>,
    pub dry_run: bool,
    /// Whether the changes were written (false on a dry run or when any row was refused)
    pub written: bool,
}

impl ImportReport {
    pub fn refused(&self) -> bool {
        !self.errors.is_empty()
    }
}

/// A column of an imported sheet: its key (what errors name), its header in either
/// language, and the other names people give it. Headers match whatever their case and
/// spacing.
pub trait SheetColumn: Copy + Eq + std::hash::Hash + 'static {
    const ALL: &'static [Self];
    fn key(self) -> &'static str;
    fn header(self, lang: Lang) -> &'static str;
    fn synonyms(self) -> &'static [&'static str];

    fn of_header(header: &str) -> Option<Self> {
        let normalized = normalize_header(header);
        Self::ALL.iter().copied().find(|c| {
            [c.key(), c.header(Lang::Ru), c.header(Lang::En)]
                .iter()
                .chain(c.synonyms())
                .any(|name| normalize_header(name) == normalized)
        })
    }
}

/// The survey's columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Col {
    ExternalRef,
    Company,
    Inn,
    CompanyName,
    Region,
    TestType,
    Standard,
    Samples,
    ReadyDate,
    DueDate,
    Priority,
    ExcludedLabs,
    Notes,
}

impl Col {
    const ALL_COLUMNS: [Col; 13] = [
        Col::ExternalRef,
        Col::Company,
        Col::Inn,
        Col::CompanyName,
        Col::Region,
        Col::TestType,
        Col::Standard,
        Col::Samples,
        Col::ReadyDate,
        Col::DueDate,
        Col::Priority,
        Col::ExcludedLabs,
        Col::Notes,
    ];
    /// The template's columns, in its order.
    pub const TEMPLATE: [Col; 12] = [
        Col::ExternalRef,
        Col::Company,
        Col::Inn,
        Col::CompanyName,
        Col::Region,
        Col::TestType,
        Col::Samples,
        Col::ReadyDate,
        Col::DueDate,
        Col::Priority,
        Col::ExcludedLabs,
        Col::Notes,
    ];
    const REQUIRED: [Col; 4] = [Col::Samples, Col::ReadyDate, Col::DueDate, Col::Priority];

    /// The column a field error of the request operations names.
    fn of_field(field: &str) -> &'static str {
        let base = field.split('[').next().unwrap_or(field);
        Self::ALL_COLUMNS.into_iter().find(|c| c.key() == base).map_or("", Col::key)
    }
}

impl SheetColumn for Col {
    const ALL: &'static [Self] = &Self::ALL_COLUMNS;

    fn key(self) -> &'static str {
        match self {
            Self::ExternalRef => "external_ref",
            Self::Company => "company",
            Self::Inn => "inn",
            Self::CompanyName => "company_name",
            Self::Region => "region",
            Self::TestType => "test_type",
            Self::Standard => "standard",
            Self::Samples => "samples",
            Self::ReadyDate => "ready_date",
            Self::DueDate => "due_date",
            Self::Priority => "priority",
            Self::ExcludedLabs => "excluded_labs",
            Self::Notes => "notes",
        }
    }

    fn header(self, lang: Lang) -> &'static str {
        match self {
            Self::ExternalRef => lang.pick("Номер заявки предприятия", "External ref"),
            Self::Company => lang.pick("Код компании", "Company"),
            Self::Inn => lang.pick("ИНН", "INN"),
            Self::CompanyName => lang.pick("Наименование компании", "Company name"),
            Self::Region => lang.pick("Регион", "Region"),
            Self::TestType => lang.pick("Вид испытания", "Test type"),
            Self::Standard => lang.pick("Стандарт", "Standard"),
            Self::Samples => lang.pick("Образцов", "Samples"),
            Self::ReadyDate => lang.pick("Дата готовности образцов", "Ready date"),
            Self::DueDate => lang.pick("Требуемый срок", "Due date"),
            Self::Priority => lang.pick("Приоритет", "Priority"),
            Self::ExcludedLabs => lang.pick("Исключить лаборатории", "Excluded labs"),
            Self::Notes => lang.pick("Примечание", "Notes"),
        }
    }

    fn synonyms(self) -> &'static [&'static str] {
        match self {
            Self::ExternalRef => {
                &["внешний номер", "номер заявки", "ваш номер", "reference", "ref", "external reference"]
            }
            Self::Company => &["компания", "предприятие", "организация", "company id", "id компании"],
            Self::Inn => &["taxpayer number"],
            Self::CompanyName => &["наименование", "название компании", "name"],
            Self::Region => &["код региона", "region code"],
            Self::TestType => &["код испытания", "тип испытания", "испытание", "test", "test type code"],
            Self::Standard => &["стандарт испытания", "standard designation", "гост"],
            Self::Samples => &["количество образцов", "кол-во образцов", "образцы", "число образцов", "samples count"],
            Self::ReadyDate => &["дата готовности", "готовность", "образцы готовы", "ready", "ready on"],
            Self::DueDate => &["срок", "срок результатов", "нужно к", "due", "due on", "deadline"],
            Self::Priority => &["важность"],
            Self::ExcludedLabs => &["исключённые лаборатории", "не использовать лаборатории", "excluded"],
            Self::Notes => &["примечания", "комментарий", "comment", "comments", "note"],
        }
    }
}

/// Where each known column is, and the headers that name none.
pub(super) struct Layout<C> {
    pub(super) at: HashMap<C, usize>,
    pub(super) ignored: Vec<String>,
}

impl<C: SheetColumn> Layout<C> {
    pub(super) fn of(table: &Table) -> Self {
        let mut at = HashMap::new();
        let mut ignored = Vec::new();
        for (i, header) in table.header.iter().enumerate() {
            match C::of_header(header) {
                Some(col) if !at.contains_key(&col) => {
                    at.insert(col, i);
                }
                _ if header.trim().is_empty() => {}
                _ => ignored.push(header.trim().to_string()),
            }
        }
        Self { at, ignored }
    }

    pub(super) fn cell(&self, cells: &[Cell], col: C) -> Cell {
        self.at.get(&col).and_then(|&i| cells.get(i)).cloned().unwrap_or(Cell::Empty)
    }

    pub(super) fn text(&self, cells: &[Cell], col: C) -> Option<String> {
        Some(self.cell(cells, col).text()).filter(|t| !t.is_empty())
    }
}

/// A row's refused cells.
pub(super) struct RowErrors {
    pub(super) sheet: String,
    pub(super) row: u32,
    pub(super) out: Vec<RowError>,
}

impl RowErrors {
    pub(super) fn new(sheet: &str, row: u32) -> Self {
        Self { sheet: sheet.to_string(), row, out: Vec::new() }
    }

    pub(super) fn push(&mut self, column: &str, message: Msg) {
        self.out.push(RowError {
            sheet: self.sheet.clone(),
            row: self.row,
            column: column.to_string(),
            message: message.to_string(),
            code: message.code().to_string(),
            msg: Some(message),
        });
    }

    fn fields(&mut self, errors: Vec<FieldError>) {
        for e in errors {
            let column = Col::of_field(&e.field);
            self.push(column, e.message);
        }
    }

    pub(super) fn take<T>(&mut self, column: impl SheetColumn, result: Result<T, Msg>) -> Option<T> {
        result.map_err(|m| self.push(column.key(), m)).ok()
    }
}

/// A date cell: a real spreadsheet date, a serial day number, or text `dd.mm.yyyy` or `yyyy-mm-dd`.
pub fn date_of(cell: &Cell) -> Result<NaiveDate, Msg> {
    let refused = || Msg::SheetDate;
    match cell {
        Cell::Date(d) => Ok(*d),
        Cell::Number(n) if n.is_finite() && (1.0..2_958_466.0).contains(n) => {
            let epoch = NaiveDate::from_ymd_opt(1899, 12, 30).ok_or_else(refused)?;
            epoch.checked_add_days(chrono::Days::new(n.floor() as u64)).ok_or_else(refused)
        }
        Cell::Text(t) => {
            let t = t.trim();
            ["%d.%m.%Y", "%Y-%m-%d"].iter().find_map(|f| NaiveDate::parse_from_str(t, f).ok()).ok_or_else(refused)
        }
        Cell::Empty => Err(Msg::Required),
        _ => Err(refused()),
    }
}

/// A whole-number cell.
pub fn int_of(cell: &Cell) -> Result<i64, Msg> {
    let refused = || Msg::WholeNumber;
    match cell {
        Cell::Number(n) if n.fract() == 0.0 && n.abs() < 1e15 => Ok(*n as i64),
        Cell::Text(t) => {
            let t: String = t.chars().filter(|c| !c.is_whitespace()).collect();
            if t.is_empty() {
                return Err(Msg::Required);
            }
            t.parse::<i64>().map_err(|_| refused())
        }
        Cell::Empty => Err(Msg::Required),
        _ => Err(refused()),
    }
}

/// Standard designations compared without case, spaces and dashes ("ГОСТ 15150" = "гост15150").
fn standard_key(text: &str) -> String {
    text.chars().filter(|c| c.is_alphanumeric() || *c == '.').flat_map(char::to_uppercase).collect()
}

/// The catalog's test types by code and by standard.
pub(super) struct TestTypes {
    codes: BTreeMap<String, String>,
    by_standard: HashMap<String, Vec<String>>,
}

impl TestTypes {
    pub(super) fn of(catalog: &Catalog) -> Self {
        let mut by_standard: HashMap<String, Vec<String>> = HashMap::new();
        for t in catalog.test_types.values() {
            by_standard.entry(standard_key(&t.standard)).or_default().push(t.code.clone());
        }
        let codes = catalog.test_types.keys().map(|c| (c.to_uppercase(), c.clone())).collect();
        Self { codes, by_standard }
    }

    /// A code, or a standard that names exactly one test type.
    pub(super) fn resolve(&self, text: &str) -> Result<String, Msg> {
        if let Some(code) = self.codes.get(&text.to_uppercase()) {
            return Ok(code.clone());
        }
        match self.by_standard.get(&standard_key(text)).map(Vec::as_slice) {
            Some([one]) => Ok(one.clone()),
            Some(many) if !many.is_empty() => Err(Msg::AmbiguousStandard(text.to_string(), many.join(", "))),
            _ => Err(Msg::Unknown(Kind::TestType, text.to_string())),
        }
    }
}

/// Reads a survey and files, changes or leaves each row's request; all or nothing.
pub async fn import_requests<C: Db>(
    db: &C,
    caller: &Caller,
    bytes: &[u8],
    options: &ImportOptions,
) -> AppResult<ImportReport> {
    require(caller, Op::ImportRequests)?;
    if options.create_companies && caller.own_company().is_some() {
        return Err(AppError::Forbidden("only a planner or an administrator may add companies by import".into()));
    }
    let table = crate::sheets::read(bytes).map_err(|e| AppError::field("file", Msg::Invalid(e.to_string())))?;
    let layout = Layout::of(&table);
    let mut report =
        ImportReport { ignored_columns: layout.ignored.clone(), dry_run: options.dry_run, ..ImportReport::default() };
    let header_row = table.header_row;
    let mut missing: Vec<Col> = Col::REQUIRED.into_iter().filter(|c| !layout.at.contains_key(c)).collect();
    if !layout.at.contains_key(&Col::TestType) && !layout.at.contains_key(&Col::Standard) {
        missing.push(Col::TestType);
    }
    if caller.own_company().is_none() && !layout.at.contains_key(&Col::Company) && !layout.at.contains_key(&Col::Inn) {
        missing.push(Col::Company);
    }
    if !missing.is_empty() {
        let mut errors = RowErrors::new("", header_row);
        for col in missing {
            errors.push(col.key(), Msg::MissingColumn(col.header(options.lang).to_string()));
        }
        report.errors = errors.out;
        return Ok(report);
    }

    let mut work = Work::begin(db, caller).await?;
    let first_entry = work.noted();
    let catalog = Catalog::load(work.db()).await?;
    let mut existing: HashMap<(String, String), TestRequest> = HashMap::new();
    for stored in queries::with_external_ref(work.db(), caller.own_company().map(|c| c.as_str())).await? {
        let request = TestRequest::from(stored);
        if let Some(key) = request.external_ref.clone() {
            existing.insert((request.company.clone(), key), request);
        }
    }
    let mut ctx = Rows {
        caller,
        options,
        layout: &layout,
        test_types: TestTypes::of(&catalog),
        by_inn: catalog.companies.values().filter_map(|c| c.inn.clone().map(|inn| (inn, c.id.clone()))).collect(),
        next_company: catalog
            .companies
            .keys()
            .filter_map(|id| id.strip_prefix('C').and_then(|n| n.parse::<u32>().ok()))
            .max()
            .unwrap_or(0),
        existing,
        seen: HashMap::new(),
        companies_created: 0,
    };
    for (row, cells) in &table.rows {
        let mut errors = RowErrors::new("", *row);
        let outcome = ctx.import_row(&mut work, *row, cells, &mut errors).await?;
        report.errors.extend(errors.out);
        match outcome {
            Some(Outcome::Created) => report.created += 1,
            Some(Outcome::Updated) => report.updated += 1,
            Some(Outcome::Unchanged) => report.unchanged += 1,
            None => {}
        }
    }
    report.companies_created = ctx.companies_created();

    // Each row's audit entry names the file it came from.
    work.tag_since(first_entry, "import_file", &options.file_name);
    if report.refused() || options.dry_run || work.noted() == first_entry {
        work.rollback().await?;
        return Ok(report);
    }
    work.commit().await?;
    report.written = true;
    Ok(report)
}

enum Outcome {
    Created,
    Updated,
    Unchanged,
}

/// What an import knows while it goes through the rows.
struct Rows<'a> {
    caller: &'a Caller,
    options: &'a ImportOptions,
    layout: &'a Layout<Col>,
    test_types: TestTypes,
    by_inn: HashMap<String, String>,
    next_company: u32,
    existing: HashMap<(String, String), TestRequest>,
    seen: HashMap<(String, String), u32>,
    companies_created: usize,
}

impl Rows<'_> {
    fn companies_created(&self) -> usize {
        self.companies_created
    }

    /// The row's company: its id, or its INN (a new company where allowed), or the caller's own.
    async fn company(&mut self, work: &mut Work, cells: &[Cell], errors: &mut RowErrors) -> AppResult<Option<String>> {
        let layout = self.layout;
        let inn = match (layout.text(cells, Col::Company), layout.text(cells, Col::Inn)) {
            (Some(id), _) => return Ok(Some(id)),
            (None, Some(inn)) => inn,
            (None, None) => {
                return match self.caller.own_company() {
                    Some(own) => Ok(Some(own.to_string())),
                    None => {
                        errors.push(Col::Company.key(), Msg::Required);
                        Ok(None)
                    }
                };
            }
        };
        if let Some(id) = self.by_inn.get(&inn) {
            return Ok(Some(id.clone()));
        }
        if !self.options.create_companies {
            errors.push(Col::Inn.key(), Msg::NoInn(inn.to_string()));
            return Ok(None);
        }
        let name = layout.text(cells, Col::CompanyName).unwrap_or_default();
        let region = layout.text(cells, Col::Region).unwrap_or_default();
        let id = format!("C{:04}", self.next_company + 1);
        let body = super::companies::CompanyBody { name, inn: Some(inn.clone()), region };
        match super::companies::save_in(work, &id, &body, false).await {
            Ok(_) => {
                self.next_company += 1;
                self.companies_created += 1;
                self.by_inn.insert(inn, id.clone());
                Ok(Some(id))
            }
            Err(AppError::Validation(fields)) => {
                for e in fields {
                    let column = match e.field.as_str() {
                        "name" => Col::CompanyName.key(),
                        "region" => Col::Region.key(),
                        _ => Col::Inn.key(),
                    };
                    errors.push(column, e.message);
                }
                Ok(None)
            }
            Err(other) => Err(other),
        }
    }

    /// Checks one row and files, changes or leaves its request.
    async fn import_row(
        &mut self,
        work: &mut Work,
        row: u32,
        cells: &[Cell],
        errors: &mut RowErrors,
    ) -> AppResult<Option<Outcome>> {
        let layout = self.layout;
        let company = self.company(work, cells, errors).await?;
        let test_type = match layout.text(cells, Col::TestType).or_else(|| layout.text(cells, Col::Standard)) {
            Some(text) => errors.take(Col::TestType, self.test_types.resolve(&text)),
            None => {
                errors.push(Col::TestType.key(), Msg::Required);
                None
            }
        };
        let samples = errors.take(Col::Samples, int_of(&layout.cell(cells, Col::Samples)));
        let ready_date = errors.take(Col::ReadyDate, date_of(&layout.cell(cells, Col::ReadyDate)));
        let due_date = errors.take(Col::DueDate, date_of(&layout.cell(cells, Col::DueDate)));
        let priority = errors.take(Col::Priority, int_of(&layout.cell(cells, Col::Priority)));
        let excluded_labs: Vec<String> = layout
            .text(cells, Col::ExcludedLabs)
            .map(|t| t.split([',', ';', ' ', '\n']).filter(|s| !s.is_empty()).map(str::to_string).collect())
            .unwrap_or_default();
        let external_ref = layout.text(cells, Col::ExternalRef);
        let notes = layout.text(cells, Col::Notes);
        let (Some(company), Some(test_type), Some(samples), Some(ready_date), Some(due_date), Some(priority)) =
            (company, test_type, samples, ready_date, due_date, priority)
        else {
            return Ok(None);
        };
        let cmd = NewRequest {
            company,
            test_type,
            samples,
            ready_date,
            due_date,
            priority,
            excluded_labs,
            external_ref,
            notes,
        };
        let fields = match RequestFields::parse(RawRequestFields {
            company: &cmd.company,
            test_type: &cmd.test_type,
            samples: cmd.samples,
            ready_date: cmd.ready_date,
            due_date: cmd.due_date,
            priority: cmd.priority,
            excluded_labs: &cmd.excluded_labs,
            external_ref: cmd.external_ref.as_deref(),
            notes: cmd.notes.as_deref(),
        }) {
            Ok(fields) => fields,
            Err(fields) => {
                errors.fields(fields);
                return Ok(None);
            }
        };
        let key = fields.external_ref.clone().map(|r| (fields.company.to_string(), r));
        if let Some(key) = &key
            && let Some(first) = self.seen.insert(key.clone(), row)
        {
            errors.push(Col::ExternalRef.key(), Msg::RepeatedRow(first));
            return Ok(None);
        }
        let current = key.as_ref().and_then(|k| self.existing.get(k));
        let outcome = match current {
            None => requests::file(work, self.caller, &cmd).await.map(|_| Outcome::Created),
            Some(current) if same(current, &fields) => Ok(Outcome::Unchanged),
            Some(current) => {
                let patch = RequestPatch {
                    version: i64::from(current.version),
                    test_type: Some(cmd.test_type.clone()),
                    samples: Some(cmd.samples),
                    ready_date: Some(cmd.ready_date),
                    due_date: Some(cmd.due_date),
                    priority: Some(cmd.priority),
                    excluded_labs: Some(cmd.excluded_labs.clone()),
                    external_ref: cmd.external_ref.clone(),
                    notes: Some(cmd.notes.clone().unwrap_or_default()),
                };
                requests::change(work, self.caller, &current.id, &patch).await.map(|_| Outcome::Updated)
            }
        };
        match outcome {
            Ok(outcome) => Ok(Some(outcome)),
            Err(AppError::Validation(fields)) => {
                errors.fields(fields);
                Ok(None)
            }
            Err(AppError::Conflict(text) | AppError::NotFound(text)) => {
                errors.push("", Msg::Invalid(text));
                Ok(None)
            }
            Err(other) => Err(other),
        }
    }
}

/// Whether a row says nothing the request does not already say.
fn same(current: &TestRequest, fields: &RequestFields) -> bool {
    current.test_type == fields.test_type.as_str()
        && current.samples == fields.samples
        && current.ready_date == fields.ready_date
        && current.due_date == fields.due_date
        && current.priority == fields.priority
        && current.excluded_labs == fields.sorted_excluded()
        && current.notes == fields.notes
}

/// The survey template: the columns in the caller's language, one example row, and a
/// second sheet with the test types to choose from.
pub async fn template<C: Db>(db: &C, caller: &Caller, lang: Lang) -> AppResult<Vec<u8>> {
    require(caller, Op::ImportRequests)?;
    let catalog = Catalog::load(db).await?;
    let columns: Vec<Column> = Col::TEMPLATE.iter().map(|c| Column::new(c.header(lang), width(*c))).collect();
    let example_type = catalog.test_types.keys().next().cloned().unwrap_or_else(|| "EMC-R10".into());
    let company = caller.own_company().map(ToString::to_string).unwrap_or_else(|| "C0001".into());
    let today = chrono::Utc::now().date_naive();
    let example: Vec<Value> = Col::TEMPLATE
        .iter()
        .map(|c| match c {
            Col::ExternalRef => "PO-2027-001".into(),
            Col::Company => company.clone().into(),
            Col::TestType => example_type.clone().into(),
            Col::Samples => 2.into(),
            Col::ReadyDate => (today + chrono::Days::new(28)).into(),
            Col::DueDate => (today + chrono::Days::new(84)).into(),
            Col::Priority => 2.into(),
            Col::Notes => lang.pick("Пример: удалите эту строку", "Example: delete this row").into(),
            _ => Value::Empty,
        })
        .collect();
    let mut book = Book::new();
    book.sheet(lang.pick("Заявки", "Requests"), &columns, [example]).map_err(xlsx)?;
    let types = [
        Column::new(lang.pick("Код", "Code"), 18.0),
        Column::new(lang.pick("Стандарт", "Standard"), 22.0),
        Column::new(lang.pick("Наименование", "Name"), 40.0),
        Column::new(lang.pick("Оборудование", "Equipment"), 14.0),
        Column::new(lang.pick("Часов", "Hours"), 8.0),
    ];
    let rows = catalog.test_types.values().map(|t| {
        let name = if lang == Lang::En { t.name_en.clone() } else { t.name.clone() };
        vec![t.code.clone().into(), t.standard.clone().into(), name.into(), t.equipment.clone().into(), t.hours.into()]
    });
    book.sheet(lang.pick("Виды испытаний", "Test types"), &types, rows).map_err(xlsx)?;
    book.finish().map_err(xlsx)
}

fn width(col: Col) -> f64 {
    match col {
        Col::CompanyName | Col::Notes => 36.0,
        Col::ExternalRef | Col::TestType | Col::ReadyDate | Col::DueDate | Col::ExcludedLabs => 20.0,
        Col::Inn | Col::Region | Col::Standard => 14.0,
        _ => 11.0,
    }
}

pub(super) fn xlsx(e: rust_xlsxwriter::XlsxError) -> AppError {
    AppError::Unexpected(anyhow::anyhow!("could not write the workbook: {e}"))
}

/// Requests read at once by an export.
const EXPORT_CHUNK: u64 = 5_000;

/// The request list, filtered as the list is, as a workbook whose first columns the
/// import reads back.
pub async fn export_requests<C: Db>(db: &C, caller: &Caller, filter: &RequestFilter, lang: Lang) -> AppResult<Vec<u8>> {
    require(caller, Op::ReadRequests)?;
    let catalog = Catalog::load(db).await?;
    let mut columns: Vec<Column> = [
        Col::ExternalRef,
        Col::Company,
        Col::Inn,
        Col::CompanyName,
        Col::TestType,
        Col::Standard,
        Col::Samples,
        Col::ReadyDate,
        Col::DueDate,
        Col::Priority,
        Col::ExcludedLabs,
        Col::Notes,
    ]
    .iter()
    .map(|c| Column::new(c.header(lang), width(*c)))
    .collect();
    columns.insert(0, Column::new(lang.pick("Номер в реестре", "Registry id"), 12.0));
    for (ru, en, w) in [
        ("Статус", "Status", 14.0),
        ("Лаборатория по плану", "Planned lab", 12.0),
        ("Начало по плану", "Planned start", 14.0),
        ("Окончание по плану", "Planned end", 14.0),
    ] {
        columns.push(Column::new(lang.pick(ru, en), w));
    }
    let row_of = |r: TestRequest| {
        let company = catalog.companies.get(&r.company);
        vec![
            r.id.into(),
            r.external_ref.into(),
            r.company.clone().into(),
            company.and_then(|c| c.inn.clone()).into(),
            company.map(|c| c.name.clone()).into(),
            r.test_type.clone().into(),
            catalog.test_types.get(&r.test_type).map(|t| t.standard.clone()).into(),
            r.samples.into(),
            r.ready_date.into(),
            r.due_date.into(),
            i32::from(r.priority).into(),
            Value::from(r.excluded_labs.join(", ")),
            r.notes.into(),
            r.status.as_str().into(),
            r.planned_lab.into(),
            r.planned_start.into(),
            r.planned_end.into(),
        ]
    };
    let mut book = Book::new();
    let name = lang.pick("Заявки", "Requests");
    let mut sheet = book.long_sheet(name, &columns).map_err(xlsx)?;
    let mut sheets = 1;
    // Chunk after chunk by id: memory stays that of one chunk whatever the list's length.
    let mut after: Option<String> = None;
    loop {
        let chunk = requests::chunk_after(db, caller, filter, after.as_deref(), EXPORT_CHUNK).await?;
        let Some(last) = chunk.last() else { break };
        after = Some(last.id.clone());
        let full = chunk.len() as u64 == EXPORT_CHUNK;
        for r in chunk {
            // More requests than a sheet holds go on to «Заявки (2)» and so on.
            if sheet.is_full() {
                sheets += 1;
                drop(sheet);
                sheet = book.long_sheet(&format!("{name} ({sheets})"), &columns).map_err(xlsx)?;
            }
            sheet.push(row_of(r)).map_err(xlsx)?;
        }
        if !full {
            break;
        }
    }
    book.finish().map_err(xlsx)
}

/// A run's plan: its bookings, and on a second sheet the requests it leaves out and why.
pub async fn export_plan<C: Db>(db: &C, caller: &Caller, run: i64, lang: Lang) -> AppResult<Vec<u8>> {
    let plan = super::runs::plan(db, caller, run).await?;
    let info = super::runs::get(db, caller, run).await?;
    let horizon = crate::domain::horizon::Horizon {
        start: info.horizon_start,
        weeks: u32::try_from(info.horizon_weeks).unwrap_or(0),
    };
    let catalog = Catalog::load(db).await?;
    let ids: Vec<String> = plan
        .assignments
        .iter()
        .map(|a| a.request.clone())
        .chain(plan.unassigned.iter().map(|u| u.request.clone()))
        .collect();
    let rows = queries::find_many(db, &ids).await?;
    let company_of = |id: &str| rows.get(id).map(|r| r.company.clone()).unwrap_or_default();
    let company_name = |id: &str| {
        rows.get(id).and_then(|r| catalog.companies.get(&r.company)).map(|c| c.name.clone()).unwrap_or_default()
    };
    let test_of = |id: &str| rows.get(id).map(|r| r.test_type.clone()).unwrap_or_default();
    // Both sheets open with the request, its company and its test type.
    let request_columns = || {
        vec![
            Column::new(lang.pick("Заявка", "Request"), 10.0),
            Column::new(lang.pick("Компания", "Company"), 10.0),
            Column::new(lang.pick("Наименование компании", "Company name"), 32.0),
            Column::new(lang.pick("Вид испытания", "Test type"), 18.0),
        ]
    };
    let request_cells = |id: &str| -> Vec<crate::sheets::write::Value> {
        vec![id.to_string().into(), company_of(id).into(), company_name(id).into(), test_of(id).into()]
    };
    let bookings: Vec<Column> = request_columns()
        .into_iter()
        .chain([
            Column::new(lang.pick("Лаборатория", "Lab"), 10.0),
            Column::new(lang.pick("Наименование лаборатории", "Lab name"), 30.0),
            Column::new(lang.pick("Начало", "Start"), 12.0),
            Column::new(lang.pick("Окончание", "End"), 12.0),
            Column::new(lang.pick("Неделя начала", "Start week"), 8.0),
            Column::new(lang.pick("Неделя окончания", "End week"), 8.0),
            Column::new(lang.pick("Опоздание, недель", "Late, weeks"), 10.0),
            Column::new(lang.pick("Стоимость, ₽", "Cost, RUB"), 14.0),
        ])
        .collect();
    let booked = plan.assignments.iter().map(|a| {
        let lab_name = catalog
            .labs
            .get(&a.lab)
            .map(|l| if lang == Lang::En { l.name_en.clone() } else { l.name.clone() })
            .unwrap_or_default();
        let mut row = request_cells(&a.request);
        row.extend([
            a.lab.clone().into(),
            lab_name.into(),
            horizon.week_start(a.start_week).into(),
            horizon.week_end(a.end_week).into(),
            i64::from(a.start_week).into(),
            i64::from(a.end_week).into(),
            i64::from(a.late_weeks).into(),
            a.cost.into(),
        ]);
        row
    });
    let mut book = Book::new();
    book.sheet(lang.pick("Бронирования", "Bookings"), &bookings, booked).map_err(xlsx)?;
    let unplaced: Vec<Column> = request_columns()
        .into_iter()
        .chain([
            Column::new(lang.pick("Причина", "Reason"), 24.0),
            Column::new(lang.pick("Подробности", "Detail"), 60.0),
        ])
        .collect();
    let left = plan.unassigned.iter().map(|u| {
        let reason =
            serde_json::to_value(u.reason).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
        let mut row = request_cells(&u.request);
        row.extend([reason_text(&reason, lang).into(), u.detail.clone().into()]);
        row
    });
    book.sheet(lang.pick("Не размещены", "Unplaced"), &unplaced, left).map_err(xlsx)?;
    book.finish().map_err(xlsx)
}

fn reason_text(code: &str, lang: Lang) -> String {
    let text = match code {
        "no_accredited_lab" => lang.pick("нет аккредитованной лаборатории", "no accredited lab"),
        "excluded_by_company" => lang.pick("все подходящие лаборатории исключены компанией", "excluded by the company"),
        "no_capacity_in_window" => lang.pick("нет мощности в нужные недели", "no capacity in its window"),
        "outranked" => lang.pick("уступила более важным заявкам", "outranked by other requests"),
        other => return other.to_string(),
    };
    text.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_found_by_any_of_their_names() {
        assert_eq!(Col::of_header("  ДАТА ГОТОВНОСТИ "), Some(Col::ReadyDate));
        assert_eq!(Col::of_header("Due_Date"), Some(Col::DueDate));
        assert_eq!(Col::of_header("Кол-во образцов"), Some(Col::Samples));
        assert_eq!(Col::of_header("Цвет"), None);
        for &col in Col::ALL {
            assert_eq!(Col::of_header(col.header(Lang::Ru)), Some(col), "{col:?}");
            assert_eq!(Col::of_header(col.header(Lang::En)), Some(col), "{col:?}");
        }
    }

    #[test]
    fn dates_come_as_dates_serials_or_text() {
        let d = NaiveDate::from_ymd_opt(2027, 3, 5).expect("date");
        assert_eq!(date_of(&Cell::Date(d)), Ok(d));
        assert_eq!(date_of(&Cell::Text("05.03.2027".into())), Ok(d));
        assert_eq!(date_of(&Cell::Text("2027-03-05".into())), Ok(d));
        assert_eq!(date_of(&Cell::Number(46451.0)), Ok(d));
        assert!(date_of(&Cell::Text("5 марта".into())).is_err());
        assert_eq!(date_of(&Cell::Empty), Err(Msg::Required));
    }

    #[test]
    fn numbers_must_be_whole() {
        assert_eq!(int_of(&Cell::Number(3.0)), Ok(3));
        assert_eq!(int_of(&Cell::Text(" 1 200 ".into())), Ok(1200));
        assert!(int_of(&Cell::Number(2.5)).is_err());
        assert!(int_of(&Cell::Text("три".into())).is_err());
    }
}
