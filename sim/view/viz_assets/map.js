// The life-circle map, drawn on a <canvas> in the browser (an anywidget ES module; no network).
// Python sends three things (sim/view/map_widget.py): `base` (street nodes, edges, residents per node:
// sent once per district), `layers` (coverage per node, outlets and their state, lockers; sent
// when they change) and `legs` (the shown day's trips: each agent's nodes and the minute it reaches
// each). This module interpolates each moving agent along its path, so a day plays smoothly while
// the server does nothing. `el.lifecircle.markers()` returns the moving markers' positions (tests).

const STATE_COLOURS = ["#1f3a93", "#27ae60", "#e67e22", "#c0392b", "#7f8c8d"]; // open new struggling closing closed
const LEG_COLOURS = ["#2266dd", "#16a085", "#f39c12", "#8e44ad"]; // resident, locker, courier, vendor

function coverageColour(share) {  // red (0) - yellow (0.5) - green (1)
  const s = Math.max(0, Math.min(1, share));
  const r = s < 0.5 ? 215 : Math.round(215 - (s - 0.5) * 2 * 189);
  const g = s < 0.5 ? Math.round(48 + s * 2 * 168) : Math.round(216 - (s - 0.5) * 2 * 66);
  const b = s < 0.5 ? 39 : Math.round(39 + (s - 0.5) * 2 * 41);
  return `rgb(${r},${g},${b})`;
}

