// Draws the dashboard's charts from the same numbers as its tables (embedded as JSON by the server).
// ECharts is served by this site (/vendor/echarts.min.js, from npm at setup time); without it the tables remain.
(function () {
  if (typeof echarts === "undefined") return;
  var data = JSON.parse(document.getElementById("dashboard-data").textContent);
  var colour = ["#0b6e4f"];
  var t = data.labels;
  function chart(id, option) {
    var el = document.getElementById(id);
    if (!el) return;
    var c = echarts.init(el, null, { renderer: "svg" });
    c.setOption(Object.assign({ color: colour, animation: false, grid: { left: 48, right: 16, top: 24, bottom: 40 }, tooltip: {} }, option));
    window.addEventListener("resize", function () { c.resize(); });
  }
  var open = data.stages.slice(0, 6);
  chart("chart-funnel", {
    xAxis: { type: "category", data: open.map(function (s) { return s.name; }) },
    yAxis: { type: "value", minInterval: 1 },
    series: [{ type: "bar", name: t.deals, data: open.map(function (s) { return s.deals; }), label: { show: true, position: "top" } }]
  });
  chart("chart-months", {
    xAxis: { type: "category", data: data.months.map(function (m) { return m.label; }) },
    yAxis: { type: "value", name: t.unit },
    series: [{ type: "bar", name: t.value, data: data.months.map(function (m) { return m.contract_value_fen / 1000000; }) }]
  });
  var brokers = data.workload.slice(0, 15);
  chart("chart-workload", {
    xAxis: { type: "category", data: brokers.map(function (b) { return b.name || b.broker_id; }), axisLabel: { rotate: 30 } },
    yAxis: { type: "value", minInterval: 1 },
    series: [
      { type: "bar", name: t.open, data: brokers.map(function (b) { return b.open_deals; }) },
      { type: "bar", name: t.overdue, data: brokers.map(function (b) { return b.overdue; }), color: "#b54708" }
    ]
  });
  var m = data.demand_map;
  if (m) {
    var cells = [], max = 0;
    m.cells.forEach(function (row, y) { row.forEach(function (n, x) { cells.push([x, y, n]); if (n > max) max = n; }); });
    chart("chart-map", {
      grid: { left: 80, right: 16, top: 16, bottom: 90 },
      xAxis: { type: "category", data: m.industry_names, axisLabel: { rotate: 40, fontSize: 10 } },
      yAxis: { type: "category", data: m.city_names },
      visualMap: { min: 0, max: Math.max(max, 1), calculable: true, orient: "horizontal", left: "center", bottom: 0, inRange: { color: ["#f0f7f4", "#0b6e4f"] } },
      series: [{ type: "heatmap", data: cells, label: { show: true } }]
    });
  }
})();
