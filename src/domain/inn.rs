//! The taxpayer number (ИНН) of a company.

use super::Msg;

/// An INN has 10 or 12 digits; its check digits catch most typing errors.
pub fn parse_inn(raw: &str) -> Result<String, Msg> {
    let digits: Vec<u32> = raw.trim().chars().map(|c| c.to_digit(10)).collect::<Option<_>>().ok_or(Msg::InnDigits)?;
    let check = |weights: &[u32], at: usize| {
        let sum: u32 = weights.iter().zip(&digits).map(|(w, d)| w * d).sum();
        sum % 11 % 10 == digits[at]
    };
    let valid = match digits.len() {
        10 => check(&[2, 4, 10, 3, 5, 9, 4, 6, 8], 9),
        12 => check(&[7, 2, 4, 10, 3, 5, 9, 4, 6, 8], 10) && check(&[3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8], 11),
        _ => return Err(Msg::InnLength),
    };
    if valid { Ok(raw.trim().to_string()) } else { Err(Msg::InnCheck) }
}

#[cfg(test)]
mod tests {
    use super::parse_inn;

    #[test]
    fn inn_check_digits() {
        assert!(parse_inn("7707083893").is_ok());
        assert!(parse_inn("7707083894").is_err());
        assert!(parse_inn("500100732259").is_ok());
        assert!(parse_inn("12345").is_err());
        assert!(parse_inn("77070838ab").is_err());
    }
}
