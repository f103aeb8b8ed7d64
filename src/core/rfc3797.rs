//! RFC 3797 "Publicly Verifiable Nominations Committee (NomCom) Random Selection".
//!
//! Section 4 of the RFC, implemented as written and checked against its reference C code
//! (appendix) and its section 6 worked example:
//! * every value of a source is written in decimal without leading zeros and ended by a
//!   period; a value with a non-zero fractional part is written `int.frac` instead (the period
//!   separates rather than ends it), with a single `0` integer part if it is zero and no
//!   trailing zeros in the fraction;
//! * the values of one source are put in numeric order, smallest first, and followed by `/`;
//! * the sources are concatenated in the order given (the order of the seeds file);
//! * the i-th random value (i = 0, 1, ...) is MD5 of the key string with the two-byte
//!   big-endian counter i before and after it, read as a 128-bit big-endian unsigned integer;
//! * that value modulo the number of items still in the pool picks, counting from 0, among
//!   the remaining items in their original order; the pick is removed.

use md5::{Digest, Md5};
use std::cmp::Ordering;

/// The counter is two bytes, so the RFC can derive at most this many random values.
pub const MAX_SELECTIONS: usize = 1 << 16;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Rfc3797Error {
    #[error("seeds line {line}: the source has no values")]
    EmptySource { line: usize },
    #[error(
        "seeds line {line}: {value:?} is not a decimal number (RFC 3797 sources are numbers: \
         digits, optionally '.' and more digits; separate values with spaces or \", \")"
    )]
    BadValue { line: usize, value: String },
    #[error(
        "seeds line {line}: {value:?} has a fractional part: the RFC 3797 key string writes \
         2.5 and 3 as \"2.5.3.\", the same as 2 and 53 (\"2.53.\"), so this tool takes whole \
         numbers only"
    )]
    Fraction { line: usize, value: String },
    #[error("no random sources: the key string would be empty")]
    NoSources,
    #[error("cannot select {count} items from a pool of {pool}")]
    TooMany { count: usize, pool: usize },
    #[error(
        "cannot select {count} items: RFC 3797's two-byte counter allows at most 65536 selections"
    )]
    CounterOverflow { count: usize },
}

/// One public random source (one non-comment, non-blank line of a seeds file): its values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedSource {
    pub values: Vec<String>,
}

/// Parse a seeds file: one source per line; values separated by whitespace, optionally with
/// a comma right after a value (the RFC prints its example as `2, 5, 12, 8, 10`); lines whose
/// first non-blank character is `#` are comments; blank lines are ignored. Line numbers in
/// errors are 1-based and count every line. Values are kept as written; [`key_string`]
/// canonicalises them.
///
/// # Errors
/// `BadValue` for a value that is not `digits[.digits]`, `EmptySource` for a line holding
/// only commas, `NoSources` if no line holds a source.
pub fn parse_seeds(text: &str) -> Result<Vec<SeedSource>, Rfc3797Error> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut sources = Vec::new();
    for (idx, raw) in text.lines().enumerate() {
        let line = idx + 1;
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let mut values = Vec::new();
        for token in trimmed.split_whitespace() {
            let value = token.strip_suffix(',').unwrap_or(token);
            if value.is_empty() {
                continue; // a lone "," between spaced-out values
            }
            // A comma inside a token ("2,5" or "1,234") is refused: list or thousands
            // separator cannot be told apart, and guessing would silently change the key.
            if Decimal::parse(value).is_none() {
                return Err(Rfc3797Error::BadValue {
                    line,
                    value: token.to_string(),
                });
            }
            values.push(value.to_string());
        }
        if values.is_empty() {
            return Err(Rfc3797Error::EmptySource { line });
        }
        sources.push(SeedSource { values });
    }
    if sources.is_empty() {
        return Err(Rfc3797Error::NoSources);
    }
    Ok(sources)
}

/// [`parse_seeds`], refusing a value with a fractional part (draw-spec §15): the key string
/// writes an integer as `2.` and a fraction as `2.5`, so `2.5 3` and `2 53` both give `2.53./`.
/// With whole numbers only every value ends with its own `.`, and the key is one-to-one.
pub fn parse_whole_seeds(text: &str) -> Result<Vec<SeedSource>, Rfc3797Error> {
    let sources = parse_seeds(text)?;
    for (idx, raw) in text.lines().enumerate() {
        let trimmed = raw.trim();
        if trimmed.starts_with('#') {
            continue;
        }
        if let Some(t) = trimmed.split_whitespace().find(|t| t.contains('.')) {
            return Err(Rfc3797Error::Fraction {
                line: idx + 1,
                value: t.trim_end_matches(',').to_owned(),
            });
        }
    }
    Ok(sources)
}

