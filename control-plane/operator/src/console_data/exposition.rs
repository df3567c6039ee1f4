//! The samples of a Prometheus text exposition (format 0.0.4, what the chassis's `/metrics`
//! serves): `name{label="value",…} value [timestamp]` lines, comments skipped.
//!
//! Written here rather than taken from a crate: the console needs only the samples (not the
//! HELP/TYPE grouping), and the maintained crates for it (`prometheus-parse`) bring regex and
//! chrono along for what is forty lines of scanning.

/// A series' labels, `(name, value)`.
pub type Labels = Vec<(String, String)>;

/// One sample: a series (name and labels, sorted by label name) and its value.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    /// Sorted by name, so that the same series always has the same key.
    pub labels: Labels,
    pub value: f64,
}

impl Sample {
    /// The value of label `name`, if the sample has it.
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A line that is not a sample: which line (from 1) and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct Error {
    pub line: usize,
    pub reason: &'static str,
}

/// Every sample of `text`, in order. One bad line fails the whole text: an instance serving
/// garbage is better skipped for a step than half-read.
pub fn parse(text: &str) -> Result<Vec<Sample>, Error> {
    let mut samples = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let sample = parse_line(line).map_err(|reason| Error {
            line: index + 1,
            reason,
        })?;
        samples.push(sample);
    }
    Ok(samples)
}

fn parse_line(line: &str) -> Result<Sample, &'static str> {
    let name_end = line
        .find(|c: char| c == '{' || c.is_whitespace())
        .ok_or("a sample without a value")?;
    let name = &line[..name_end];
    if !is_metric_name(name) {
        return Err("not a metric name");
    }
    let mut rest = &line[name_end..];
    let mut labels = Vec::new();
    if let Some(inside) = rest.strip_prefix('{') {
        let (parsed, after) = parse_labels(inside)?;
        labels = parsed;
        rest = after;
    }
    // The value, then an optional timestamp we do not need.
    let value_text = rest
        .split_whitespace()
        .next()
        .ok_or("a sample without a value")?;
    let value = parse_value(value_text).ok_or("a value that is not a number")?;
    labels.sort();
    Ok(Sample {
        name: name.to_owned(),
        labels,
        value,
    })
}

fn is_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// The labels after `{`, up to and including `}`; and what follows.
fn parse_labels(mut text: &str) -> Result<(Labels, &str), &'static str> {
    let mut labels = Vec::new();
    loop {
        text = text.trim_start();
        if let Some(after) = text.strip_prefix('}') {
            return Ok((labels, after));
        }
        let eq = text.find('=').ok_or("a label without a value")?;
        let name = text[..eq].trim();
        if !is_metric_name(name) || name.contains(':') {
            return Err("not a label name");
        }
        let quoted = text[eq + 1..]
            .trim_start()
            .strip_prefix('"')
            .ok_or("a label value without quotes")?;
        let (value, after) = unescape_until_quote(quoted)?;
        labels.push((name.to_owned(), value));
        text = after.trim_start();
        text = text.strip_prefix(',').unwrap_or(text);
    }
}

/// A label value up to its closing quote, with `\\`, `\"` and `\n` unescaped; and what follows.
fn unescape_until_quote(text: &str) -> Result<(String, &str), &'static str> {
    let mut value = String::new();
    let mut chars = text.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((value, &text[i + 1..])),
            '\\' => match chars.next() {
                Some((_, 'n')) => value.push('\n'),
                Some((_, escaped)) => value.push(escaped),
                None => break,
            },
            other => value.push(other),
        }
    }
    Err("a label value without its closing quote")
}

fn parse_value(text: &str) -> Option<f64> {
    match text {
        "+Inf" | "Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        "NaN" => Some(f64::NAN),
        _ => text.parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_with_labels_escapes_and_timestamps_are_read() {
        let text = r#"# HELP http_server_requests_total Requests served
# TYPE http_server_requests_total counter
http_server_requests_total{route="/v1/orders",method="POST",status="201"} 12
http_server_request_duration_seconds_bucket{le="+Inf",route="/a \"b\"\\c\nd",method="GET"} 3 1700000000000
http_server_in_flight_requests 2.5
odd_spacing{ a = "1" , b="2", } 1e3
"#;
        let samples = parse(text).unwrap();
        assert_eq!(samples.len(), 4);
        assert_eq!(samples[0].name, "http_server_requests_total");
        assert_eq!(samples[0].label("status"), Some("201"));
        assert_eq!(samples[0].value, 12.0);
        // Labels sorted by name, escapes undone.
        assert_eq!(
            samples[1].labels,
            vec![
                ("le".to_owned(), "+Inf".to_owned()),
                ("method".to_owned(), "GET".to_owned()),
                ("route".to_owned(), "/a \"b\"\\c\nd".to_owned()),
            ]
        );
        assert_eq!(samples[1].value, 3.0);
        assert!(samples[2].labels.is_empty());
        assert_eq!(samples[2].value, 2.5);
        assert_eq!(samples[3].label("a"), Some("1"));
        assert_eq!(samples[3].value, 1000.0);
    }

    #[test]
    fn special_values_are_numbers() {
        let samples = parse("a +Inf\nb -Inf\nc NaN\n").unwrap();
        assert_eq!(samples[0].value, f64::INFINITY);
        assert_eq!(samples[1].value, f64::NEG_INFINITY);
        assert!(samples[2].value.is_nan());
    }

    #[test]
    fn a_broken_line_is_named() {
        for (text, reason) in [
            ("a{b=\"1 2\n", "a label value without its closing quote"),
            ("a{b=\"1\" 2\n", "a label without a value"),
            ("ok 1\n\nno_value\n", "a sample without a value"),
            ("x{a=1} 1\n", "a label value without quotes"),
            ("x twelve\n", "a value that is not a number"),
            ("9x 1\n", "not a metric name"),
        ] {
            let error = parse(text).unwrap_err();
            assert_eq!(error.reason, reason, "{text}");
        }
        assert_eq!(parse("ok 1\n\nno_value\n").unwrap_err().line, 3);
    }

    #[test]
    fn the_chassis_exposition_is_read_whole() {
        let metrics = brigade_chassis::metrics::Metrics::new();
        let route = labels("/v1/x");
        metrics
            .server
            .duration
            .get_or_create(&route)
            .observe(0.003, None, None);
        let samples = parse(&metrics.encode()).unwrap();
        let buckets: Vec<&Sample> = samples
            .iter()
            .filter(|s| s.name == "http_server_request_duration_seconds_bucket")
            .collect();
        assert!(buckets.len() > 10, "{samples:?}");
        assert!(buckets.iter().any(|b| b.label("le") == Some("+Inf")));
    }

    fn labels(route: &str) -> brigade_chassis::metrics::RouteLabels {
        brigade_chassis::metrics::RouteLabels {
            route: route.into(),
            method: "GET",
        }
    }
}
