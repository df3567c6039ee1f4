//! `brigade load --report FILE`: one self-contained HTML page (no network needed to open it)
//! with the run's table, its thresholds, latency over time and the percentile curves, drawn by
//! uPlot. uPlot's files are the console's vendored copy (see
//! `control-plane/operator/src/console/assets/vendor/VENDORED.md`), inlined here rather than
//! copied a second time.

use std::fmt::Write as _;

use super::report::Summary;

const UPLOT_JS: &str =
    include_str!("../../../operator/src/console/assets/vendor/uplot/uPlot.iife.min.js");
const UPLOT_CSS: &str =
    include_str!("../../../operator/src/console/assets/vendor/uplot/uPlot.min.css");
const UPLOT_LICENSE: &str =
    include_str!("../../../operator/src/console/assets/vendor/uplot/LICENSE");
const CHARTS_JS: &str = include_str!("report.js");

/// The report page of `summary`.
pub fn render(summary: &Summary) -> String {
    // `<` escaped so that no string in the data can close the script element.
    let data = serde_json::to_string(summary)
        .unwrap_or_else(|_| "null".to_owned())
        .replace('<', "\\u003c");
    let mut page = String::with_capacity(UPLOT_JS.len() + data.len() + 8192);
    let title = format!("brigade load: {} at {}", summary.mix, summary.target);
    let _ = write!(
        page,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>{title}</title>\n<style>{UPLOT_CSS}\n{STYLE}</style></head><body>\n\
         <h1>{title}</h1>\n<p>{schedule}; at most {in_flight} in flight; {elapsed:.1} s.</p>\n",
        title = escape(&title),
        schedule = escape(&schedule_text(summary)),
        in_flight = summary.max_in_flight,
        elapsed = summary.elapsed_seconds,
    );
    for line in [summary.stopped_early(), summary.shared_shoppers()]
        .into_iter()
        .flatten()
    {
        let _ = writeln!(page, "<p class=\"failed\">{}</p>", escape(&line));
    }
    thresholds(&mut page, summary);
    table(&mut page, summary);
    cpu(&mut page, summary);
    page.push_str(
        "<h2>Latency over time (by intended start)</h2><div id=\"over-time\"></div>\n\
         <h2>Latency by percentile</h2><div id=\"percentiles\"></div>\n",
    );
    let _ = write!(
        page,
        "<script type=\"application/json\" id=\"data\">{data}</script>\n\
         <script>/* uPlot, MIT licence:\n{license}*/\n{UPLOT_JS}</script>\n\
         <script>{CHARTS_JS}</script>\n</body></html>\n",
        license = UPLOT_LICENSE.replace("*/", "* /"),
    );
    page
}

const STYLE: &str = "body{font:14px system-ui,sans-serif;margin:2em;color:#222}\
table{border-collapse:collapse}td,th{padding:.2em .7em;text-align:right;border-bottom:1px solid #ddd}\
td:first-child,th:first-child,td:last-child,th:last-child{text-align:left}.held{color:#176b2c}.failed{color:#b00020;font-weight:bold}";

fn schedule_text(summary: &Summary) -> String {
    let stages: Vec<String> = summary
        .schedule
        .stages
        .iter()
        .filter(|s| !s.duration.is_zero())
        .map(ToString::to_string)
        .collect();
    format!(
        "{:?} arrivals, stages {}",
        summary.schedule.arrivals,
        stages.join(" then ")
    )
}

fn thresholds(page: &mut String, summary: &Summary) {
    if summary.thresholds.is_empty() {
        return;
    }
    page.push_str("<ul>");
    for verdict in &summary.thresholds {
        let class = if verdict.holds { "held" } else { "failed" };
        let _ = write!(
            page,
            "<li class=\"{class}\">{}</li>",
            escape(&verdict.to_string())
        );
    }
    page.push_str("</ul>\n");
}

