// Indicator charts drawn on a <canvas> (an anywidget ES module; no network). Python sends `panels`
// (sim/view/map_widget.py): a list of {title, unit, series: [{label, points: [[month, value], ...],
// dashed}]} and `months`: the date label of each month. A dashed line is the previous run, for
// comparison; shares are drawn in percent.

const COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"];

function niceTicks(lo, hi, count) {
  if (!(hi > lo)) { hi = lo + 1; }
  const raw = (hi - lo) / count, mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) || raw;
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9; v += step) out.push(v);
  return out;
}

function render({ model, el }) {
  const root = document.createElement("div");
  root.className = "lc-charts";
  const canvas = document.createElement("canvas");
  root.appendChild(canvas);
  el.appendChild(root);

  function draw() {
    const panels = model.get("panels") || [];
    const months = model.get("months") || [];
    const width = model.get("width") || 460, each = 200;
    const ratio = window.devicePixelRatio || 1;
    canvas.width = width * ratio; canvas.height = each * panels.length * ratio;
    canvas.style.width = width + "px"; canvas.style.height = each * panels.length + "px";
    const g = canvas.getContext("2d");
    g.scale(ratio, ratio);
    g.fillStyle = "white"; g.fillRect(0, 0, width, each * panels.length);
    panels.forEach((panel, p) => {
      const top = p * each, left = 56, right = width - 10, plotTop = top + 22, bottom = top + each - 62;
      const pct = panel.unit === "share";
      let lo = Infinity, hi = -Infinity, maxMonth = 1;
      for (const s of panel.series) for (const [m, v] of s.points) {
        if (v === null) continue;
        const y = pct ? 100 * v : v;
        lo = Math.min(lo, y); hi = Math.max(hi, y); maxMonth = Math.max(maxMonth, m);
      }
      g.fillStyle = "#222"; g.font = "bold 12px sans-serif";
      g.fillText(panel.title, left, top + 14);
      if (!isFinite(lo)) {
        g.fillStyle = "#777"; g.font = "12px sans-serif";
        g.fillText("collected at each month's end", left + 40, (plotTop + bottom) / 2);
        return;
      }
      if (pct) { lo = Math.max(0, Math.floor(lo / 10) * 10); hi = Math.min(100, Math.ceil(hi / 10) * 10); }
      if (hi - lo < 1e-9) { hi = lo + 1; }
      const X = (m) => left + (m / maxMonth) * (right - left);
      const Y = (v) => bottom - ((v - lo) / (hi - lo)) * (bottom - plotTop);
      g.strokeStyle = "#ddd"; g.fillStyle = "#555"; g.font = "10px sans-serif"; g.lineWidth = 1;
      for (const t of niceTicks(lo, hi, 4)) {
        g.beginPath(); g.moveTo(left, Y(t)); g.lineTo(right, Y(t)); g.stroke();
        g.fillText(Math.abs(t) >= 1000 ? t.toLocaleString("en") : String(+t.toFixed(2)), 4, Y(t) + 3);
      }
      const every = Math.max(1, Math.ceil(maxMonth / 5));
      for (let m = 0; m <= maxMonth; m += every) {  // month labels, few enough not to overlap
        const label = months[m] || `m${m}`;
        const w = g.measureText(label).width;
        g.fillText(label, Math.min(Math.max(X(m) - w / 2, left - 10), right - w), bottom + 12);
      }
      let key = left, row = 0;
      panel.series.forEach((s, i) => {
        const colour = COLOURS[i % COLOURS.length];
        g.strokeStyle = colour; g.lineWidth = s.dashed ? 1.4 : 2;
        g.setLineDash(s.dashed ? [5, 4] : []);
        g.beginPath();
        let first = true;
        for (const [m, v] of s.points) {
          if (v === null) { first = true; continue; }
          const y = Y(pct ? 100 * v : v);
          if (first) g.moveTo(X(m), y); else g.lineTo(X(m), y);
          first = false;
        }
        g.stroke();
        g.setLineDash([]);
        g.fillStyle = colour;  // a dot per collection: a run of one month is still visible
        for (const [m, v] of s.points) {
          if (v === null) continue;
          g.beginPath(); g.arc(X(m), Y(pct ? 100 * v : v), s.dashed ? 1.8 : 2.4, 0, 2 * Math.PI); g.fill();
        }
        if (!s.dashed) {  // legend rows under the axis
          g.font = "10px sans-serif";
          const w = g.measureText(s.label).width;
          if (key + 13 + w > right && key > left) { key = left; row += 1; }
          g.fillStyle = colour; g.fillRect(key, bottom + 30 + 12 * row, 10, 3);
          g.fillStyle = "#333";
          g.fillText(s.label, key + 13, bottom + 34 + 12 * row);
          key += 13 + w + 10;
        }
      });
      if (panel.series.some((s) => s.dashed)) {
        g.fillStyle = "#555"; g.font = "italic 10px sans-serif";
        g.fillText("dashed: previous run", right - 100, top + 14);
      }
    });
  }
  model.on("change:panels", draw);
  model.on("change:months", draw);
  root.lifecircle = { panels: () => (model.get("panels") || []).length };
  draw();
}

export default { render };
