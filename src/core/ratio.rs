//! Ratios as officers write them (`3%`, `0.5%`, `50%`) and as the protocol keeps them: whole
//! basis points, so no floating point ever enters the draw.

/// "3%", "12.5%", "0.25%" or "100%" to basis points; at most two decimals.
pub fn parse_ratio(s: &str) -> Result<u32, String> {
    let t = s.trim();
    let num = t
        .strip_suffix('%')
        .ok_or("write the ratio as a percentage, e.g. \"5%\"")?
        .trim();
    let (int, frac) = num.split_once('.').unwrap_or((num, ""));
    let digits = |d: &str| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit());
    if !digits(int) || (num.contains('.') && !digits(frac)) || frac.len() > 2 {
        return Err(format!(
            "{t:?} is not a percentage with at most two decimals"
        ));
    }
    let int: u64 = int.parse().map_err(|_| format!("{t:?} is too large"))?;
    let frac: u64 = format!("{frac:0<2}").parse().expect("two digits");
    let bp = int.saturating_mul(100).saturating_add(frac);
    if bp > 10_000 {
        return Err(format!("{t} is over 100%"));
    }
    Ok(bp as u32)
}

pub fn format_ratio(bp: u32) -> String {
    match bp % 100 {
        0 => format!("{}%", bp / 100),
        f => format!("{}.{}%", bp / 100, format!("{f:02}").trim_end_matches('0')),
    }
}
