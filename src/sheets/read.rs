//! An uploaded file as rows of cells: XLSX (the first visible worksheet, or one by name)
//! or CSV (UTF-8 or Windows-1251, `;` or `,`). Every limit is checked before the work it
//! bounds, so a hostile file costs at most the limits' worth of memory and time:
//!
//! - the file: at most [`MAX_FILE_BYTES`];
//! - an XLSX archive: at most [`MAX_ENTRIES`] entries unpacking to at most
//!   [`MAX_UNPACKED_BYTES`] together, counted while inflating (a zip bomb's declared
//!   sizes are not trusted);
//! - a sheet: at most [`MAX_ROWS`] rows below the header and [`MAX_COLUMNS`] columns,
//!   cells read one by one (a sheet that claims a million rows allocates nothing for
//!   them);
//! - a formula counts as the value Excel last computed and saved with it; nothing is
//!   evaluated. Merged cells hold their value in their first cell only.

use std::collections::BTreeMap;
use std::io::{Cursor, Read};

use calamine::{DataRef, Reader, SheetType, SheetVisible, Xlsx};
use chrono::NaiveDate;

/// The largest file accepted (10 MiB): a 20,000-row survey is well below 2 MiB.
pub const MAX_FILE_BYTES: usize = 10 * 1024 * 1024;
/// What an XLSX archive may unpack to in total (64 MiB).
pub const MAX_UNPACKED_BYTES: u64 = 64 * 1024 * 1024;
/// Entries in an XLSX archive.
pub const MAX_ENTRIES: usize = 1000;
/// Rows below the header.
pub const MAX_ROWS: usize = 20_000;
/// Columns read; cells to the right of these are refused.
pub const MAX_COLUMNS: usize = 64;

/// One cell's value as the file holds it.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Empty,
    Text(String),
    Number(f64),
    Date(NaiveDate),
    Bool(bool),
    /// An error value such as `#DIV/0!`, or a date-time that is no date.
    Error(String),
}

impl Cell {
    pub fn is_empty(&self) -> bool {
        match self {
            Self::Empty => true,
            Self::Text(t) => t.trim().is_empty(),
            _ => false,
        }
    }

    /// The value as text, as a person would read it in the cell.
    pub fn text(&self) -> String {
        match self {
            Self::Empty => String::new(),
            Self::Text(t) => t.trim().to_string(),
            Self::Number(n) if n.fract() == 0.0 && n.abs() < 1e15 => format!("{}", *n as i64),
            Self::Number(n) => n.to_string(),
            Self::Date(d) => d.format("%d.%m.%Y").to_string(),
            Self::Bool(b) => b.to_string(),
            Self::Error(e) => e.clone(),
        }
    }
}

/// One sheet: its header row and the rows below it, each with its number in the sheet
/// (1-based, as the spreadsheet shows it). Blank rows are left out.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Table {
    pub sheet: String,
    pub header_row: u32,
    pub header: Vec<String>,
    pub rows: Vec<(u32, Vec<Cell>)>,
}

impl Table {
    pub fn cell(&self, row: &[Cell], column: usize) -> Cell {
        row.get(column).cloned().unwrap_or(Cell::Empty)
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ReadError {
    #[error("the file is larger than {0} bytes")]
    TooLarge(usize),
    #[error("the file is empty")]
    EmptyFile,
    #[error("the file is neither an XLSX workbook nor a CSV text: {0}")]
    NotASpreadsheet(String),
    #[error("the file is an old binary Excel workbook (.xls); save it as .xlsx or CSV")]
    LegacyExcel,
    #[error("the workbook unpacks to more than {0} bytes")]
    Unpacked(u64),
    #[error("the workbook has more than {0} parts")]
    TooManyParts(usize),
    #[error("the workbook has no visible worksheet")]
    NoSheet,
    #[error("the workbook has no sheet named '{0}'")]
    MissingSheet(String),
    #[error("the sheet '{0}' is empty: it needs a header row and at least one row below it")]
    EmptySheet(String),
    #[error("the sheet '{sheet}' has more than {limit} rows below its header")]
    TooManyRows { sheet: String, limit: usize },
    #[error("the sheet '{sheet}' has values beyond column {limit}")]
    TooManyColumns { sheet: String, limit: usize },
}

/// The workbook's sheets that [`read`] opens.
pub enum Which<'a> {
    FirstVisible,
    /// The worksheet of any of these names (compared as headers are), hidden or not.
    Named(&'a [&'a str]),
}

/// Reads the first visible worksheet of an XLSX file, or a CSV file.
pub fn read(bytes: &[u8]) -> Result<Table, ReadError> {
    read_sheet(bytes, Which::FirstVisible)
}

/// Whether the bytes are a ZIP archive, as every XLSX workbook is.
pub fn is_xlsx(bytes: &[u8]) -> bool {
    bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06")
}

