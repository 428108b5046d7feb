// Study page: each view's cine with its two points, curves synced to the frame, and corrections.
// The server keeps no review state: every change sends all the reader's anchors
// ({view: {frame: [[x, y], [x, y]]}}, stored-frame pixels, results.json point order) and gets the
// re-tracked result back; undo is a stack of earlier anchor sets.
"use strict";

const POINT_COLOURS = ["#ff3b30", "#2f8cff"]; // red / blue, as in the overlay movies
const GRAB_RADIUS = 16; // CSS px around a point that starts a drag

const S = {
  study: new URLSearchParams(location.search).get("id") || "",
  result: null,       // the result shown (re-tracked from S.anchors)
  initial: null,      // the result as loaded (for "was" values)
  savedAnchors: {},   // the anchors of the saved results.json
  anchors: {},        // the reader's anchors now
  undo: [],
  views: {},          // view name -> UI state
  active: null,
  guide: null,        // index into GUIDE_STEPS, or null
  request: 0,         // the latest review request's number (older answers are dropped)
  busy: 0,
};

// ---------------------------------------------------------------------------------------------
// Small pure helpers

const clone = (x) => JSON.parse(JSON.stringify(x));
const fmt = (v, digits, unit) => (v === null || v === undefined ? "n/a" : `${Number(v).toFixed(digits)}${unit ? " " + unit : ""}`);
const argmax = (values) => values.reduce((best, v, i) => (v > values[best] ? i : best), 0);
const sameAnchors = (a, b) => JSON.stringify(a) === JSON.stringify(b);

function anchorCount(anchors) {
  return Object.values(anchors).reduce((n, frames) => n + Object.keys(frames).length, 0);
}

function esFrame(viewResult) {
  return argmax(viewResult.displacement_mm);
}

function midDiastoleFrame(viewResult) {
  const n = viewResult.displacement_mm.length;
  const es = esFrame(viewResult);
  return Math.min(n - 1, Math.round((es + n) / 2));
}

// Image pixel (x = column, y = row; pixel centres at whole numbers) <-> canvas CSS px.
function transform(ui) {
  const box = ui.zoom ? zoomBox(ui) : { x: -0.5, y: -0.5, w: ui.width, h: ui.height };
  const cw = ui.canvas.clientWidth, ch = ui.canvas.clientHeight;
  const scale = Math.min(cw / box.w, ch / box.h);
  const ox = (cw - box.w * scale) / 2, oy = (ch - box.h * scale) / 2;
  return {
    box, scale,
    toCanvas: (x, y) => [ox + (x - box.x) * scale, oy + (y - box.y) * scale],
    toImage: (cx, cy) => [(cx - ox) / scale + box.x, (cy - oy) / scale + box.y],
  };
}

// A square around the points of every frame (the valve's whole excursion), kept inside the image.
function zoomBox(ui) {
  const pts = S.result.views[ui.name].points_px.flat();
  const xs = pts.map((p) => p[0]), ys = pts.map((p) => p[1]);
  const cx = (Math.min(...xs) + Math.max(...xs)) / 2, cy = (Math.min(...ys) + Math.max(...ys)) / 2;
  const extent = Math.max(Math.max(...xs) - Math.min(...xs), Math.max(...ys) - Math.min(...ys));
  const size = Math.min(Math.max(ui.width, ui.height), Math.max(extent * 2.8, 0.3 * Math.max(ui.width, ui.height), 40));
  const clamp = (c, n) => Math.min(Math.max(c - size / 2, -0.5), Math.max(-0.5, n - 0.5 - size));
  return { x: clamp(cx, ui.width), y: clamp(cy, ui.height), w: size, h: size };
}

// ---------------------------------------------------------------------------------------------
// Server

async function api(path, body) {
  const options = body === undefined ? { cache: "no-store" }
    : { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) };
  setBusy(+1);
  try {
    const response = await fetch(path, options);
    const data = await response.json().catch(() => ({ error: response.statusText }));
    if (!response.ok) throw new Error(data.error || response.statusText);
    return data;
  } finally {
    setBusy(-1);
  }
}

function setBusy(delta) {
  S.busy += delta;
  document.body.dataset.busy = String(S.busy);
}

function studyPath(suffix) {
  return "/api/studies/" + encodeURIComponent(S.study) + suffix;
}

