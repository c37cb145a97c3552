//! Times as seconds since the Unix epoch (UTC), written as Beijing time (`+08:00`), the time
//! zone of the platforms modelled. Civil dates by Howard Hinnant's algorithms.

pub const MINUTE: i64 = 60;
pub const HOUR: i64 = 3_600;
pub const DAY: i64 = 86_400;
/// Beijing time is UTC+8 all year.
pub const CST: i64 = 8 * HOUR;

/// Days since 1970-01-01 of a proleptic Gregorian date.
#[cfg_attr(not(test), allow(dead_code))]
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day number: (year, month 1-12, day 1-31).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

/// The local (Beijing) date of an instant.
pub fn local_date(t: i64) -> (i64, u32, u32) {
    civil_from_days((t + CST).div_euclid(DAY))
}

/// The instant of local midnight starting the local day of `t`.
pub fn local_midnight(t: i64) -> i64 {
    (t + CST).div_euclid(DAY) * DAY - CST
}

/// `YYYYMMDD` of the local date of `t`.
pub fn yyyymmdd(t: i64) -> u32 {
    let (y, m, d) = local_date(t);
    (y as u32) * 10_000 + m * 100 + d
}

/// Appends `n` as exactly `width` decimal digits (zero-padded; `n` must fit).
pub fn push_digits(out: &mut Vec<u8>, mut n: u64, width: usize) {
    let start = out.len();
    out.resize(start + width, b'0');
    for i in (0..width).rev() {
        out[start + i] = b'0' + (n % 10) as u8;
        n /= 10;
    }
}

/// Appends `n` in decimal.
pub fn push_u64(out: &mut Vec<u8>, n: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    let mut n = n;
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

pub fn push_i64(out: &mut Vec<u8>, n: i64) {
    if n < 0 {
        out.push(b'-');
    }
    push_u64(out, n.unsigned_abs());
}

/// The 11 bytes `YYYY-MM-DDT` of the local date of `t`.
pub fn date_prefix(t: i64) -> [u8; 11] {
    let (y, m, d) = local_date(t);
    let mut v = Vec::with_capacity(11);
    push_digits(&mut v, y as u64, 4);
    v.push(b'-');
    push_digits(&mut v, u64::from(m), 2);
    v.push(b'-');
    push_digits(&mut v, u64::from(d), 2);
    v.push(b'T');
    v.try_into().expect("11 bytes")
}

/// Appends `HH:MM:SS+08:00` for `seconds` into a local day (0..86400).
pub fn push_clock(out: &mut Vec<u8>, seconds: i64) {
    let s = seconds as u64;
    push_digits(out, s / 3600, 2);
    out.push(b':');
    push_digits(out, s / 60 % 60, 2);
    out.push(b':');
    push_digits(out, s % 60, 2);
    out.extend_from_slice(b"+08:00");
}

/// Appends `t` as RFC 3339 in Beijing time, e.g. `2024-11-11T00:00:03+08:00`.
pub fn push_time(out: &mut Vec<u8>, t: i64) {
    out.extend_from_slice(&date_prefix(t));
    push_clock(out, (t + CST).rem_euclid(DAY));
}

/// Day of the week of a local day number: 0 Monday ... 6 Sunday (1970-01-01 was a Thursday).
pub fn weekday(local_days: i64) -> u32 {
    (local_days + 3).rem_euclid(7) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip_and_format() {
        for days in [-1000, 0, 1, 19_000, 20_000, 20_404, 30_000] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        // 2024-11-11T00:00:03+08:00 is 2024-11-10T16:00:03Z.
        let t = days_from_civil(2024, 11, 10) * DAY + 16 * HOUR + 3;
        let mut out = Vec::new();
        push_time(&mut out, t);
        assert_eq!(String::from_utf8(out).unwrap(), "2024-11-11T00:00:03+08:00");
        assert_eq!(yyyymmdd(t), 20_241_111);
        assert_eq!(local_midnight(t), t - 3);
        assert_eq!(weekday(days_from_civil(2024, 11, 11)), 0, "2024-11-11 was a Monday");
        let mut out = Vec::new();
        push_digits(&mut out, 42, 7);
        push_u64(&mut out, 0);
        push_i64(&mut out, -17);
        assert_eq!(out, b"00000420-17");
    }
}
