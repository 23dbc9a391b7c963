//! SMI dates (LAST-UPDATED, REVISION): `YYMMDDHHMMZ` (1900s) or `YYYYMMDDHHMMZ`.

/// The date as `YYYY-MM-DD HH:MM` UTC, or `None` when it is not an SMI date.
///
/// Two-digit years are 19YY, as RFC 2578 section 3 says.
pub fn normalize(date: &str) -> Option<String> {
    let body = date.trim().strip_suffix('Z').or_else(|| date.trim().strip_suffix('z'))?;
    if !body.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let full = match body.len() {
        10 => format!("19{body}"),
        12 => body.to_owned(),
        _ => return None,
    };
    let (y, rest) = full.split_at(4);
    let (mo, rest) = rest.split_at(2);
    let (d, rest) = rest.split_at(2);
    let (h, mi) = rest.split_at(2);
    let within = |s: &str, lo: u32, hi: u32| s.parse::<u32>().is_ok_and(|v| (lo..=hi).contains(&v));
    // Calendar exactness (April 31st) is not checked: vendors write such dates and the
    // order of revisions is all that is needed here.
    if !(within(mo, 1, 12) && within(d, 1, 31) && within(h, 0, 23) && within(mi, 0, 59)) {
        return None;
    }
    Some(format!("{y}-{mo}-{d} {h}:{mi}"))
}

/// The newest of several SMI dates (normalized), ignoring those that do not parse.
pub fn newest<'a>(dates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    // Normalized dates sort as strings in time order.
    dates.into_iter().filter_map(normalize).max()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_forms() {
        assert_eq!(normalize("9503300000Z").as_deref(), Some("1995-03-30 00:00"));
        assert_eq!(normalize("202504210000Z").as_deref(), Some("2025-04-21 00:00"));
        // Ten digits are YYMMDDHHMM: month 25 does not exist.
        assert_eq!(normalize("2025042100Z"), None);
        assert_eq!(normalize("200904310000Z").as_deref(), Some("2009-04-31 00:00"));
        assert_eq!(normalize("20250421"), None);
        assert_eq!(normalize("x"), None);
        assert_eq!(normalize(""), None);
    }

    #[test]
    fn newest_wins_across_forms() {
        assert_eq!(
            newest(["9801060000Z", "201604290000Z", "bad", "202504210000Z"]).as_deref(),
            Some("2025-04-21 00:00")
        );
        assert_eq!(newest(["bad"]), None);
    }
}