/// Reads one worksheet of an XLSX file, or a CSV file (which has only the one).
pub fn read_sheet(bytes: &[u8], which: Which<'_>) -> Result<Table, ReadError> {
    if bytes.len() > MAX_FILE_BYTES {
        return Err(ReadError::TooLarge(MAX_FILE_BYTES));
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ReadError::EmptyFile);
    }
    if is_xlsx(bytes) {
        return read_xlsx(bytes, which);
    }
    if bytes.starts_with(&[0xD0, 0xCF, 0x11, 0xE0]) {
        return Err(ReadError::LegacyExcel);
    }
    read_csv(bytes)
}

/// Inflates every entry, counting the bytes, before anything else reads the archive.
fn check_archive(bytes: &[u8]) -> Result<(), ReadError> {
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes))
        .map_err(|e| ReadError::NotASpreadsheet(format!("a damaged ZIP archive ({e})")))?;
    if archive.len() > MAX_ENTRIES {
        return Err(ReadError::TooManyParts(MAX_ENTRIES));
    }
    let mut total: u64 = 0;
    let mut buf = vec![0u8; 64 * 1024];
    for i in 0..archive.len() {
        let mut entry =
            archive.by_index(i).map_err(|e| ReadError::NotASpreadsheet(format!("a damaged ZIP archive ({e})")))?;
        loop {
            let n =
                entry.read(&mut buf).map_err(|e| ReadError::NotASpreadsheet(format!("a damaged ZIP archive ({e})")))?;
            if n == 0 {
                break;
            }
            total += n as u64;
            if total > MAX_UNPACKED_BYTES {
                return Err(ReadError::Unpacked(MAX_UNPACKED_BYTES));
            }
        }
    }
    Ok(())
}

fn read_xlsx(bytes: &[u8], which: Which<'_>) -> Result<Table, ReadError> {
    check_archive(bytes)?;
    let mut workbook: Xlsx<_> =
        Xlsx::new(Cursor::new(bytes)).map_err(|e| ReadError::NotASpreadsheet(format!("not an XLSX workbook ({e})")))?;
    let name = match which {
        Which::FirstVisible => workbook
            .sheets_metadata()
            .iter()
            .find(|s| s.typ == SheetType::WorkSheet && s.visible == SheetVisible::Visible)
            .map(|s| s.name.clone())
            .ok_or(ReadError::NoSheet)?,
        Which::Named(wanted) => workbook
            .sheets_metadata()
            .iter()
            .find(|s| {
                let name = crate::sheets::normalize_header(&s.name);
                s.typ == SheetType::WorkSheet && wanted.iter().any(|w| crate::sheets::normalize_header(w) == name)
            })
            .map(|s| s.name.clone())
            .ok_or_else(|| ReadError::MissingSheet(wanted.join("' / '")))?,
    };
    let mut reader = workbook
        .worksheet_cells_reader(&name)
        .map_err(|e| ReadError::NotASpreadsheet(format!("the sheet '{name}' cannot be read ({e})")))?;
    let mut rows: BTreeMap<u32, Vec<Cell>> = BTreeMap::new();
    loop {
        let next = reader
            .next_cell()
            .map_err(|e| ReadError::NotASpreadsheet(format!("the sheet '{name}' cannot be read ({e})")))?;
        let Some(cell) = next else { break };
        let (row, col) = cell.get_position();
        let value = convert(cell.get_value());
        if value.is_empty() {
            continue;
        }
        if col as usize >= MAX_COLUMNS {
            return Err(ReadError::TooManyColumns { sheet: name, limit: MAX_COLUMNS });
        }
        if !rows.contains_key(&row) && rows.len() > MAX_ROWS {
            return Err(ReadError::TooManyRows { sheet: name, limit: MAX_ROWS });
        }
        let cells = rows.entry(row).or_default();
        if cells.len() <= col as usize {
            cells.resize(col as usize + 1, Cell::Empty);
        }
        cells[col as usize] = value;
    }
    drop(reader);
    table(name, rows.into_iter().map(|(r, cells)| (r.saturating_add(1), cells)).collect())
}

fn convert(value: &DataRef<'_>) -> Cell {
    match value {
        DataRef::Empty => Cell::Empty,
        DataRef::Int(i) => Cell::Number(*i as f64),
        DataRef::Float(f) if f.is_finite() => Cell::Number(*f),
        DataRef::Float(_) => Cell::Error("#NUM!".into()),
        DataRef::String(s) => Cell::Text(s.clone()),
        DataRef::SharedString(s) => Cell::Text((*s).to_string()),
        DataRef::Bool(b) => Cell::Bool(*b),
        DataRef::DateTime(dt) => match dt.as_datetime() {
            Some(at) if dt.is_datetime() => Cell::Date(at.date()),
            _ => Cell::Number(dt.as_f64()),
        },
        DataRef::DateTimeIso(s) => match NaiveDate::parse_from_str(s.get(..10).unwrap_or(s), "%Y-%m-%d") {
            Ok(d) => Cell::Date(d),
            Err(_) => Cell::Text(s.clone()),
        },
        DataRef::DurationIso(s) => Cell::Text(s.clone()),
        DataRef::Error(e) => Cell::Error(e.to_string()),
    }
}