function status(text, isError) {
  const p = document.getElementById("status");
  p.textContent = text;
  p.className = "status" + (isError ? " error" : "");
}

// Re-track from S.anchors (the reader's current anchors).
async function retrack() {
  const number = ++S.request;
  try {
    const data = await api(studyPath("/review"), { anchors: S.anchors });
    if (number !== S.request) return; // a later change is on its way
    S.result = data.result;
    status(`${anchorCount(S.anchors)} anchored frame(s); curves and metrics updated.`);
  } catch (error) {
    if (number === S.request) status("Could not re-track: " + error.message, true);
  }
  redraw();
}

function change(newAnchors) {
  if (sameAnchors(newAnchors, S.anchors)) return;
  S.undo.push(clone(S.anchors));
  S.anchors = newAnchors;
  redraw();
  return retrack();
}

function undo() {
  if (!S.undo.length) return;
  S.anchors = S.undo.pop();
  redraw();
  return retrack();
}

function reset() {
  return change({});
}

async function save() {
  try {
    const data = await api(studyPath("/save"), { anchors: S.anchors });
    S.result = data.result;
    S.savedAnchors = clone(S.anchors);
    redraw();
    status(`Saved results.json (the previous one is kept as ${data.kept}); summary.csv and report.html updated.`);
    await loadKept();
  } catch (error) {
    status("Could not save: " + error.message, true);
  }
  redraw();
}

async function restore() {
  const file = document.getElementById("kept").value;
  if (!file || !confirm(`Make ${file} the study's results.json again? (the current one is kept too)`)) return;
  try {
    const data = await api(studyPath("/restore"), { file });
    await load();
    status(`Restored ${file} (the replaced results.json is kept as ${data.kept}).`);
  } catch (error) {
    status("Could not restore: " + error.message, true);
  }
}

async function loadKept() {
  const data = await api(studyPath(""));
  const select = document.getElementById("kept");
  select.textContent = "";
  for (const name of data.kept.slice().reverse()) select.add(new Option(name, name));
  document.getElementById("kept-box").hidden = !data.kept.length;
}

// ---------------------------------------------------------------------------------------------
// Drawing

function redraw() {
  if (!S.result) return;
  for (const ui of Object.values(S.views)) drawView(ui);
  drawMetrics();
  drawStudyCurves();
  drawQc();
  drawReviewState();
}

function framePoints(ui, frame) {
  if (ui.drag && ui.drag.frame === frame) return ui.drag.points;
  return S.result.views[ui.name].points_px[frame];
}

function drawView(ui) {
  const view = S.result.views[ui.name];
  const n = view.points_px.length;
  const ctx = ui.ctx;
  const dpr = window.devicePixelRatio || 1;
  const cw = ui.canvas.clientWidth, ch = ui.canvas.clientHeight;
  if (ui.canvas.width !== Math.round(cw * dpr)) { ui.canvas.width = Math.round(cw * dpr); ui.canvas.height = Math.round(ch * dpr); }
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.fillStyle = "#000";
  ctx.fillRect(0, 0, cw, ch);
  const t = transform(ui);
  const image = ui.images[ui.frame];
  if (image && image.complete) {
    const [x0, y0] = t.toCanvas(-0.5, -0.5);
    ctx.imageSmoothingEnabled = t.scale < 4;
    ctx.drawImage(image, x0, y0, ui.width * t.scale, ui.height * t.scale);
  }
  const anchored = S.anchors[ui.name] && S.anchors[ui.name][String(ui.frame)];
  const auto = view.review && view.review.points_px_auto ? view.review.points_px_auto[ui.frame] : null;
  if (auto) { // the tracker's own points, where the reader moved them
    ctx.strokeStyle = "#ffffffaa";
    ctx.lineWidth = 1;
    for (const [x, y] of auto) {
      const [cx, cy] = t.toCanvas(x, y);
      ctx.beginPath(); ctx.moveTo(cx - 4, cy - 4); ctx.lineTo(cx + 4, cy + 4); ctx.moveTo(cx + 4, cy - 4); ctx.lineTo(cx - 4, cy + 4); ctx.stroke();
    }
  }
  const points = framePoints(ui, ui.frame);
  const [a, b] = points.map(([x, y]) => t.toCanvas(x, y));
  ctx.strokeStyle = "#ffeb3b99";
  ctx.lineWidth = 1.5;
  ctx.beginPath(); ctx.moveTo(...a); ctx.lineTo(...b); ctx.stroke();
  [a, b].forEach(([cx, cy], i) => {
    ctx.beginPath();
    ctx.arc(cx, cy, 6, 0, 2 * Math.PI);
    ctx.fillStyle = POINT_COLOURS[i];
    ctx.fill();
    ctx.lineWidth = anchored ? 3 : 1.5;
    ctx.strokeStyle = anchored ? "#ffeb3b" : "#fff";
    ctx.stroke();
  });
  const phase = ui.frame === 0 ? " · ED" : ui.frame === esFrame(view) ? " · ES" : "";
  ui.label.textContent = `frame ${ui.frame + 1}/${n} · ${(view.times_s[ui.frame] * 1000).toFixed(0)} ms${phase}${anchored ? " · anchored" : ""}`;
  ui.slider.max = String(n - 1);
  ui.slider.value = String(ui.frame);
  ui.play.textContent = ui.timer ? "❚❚" : "▶";
  ui.element.classList.toggle("active", S.active === ui.name);
  drawViewCurve(ui);
  const m = view.metrics || {};
  const reasons = m.reasons || {};
  ui.metrics.textContent = `${ui.name}: MAPSE ${fmt(m.mapse_mm, 1, "mm")} · s' ${fmt(m.s_prime_cm_s, 1)} · e' ${fmt(m.e_prime_cm_s, 1)} · a' ${fmt(m.a_prime_cm_s, 1)} cm/s`
    + (m.mapse_mm === null && reasons.mapse_mm ? ` (withheld: ${reasons.mapse_mm})` : "");
}

