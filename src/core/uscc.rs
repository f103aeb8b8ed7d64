//! The unified social credit code (统一社会信用代码, GB 32100-2015): every enterprise's id, printed
//! on its business licence, with a check character over the first seventeen.

/// Alphabet of the unified social credit code (GB 32100-2015): digits and letters without I, O, S, V, Z.
const USCC_ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";

/// Checks an 18-character unified social credit code, including its check character.
pub fn check_uscc(code: &str) -> Result<(), String> {
    let b = code.as_bytes();
    if b.len() != 18 {
        return Err(format!(
            "must be 18 characters, got {}",
            code.chars().count()
        ));
    }
    let value = |c: u8| USCC_ALPHABET.iter().position(|&a| a == c);
    let mut sum = 0usize;
    let mut weight = 1usize;
    for (i, &c) in b[..17].iter().enumerate() {
        let v = value(c).ok_or_else(|| {
            format!(
                "character {} {:?} is not in the code alphabet",
                i + 1,
                c as char
            )
        })?;
        sum += v * weight;
        weight = weight * 3 % 31;
    }
    let expected = USCC_ALPHABET[(31 - sum % 31) % 31];
    if b[17] != expected {
        return Err(format!(
            "check character is {:?}, expected {:?}",
            b[17] as char, expected as char
        ));
    }
    Ok(())
}

/// The check character that completes a 17-character USCC prefix (for synthetic data).
pub fn uscc_check_char(prefix17: &[u8]) -> char {
    let mut sum = 0usize;
    let mut weight = 1usize;
    for &c in prefix17 {
        let v = USCC_ALPHABET
            .iter()
            .position(|&a| a == c)
            .expect("prefix uses the code alphabet");
        sum += v * weight;
        weight = weight * 3 % 31;
    }
    USCC_ALPHABET[(31 - sum % 31) % 31] as char
}