/// CSV: UTF-8 (a byte-order mark is dropped) or, when that does not decode, Windows-1251;
/// the separator is the one of `;` and `,` the header line has more of.
fn read_csv(bytes: &[u8]) -> Result<Table, ReadError> {
    if bytes.contains(&0) {
        return Err(ReadError::NotASpreadsheet("binary data".into()));
    }
    let text: String = match std::str::from_utf8(bytes) {
        Ok(text) => text.strip_prefix('\u{feff}').unwrap_or(text).to_string(),
        Err(_) => encoding_rs::WINDOWS_1251.decode_without_bom_handling(bytes).0.into_owned(),
    };
    let first_line = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    let semicolons = first_line.matches(';').count();
    let commas = first_line.matches(',').count();
    let tabs = first_line.matches('\t').count();
    let delimiter = if tabs > semicolons && tabs > commas {
        b'\t'
    } else if semicolons >= commas {
        b';'
    } else {
        b','
    };
    let mut reader =
        csv::ReaderBuilder::new().delimiter(delimiter).has_headers(false).flexible(true).from_reader(text.as_bytes());
    let mut rows = Vec::new();
    // The row a spreadsheet shows for a record: its first line in the file, blank lines
    // counted (the reader's own line numbers skip them).
    let (mut counted_to, mut line) = (0usize, 1u32);
    for record in reader.records() {
        let record = record.map_err(|e| ReadError::NotASpreadsheet(format!("CSV that does not parse ({e})")))?;
        let mut start = record.position().map_or(counted_to, |p| usize::try_from(p.byte()).unwrap_or(counted_to));
        // The position may be that of blank lines before the record.
        while matches!(text.as_bytes().get(start), Some(b'\r' | b'\n')) {
            start += 1;
        }
        if start > counted_to {
            let newlines =
                text.as_bytes().get(counted_to..start).map_or(0, |b| b.iter().filter(|&&c| c == b'\n').count());
            line = line.saturating_add(u32::try_from(newlines).unwrap_or(u32::MAX));
            counted_to = start;
        }
        if record.len() > MAX_COLUMNS && record.iter().skip(MAX_COLUMNS).any(|f| !f.trim().is_empty()) {
            return Err(ReadError::TooManyColumns { sheet: "CSV".into(), limit: MAX_COLUMNS });
        }
        let cells: Vec<Cell> = record
            .iter()
            .take(MAX_COLUMNS)
            .map(|f| if f.trim().is_empty() { Cell::Empty } else { Cell::Text(f.to_string()) })
            .collect();
        if cells.iter().all(Cell::is_empty) {
            continue;
        }
        if rows.len() > MAX_ROWS {
            return Err(ReadError::TooManyRows { sheet: "CSV".into(), limit: MAX_ROWS });
        }
        rows.push((line, cells));
    }
    table("CSV".into(), rows)
}

fn table(sheet: String, mut rows: Vec<(u32, Vec<Cell>)>) -> Result<Table, ReadError> {
    rows.retain(|(_, cells)| !cells.iter().all(Cell::is_empty));
    if rows.len() < 2 {
        return Err(ReadError::EmptySheet(sheet));
    }
    let (header_row, header_cells) = rows.remove(0);
    let header = header_cells.iter().map(Cell::text).collect();
    Ok(Table { sheet, header_row, header, rows })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_in_windows_1251_with_semicolons_reads() {
        let text = "Компания;Образцов\nC0001;3\n";
        let (bytes, _, _) = encoding_rs::WINDOWS_1251.encode(text);
        let table = read(&bytes).expect("reads");
        assert_eq!(table.header, ["Компания", "Образцов"]);
        assert_eq!(table.rows, [(2, vec![Cell::Text("C0001".into()), Cell::Text("3".into())])]);
    }

    #[test]
    fn csv_in_utf8_with_commas_and_a_bom_reads() {
        let table = read("\u{feff}a,b\n\n1,\"x, y\"\n".as_bytes()).expect("reads");
        assert_eq!(table.header, ["a", "b"]);
        assert_eq!(table.rows, [(3, vec![Cell::Text("1".into()), Cell::Text("x, y".into())])]);
    }

    #[test]
    fn what_is_no_spreadsheet_is_refused() {
        assert_eq!(read(b""), Err(ReadError::EmptyFile));
        assert!(matches!(read(b"PK\x03\x04garbage"), Err(ReadError::NotASpreadsheet(_))));
        assert!(matches!(read(b"\x89PNG\r\n\x1a\n\0\0"), Err(ReadError::NotASpreadsheet(_))));
        assert_eq!(read(&[0xD0, 0xCF, 0x11, 0xE0, 1, 2]), Err(ReadError::LegacyExcel));
        assert!(matches!(read(b"only a header\n"), Err(ReadError::EmptySheet(_))));
    }
}
