//! What is wrong with a value: a code the pages translate (`msg_<code>` in the
//! dictionaries, `{0}`, `{1}` for the arguments) and an English text for the API.

use serde::{Serialize, Serializer};
use utoipa::ToSchema;

/// The kind of record a reference names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Company,
    TestType,
    Lab,
    Region,
    Equipment,
    User,
}

impl Kind {
    pub fn code(self) -> &'static str {
        match self {
            Self::Company => "company",
            Self::TestType => "test_type",
            Self::Lab => "lab",
            Self::Region => "region",
            Self::Equipment => "equipment",
            Self::User => "user",
        }
    }

    fn english(self) -> &'static str {
        match self {
            Self::Company => "company",
            Self::TestType => "test type",
            Self::Lab => "lab",
            Self::Region => "region",
            Self::Equipment => "equipment",
            Self::User => "user",
        }
    }
}

/// One message. Each variant is one text in both languages.
#[derive(Debug, Clone, PartialEq)]
pub enum Msg {
    Required,
    TooLong(usize),
    CodeChars,
    Range(i64, i64),
    Seconds(i64, i64),
    Fraction,
    NotMonday(chrono::NaiveDate),
    DueBeforeReady,
    Priority,
    TooManyLabs(usize),
    ListedTwice(String),
    Unknown(Kind, String),
    NoCapacity(String, String),
    /// A binding to a company or lab the registry does not hold
    NotInRegistry(Kind, String),
    Date,
    DateRange,
    OwnCompany(String),
    ReasonRequired,
    RegionCode,
    Duplicate,
    Referenced,
    ValidToBeforeFrom,
    Email(String),
    PasswordShort,
    UserExists(String),
    NeedsCompany,
    NeedsLab,
    NoBinding(String),
    InnDigits,
    InnLength,
    InnCheck,
    ExpectedObject,
    OneOf(String),
    NotAVersion,
    ControlChars,
    /// A spreadsheet cell that is no whole number
    WholeNumber,
    /// A spreadsheet cell that is no date
    SheetDate,
    /// A required spreadsheet column, by its header
    MissingColumn(String),
    /// No company with this INN
    NoInn(String),
    /// A standard that several test types share, with their codes
    AmbiguousStandard(String, String),
    /// A row with the same company and reference as an earlier row
    RepeatedRow(u32),
    /// A value serde could not read (wrong type, unknown field); its text is serde's.
    Invalid(String),
    /// A run option that a deterministic run cannot honour
    NotWithDeterministic,
}

impl Msg {
    /// The dictionary key without its `msg_` prefix.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Required => "required",
            Self::TooLong(_) => "too_long",
            Self::CodeChars => "code_chars",
            Self::Range(..) => "range",
            Self::Seconds(..) => "seconds",
            Self::Fraction => "fraction",
            Self::NotMonday(_) => "not_monday",
            Self::DueBeforeReady => "due_before_ready",
            Self::Priority => "priority",
            Self::TooManyLabs(_) => "too_many_labs",
            Self::ListedTwice(_) => "listed_twice",
            Self::Unknown(kind, _) => match kind {
                Kind::Company => "unknown_company",
                Kind::TestType => "unknown_test_type",
                Kind::Lab => "unknown_lab",
                Kind::Region => "unknown_region",
                Kind::Equipment => "unknown_equipment",
                Kind::User => "unknown_user",
            },
            Self::NoCapacity(..) => "no_capacity",
            Self::NotInRegistry(kind, _) => match kind {
                Kind::Lab => "no_such_lab",
                _ => "no_such_company",
            },
            Self::Date => "date",
            Self::DateRange => "date_range",
            Self::OwnCompany(_) => "own_company",
            Self::ReasonRequired => "reason_required",
            Self::RegionCode => "region_code",
            Self::Duplicate => "duplicate",
            Self::Referenced => "referenced",
            Self::ValidToBeforeFrom => "valid_to_before_from",
            Self::Email(_) => "email",
            Self::PasswordShort => "password_short",
            Self::UserExists(_) => "user_exists",
            Self::NeedsCompany => "needs_company",
            Self::NeedsLab => "needs_lab",
            Self::NoBinding(_) => "no_binding",
            Self::InnDigits => "inn_digits",
            Self::InnLength => "inn_length",
            Self::InnCheck => "inn_check",
            Self::ExpectedObject => "expected_object",
            Self::OneOf(_) => "one_of",
            Self::NotAVersion => "not_a_version",
            Self::ControlChars => "control_chars",
            Self::WholeNumber => "whole_number",
            Self::SheetDate => "sheet_date",
            Self::MissingColumn(_) => "missing_column",
            Self::NoInn(_) => "no_inn",
            Self::AmbiguousStandard(..) => "ambiguous_standard",
            Self::RepeatedRow(_) => "repeated_row",
            Self::Invalid(_) => "invalid",
            Self::NotWithDeterministic => "not_with_deterministic",
        }
    }

    /// The values the translated text puts in place of `{0}`, `{1}`.
    pub fn args(&self) -> Vec<String> {
        match self {
            Self::TooLong(n) | Self::TooManyLabs(n) => vec![n.to_string()],
            Self::Range(a, b) | Self::Seconds(a, b) => vec![a.to_string(), b.to_string()],
            Self::NotMonday(d) => vec![d.to_string()],
            Self::ListedTwice(s)
            | Self::Unknown(_, s)
            | Self::NotInRegistry(_, s)
            | Self::OwnCompany(s)
            | Self::Email(s)
            | Self::UserExists(s)
            | Self::NoBinding(s)
            | Self::OneOf(s)
            | Self::MissingColumn(s)
            | Self::NoInn(s)
            | Self::Invalid(s) => vec![s.clone()],
            Self::AmbiguousStandard(a, b) => vec![a.clone(), b.clone()],
            Self::RepeatedRow(n) => vec![n.to_string()],
            Self::NoCapacity(a, b) => vec![a.clone(), b.clone()],
            _ => Vec::new(),
        }
    }
}