/// The canonical key string of RFC 3797 section 4, e.g. `9319./2.5.8.10.12./`.
///
/// RFC 3797 only defines numeric values. A value that is not a decimal number (which
/// [`parse_seeds`] never yields) is written verbatim followed by `.`, after the numbers of its
/// source, in byte order; that is this crate's choice, not the RFC's.
pub fn key_string(sources: &[SeedSource]) -> String {
    let mut key = String::new();
    for source in sources {
        let mut numbers: Vec<Decimal> = Vec::new();
        let mut others: Vec<&str> = Vec::new();
        for v in &source.values {
            match Decimal::parse(v) {
                Some(d) => numbers.push(d),
                None => others.push(v),
            }
        }
        numbers.sort_by(Decimal::cmp_value); // "smallest to largest", not string order
        others.sort_unstable();
        for d in &numbers {
            d.write(&mut key);
        }
        for s in others {
            key.push_str(s);
            key.push('.');
        }
        key.push('/');
    }
    key
}

/// Select `count` distinct items from items `1..=pool_size` exactly as RFC 3797 does; returns
/// the 1-based original indices in pick order. Pick `i` depends only on the key and picks
/// `0..i`, so a larger `count` extends a smaller one.
///
/// # Errors
/// `NoSources` for an empty key, `TooMany` if `count > pool_size`, `CounterOverflow` if
/// `count > MAX_SELECTIONS`.
pub fn select(key: &str, pool_size: usize, count: usize) -> Result<Vec<usize>, Rfc3797Error> {
    if key.is_empty() {
        return Err(Rfc3797Error::NoSources);
    }
    if count > pool_size {
        return Err(Rfc3797Error::TooMany {
            count,
            pool: pool_size,
        });
    }
    if count > MAX_SELECTIONS {
        return Err(Rfc3797Error::CounterOverflow { count });
    }
    let mut picks = Vec::with_capacity(count);
    let mut taken: Vec<usize> = Vec::with_capacity(count); // picks so far, ascending
    // count <= MAX_SELECTIONS, so the zip never cuts the loop short.
    for (i, counter) in (0..count).zip(0..=u16::MAX) {
        let remaining = (pool_size - i) as u128;
        let r = (u128::from_be_bytes(derived_value(key, counter)) % remaining) as usize;
        // The r-th (0-based) item not yet taken, in original order: step over taken ones.
        // O(count) per pick keeps memory O(count) however large the pool is.
        let mut item = r + 1;
        for &t in &taken {
            if t <= item {
                item += 1;
            } else {
                break;
            }
        }
        let at = taken.partition_point(|&t| t < item);
        taken.insert(at, item);
        picks.push(item);
    }
    Ok(picks)
}

/// MD5(counter || key || counter) with the counter as two big-endian bytes (RFC 3797 §4).
fn derived_value(key: &str, counter: u16) -> [u8; 16] {
    let c = counter.to_be_bytes();
    let mut h = Md5::new();
    h.update(c);
    h.update(key.as_bytes());
    h.update(c);
    h.finalize().into()
}

/// A non-negative decimal `digits[.digits]`, stored canonically: `int` without leading zeros
/// (empty for zero), `frac` without trailing zeros. Compared exactly, with no floating point.
struct Decimal<'a> {
    int: &'a str,
    frac: &'a str,
}

impl<'a> Decimal<'a> {
    fn parse(s: &'a str) -> Option<Self> {
        let (int, frac) = match s.split_once('.') {
            Some((i, f)) => (i, Some(f)),
            None => (s, None),
        };
        let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
        if !digits(int) || frac.is_some_and(|f| !digits(f)) {
            return None;
        }
        Some(Self {
            int: int.trim_start_matches('0'),
            frac: frac.unwrap_or("").trim_end_matches('0'),
        })
    }

    fn cmp_value(&self, other: &Self) -> Ordering {
        // Without leading zeros a longer integer part is larger; with trailing zeros gone,
        // fractions compare as digit strings.
        (self.int.len(), self.int, self.frac).cmp(&(other.int.len(), other.int, other.frac))
    }

