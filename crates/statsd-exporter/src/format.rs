//! Prometheus text format details as client_golang writes them: Go's shortest `%g` floats
//! (`1e+06`, `0.001`), label value and help escaping; and the OpenMetrics headers for when
//! the gateway's metrics listener is asked for OpenMetrics.

use std::fmt::Write;

/// Which text exposition to write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TextFormat {
    /// Prometheus text 0.0.4, statsd_exporter's only format.
    Prometheus,
    /// OpenMetrics 1.0.0 families (without the final `# EOF`, which the caller writes).
    OpenMetrics,
}

/// One metric family: its samples are the same in both formats, only the header differs.
pub(crate) struct Rendered {
    pub name: String,
    /// `counter`, `gauge`, `histogram` or `summary`.
    pub kind: &'static str,
    /// Unescaped.
    pub help: String,
    /// The sample lines.
    pub body: String,
}

/// Writes `families` (sorted by name, names unique) in `format`.
///
/// OpenMetrics names a counter family without its `_total` suffix and requires that suffix
/// on every counter sample. A counter whose name has no `_total` (statsd_exporter allows
/// that), or whose stem is another family's name, is written as `unknown` under its full
/// name instead, so the series keeps the name it has in Prometheus text and dashboards see
/// the same series whichever format the scraper negotiated.
pub(crate) fn write_families(families: &[Rendered], format: TextFormat, out: &mut String) {
    let taken = |stem: &str| {
        families
            .binary_search_by(|f| f.name.as_str().cmp(stem))
            .is_ok()
    };
    for f in families {
        let (name, kind) = match (format, f.kind) {
            (TextFormat::OpenMetrics, "counter") => match f.name.strip_suffix("_total") {
                Some(stem) if !stem.is_empty() && !taken(stem) => (stem, "counter"),
                _ => (f.name.as_str(), "unknown"),
            },
            _ => (f.name.as_str(), f.kind),
        };
        out.push_str("# HELP ");
        out.push_str(name);
        out.push(' ');
        match format {
            TextFormat::Prometheus => write_help(out, &f.help),
            // OpenMetrics escapes quotes in HELP too.
            TextFormat::OpenMetrics => write_label_value(out, &f.help),
        }
        let _ = writeln!(out, "\n# TYPE {name} {kind}");
        out.push_str(&f.body);
    }
}

/// Appends `f` as expfmt's `writeFloat` does.
pub fn write_float(out: &mut String, f: f64) {
    if f == 1.0 {
        out.push('1');
    } else if f == 0.0 {
        out.push('0');
    } else if f == -1.0 {
        out.push_str("-1");
    } else if f.is_nan() {
        out.push_str("NaN");
    } else if f == f64::INFINITY {
        out.push_str("+Inf");
    } else if f == f64::NEG_INFINITY {
        out.push_str("-Inf");
    } else {
        write_go_g(out, f);
    }
}

/// `strconv.FormatFloat(f, 'g', -1, 64)` for finite, non-zero `f`.
fn write_go_g(out: &mut String, f: f64) {
    let sci = format!("{:e}", f.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: Vec<u8> = mantissa.bytes().filter(u8::is_ascii_digit).collect();
    let nd = digits.len() as i32;
    if f < 0.0 {
        out.push('-');
    }
    // Go switches to %e when the exponent is < -4 or >= 6 (precision 6 for shortest).
    if !(-4..6).contains(&exp) {
        out.push(char::from(digits.first().copied().unwrap_or(b'0')));
        if nd > 1 {
            out.push('.');
            for d in &digits[1..] {
                out.push(char::from(*d));
            }
        }
        out.push('e');
        out.push(if exp < 0 { '-' } else { '+' });
        let _ = write!(out, "{:02}", exp.abs());
        return;
    }
    // %f with the shortest digits: `dp` digits before the point.
    let dp = exp + 1;
    if dp > 0 {
        for i in 0..dp {
            out.push(digits.get(i as usize).map_or('0', |d| char::from(*d)));
        }
    } else {
        out.push('0');
    }
    let frac = (nd - dp).max(0);
    if frac > 0 {
        out.push('.');
        for i in 0..frac {
            let j = dp + i;
            out.push(if j >= 0 {
                digits.get(j as usize).map_or('0', |d| char::from(*d))
            } else {
                '0'
            });
        }
    }
}

/// Appends a label value with `\`, `"` and newline escaped.
pub fn write_label_value(out: &mut String, v: &str) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// Appends HELP text with `\` and newline escaped.
pub fn write_help(out: &mut String, v: &str) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::write_float;

    fn f(v: f64) -> String {
        let mut s = String::new();
        write_float(&mut s, v);
        s
    }

    #[test]
    fn floats_like_go() {
        for (v, want) in [
            (1.0, "1"),
            (0.0, "0"),
            (-1.0, "-1"),
            (2.0, "2"),
            (0.25, "0.25"),
            (0.005, "0.005"),
            (123456.0, "123456"),
            (1e6, "1e+06"),
            (1234567.0, "1.234567e+06"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.5e-7, "1.5e-07"),
            (-2.5, "-2.5"),
            (100.0, "100"),
            (1e21, "1e+21"),
            (1e100, "1e+100"),
            (0.1 + 0.2, "0.30000000000000004"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
        ] {
            assert_eq!(f(v), want, "{v}");
        }
    }
}