// A small plot: series [{x, y, colour, dots}], cursor x, markers [{x, y, text}].
function plot(canvas, { series, xmax, cursor, markers = [], ylabel, zero = false, top = 8 }) {
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth, h = canvas.clientHeight;
  if (canvas.width !== Math.round(w * dpr)) { canvas.width = Math.round(w * dpr); canvas.height = Math.round(h * dpr); }
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, w, h);
  const all = series.flatMap((s) => s.y).concat(markers.map((m) => m.y)).filter((v) => v !== null && isFinite(v));
  let lo = Math.min(...all, zero ? 0 : Infinity), hi = Math.max(...all, zero ? 0 : -Infinity);
  if (!(hi > lo)) { lo -= 1; hi += 1; }
  const pad = (hi - lo) * 0.12; lo -= pad; hi += pad;
  const left = 40, right = w - 8, bottom = h - 18;
  const X = (x) => left + (x / xmax) * (right - left), Y = (y) => bottom - ((y - lo) / (hi - lo)) * (bottom - top);
  ctx.strokeStyle = "#bbb"; ctx.lineWidth = 1;
  ctx.strokeRect(left, top, right - left, bottom - top);
  ctx.fillStyle = "#555"; ctx.font = "11px sans-serif";
  ctx.fillText(hi.toFixed(0), 4, top + 10); ctx.fillText(lo.toFixed(0), 4, bottom);
  ctx.fillText(ylabel, left + 4, top + 11);
  ctx.fillText(`${(xmax * 1000).toFixed(0)} ms`, right - 44, h - 4);
  if (zero && lo < 0 && hi > 0) { ctx.strokeStyle = "#ddd"; ctx.beginPath(); ctx.moveTo(left, Y(0)); ctx.lineTo(right, Y(0)); ctx.stroke(); }
  for (const s of series) {
    ctx.strokeStyle = s.colour; ctx.lineWidth = s.width || 1.5; ctx.setLineDash(s.dash || []);
    ctx.beginPath();
    s.x.forEach((x, i) => (i ? ctx.lineTo(X(x), Y(s.y[i])) : ctx.moveTo(X(x), Y(s.y[i]))));
    ctx.stroke(); ctx.setLineDash([]);
    for (const i of s.dots || []) { ctx.fillStyle = "#ffb300"; ctx.beginPath(); ctx.arc(X(s.x[i]), Y(s.y[i]), 4, 0, 2 * Math.PI); ctx.fill(); }
  }
  for (const m of markers) {
    ctx.fillStyle = "#d32f2f"; ctx.beginPath(); ctx.arc(X(m.x), Y(m.y), 3.5, 0, 2 * Math.PI); ctx.fill();
    ctx.fillText(m.text, Math.min(X(m.x) + 5, right - 90), Y(m.y) + (m.below ? 13 : -5));
  }
  if (cursor !== null && cursor !== undefined) {
    ctx.strokeStyle = "#1565c0"; ctx.lineWidth = 1.5;
    ctx.beginPath(); ctx.moveTo(X(cursor), top); ctx.lineTo(X(cursor), bottom); ctx.stroke();
  }
  return { X, left, right };
}

