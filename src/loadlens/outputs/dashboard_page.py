"""The live dashboard's page: one self-contained HTML file (no CDN, no fonts: the machines it
runs on are often offline). A few lines of JavaScript read `/events` (Server-Sent Events) and
fill the page; two canvas line charts keep the last ten minutes of throughput and latency.
The state's fields are `dashboard_state`'s (docs/outputs.md lists them)."""

from __future__ import annotations

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>loadlens live</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:1.2em auto;max-width:70em;padding:0 1em;
color:#1d2330;background:#fbfbfd}
h1{font-size:1.3em;margin:0 0 .2em}h2{font-size:1em;margin:1.2em 0 .4em}
.muted{color:#667}.tiles{display:flex;flex-wrap:wrap;gap:.6em}
.tile{background:#fff;border:1px solid #dde;border-radius:6px;padding:.5em .8em;min-width:7em}
.tile b{display:block;font-size:1.5em;font-variant-numeric:tabular-nums}
table{border-collapse:collapse;background:#fff}td,th{border:1px solid #dde;padding:.2em .6em}
td.n{text-align:right;font-variant-numeric:tabular-nums}
.bar{height:.7em;background:#e4e6ee;border-radius:4px;overflow:hidden;max-width:40em}
.bar div{height:100%;background:#4a6fd8;width:0}
.stages span{margin-right:1em}.done{color:#2a7a3a}.running{font-weight:bold}
.pending{color:#889}.passed{color:#2a7a3a}.failed{color:#b3261e;font-weight:bold}
.insufficient,.not_available{color:#889}.uncertain{color:#a26b00}
canvas{background:#fff;border:1px solid #dde;border-radius:6px;width:100%;height:160px}
.charts{display:grid;grid-template-columns:1fr 1fr;gap:.8em}
#report{display:none;background:#eef6ee;border:1px solid #9c9;padding:.5em .8em;margin:.8em 0}
</style></head>
<body data-seq="0">
<h1>loadlens live <span id="scenario" class="muted"></span></h1>
<div class="muted"><span id="target"></span> &middot; run <span id="run-id"></span>
&middot; <span id="status">connecting&hellip;</span></div>
<div id="report">The run is over. <a id="report-link" href="report">Open report.html</a>
(served while the run's process is up; on disk: <code id="report-path"></code>)</div>
<h2>Stage <span id="stage"></span> <span id="load" class="muted"></span></h2>
<div class="bar"><div id="progress"></div></div>
<div class="muted"><span id="stage-time"></span> &middot; run ETA <span id="eta"></span></div>
<div class="stages" id="stages"></div>
<div class="tiles" style="margin-top:.8em">
<div class="tile">req/s<b id="rps">&ndash;</b></div>
<div class="tile">requests<b id="count">&ndash;</b></div>
<div class="tile">p50 ms<b id="p50">&ndash;</b></div>
<div class="tile">p95 ms<b id="p95">&ndash;</b></div>
<div class="tile">p99 ms<b id="p99">&ndash;</b></div>
<div class="tile">errors<b id="error-rate">&ndash;</b></div>
<div class="tile">users<b id="users">&ndash;</b></div>
<div class="tile">in flight<b id="in-flight">&ndash;</b></div>
</div>
<div class="charts"><div><h2>Throughput (req/s)</h2><canvas id="rps-chart"></canvas></div>
<div><h2>Latency of the stage so far (ms): p50, p95, p99</h2>
<canvas id="latency-chart"></canvas></div></div>
<h2>Gates</h2><table><thead><tr><th>gate</th><th>state</th><th>measured</th></tr></thead>
<tbody id="gates"></tbody></table>
<h2>Errors by kind</h2><table><thead><tr><th>outcome</th><th>count</th></tr></thead>
<tbody id="errors"></tbody></table>
<h2>Operations</h2><table><thead><tr><th>operation</th><th>req/s</th><th>count</th>
<th>p50 ms</th><th>p95 ms</th><th>p99 ms</th><th>errors</th></tr></thead>
<tbody id="ops"></tbody></table>
<script>
"use strict";
const KEEP = 600, points = [];
const $ = (id) => document.getElementById(id);
const fmt = (v, d) => v === null || v === undefined ? "\\u2013" :
  Number(v).toLocaleString("en", {maximumFractionDigits: d});
const pct = (v) => v === null || v === undefined ? "\\u2013" : (100 * v).toFixed(2) + " %";
const dur = (s) => s >= 60
  ? Math.floor(s / 60) + "m" + String(Math.round(s % 60)).padStart(2, "0") + "s"
  : Math.round(s) + "s";
function rows(body, list) {
  body.replaceChildren(...list.map((cells) => {
    const tr = document.createElement("tr");
    for (const [text, cls] of cells) {
      const td = document.createElement("td");
      td.textContent = text; if (cls) td.className = cls; tr.append(td);
    }
    return tr;
  }));
}
function chart(canvas, series, colors) {
  const w = canvas.width = canvas.clientWidth, h = canvas.height = canvas.clientHeight;
  const g = canvas.getContext("2d"); g.clearRect(0, 0, w, h);
  const all = series.flat().filter((v) => v !== null);
  const top = Math.max(1e-9, ...all) * 1.1, n = Math.max(2, series[0].length);
  g.fillStyle = "#667"; g.font = "11px sans-serif"; g.fillText(fmt(top, 2), 4, 12);
  series.forEach((values, i) => {
    g.strokeStyle = colors[i]; g.lineWidth = 1.5; g.beginPath();
    values.forEach((v, x) => {
      if (v === null) return;
      const px = x / (n - 1) * (w - 8) + 4, py = h - 4 - v / top * (h - 20);
      x ? g.lineTo(px, py) : g.moveTo(px, py);
    });
    g.stroke();
  });
}
function show(s) {
  document.body.dataset.seq = String(Number(document.body.dataset.seq) + 1);
  $("scenario").textContent = s.run.scenario; $("target").textContent = s.run.target;
  $("run-id").textContent = s.run.id || "\\u2013";
  $("status").textContent = s.finished ? "finished" : "live, run time " + dur(s.run.elapsed_s);
  const st = s.stage, t = s.total;
  if (st) {
    $("stage").textContent = st.name;
    $("load").textContent = st.load.model === "open" ? "rate " + fmt(st.load.rate, 2) + "/s"
      : st.load.users ? "users " + fmt(st.users, 0) + "/" + st.load.users : "";
    const done = s.plan.stages.some((p) => p.name === st.name && p.state === "done");
    const share = done ? 1 : st.length_s > 0 ? Math.min(1, st.elapsed_s / st.length_s) : 0;
    $("progress").style.width = (100 * share).toFixed(1) + "%";
    $("stage-time").textContent = dur(st.elapsed_s) + " / " + (st.counted ? "at most " : "")
      + dur(st.length_s);
    $("users").textContent = fmt(st.users, 0); $("in-flight").textContent = fmt(st.in_flight, 0);
  }
  $("eta").textContent = s.finished ? "done"
    : (s.plan.eta_is_limit ? "at most " : "") + dur(s.plan.eta_s);
  $("stages").replaceChildren(...s.plan.stages.map((p) => {
    const span = document.createElement("span"); span.className = p.state;
    span.textContent = p.name + " (" + p.state + ")"; return span;
  }));
  if (t) {
    $("rps").textContent = fmt(t.rps, 1); $("count").textContent = fmt(t.count, 0);
    $("p50").textContent = fmt(t.p50_ms, 2); $("p95").textContent = fmt(t.p95_ms, 2);
    $("p99").textContent = fmt(t.p99_ms, 2); $("error-rate").textContent = pct(t.error_rate);
    if (!s.finished) points.push([t.rps, t.p50_ms, t.p95_ms, t.p99_ms]);
    if (points.length > KEEP) points.shift();
  }
  rows($("gates"), s.gates.map((g) => [[g.gate + (g.default ? " (default)" : "")],
    [g.status.replace("_", " "), g.status], [g.measured || "\\u2013"]]));
  const errors = Object.entries(s.errors);
  rows($("errors"), errors.length ? errors.map(([k, n]) => [[k], [fmt(n, 0), "n"]])
    : [[["none so far"], ["0", "n"]]]);
  rows($("ops"), s.ops.map((o) => [[o.name], [fmt(o.rps, 1), "n"], [fmt(o.count, 0), "n"],
    [fmt(o.p50_ms, 2), "n"], [fmt(o.p95_ms, 2), "n"], [fmt(o.p99_ms, 2), "n"],
    [pct(o.error_rate), "n"]]));
  chart($("rps-chart"), [points.map((p) => p[0])], ["#4a6fd8"]);
  chart($("latency-chart"), [1, 2, 3].map((i) => points.map((p) => p[i])),
    ["#2a7a3a", "#a26b00", "#b3261e"]);
  if (s.report) {
    $("report").style.display = "block"; $("report-path").textContent = s.report.path;
  }
}
function listen() {
  const events = new EventSource("events");
  events.addEventListener("state", (e) => {
    const s = JSON.parse(e.data); show(s); if (s.finished) events.close();
  });
  events.onerror = () => { $("status").textContent = "disconnected (the run has ended?)"; };
}
// a page opened late draws the points so far, then follows the stream
fetch("history").then((r) => r.json()).then((past) => {
  for (const p of past.slice(0, -1)) points.push(p.slice(1));
}).catch(() => {}).finally(listen);
</script></body></html>
"""
