//! Calendar arithmetic without a clock: Unix time ⇄ RFC 3339 (UTC).
//!
//! The server stamps records with its clock and the banner shows dates; both only
//! need to turn a Unix timestamp into a civil date, which is Howard Hinnant's
//! `civil_from_days` and its inverse. No time zones: everything is UTC.

/// `2026-11-21T20:38:10.123Z` for milliseconds since the Unix epoch.
pub fn rfc3339_millis(unix_ms: u64) -> String {
    let secs = unix_ms / 1000;
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    let rem = secs % 86_400;
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        unix_ms % 1000
    )
}

/// `2026-11-21` for seconds since the Unix epoch.
pub fn date(unix_secs: u64) -> String {
    let (y, m, d) = civil_from_days((unix_secs / 86_400) as i64);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Whether `text` is a calendar date `YYYY-MM-DD` (from year 1970).
pub fn is_date(text: &str) -> bool {
    parse_rfc3339(&format!("{text}T00:00:00Z")).is_some() && text.len() == 10
}

/// Milliseconds since the epoch for an RFC 3339 UTC timestamp as
/// [`rfc3339_millis`] writes it (`Z`, optional fraction of up to 9 digits).
pub fn parse_rfc3339(text: &str) -> Option<u64> {
    let b = text.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u64> {
        let s = text.get(r)?;
        if s.bytes().all(|c| c.is_ascii_digit()) {
            s.parse().ok()
        } else {
            None
        }
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || d == 0 || d > days_in_month(y, mo) || h > 23 || mi > 59 || s > 59
    {
        return None;
    }
    let rest = &text[19..];
    let (frac, zone) = match rest.strip_prefix('.') {
        Some(f) => {
            let n = f.find(|c: char| !c.is_ascii_digit())?;
            if n == 0 || n > 9 {
                return None;
            }
            let digits = &f[..n];
            let ms: u64 = format!("{digits:0<3}")[..3].parse().ok()?;
            (ms, &f[n..])
        }
        None => (0, rest),
    };
    if zone != "Z" {
        return None;
    }
    let days = days_from_civil(y as i64, mo as u32, d as u32);
    let secs = u64::try_from(days).ok()? * 86_400 + h * 3600 + mi * 60 + s;
    Some(secs * 1000 + frac)
}

fn days_in_month(y: u64, m: u64) -> u64 {
    match m {
        2 if (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        assert_eq!(rfc3339_millis(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339_millis(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(
            rfc3339_millis(1_795_293_490_123),
            "2026-11-21T20:38:10.123Z"
        );
        assert_eq!(date(1_656_547_200), "2022-06-30");
    }

    #[test]
    fn parses_what_it_formats() {
        for ms in [0, 951_782_400_000, 1_795_293_490_123, 4_102_444_799_999] {
            assert_eq!(parse_rfc3339(&rfc3339_millis(ms)), Some(ms));
        }
        assert_eq!(
            parse_rfc3339("2026-11-21T20:38:10Z"),
            Some(1_795_293_490_000)
        );
        for bad in [
            "2026-02-30T00:00:00Z",
            "2026-11-21T20:38:10+01:00",
            "2026-11-21 20:38:10Z",
            "x",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }
}
