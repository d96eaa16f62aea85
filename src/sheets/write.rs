//! XLSX workbooks written the same way everywhere: a bold header row that stays in view
//! when scrolling, columns as wide as their header or a stated width, real dates and
//! numbers.

use chrono::NaiveDate;
use rust_xlsxwriter::{Format, Workbook, Worksheet, XlsxError};

/// A value for one cell.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Empty,
    Text(String),
    Number(f64),
    Date(NaiveDate),
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Self::Text(s.to_string())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Self::Text(s)
    }
}

impl From<Option<String>> for Value {
    fn from(s: Option<String>) -> Self {
        s.map_or(Self::Empty, Self::Text)
    }
}

impl From<NaiveDate> for Value {
    fn from(d: NaiveDate) -> Self {
        Self::Date(d)
    }
}

impl From<Option<NaiveDate>> for Value {
    fn from(d: Option<NaiveDate>) -> Self {
        d.map_or(Self::Empty, Self::Date)
    }
}

impl From<f64> for Value {
    fn from(n: f64) -> Self {
        Self::Number(n)
    }
}

impl From<i64> for Value {
    fn from(n: i64) -> Self {
        Self::Number(n as f64)
    }
}

impl From<i32> for Value {
    fn from(n: i32) -> Self {
        Self::Number(f64::from(n))
    }
}

/// One column: its header and its width in characters.
pub struct Column {
    pub header: String,
    pub width: f64,
}

impl Column {
    pub fn new(header: impl Into<String>, width: f64) -> Self {
        Self { header: header.into(), width }
    }
}

/// Rows an XLSX worksheet holds, its header row included.
pub const SHEET_ROWS: u32 = 1_048_576;

/// A workbook being written.
pub struct Book {
    workbook: Workbook,
    header: Format,
    date: Format,
    rows_per_sheet: u32,
}

impl Default for Book {
    fn default() -> Self {
        Self::new()
    }
}

impl Book {
    pub fn new() -> Self {
        Self {
            workbook: Workbook::new(),
            header: Format::new().set_bold().set_text_wrap(),
            date: Format::new().set_num_format("dd.mm.yyyy"),
            rows_per_sheet: SHEET_ROWS,
        }
    }

    /// A smaller sheet than XLSX allows, so that a test sees a long list go on to the next.
    pub fn with_rows_per_sheet(mut self, rows: u32) -> Self {
        self.rows_per_sheet = rows.clamp(2, SHEET_ROWS);
        self
    }

    /// Adds a sheet with its header row and its rows.
    pub fn sheet<I>(&mut self, name: &str, columns: &[Column], rows: I) -> Result<(), XlsxError>
    where
        I: IntoIterator<Item = Vec<Value>>,
    {
        let (header, date) = (self.header.clone(), self.date.clone());
        let sheet = self.workbook.add_worksheet();
        head(sheet, name, columns, &header)?;
        for (r, row) in rows.into_iter().enumerate() {
            let r = u32::try_from(r + 1).unwrap_or(u32::MAX);
            for (c, value) in row.into_iter().enumerate() {
                write(sheet, r, u16::try_from(c).unwrap_or(u16::MAX), value, &date)?;
            }
        }
        Ok(())
    }

    /// Adds a sheet whose rows are written one by one as they come and kept in a
    /// temporary file, not in memory: for a list as long as the registry.
    pub fn long_sheet(&mut self, name: &str, columns: &[Column]) -> Result<LongSheet<'_>, XlsxError> {
        let (header, date) = (self.header.clone(), self.date.clone());
        let sheet = self.workbook.add_worksheet_with_constant_memory()?;
        head(sheet, name, columns, &header)?;
        Ok(LongSheet { sheet, date, next_row: 1, limit: self.rows_per_sheet })
    }

    pub fn finish(mut self) -> Result<Vec<u8>, XlsxError> {
        self.workbook.save_to_buffer()
    }
}

/// A sheet's name, column widths and bold header row, frozen in view.
fn head(sheet: &mut Worksheet, name: &str, columns: &[Column], format: &Format) -> Result<(), XlsxError> {
    sheet.set_name(name)?;
    for (c, column) in columns.iter().enumerate() {
        let c = u16::try_from(c).unwrap_or(u16::MAX);
        sheet.write_string_with_format(0, c, &column.header, format)?;
        sheet.set_column_width(c, column.width)?;
    }
    sheet.set_freeze_panes(1, 0)?;
    Ok(())
}

fn write(sheet: &mut Worksheet, row: u32, col: u16, value: Value, date: &Format) -> Result<(), XlsxError> {
    match value {
        Value::Empty => {}
        Value::Text(t) => {
            sheet.write_string(row, col, t)?;
        }
        Value::Number(n) => {
            sheet.write_number(row, col, n)?;
        }
        Value::Date(d) => {
            sheet.write_date_with_format(row, col, d, date)?;
        }
    }
    Ok(())
}

/// A sheet being written row after row (see [`Book::long_sheet`]).
pub struct LongSheet<'a> {
    sheet: &'a mut Worksheet,
    date: Format,
    next_row: u32,
    limit: u32,
}

impl LongSheet<'_> {
    /// Whether the sheet holds as many rows as a sheet may; the rest go on another.
    pub fn is_full(&self) -> bool {
        self.next_row >= self.limit
    }

    pub fn push(&mut self, row: Vec<Value>) -> Result<(), XlsxError> {
        for (c, value) in row.into_iter().enumerate() {
            write(self.sheet, self.next_row, u16::try_from(c).unwrap_or(u16::MAX), value, &self.date)?;
        }
        self.next_row = self.next_row.saturating_add(1);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_list_goes_on_to_further_sheets() {
        let mut book = Book::new().with_rows_per_sheet(4);
        let columns = [Column::new("n", 8.0)];
        let mut sheets = 1;
        let mut sheet = book.long_sheet("Заявки", &columns).expect("sheet");
        for n in 0..7 {
            if sheet.is_full() {
                sheets += 1;
                drop(sheet);
                sheet = book.long_sheet(&format!("Заявки ({sheets})"), &columns).expect("sheet");
            }
            sheet.push(vec![Value::from(n)]).expect("row");
        }
        drop(sheet);
        let bytes = book.finish().expect("workbook");
        assert_eq!(sheets, 3, "3 + 3 + 1 rows below each header");
        let last = crate::sheets::read::read_sheet(&bytes, crate::sheets::read::Which::Named(&["Заявки (3)"]));
        let last = last.expect("the third sheet reads");
        assert_eq!(last.rows, [(2, vec![crate::sheets::Cell::Number(6.0)])], "the seventh row");
    }
}