fn table(page: &mut String, summary: &Summary) {
    page.push_str(
        "<table><tr><th>request</th><th>sent</th><th>not sent</th><th>rate/s</th>\
         <th>errors</th><th>p50 ms</th><th>p90 ms</th><th>p99 ms</th><th>p99.9 ms</th>\
         <th>max ms</th><th>answers</th></tr>\n",
    );
    for kind in summary.rows() {
        let l = kind.latency_ms;
        let _ = writeln!(
            page,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{:.1}</td><td>{}</td><td>{:.2}</td>\
             <td>{:.2}</td><td>{:.2}</td><td>{:.2}</td><td>{:.2}</td><td>{}</td></tr>",
            escape(&kind.name),
            kind.sent,
            kind.not_sent,
            kind.rate,
            kind.errors,
            l.p50,
            l.p90,
            l.p99,
            l.p99_9,
            l.max,
            escape(&kind.answers())
        );
    }
    page.push_str("</table>\n");
}

/// What the services spent in CPU, per request and per service.
fn cpu(page: &mut String, summary: &Summary) {
    let Some(cpu) = &summary.cpu else {
        return;
    };
    let _ = write!(
        page,
        "<h2>CPU</h2>\n<p><strong>{:.0} requests per service-core</strong>, {:.2} ms of service \
         CPU per request: the instances spent {:.1} CPU seconds ({:.2} cores) over the run",
        cpu.requests_per_service_core,
        cpu.cpu_ms_per_request,
        cpu.services_cpu_seconds,
        cpu.services_cores,
    );
    if let Some(control) = cpu.control_plane_cpu_seconds {
        let _ = write!(page, "; the control plane {control:.1} s");
    }
    let _ = write!(
        page,
        "; the load generator {:.1} s.</p>\n<table><tr><th>service</th><th>instances</th>\
         <th>CPU s</th><th>cores</th><th>ms CPU per request</th></tr>\n",
        cpu.generator_cpu_seconds
    );
    for service in &cpu.services {
        let _ = writeln!(
            page,
            "<tr><td>{}</td><td>{}</td><td>{:.2}</td><td>{:.2}</td><td>{:.3}</td></tr>",
            escape(&service.name),
            service.instances,
            service.cpu_seconds,
            service.cores,
            service.cpu_ms_per_request
        );
    }
    page.push_str("</table>\n");
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::super::report::tests::sample;
    use super::super::thresholds::Thresholds;
    use super::*;

    #[test]
    fn the_report_is_one_page_with_the_data_the_charts_and_the_table() {
        let mut summary = sample();
        summary.thresholds = Thresholds {
            max_p99: Some(std::time::Duration::from_millis(50)),
            max_error_rate: None,
        }
        .evaluate(&summary);
        summary.requests[0].name = "<b>browse</b>".to_owned();
        let page = render(&summary);
        assert!(page.starts_with("<!doctype html>"));
        // Self-contained: uPlot inline, nothing fetched.
        assert!(page.contains("var uPlot="));
        assert!(!page.contains("src=\"http"));
        assert!(!page.contains("<link"));
        // The data the charts draw, as JSON that parses back.
        let start = page.find("id=\"data\">").unwrap() + "id=\"data\">".len();
        let end = start + page[start..].find("</script>").unwrap();
        let data: serde_json::Value = serde_json::from_str(&page[start..end]).unwrap();
        assert_eq!(data["overall"]["sent"], 110);
        assert_eq!(data["timeline"].as_array().unwrap().len(), 2);
        assert_eq!(data["requests"][0]["name"], "<b>browse</b>");
        // The table, with names escaped, and the failed threshold.
        assert!(page.contains("<td>&lt;b&gt;browse&lt;/b&gt;</td><td>100</td>"));
        assert!(page.contains("<li class=\"failed\">threshold FAILED: p99"));
        assert!(page.contains("id=\"over-time\"") && page.contains("id=\"percentiles\""));
        assert!(!page.contains("<h2>CPU</h2>"));
    }

    #[test]
    fn the_report_shows_requests_per_service_core() {
        let mut summary = sample();
        summary.cpu = Some(super::super::cpu::tests::sample());
        let page = render(&summary);
        assert!(page.contains("<strong>333 requests per service-core</strong>"));
        assert!(page.contains(
            "<tr><td>catalog</td><td>2</td><td>2.00</td><td>0.50</td><td>2.000</td></tr>"
        ));
    }
}