    /// Integers as `123.`; fractions as `0.5` or `12.25`, as the RFC and its C code do.
    fn write(&self, out: &mut String) {
        out.push_str(if self.int.is_empty() { "0" } else { self.int });
        out.push('.');
        out.push_str(self.frac);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key_of(text: &str) -> String {
        key_string(&parse_seeds(text).unwrap())
    }

    // RFC 3797 section 6: pool of 25, three sources, the printed key string, and the table of
    // MD5 values (index 1..16, divisors 25..10) with the member each selects.
    #[test]
    fn rfc_section_6_worked_example() {
        let seeds = "9319\n2, 5, 12, 8, 10\n9, 18, 26, 34, 41, 45\n";
        let key = key_of(seeds);
        assert_eq!(key, "9319./2.5.8.10.12./9.18.26.34.41.45./");

        let table: [(&str, usize); 16] = [
            ("990DD0A5692A029A98B5E01AA28F3459", 17),
            ("3691E55CB63FCC37914430B2F70B5EC6", 7),
            ("FE814EDF564C190AC1D25753979990FA", 2),
            ("1863CCACEB568C31D7DDBDF1D4E91387", 16),
            ("F4AB33DF4889F0AF29C513905BE1D758", 25),
            ("13EAEB529F61ACFB9A29D0BA3A60DE4A", 23),
            ("992DB77C382CA2BDB9727001F3CDCCD9", 8),
            ("63AB4258ECA922976811C7F55C383CE7", 24),
            ("DFBC5AC97CED01B3A6E348E3CC63F40D", 19),
            ("31CB111C4A4EBE9287CEAE16FE51B909", 13),
            ("07FA46C122F164C215BBC72793B189A3", 22),
            ("AC52F8D75CCBE2E61AFEB3387637D501", 5),
            ("53306F73E14FC0B2FBF434218D25948E", 18),
            ("B5D1403501A81F9A47318BE7893B347C", 9),
            ("85B10B356AA06663EF1B1B407765100A", 1),
            ("3269E6CE559ABD57E2BA6AAB495EB9BD", 4),
        ];
        for (i, (hex, _)) in table.iter().enumerate() {
            let got: String = derived_value(&key, i as u16)
                .iter()
                .map(|b| format!("{b:02X}"))
                .collect();
            assert_eq!(&got, hex, "MD5 for index {}", i + 1);
        }
        let expected: Vec<usize> = table.iter().map(|&(_, n)| n).collect();
        assert_eq!(select(&key, 25, 16).unwrap(), expected);

        // The RFC's named result: these ten, then Sloth (22) as first alternate.
        let names = [
            "John",
            "Mary",
            "Bashful",
            "Dopey",
            "Sleepy",
            "Grouchy",
            "Doc",
            "Sneazy",
            "Handsome",
            "Cassandra",
            "Pollyanna",
            "Pendragon",
            "Pandora",
            "Faith",
            "Hope",
            "Charity",
            "Lee",
            "Longsuffering",
            "Chastity",
            "Smith",
            "Pride",
            "Sloth",
            "Envy",
            "Anger",
            "Kasczynski",
        ];
        let picked: Vec<&str> = select(&key, 25, 11)
            .unwrap()
            .iter()
            .map(|&n| names[n - 1])
            .collect();
        assert_eq!(
            picked,
            [
                "Lee",
                "Doc",
                "Mary",
                "Charity",
                "Kasczynski",
                "Envy",
                "Sneazy",
                "Anger",
                "Chastity",
                "Pandora",
                "Sloth"
            ]
        );
    }

    #[test]
    fn comments_blank_lines_and_separators() {
        let text = "# header\n\n   # indented comment\n\t\n9319\r\n2 5 12 8 10\n# tail\n";
        let sources = parse_seeds(text).unwrap();
        assert_eq!(sources.len(), 2);
        assert_eq!(sources[1].values, ["2", "5", "12", "8", "10"]);
        // Whitespace-only, comma-after-value and a lone spaced comma all read the same.
        assert_eq!(key_of("2 5 12"), key_of("2, 5, 12"));
        assert_eq!(key_of("2 , 5,  12"), "2.5.12./");
    }

    #[test]
    fn numeric_canonical_form_and_order() {
        // Leading zeros dropped (all-zero is "0"); numeric, not string, order.
        let s = |v: &[&str]| SeedSource {
            values: v.iter().map(|x| x.to_string()).collect(),
        };
        assert_eq!(key_string(&[s(&["010", "007", "9", "000"])]), "0.7.9.10./");
        assert_eq!(key_string(&[s(&["100", "9", "10"])]), "9.10.100./");
        // Bigger than any machine integer still sorts by value.
        assert_eq!(
            key_string(&[s(&["123456789012345678901234567890", "99"])]),
            "99.123456789012345678901234567890./"
        );
        // Fractions: no trailing zeros, single leading 0, period separates not terminates;
        // "3.0" is the integer 3.
        assert_eq!(
            key_string(&[s(&["2.50", "00.5", "3.0", "2.25"])]),
            "0.52.252.53./"
        );
        // Sources keep file order; each ends with '/'.
        assert_eq!(key_string(&[s(&["5"]), s(&["1"])]), "5./1./");
    }

    #[test]
    fn prefix_property() {
        let key = "9319./2.5.8.10.12./9.18.26.34.41.45./";
        let all = select(key, 25, 25).unwrap();
        let mut sorted = all.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (1..=25).collect::<Vec<_>>());
        for k in 0..=25 {
            assert_eq!(select(key, 25, k).unwrap(), all[..k]);
        }
    }

