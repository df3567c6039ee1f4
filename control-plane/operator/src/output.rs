//! What `brigade up` writes to its terminal: every child's lines prefixed with its slot
//! (`catalog-1 | …`), and brigade's own progress prefixed with `brigade`, aligned and, on a
//! terminal, coloured per slot.

use std::collections::HashMap;
use std::io::Write;

use brigade_supervisor::Stream;

/// ANSI colours the slots take in turn (cyan, yellow, green, magenta, blue, red).
const COLOURS: &[&str] = &["36", "33", "32", "35", "34", "31"];

/// The prefix of brigade's own lines.
pub const BRIGADE: &str = "brigade";

/// Writes prefixed lines; one write per line, so lines from concurrent children never mix.
#[derive(Debug)]
pub struct Printer {
    width: usize,
    colour: bool,
    colours: HashMap<String, &'static str>,
}

impl Printer {
    /// A printer for these slot names; `colour` adds ANSI colours to the prefixes.
    pub fn new<'a>(slots: impl IntoIterator<Item = &'a str>, colour: bool) -> Printer {
        let mut colours = HashMap::new();
        let mut width = BRIGADE.len();
        for (i, slot) in slots.into_iter().enumerate() {
            width = width.max(slot.len());
            colours.insert(slot.to_owned(), COLOURS[i % COLOURS.len()]);
        }
        Printer {
            width,
            colour,
            colours,
        }
    }

    fn prefix(&self, slot: &str) -> String {
        let padded = format!("{slot:<width$} |", width = self.width);
        if !self.colour {
            return padded;
        }
        match self.colours.get(slot) {
            Some(code) => format!("\x1b[{code}m{padded}\x1b[0m"),
            None => format!("\x1b[1m{padded}\x1b[0m"),
        }
    }

    /// A line a child wrote.
    pub fn child_line(&self, slot: &str, stream: Stream, line: &str) {
        let text = format!("{} {line}\n", self.prefix(slot));
        // A closed terminal or pipe must not bring the control plane down: drop the line.
        let _ = match stream {
            Stream::Stdout => std::io::stdout().lock().write_all(text.as_bytes()),
            Stream::Stderr => std::io::stderr().lock().write_all(text.as_bytes()),
        };
    }

    /// One of brigade's own lines.
    pub fn say(&self, message: impl std::fmt::Display) {
        let text = format!("{} {message}\n", self.prefix(BRIGADE));
        let _ = std::io::stdout().lock().write_all(text.as_bytes());
    }
}

/// Formats a duration for people: `850 ms`, `1.24 s`, `3m05s`, `2h10m`.
pub fn human_duration(d: std::time::Duration) -> String {
    let ms = d.as_millis();
    let s = d.as_secs();
    if ms < 1000 {
        format!("{ms} ms")
    } else if s < 60 {
        format!("{:.2} s", d.as_secs_f64())
    } else if s < 3600 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else if s < 86_400 {
        format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
    } else {
        format!("{}d{:02}h", s / 86_400, (s % 86_400) / 3600)
    }
}

/// Formats a byte count for people: `14.2 MiB`.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: &[&str] = &["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn prefixes_are_aligned() {
        let printer = Printer::new(["catalog-1", "gateway-1"], false);
        assert_eq!(printer.prefix("catalog-1"), "catalog-1 |");
        assert_eq!(printer.prefix(BRIGADE), "brigade   |");
    }

    #[test]
    fn durations_and_sizes_read_well() {
        assert_eq!(human_duration(Duration::from_millis(850)), "850 ms");
        assert_eq!(human_duration(Duration::from_millis(1240)), "1.24 s");
        assert_eq!(human_duration(Duration::from_secs(185)), "3m05s");
        assert_eq!(human_duration(Duration::from_secs(7800)), "2h10m");
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(14_890_000), "14.2 MiB");
    }
}