impl std::fmt::Display for Msg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Required => f.write_str("must not be empty"),
            Self::TooLong(n) => write!(f, "must be at most {n} characters"),
            Self::CodeChars => f.write_str("may hold only Latin letters, digits, '-', '_' and '.'"),
            Self::Range(a, b) => write!(f, "must be between {a} and {b}"),
            Self::Seconds(a, b) => write!(f, "must be between {a} and {b} seconds"),
            Self::Fraction => f.write_str("must be between 0 and 1"),
            Self::NotMonday(d) => write!(f, "{d} is not a Monday"),
            Self::DueBeforeReady => f.write_str("must not be before ready_date"),
            Self::Priority => f.write_str("must be 1 (routine), 2 (certification) or 3 (blocks production)"),
            Self::TooManyLabs(n) => write!(f, "at most {n} labs"),
            Self::ListedTwice(s) => write!(f, "'{s}' is listed twice"),
            Self::Unknown(kind, s) => write!(f, "unknown {} '{s}'", kind.english()),
            Self::NoCapacity(lab, eq) => write!(f, "lab '{lab}' offers no capacity on '{eq}'"),
            Self::NotInRegistry(kind, s) => write!(f, "{} '{s}' does not exist", kind.english()),
            Self::Date => f.write_str("must be a date YYYY-MM-DD"),
            Self::DateRange => f.write_str("must be a date between 2000-01-01 and 2199-12-31"),
            Self::OwnCompany(s) => write!(f, "must be your own company, {s}"),
            Self::ReasonRequired => f.write_str("a reason is required"),
            Self::RegionCode => f.write_str("must be an ISO 3166-2 code such as RU-SAM"),
            Self::Duplicate => f.write_str("a record with the same key already exists"),
            Self::Referenced => {
                f.write_str("the record is referenced by, or refers to, records that do not allow this change")
            }
            Self::ValidToBeforeFrom => f.write_str("must not be before valid_from"),
            Self::Email(s) => write!(f, "'{s}' is not an e-mail address"),
            Self::PasswordShort => f.write_str("the password must have at least 12 characters"),
            Self::UserExists(s) => write!(f, "a user {s} already exists"),
            Self::NeedsCompany => f.write_str("a company user needs --company and no --lab"),
            Self::NeedsLab => f.write_str("a lab user needs --lab and no --company"),
            Self::NoBinding(role) => write!(f, "a {role} user is bound to no company or lab"),
            Self::InnDigits => f.write_str("must hold only digits"),
            Self::InnLength => f.write_str("must have 10 or 12 digits"),
            Self::InnCheck => f.write_str("check digit does not match"),
            Self::ExpectedObject => f.write_str("expected a JSON object"),
            Self::OneOf(list) => write!(f, "must be one of {list}"),
            Self::NotAVersion => f.write_str("is not a version of this record"),
            Self::ControlChars => f.write_str("must not contain control characters"),
            Self::WholeNumber => f.write_str("must be a whole number"),
            Self::SheetDate => f.write_str("must be a date: dd.mm.yyyy or yyyy-mm-dd"),
            Self::MissingColumn(header) => write!(f, "the column '{header}' is missing"),
            Self::NoInn(inn) => write!(f, "no company with INN {inn} is registered"),
            Self::AmbiguousStandard(text, codes) => {
                write!(f, "the standard '{text}' fits several test types: {codes}; give the code")
            }
            Self::RepeatedRow(row) => write!(f, "row {row} already has this company and reference"),
            Self::Invalid(text) => f.write_str(text),
            Self::NotWithDeterministic => {
                f.write_str("cannot be combined with deterministic: a deterministic run is solved by one worker")
            }
        }
    }
}

impl Serialize for Msg {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// One invalid field of a request body, a query or a form.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct FieldError {
    /// The field's name or path, e.g. `samples` or `excluded_labs[1]`.
    pub field: String,
    /// The message in English
    #[schema(value_type = String)]
    pub message: Msg,
    /// The message's code, for clients that show their own text
    pub code: &'static str,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: Msg) -> Self {
        let code = message.code();
        Self { field: field.into(), message, code }
    }
}

/// Collects field errors so that one answer names every bad field, not just the first.
#[derive(Debug, Default)]
pub struct Errors(Vec<FieldError>);

impl Errors {
    pub fn push(&mut self, field: impl Into<String>, message: Msg) {
        self.0.push(FieldError::new(field, message));
    }

    pub fn check(&mut self, field: &str, ok: bool, message: Msg) {
        if !ok {
            self.push(field, message);
        }
    }

    /// The value of `result`, or the type's default with the error noted.
    pub fn take<T: Default>(&mut self, field: &str, result: Result<T, Msg>) -> T {
        result.unwrap_or_else(|message| {
            self.push(field, message);
            T::default()
        })
    }

    pub fn extend(&mut self, errors: impl IntoIterator<Item = FieldError>) {
        self.0.extend(errors);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn into_vec(self) -> Vec<FieldError> {
        self.0
    }

    pub fn finish(self) -> Result<(), Vec<FieldError>> {
        if self.0.is_empty() { Ok(()) } else { Err(self.0) }
    }
}