function drawViewCurve(ui) {
  const view = S.result.views[ui.name];
  const frames = Object.keys(S.anchors[ui.name] || {}).map(Number);
  const es = esFrame(view);
  const series = [];
  const auto = view.review && ui.autoDisplacement ? ui.autoDisplacement : null;
  if (auto) series.push({ x: view.times_s, y: auto, colour: "#aaa", dash: [4, 3], width: 1 });
  series.push({ x: view.times_s, y: view.displacement_mm, colour: "#222", dots: frames });
  const m = view.metrics || {};
  ui.curveX = plot(ui.curve, {
    series, xmax: view.rr_s, cursor: view.times_s[ui.frame], ylabel: `${ui.name} displacement (mm)`,
    markers: [{ x: view.times_s[es], y: view.displacement_mm[es], text: `MAPSE ${fmt(m.mapse_mm ?? view.displacement_mm[es], 1, "mm")}`, below: true }],
  });
}

function peakIndex(times, velocity, value, sign, from, to) {
  let best = -1, gap = Infinity;
  times.forEach((t, i) => {
    if (t < from || t > to) return;
    const d = Math.abs(sign * velocity[i] - value);
    if (d < gap) { gap = d; best = i; }
  });
  return best;
}

function drawStudyCurves() {
  const r = S.result, m = r.metrics, canvas = document.getElementById("study-curves");
  const ui = S.views[S.active];
  const cursor = ui ? r.views[ui.name].times_s[ui.frame] : null;
  const es = m.end_systole_s ?? r.times_s[argmax(r.displacement_mm)];
  const dpr = window.devicePixelRatio || 1;
  // Two plots on one canvas: displacement (top) and velocity (bottom).
  const top = document.createElement("canvas"), bottom = document.createElement("canvas");
  for (const c of [top, bottom]) {
    Object.defineProperty(c, "clientWidth", { value: canvas.clientWidth });
    Object.defineProperty(c, "clientHeight", { value: canvas.clientHeight / 2 });
  }
  const esIndex = r.times_s.reduce((best, t, i) => (Math.abs(t - es) < Math.abs(r.times_s[best] - es) ? i : best), 0);
  plot(top, {
    series: [{ x: r.times_s, y: r.displacement_mm, colour: "#222" }], xmax: r.rr_s, cursor,
    ylabel: `study displacement (mm) · ${(r.study_views || []).join(" + ")}`,
    markers: m.mapse_mm === null ? [] : [{ x: r.times_s[esIndex], y: r.displacement_mm[esIndex], text: `MAPSE ${fmt(m.mapse_mm, 1, "mm")}`, below: true }],
  });
  const markers = [];
  const v = r.velocity_cm_s, t = r.times_s, end = r.rr_s;
  for (const [key, name, sign, from, to] of [["s_prime_cm_s", "s'", 1, 0, es], ["e_prime_cm_s", "e'", -1, es, es + (end - es) * 0.6],
    ["a_prime_cm_s", "a'", -1, es + (end - es) * 0.4, end]]) {
    if (m[key] === null || m[key] === undefined) continue;
    const i = peakIndex(t, v, m[key], sign, from, to);
    if (i >= 0) markers.push({ x: t[i], y: v[i], text: `${name} ${fmt(m[key], 1)} cm/s`, below: sign < 0 });
  }
  plot(bottom, { series: [{ x: t, y: v, colour: "#222" }], xmax: end, cursor, ylabel: "velocity (cm/s)", zero: true, markers });
  const ctx = canvas.getContext("2d");
  if (canvas.width !== Math.round(canvas.clientWidth * dpr)) { canvas.width = Math.round(canvas.clientWidth * dpr); canvas.height = Math.round(canvas.clientHeight * dpr); }
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  ctx.drawImage(top, 0, 0);
  ctx.drawImage(bottom, 0, top.height);
}