function render({ model, el }) {
  const root = document.createElement("div");
  root.className = "lc-map";
  root.style.position = "relative";
  const canvas = document.createElement("canvas");
  const legend = document.createElement("div");
  legend.className = "lc-map-legend";
  legend.style.cssText = "font: 12px sans-serif; color: #333; margin-top: 4px; line-height: 1.6";
  root.appendChild(canvas);
  root.appendChild(legend);
  el.appendChild(root);

  let scale = 1, ox = 0, oy = 0, cssSize = 600;
  let baseLayer = null;     // offscreen canvas: streets
  let staticLayer = null;   // offscreen canvas: homes, outlets, lockers
  let markers = [];         // current moving markers [{x, y, kind}]
  let clock = { start: performance.now(), length: 1 };
  let frames = 0;

  function size() {
    cssSize = model.get("size") || 600;
    const ratio = window.devicePixelRatio || 1;
    canvas.width = cssSize * ratio;
    canvas.height = cssSize * ratio;
    canvas.style.width = cssSize + "px";
    canvas.style.height = cssSize + "px";
    return ratio;
  }

  function fit(base) {
    const xs = base.x, ys = base.y;
    let minx = Infinity, maxx = -Infinity, miny = Infinity, maxy = -Infinity;
    for (let i = 0; i < xs.length; i++) {
      if (xs[i] < minx) minx = xs[i]; if (xs[i] > maxx) maxx = xs[i];
      if (ys[i] < miny) miny = ys[i]; if (ys[i] > maxy) maxy = ys[i];
    }
    const span = Math.max(maxx - minx, maxy - miny, 1);
    const ratio = window.devicePixelRatio || 1;
    scale = (cssSize - 24) * ratio / span;
    ox = 12 * ratio - minx * scale + ((span - (maxx - minx)) * scale) / 2;
    oy = 12 * ratio + maxy * scale + ((span - (maxy - miny)) * scale) / 2;
  }
  const px = (x) => ox + x * scale;
  const py = (y) => oy - y * scale;

  function drawBase() {
    const base = model.get("base");
    if (!base || !base.x) return;
    const ratio = size();
    fit(base);
    baseLayer = document.createElement("canvas");
    baseLayer.width = canvas.width; baseLayer.height = canvas.height;
    const g = baseLayer.getContext("2d");
    g.fillStyle = "#fbfbf8"; g.fillRect(0, 0, baseLayer.width, baseLayer.height);
    g.strokeStyle = "#c9c9c9"; g.lineWidth = 1.2 * ratio;
    g.beginPath();
    const e = base.edges;
    for (let i = 0; i < e.length; i += 2) {
      g.moveTo(px(base.x[e[i]]), py(base.y[e[i]]));
      g.lineTo(px(base.x[e[i + 1]]), py(base.y[e[i + 1]]));
    }
    g.stroke();
    if (base.attribution) {
      g.fillStyle = "#555"; g.font = `${10 * ratio}px sans-serif`;
      g.fillText(base.attribution, 6 * ratio, baseLayer.height - 6 * ratio);
    }
    drawLayers();
  }

  function marker(g, shape, x, y, r) {
    g.beginPath();
    if (shape === "square") g.rect(x - r, y - r, 2 * r, 2 * r);
    else if (shape === "triangle") { g.moveTo(x, y - r * 1.2); g.lineTo(x + r * 1.1, y + r * 0.8); g.lineTo(x - r * 1.1, y + r * 0.8); g.closePath(); }
    else if (shape === "diamond") { g.moveTo(x, y - r * 1.3); g.lineTo(x + r * 1.1, y); g.lineTo(x, y + r * 1.3); g.lineTo(x - r * 1.1, y); g.closePath(); }
    else g.arc(x, y, r, 0, 2 * Math.PI);
  }

  function drawLayers() {
    const base = model.get("base"), layers = model.get("layers");
    if (!baseLayer || !layers || !layers.coverage) return;
    const ratio = window.devicePixelRatio || 1;
    staticLayer = document.createElement("canvas");
    staticLayer.width = canvas.width; staticLayer.height = canvas.height;
    const g = staticLayer.getContext("2d");
    g.drawImage(baseLayer, 0, 0);
    const share = layers.mode === "effective" && layers.effective ? layers.effective : layers.coverage;
    const prev = layers.previous;
    const most = Math.max(1, ...base.residents);
    for (let v = 0; v < base.x.length; v++) {
      if (!(base.residents[v] > 0) || share[v] === null) continue;
      const r = (2.2 + 5 * Math.sqrt(base.residents[v] / most)) * ratio;
      if (prev && prev[v] !== null && prev[v] !== undefined) {  // previous run: an outer ring
        g.lineWidth = 2.2 * ratio; g.strokeStyle = coverageColour(prev[v]);
        marker(g, "circle", px(base.x[v]), py(base.y[v]), r + 2.4 * ratio); g.stroke();
      }
      g.fillStyle = coverageColour(share[v]);
      marker(g, "circle", px(base.x[v]), py(base.y[v]), r); g.fill();
    }
    const o = layers.outlets || { node: [] };
    for (let i = 0; i < o.node.length; i++) {
      const x = px(base.x[o.node[i]]) + (o.dx ? o.dx[i] * ratio : 0), y = py(base.y[o.node[i]]) + (o.dy ? o.dy[i] * ratio : 0);
      const shape = o.mobile[i] ? "diamond" : (o.basic[i] ? "square" : "triangle");
      const colour = STATE_COLOURS[o.state[i]];
      marker(g, shape, x, y, 3.2 * ratio);
      if (o.synth[i]) { g.lineWidth = 1.3 * ratio; g.strokeStyle = colour; g.stroke(); }
      else { g.fillStyle = colour; g.fill(); }
    }
    for (const [list, colour] of [[layers.lockers || [], "#16a085"], [layers.vending || [], "#2c3e50"]]) {
      g.fillStyle = colour;
      for (const v of list) { g.fillRect(px(base.x[v]) - 2 * ratio, py(base.y[v]) - 2 * ratio, 4 * ratio, 4 * ratio); }
    }
    if (layers.star >= 0) {
      g.fillStyle = "gold"; g.strokeStyle = "black"; g.lineWidth = ratio;
      star(g, px(base.x[layers.star]), py(base.y[layers.star]), 9 * ratio);
    }
    legend.innerHTML = layers.legend || "";
  }

  function star(g, x, y, r) {
    g.beginPath();
    for (let k = 0; k < 10; k++) {
      const a = -Math.PI / 2 + (k * Math.PI) / 5, rr = k % 2 ? r * 0.45 : r;
      g.lineTo(x + rr * Math.cos(a), y + rr * Math.sin(a));
    }
    g.closePath(); g.fill(); g.stroke();
  }

  function restartClock() {
    const legs = model.get("legs") || {};
    clock = { start: performance.now(), length: Math.max(legs.length || 1, 1) };
  }

  function positions(now) {
    const base = model.get("base"), legs = model.get("legs");
    const out = [];
    if (!base || !legs || !legs.kind) return out;
    const duration = Math.max(model.get("play_ms") || 2000, 100);
    const minute = (((now - clock.start) % duration) / duration) * clock.length;  // the day replays until the next
    for (let k = 0; k < legs.kind.length; k++) {
      const a = legs.offset[k], b = legs.offset[k + 1];
      const t = legs.minutes;
      if (minute < t[a] || minute > t[b - 1]) continue;
      let j = a;
      while (j < b - 1 && t[j + 1] <= minute) j++;
      const n0 = legs.nodes[j], n1 = legs.nodes[Math.min(j + 1, b - 1)];
      const span = j + 1 < b ? t[j + 1] - t[j] : 1;
      const f = span > 0 ? Math.min(1, (minute - t[j]) / span) : 1;
      out.push({ x: base.x[n0] + f * (base.x[n1] - base.x[n0]), y: base.y[n0] + f * (base.y[n1] - base.y[n0]),
                 kind: legs.kind[k], agent: legs.agent[k] });
    }
    return out;
  }

  function frame(now) {
    if (!root.isConnected) return;  // the widget was removed
    const g = canvas.getContext("2d");
    const ratio = window.devicePixelRatio || 1;
    if (staticLayer) g.drawImage(staticLayer, 0, 0);
    markers = positions(now);
    for (const m of markers) {
      g.fillStyle = LEG_COLOURS[m.kind];
      g.strokeStyle = "white"; g.lineWidth = ratio;
      marker(g, m.kind === 2 ? "diamond" : "circle", px(m.x), py(m.y), (m.kind === 3 ? 5 : 3.4) * ratio);
      g.fill(); g.stroke();
    }
    frames++;
    requestAnimationFrame(frame);
  }

  model.on("change:base", drawBase);
  model.on("change:size", drawBase);
  model.on("change:layers", drawLayers);
  model.on("change:legs", restartClock);
  root.lifecircle = {
    markers: () => markers.map((m) => [m.x, m.y, m.kind]),
    frames: () => frames,
    day: () => (model.get("legs") || {}).day,
  };
  drawBase();
  restartClock();
  requestAnimationFrame(frame);
}

export default { render };