    // The skip-over-taken lookup must equal the reference code's walk over a `selected` array.
    #[test]
    fn matches_reference_removal() {
        for key in ["1./", "9319./2.5.8.10.12./", "7.77./42./"] {
            let pool = 40;
            let mut rest: Vec<usize> = (1..=pool).collect();
            let naive: Vec<usize> = (0..pool)
                .map(|i| {
                    let v = u128::from_be_bytes(derived_value(key, i as u16));
                    rest.remove((v % rest.len() as u128) as usize)
                })
                .collect();
            assert_eq!(select(key, pool, pool).unwrap(), naive);
        }
    }

    #[test]
    fn errors_name_the_line() {
        let err = parse_seeds("# c\n\n12 x7\n").unwrap_err();
        assert_eq!(
            err,
            Rfc3797Error::BadValue {
                line: 3,
                value: "x7".into()
            }
        );
        assert!(err.to_string().contains("line 3"));
        // Comma inside a value is ambiguous (list or thousands separator): refused.
        assert_eq!(
            parse_seeds("1\n1,234\n").unwrap_err(),
            Rfc3797Error::BadValue {
                line: 2,
                value: "1,234".into()
            }
        );
        for bad in ["-5", "+5", ".5", "5.", "1.2.3", "1e3", "٣"] {
            assert!(
                matches!(
                    parse_seeds(bad),
                    Err(Rfc3797Error::BadValue { line: 1, .. })
                ),
                "{bad}"
            );
        }
        let err = parse_seeds("1\n ,\n").unwrap_err();
        assert_eq!(err, Rfc3797Error::EmptySource { line: 2 });
        assert!(err.to_string().contains("line 2"));
    }

    #[test]
    fn fractions_are_refused_where_the_key_would_collide() {
        // The collision itself: RFC 3797 as written cannot tell these apart.
        assert_eq!(key_of("2.5 3"), key_of("2 53"));
        assert_eq!(
            parse_whole_seeds("# a comment. with a dot\n2 53\n").map(|s| key_string(&s)),
            Ok("2.53./".into())
        );
        assert_eq!(
            parse_whole_seeds("7\n2.5 3\n"),
            Err(Rfc3797Error::Fraction {
                line: 2,
                value: "2.5".into()
            })
        );
    }

    #[test]
    fn errors_without_a_line() {
        assert_eq!(
            parse_seeds("# only comments\n\n  \n"),
            Err(Rfc3797Error::NoSources)
        );
        assert_eq!(parse_seeds(""), Err(Rfc3797Error::NoSources));
        assert_eq!(select("", 5, 1), Err(Rfc3797Error::NoSources));
        assert_eq!(
            select("1./", 5, 6),
            Err(Rfc3797Error::TooMany { count: 6, pool: 5 })
        );
        assert_eq!(
            select("1./", 70_000, MAX_SELECTIONS + 1),
            Err(Rfc3797Error::CounterOverflow {
                count: MAX_SELECTIONS + 1
            })
        );
        assert_eq!(select("1./", 5, 0), Ok(vec![]));
        assert_eq!(select("1./", 0, 0), Ok(vec![]));
    }
}