function drawMetrics() {
  const m = S.result.metrics, was = S.initial.metrics, reasons = m.reasons || {};
  const table = document.getElementById("metrics");
  table.textContent = "";
  for (const [key, name, unit, id] of [["mapse_mm", "MAPSE", "mm", "metric-mapse"], ["s_prime_cm_s", "s'", "cm/s", "metric-s"],
    ["e_prime_cm_s", "e'", "cm/s", "metric-e"], ["a_prime_cm_s", "a'", "cm/s", "metric-a"]]) {
    const row = table.insertRow();
    row.insertCell().textContent = name;
    const value = row.insertCell();
    value.className = "value"; value.id = id;
    value.textContent = fmt(m[key], 1, unit);
    const note = row.insertCell();
    note.className = "was";
    const changed = fmt(m[key], 1) !== fmt(was[key], 1);
    note.textContent = m[key] === null ? (reasons[key] || "") : changed ? `was ${fmt(was[key], 1, unit)}` : "";
  }
}

function drawQc() {
  const qc = S.result.qc || {}, box = document.getElementById("qc");
  box.textContent = "";
  const verdict = document.createElement("p");
  verdict.id = "qc-verdict";
  verdict.className = qc.needs_review ? "flag" : "ok";
  verdict.textContent = qc.needs_review ? "Review recommended:" : "No QC rule fired.";
  box.appendChild(verdict);
  const list = (items, className) => {
    if (!items || !items.length) return;
    const ul = document.createElement("ul");
    for (const text of items) { const li = document.createElement("li"); li.textContent = text; if (className) li.className = className; ul.appendChild(li); }
    box.appendChild(ul);
  };
  list(qc.reasons, "flag");
  if (qc.notes && qc.notes.length) { const p = document.createElement("p"); p.className = "muted"; p.textContent = "Notes:"; box.appendChild(p); list(qc.notes); }
  const review = S.result.review;
  if (review && review.reader_confirmed && review.reader_confirmed.length) {
    const p = document.createElement("p"); p.className = "ok";
    p.textContent = `Reader-confirmed: ${review.reader_confirmed.join(", ")} (anchored at end-diastole and end-systole).`;
    box.appendChild(p);
  }
}

function drawReviewState() {
  const unsaved = !sameAnchors(S.anchors, S.savedAnchors);
  const saved = Object.keys(S.savedAnchors).length;
  document.getElementById("review-state").textContent = unsaved ? "unsaved changes"
    : saved ? `reviewed (${anchorCount(S.savedAnchors)} anchored frames)` : "not reviewed";
  document.getElementById("undo").disabled = !S.undo.length;
  document.body.dataset.unsaved = unsaved ? "1" : "0";
}

// ---------------------------------------------------------------------------------------------
// Interaction

function setFrame(ui, frame) {
  const n = S.result.views[ui.name].points_px.length;
  ui.frame = ((frame % n) + n) % n;
  S.active = ui.name;
  redraw();
}

function togglePlay(ui) {
  if (ui.timer) { clearInterval(ui.timer); ui.timer = null; redraw(); return; }
  const times = S.result.views[ui.name].times_s;
  const step = times.length > 1 ? (times[times.length - 1] - times[0]) / (times.length - 1) : 0.04;
  ui.timer = setInterval(() => setFrame(ui, ui.frame + 1), Math.max(20, step * 2000)); // half speed
  S.active = ui.name;
  redraw();
}

function canvasXY(ui, event) {
  const rect = ui.canvas.getBoundingClientRect();
  return [event.clientX - rect.left, event.clientY - rect.top];
}

function startDrag(ui, event) {
  S.active = ui.name;
  const t = transform(ui);
  const [cx, cy] = canvasXY(ui, event);
  const points = S.result.views[ui.name].points_px[ui.frame];
  const distances = points.map(([x, y]) => { const [px, py] = t.toCanvas(x, y); return Math.hypot(px - cx, py - cy); });
  const index = distances[0] <= distances[1] ? 0 : 1;
  if (distances[index] > GRAB_RADIUS) { redraw(); return; }
  if (ui.timer) togglePlay(ui);
  ui.drag = { frame: ui.frame, index, points: clone(points) };
  ui.canvas.setPointerCapture(event.pointerId);
  event.preventDefault();
}

