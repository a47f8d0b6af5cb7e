// The progress chart as inline SVG: val_bpb per experiment, the running best as a step line,
// kept experiments labelled, crashes in a strip of their own (they have no val_bpb).
"use strict";

const SVG_NS = "http://www.w3.org/2000/svg";

function svgEl(name, attrs, parent) {
  const el = document.createElementNS(SVG_NS, name);
  for (const [key, value] of Object.entries(attrs || {})) el.setAttribute(key, value);
  if (parent) parent.appendChild(el);
  return el;
}

function niceTicks(lo, hi, count) {
  const span = hi - lo || 1;
  const raw = span / count;
  const power = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw) || raw;
  const ticks = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) ticks.push(+t.toFixed(10));
  return ticks;
}

function shorten(text, max) {
  return text.length > max ? text.slice(0, max - 1) + "…" : text;
}

// points: [{number, experiment_id, status, val_bpb, best, description, runs}], onPick(experiment_id)
function drawProgressChart(svg, points, onPick) {
  const width = Math.max(svg.parentElement.clientWidth, 320);
  const height = 340;
  const margin = { left: 64, right: 24, top: 16, bottom: 64 };
  const stripHeight = 22;
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("width", width);
  svg.setAttribute("height", height);
  svg.replaceChildren();
  const plotBottom = height - margin.bottom - stripHeight - 8;
  if (!points.length) {
    svgEl("text", { x: width / 2, y: height / 2, "text-anchor": "middle", class: "chart-empty" }, svg).textContent =
      "no experiment decided yet";
    return;
  }
  const scored = points.filter((p) => p.val_bpb !== null && p.status !== "crash");
  const values = scored.map((p) => p.val_bpb);
  let lo = values.length ? Math.min(...values) : 0;
  let hi = values.length ? Math.max(...values) : 1;
  const pad = (hi - lo || Math.abs(hi) * 0.01 || 0.01) * 0.12;
  lo -= pad;
  hi += pad;
  const maxNumber = Math.max(...points.map((p) => p.number), 1);
  const x = (n) => margin.left + (n / maxNumber) * (width - margin.left - margin.right);
  const y = (v) => margin.top + (1 - (v - lo) / (hi - lo)) * (plotBottom - margin.top);

  const axes = svgEl("g", { class: "axes" }, svg);
  for (const tick of niceTicks(lo, hi, 5)) {
    svgEl("line", { x1: margin.left, x2: width - margin.right, y1: y(tick), y2: y(tick), class: "grid" }, axes);
    svgEl("text", { x: margin.left - 6, y: y(tick) + 4, "text-anchor": "end" }, axes).textContent = tick.toFixed(4);
  }
  for (const tick of niceTicks(0, maxNumber, Math.min(maxNumber, 10)).filter(Number.isInteger)) {
    svgEl("line", { x1: x(tick), x2: x(tick), y1: margin.top, y2: height - margin.bottom, class: "grid" }, axes);
    svgEl("text", { x: x(tick), y: height - margin.bottom + 16, "text-anchor": "middle" }, axes).textContent = tick;
  }
  svgEl("text", { x: (margin.left + width - margin.right) / 2, y: height - 18, "text-anchor": "middle", class: "axis-title" }, axes)
    .textContent = "experiment #";
  const stripY = plotBottom + 8 + stripHeight / 2;
  svgEl("line", { x1: margin.left, x2: width - margin.right, y1: plotBottom + 4, y2: plotBottom + 4, class: "strip-rule" }, axes);
  svgEl("text", { x: margin.left - 6, y: stripY + 4, "text-anchor": "end", class: "crash-label" }, axes).textContent = "crash";

  const best = points.filter((p) => p.best !== null);
  if (best.length) {
    let d = "";
    best.forEach((p, i) => {
      d += i === 0 ? `M${x(p.number)},${y(p.best)}` : `H${x(p.number)}V${y(p.best)}`;
    });
    d += `H${x(maxNumber)}`;
    svgEl("path", { d, class: "best-line" }, svg);
  }
  const marks = svgEl("g", { class: "marks" }, svg);
  const hover = (el, p) => {
    const value = p.val_bpb === null ? "no val_bpb" : p.val_bpb.toFixed(6) + (p.runs > 1 ? ` (${p.runs} runs)` : "");
    svgEl("title", {}, el).textContent = `#${p.number} ${p.experiment_id} ${p.status} ${value}\n${p.description}`;
    el.addEventListener("click", () => onPick && onPick(p.experiment_id));
  };
  for (const p of points) {
    if (p.status === "crash" || p.val_bpb === null) {
      const cx = x(p.number);
      const g = svgEl("g", { class: "crash-mark", "data-experiment": p.experiment_id }, marks);
      svgEl("path", { d: `M${cx - 5},${stripY - 5}L${cx + 5},${stripY + 5}M${cx - 5},${stripY + 5}L${cx + 5},${stripY - 5}` }, g);
      hover(g, p);
    } else {
      const kept = p.status === "keep";
      const dot = svgEl("circle", { cx: x(p.number), cy: y(p.val_bpb), r: kept ? 6 : 4, class: kept ? "keep" : "discard",
        "data-experiment": p.experiment_id }, marks);
      hover(dot, p);
    }
  }
  for (const p of scored.filter((q) => q.status === "keep")) {
    // labels near the right edge run leftwards, so they stay inside the chart
    const leftwards = x(p.number) > width * 0.7;
    const lx = x(p.number) + (leftwards ? -8 : 8), ly = y(p.val_bpb) - 8;
    const label = svgEl("text", { x: lx, y: ly, class: "keep-label", "text-anchor": leftwards ? "end" : "start",
      transform: `rotate(${leftwards ? 14 : -14} ${lx} ${ly})` }, marks);
    label.textContent = shorten(p.description || p.experiment_id, 42);
  }
}

window.drawProgressChart = drawProgressChart;
