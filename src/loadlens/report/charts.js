/* loadlens report charts: draws every <figure class="chart"> from the JSON in
   the chart-data script element with uPlot (vendored beside this file). Drag to zoom (x),
   double-click to reset, hover for the values in the legend; time charts share one cursor.
   Stage bands are shaded on the plot; their names sit in a strip above it, each clipped to its
   own band so that no name can overlap another. When done, window.loadlensCharts holds
   {drawn, ms, plots}: how many charts were drawn, when (ms since navigation start), and the
   uPlot instances. */
(function () {
  "use strict";
  var specs = JSON.parse(document.getElementById("chart-data").textContent);
  var BAND_FILL = ["rgba(0,114,178,0.06)", "rgba(230,159,0,0.07)"];
  var SPECTRUM = [[0, "0%"], [1, "90%"], [2, "99%"], [3, "99.9%"], [4, "99.99%"], [5, "99.999%"]];

  function finite(column) {
    var n = 0;
    for (var i = 0; i < column.length; i++) if (column[i] != null) n++;
    return n;
  }

  function yRange(u, min, max) {
    return [0, max > 0 ? max * 1.05 : 1];
  }

  function drawBands(spec) {
    return function (u) {
      var ctx = u.ctx, top = u.bbox.top, height = u.bbox.height;
      ctx.save();
      for (var i = 0; i < spec.bands.length; i++) {
        var b = spec.bands[i];
        var x0 = u.valToPos(b[1], "x", true), x1 = u.valToPos(b[2], "x", true);
        ctx.fillStyle = BAND_FILL[i % 2];
        ctx.fillRect(x0, top, Math.max(x1 - x0, 0), height);
        ctx.fillStyle = "rgba(0,0,0,0.35)";
        ctx.fillRect(Math.round(x0), top, 1, height);
      }
      ctx.restore();
    };
  }

  // Each name is clipped to its band's whole pixels; a band too narrow for a readable name
  // shows none (its full name stays in the title, and on the shaded band when zoomed in).
  var MIN_LABEL_PX = 14;

  function placeStrip(strip, spec) {
    return function (u) {
      var dpr = window.devicePixelRatio || 1;
      var width = u.bbox.width / dpr;
      strip.style.marginLeft = u.bbox.left / dpr + "px";
      strip.style.width = width + "px";
      var lo = u.scales.x.min, hi = u.scales.x.max, span = hi - lo || 1;
      var labels = strip.children;
      for (var i = 0; i < spec.bands.length; i++) {
        var b = spec.bands[i], el = labels[i];
        var left = Math.ceil((width * (Math.max(b[1], lo) - lo)) / span);
        var right = Math.floor((width * (Math.min(b[2], hi) - lo)) / span);
        if (right - left < MIN_LABEL_PX) { el.style.display = "none"; continue; }
        el.style.display = "";
        el.style.left = left + "px";
        el.style.width = right - left + "px";
      }
    };
  }

  function options(spec, figure, width) {
    var series = [{ label: spec.kind === "spectrum" ? "percentile" : "second" }];
    var hasY2 = false;
    spec.series.forEach(function (s, k) {
      if (s.scale === "y2") hasY2 = true;
      series.push({
        label: s.label, stroke: s.stroke, width: 1.5, scale: s.scale,
        dash: s.dash ? [6, 3] : undefined, spanGaps: false,
        points: { show: finite(spec.data[k + 1]) < 60 },
      });
    });
    var axes = [{ label: spec.x }, { label: spec.y, size: 60 }];
    var scales = { x: { time: false }, y: { range: yRange } };
    if (spec.kind === "time" && spec.bands.length) {
      // Unzoomed, the x axis spans every stage (the first starts at 0, its first point is at
      // 1 s); zoomed, it spans what the user chose.
      var xs = spec.data[0], first = xs[0], last = xs[xs.length - 1];
      var lo = Math.min(first, spec.bands[0][1]);
      var hi = Math.max(last, spec.bands[spec.bands.length - 1][2]);
      scales.x.range = function (u, min, max) {
        return min <= first && max >= last ? [lo, hi] : [min, max];
      };
    }
    if (hasY2) {
      axes.push({ label: spec.y2, side: 1, scale: "y2", grid: { show: false }, size: 50 });
      scales.y2 = { range: yRange };
    }
    if (spec.kind === "spectrum") {
      var top = Math.max.apply(null, spec.data[0].concat([2]));
      axes[0].splits = function () {
        return SPECTRUM.filter(function (t) { return t[0] <= top + 1e-9; }).map(function (t) { return t[0]; });
      };
      axes[0].values = function (u, splits) {
        return splits.map(function (v) {
          var hit = SPECTRUM.filter(function (t) { return t[0] === v; })[0];
          return hit ? hit[1] : "";
        });
      };
      series[0].value = function (u, v) {
        return v == null ? "" : (100 * (1 - Math.pow(10, -v))).toPrecision(6) + "%";
      };
    }
    var opts = {
      width: width, height: 260, series: series, axes: axes, scales: scales,
      cursor: { drag: { x: true, y: false }, sync: spec.kind === "time" ? { key: "time" } : undefined },
      legend: { live: true },
      hooks: {},
    };
    if (spec.kind === "time" && spec.bands.length) {
      var strip = figure.querySelector(".stage-strip");
      spec.bands.forEach(function (b) {
        var label = document.createElement("span");
        label.className = "stage-label";
        label.textContent = b[0];
        label.title = "stage " + b[0] + ": " + b[1] + "–" + b[2] + " s";
        strip.appendChild(label);
      });
      opts.hooks.drawClear = [drawBands(spec)];
      opts.hooks.setScale = [function (u, key) { if (key === "x") placeStrip(strip, spec)(u); }];
      opts.hooks.ready = [placeStrip(strip, spec)];
    }
    return opts;
  }

  var drawn = 0, plots = [];
  var figures = document.querySelectorAll("figure.chart[data-spec]");
  for (var i = 0; i < figures.length; i++) {
    var figure = figures[i];
    var spec = specs[+figure.getAttribute("data-spec")];
    var plot = figure.querySelector(".plot");
    var counts = spec.data.slice(1).map(finite);
    figure.setAttribute("data-points", counts.join(","));
    if (!spec.data[0].length || !counts.length) {
      plot.textContent = "no data";
      continue;
    }
    var width = Math.max(plot.clientWidth || 520, 300);
    plots.push(new uPlot(options(spec, figure, width), spec.data, plot));
    figure.setAttribute("data-drawn", "true");
    drawn++;
  }
  window.loadlensCharts = { drawn: drawn, ms: performance.now(), plots: plots };
})();