function moveDrag(ui, event) {
  if (!ui.drag) return;
  const [cx, cy] = canvasXY(ui, event);
  const [x, y] = transform(ui).toImage(cx, cy);
  ui.drag.points[ui.drag.index] = [Math.min(Math.max(x, -0.5), ui.width - 0.5), Math.min(Math.max(y, -0.5), ui.height - 0.5)];
  drawView(ui);
}

function endDrag(ui) {
  if (!ui.drag) return;
  const { frame, points } = ui.drag;
  ui.drag = null;
  const moved = JSON.stringify(points) !== JSON.stringify(S.result.views[ui.name].points_px[frame]);
  if (!moved) { redraw(); return; }
  const next = clone(S.anchors);
  next[ui.name] = next[ui.name] || {};
  next[ui.name][String(frame)] = points.map(([x, y]) => [Math.round(x * 100) / 100, Math.round(y * 100) / 100]);
  S.result.views[ui.name].points_px[frame] = points; // shown at once; the server's answer follows
  change(next);
}

function seekFromCurve(ui, event) {
  if (!ui.curveX) return;
  const rect = ui.curve.getBoundingClientRect();
  const view = S.result.views[ui.name];
  const x = event.clientX - rect.left;
  const t = ((x - ui.curveX.left) / (ui.curveX.right - ui.curveX.left)) * view.rr_s;
  let best = 0;
  view.times_s.forEach((ti, i) => { if (Math.abs(ti - t) < Math.abs(view.times_s[best] - t)) best = i; });
  setFrame(ui, best);
}

// Guided review: ED, then ES, then a look at mid-diastole.
const GUIDE_STEPS = [
  { frame: () => 0, text: "Step 1 of 3 · end-diastole (frame 1): drag each view's red and blue points onto the mitral annulus hinge points, then Next." },
  { frame: esFrame, text: "Step 2 of 3 · end-systole (largest displacement): correct the points here too; with ED and ES anchored a view is reader-confirmed. Then Next." },
  { frame: midDiastoleFrame, text: "Step 3 of 3 · mid-diastole: have a look; correct the points if they are off (optional). Then Save." },
];

function guideTo(step) {
  S.guide = step;
  const box = document.getElementById("guide");
  if (step === null) { box.hidden = true; return; }
  box.hidden = false;
  document.getElementById("guide-text").textContent = GUIDE_STEPS[step].text;
  document.getElementById("guide-back").disabled = step === 0;
  document.getElementById("guide-next").textContent = step === GUIDE_STEPS.length - 1 ? "Finish" : "Next";
  for (const ui of Object.values(S.views)) {
    if (ui.timer) togglePlay(ui);
    ui.zoom = true;
    ui.zoomBox.checked = true;
    ui.frame = GUIDE_STEPS[step].frame(S.result.views[ui.name]);
  }
  redraw();
}

function buildView(name, frames) {
  const node = document.getElementById("view-template").content.firstElementChild.cloneNode(true);
  const ui = {
    name, element: node, frame: 0, zoom: false, timer: null, drag: null, width: frames.width, height: frames.height,
    canvas: node.querySelector(".cine"), curve: node.querySelector(".view-curve"), label: node.querySelector(".frame-label"),
    slider: node.querySelector(".slider"), play: node.querySelector(".play"), zoomBox: node.querySelector(".zoom"),
    metrics: node.querySelector(".view-metrics"),
    autoDisplacement: null,
  };
  node.dataset.view = name;
  node.querySelector(".view-name").textContent = `${name} · ${S.result.views[name].point_names.join(" (red) / ")} (blue)`;
  ui.ctx = ui.canvas.getContext("2d");
  ui.images = frames.frames.map((b64) => { const img = new Image(); img.onload = () => { if (ui.frame === ui.images.indexOf(img)) drawView(ui); }; img.src = "data:image/png;base64," + b64; return img; });
  ui.canvas.addEventListener("pointerdown", (e) => startDrag(ui, e));
  ui.canvas.addEventListener("pointermove", (e) => moveDrag(ui, e));
  ui.canvas.addEventListener("pointerup", () => endDrag(ui));
  ui.canvas.addEventListener("pointercancel", () => { ui.drag = null; redraw(); });
  ui.slider.addEventListener("input", () => setFrame(ui, Number(ui.slider.value)));
  ui.play.addEventListener("click", () => togglePlay(ui));
  ui.zoomBox.addEventListener("change", () => { ui.zoom = ui.zoomBox.checked; S.active = name; redraw(); });
  ui.curve.addEventListener("click", (e) => seekFromCurve(ui, e));
  document.getElementById("views").appendChild(node);
  return ui;
}

