// Draws the two charts of a `brigade load` report from the JSON in #data, with uPlot.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("data").textContent);
  var width = Math.min(1100, document.body.clientWidth - 40);
  var palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"];

  // Latency over time: p50, p99 and max of the requests due in each second, and the rate sent.
  var t = data.timeline;
  new uPlot({
    width: width, height: 320,
    scales: { x: { time: false }, rate: {} },
    axes: [
      { label: "second of the run (intended start)" },
      { label: "latency (ms)" },
      { scale: "rate", side: 1, label: "requests/s", grid: { show: false } }
    ],
    series: [
      { label: "second" },
      { label: "p50 ms", stroke: palette[0] },
      { label: "p99 ms", stroke: palette[1] },
      { label: "max ms", stroke: "#999", dash: [4, 4] },
      { label: "sent/s", stroke: palette[2], scale: "rate" },
      { label: "not sent/s", stroke: palette[3], scale: "rate" }
    ]
  }, [
    t.map(function (s) { return s.second; }),
    t.map(function (s) { return s.p50_ms; }),
    t.map(function (s) { return s.p99_ms; }),
    t.map(function (s) { return s.max_ms; }),
    t.map(function (s) { return s.sent; }),
    t.map(function (s) { return s.not_sent; })
  ], document.getElementById("over-time"));

  // Latency by percentile: x in "nines" (1 = p90, 2 = p99, 3 = p99.9), one curve per request
  // type and one for all.
  var kinds = data.requests.filter(function (k) { return k.percentiles.length > 0; });
  kinds.push(data.overall);
  var quantiles = data.overall.percentiles.map(function (p) { return p[0]; });
  var nines = quantiles.map(function (q) { return -Math.log10(1 - q); });
  var series = [{ label: "percentile", value: function (u, v) { return v == null ? "" : (100 * (1 - Math.pow(10, -v))).toPrecision(6) + "%"; } }];
  var columns = [nines];
  kinds.forEach(function (k, i) {
    var last = i === kinds.length - 1;
    series.push({ label: k.name, stroke: last ? "#000" : palette[i % palette.length], width: last ? 2 : 1 });
    columns.push(k.percentiles.map(function (p) { return p[1]; }));
  });
  new uPlot({
    width: width, height: 360,
    scales: { x: { time: false } },
    axes: [
      { label: "percentile", splits: function () { return [0, 1, 2, 3, 4, 5]; }, values: function (u, ticks) { return ticks.map(function (v) { return (100 * (1 - Math.pow(10, -v))).toPrecision(5).replace(/\.?0+$/, "") + "%"; }); } },
      { label: "latency (ms)" }
    ],
    series: series
  }, columns, document.getElementById("percentiles"));
})();