function onKey(event) {
  if (event.target.tagName === "INPUT" && event.target.type !== "range" && event.target.type !== "checkbox") return;
  const ui = S.views[S.active];
  if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === "z") { event.preventDefault(); undo(); return; }
  if (!ui) return;
  if (event.key === "ArrowRight" || event.key === "ArrowLeft") {
    event.preventDefault();
    if (ui.timer) togglePlay(ui);
    setFrame(ui, ui.frame + (event.key === "ArrowRight" ? 1 : -1));
  } else if (event.key === " ") {
    event.preventDefault(); togglePlay(ui);
  } else if (event.key.toLowerCase() === "z") {
    ui.zoom = !ui.zoom; ui.zoomBox.checked = ui.zoom; redraw();
  }
}

async function load() {
  const data = await api(studyPath(""));
  S.result = data.result;
  S.initial = clone(data.result);
  S.savedAnchors = clone(data.anchors);
  S.anchors = clone(data.anchors);
  S.undo = [];
  document.getElementById("kept-box").hidden = !data.kept.length;
  const select = document.getElementById("kept");
  select.textContent = "";
  for (const name of data.kept.slice().reverse()) select.add(new Option(name, name));
}

async function main() {
  document.title = `mvtrack review: ${S.study}`;
  document.getElementById("title").textContent = S.study;
  const base = "/files/" + encodeURIComponent(S.study) + "/";
  document.getElementById("report-link").href = base + "report.html";
  document.getElementById("curves-link").href = base + "curves.png";
  try {
    await load();
  } catch (error) {
    status("Could not open the study: " + error.message, true);
    return;
  }
  const names = Object.keys(S.result.views).sort();
  const frames = await Promise.all(names.map((name) => api(studyPath("/frames/" + encodeURIComponent(name))).catch((error) => error)));
  names.forEach((name, i) => {
    if (frames[i] instanceof Error) { status(`${name}: no frames to show (${frames[i].message})`, true); return; }
    S.views[name] = buildView(name, frames[i]);
  });
  S.active = Object.keys(S.views)[0] || null;
  // The automatic displacement of each view, drawn dashed under the reviewed one.
  if (anchorCount(S.anchors)) {
    api(studyPath("/review"), { anchors: {} }).then((data) => {
      for (const ui of Object.values(S.views)) ui.autoDisplacement = data.result.views[ui.name].displacement_mm;
      redraw();
    }).catch(() => {});
  } else {
    for (const ui of Object.values(S.views)) ui.autoDisplacement = S.result.views[ui.name].displacement_mm;
  }
  document.getElementById("undo").addEventListener("click", undo);
  document.getElementById("reset").addEventListener("click", reset);
  document.getElementById("save").addEventListener("click", save);
  document.getElementById("restore").addEventListener("click", restore);
  document.getElementById("guided").addEventListener("click", () => guideTo(0));
  document.getElementById("guide-back").addEventListener("click", () => guideTo(Math.max(0, S.guide - 1)));
  document.getElementById("guide-next").addEventListener("click", () => guideTo(S.guide + 1 < GUIDE_STEPS.length ? S.guide + 1 : null));
  document.getElementById("guide-exit").addEventListener("click", () => guideTo(null));
  document.addEventListener("keydown", onKey);
  for (const button of document.querySelectorAll("button")) button.addEventListener("click", () => button.blur()); // keys stay the page's
  window.addEventListener("beforeunload", (e) => { if (!sameAnchors(S.anchors, S.savedAnchors)) { e.preventDefault(); e.returnValue = ""; } });
  redraw();
  document.body.dataset.ready = "1";
}

// For tests and scripts: where a point of the current frame is on the page.
window.mvtrackReview = {
  state: S,
  pointOnPage(view, index) {
    const ui = S.views[view];
    const [x, y] = S.result.views[view].points_px[ui.frame][index];
    const [cx, cy] = transform(ui).toCanvas(x, y);
    const rect = ui.canvas.getBoundingClientRect();
    return { x: rect.left + cx, y: rect.top + cy, canvasX: cx, canvasY: cy, width: rect.width, height: rect.height };
  },
  setFrame(view, frame) { setFrame(S.views[view], frame); },
  guideTo,
};

main();
