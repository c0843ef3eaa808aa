"""The gate-inspection page: one self-contained HTML file (inline CSS, JavaScript and data; no network).

It shows the traces of :func:`lstmkit.inspect.traces.inspect_model` aligned to the input's steps:

* for text, a **reading view**: the tokens as the model read them, each one shaded green where input
  gates open (memory written) and underlined red where forget gates close (memory reset), by the
  definitions of :mod:`lstmkit.inspect.traces` (relative to each unit's median, or absolute gate
  values); the strength is the share of the focused units for which it holds (all shown units, or
  the one picked);
* a **chart**: for a series, its input values first (the forecast target, or feature 0); then four
  stacked panels (forget, input, output gate; cell state) with one line per shown unit (the focused unit bold, the others grey), the step labels (tokens or timestamps) under them
  and the reset / written strips above them;
* a **trace table**, one row per step (its token or timestamp), one coloured cell per unit and
  quantity, the exact value on hover.

Controls (no reload): the direction of a bidirectional layer, the focused unit, the event definition
and both thresholds.
The text is inserted with ``textContent``, never as markup, so any input is safe to show.
"""

from __future__ import annotations

import html
import json
from os import PathLike
from pathlib import Path
from typing import Sequence

import numpy as np

from lstmkit.inspect.traces import DEFAULT_THRESHOLDS, GateEvents, GateInspection, trace_json


def page_data(insp: "GateInspection", units: Sequence[int], rule: str, events: "GateEvents") -> dict:
    """Everything the page's script reads (JSON-able)."""
    data = trace_json(insp, units)
    for d, direction in zip(insp.directions, data["directions"]):
        direction["median_forget"] = [round(float(v), 4) for v in np.median(d.forget_gate[:, list(units)], axis=0)]
        direction["median_input"] = [round(float(v), 4) for v in np.median(d.input_gate[:, list(units)], axis=0)]
    data.update(
        mode=events.mode, defaults={k: list(v) for k, v in DEFAULT_THRESHOLDS.items()},
        model=insp.model, source=insp.source, layer=insp.layer, layers=insp.layers, hidden_size=insp.hidden_size,
        step_kind=insp.step_kind, text=insp.text, joiner=insp.joiner, notes=insp.notes, rule=rule,
        signal=insp.signal, signal_name=insp.signal_name,
        forget_threshold=events.forget_threshold, input_threshold=events.input_threshold,
    )
    return data


def _script_json(data: dict) -> str:
    """JSON safe inside a ``<script>`` element (``<``, ``>`` and ``&`` escaped as ``\\u003c`` ...)."""
    text = json.dumps(data, ensure_ascii=True, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


_CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1b1b1b; margin: 20px 28px; background: #fff; }
h1 { font-size: 20px; margin: 0 0 6px; }
h2 { font-size: 16px; margin: 22px 0 8px; }
.meta { border-collapse: collapse; margin: 6px 0 10px; }
.meta td { padding: 1px 12px 1px 0; vertical-align: top; }
.meta td:first-child { color: #555; }
.notes { color: #8a4b00; }
.controls { display: flex; flex-wrap: wrap; gap: 18px; align-items: center; padding: 10px 12px; background: #f4f6f8;
            border: 1px solid #dde3e8; border-radius: 6px; }
.controls label { display: inline-flex; gap: 6px; align-items: center; }
.controls output { font-variant-numeric: tabular-nums; min-width: 2.6em; }
.legend { display: flex; flex-wrap: wrap; gap: 8px 22px; margin: 10px 0; font-size: 13px; }
.legend span.sw { display: inline-block; width: 34px; height: 14px; vertical-align: middle; margin-right: 6px;
                  border: 1px solid #bbb; }
#summary { margin: 8px 0; }
#reading { line-height: 2.1; padding: 10px 12px; border: 1px solid #dde3e8; border-radius: 6px; max-height: 420px;
           overflow-y: auto; }
#reading .tok { padding: 1px 2px; border-radius: 3px; border-bottom: 3px solid transparent; white-space: pre-wrap; }
#reading .tok:hover { outline: 1px solid #333; }
#chart-box { overflow-x: auto; border: 1px solid #dde3e8; border-radius: 6px; }
#trace { border-collapse: collapse; font-size: 12px; }
#trace th { position: sticky; top: 0; background: #fff; font-weight: 600; padding: 2px 4px; border-bottom: 1px solid #999; }
#trace td { padding: 0; height: 16px; min-width: 16px; }
#trace td.lab { padding: 0 8px; white-space: pre; max-width: 240px; overflow: hidden; text-overflow: ellipsis; }
#trace td.num { padding: 0 6px; text-align: right; font-variant-numeric: tabular-nums; color: #555; }
#trace td.focus { outline: 1px solid #222; outline-offset: -1px; }
#table-box { max-height: 560px; overflow: auto; border: 1px solid #dde3e8; border-radius: 6px; }
"""

_SCRIPT = r"""
(function () {
  "use strict";
  var D = JSON.parse(document.getElementById("inspect-data").textContent);
  var Q = ["forget_gate", "input_gate", "output_gate", "cell_state"];
  var SHORT = {forget_gate: "f", input_gate: "i", output_gate: "o", cell_state: "c"};
  var PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2",
                 "#7f7f7f", "#bcbd22"];
  var L = D.steps.length, U = D.units.length;
  var S = {dir: 0, focus: -1, mode: D.mode, tf: D.forget_threshold, ti: D.input_threshold};
  var RANGE = {relative: [0.01, 0.5, 0.01], absolute: [0.05, 0.95, 0.05]};
  var SVG = "http://www.w3.org/2000/svg";

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function svg(tag, attrs, parent) {
    var e = document.createElementNS(SVG, tag);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(e);
    return e;
  }
  function shown(label) {
    if (label === "\n") return "\u21b5";
    if (label === " ") return "\u2423";
    return label.replace(/\n/g, "\u21b5").replace(/\t/g, "\u21e5");
  }
  function focused() {
    if (S.focus >= 0) return [S.focus];
    var ks = [];
    for (var k = 0; k < U; k++) ks.push(k);
    return ks;
  }
  function cellBound(d) {
    var m = 1e-6;
    for (var k = 0; k < U; k++) for (var t = 0; t < L; t++) m = Math.max(m, Math.abs(d.cell_state[k][t]));
    return m;
  }
  // The value unit k's forget / input gate is compared with (module docstring of lstmkit.inspect.traces).
  function forgetLimit(d, k) { return S.mode === "relative" ? d.median_forget[k] - S.tf : S.tf; }
  function inputLimit(d, k) { return S.mode === "relative" ? d.median_input[k] + S.ti : S.ti; }
  function isReset(d, k, t) {
    return S.mode === "relative" ? d.forget_gate[k][t] <= forgetLimit(d, k) : d.forget_gate[k][t] < S.tf;
  }
  function isWritten(d, k, t) {
    return S.mode === "relative" ? d.input_gate[k][t] >= inputLimit(d, k) : d.input_gate[k][t] > S.ti;
  }
  function rules() {
    if (S.mode === "relative") {
      return ["f at least " + S.tf.toFixed(2) + " below the unit's median", "i at least " + S.ti.toFixed(2) + " above the unit's median"];
    }
    return ["f < " + S.tf.toFixed(2), "i > " + S.ti.toFixed(2)];
  }
  function shares() {
    var d = D.directions[S.dir], ks = focused();
    var reset = [], written = [];
    for (var t = 0; t < L; t++) {
      var r = 0, w = 0;
      for (var j = 0; j < ks.length; j++) {
        if (isReset(d, ks[j], t)) r++;
        if (isWritten(d, ks[j], t)) w++;
      }
      reset.push(r / ks.length);
      written.push(w / ks.length);
    }
    return {reset: reset, written: written, n: ks.length};
  }
  function mix(a, b, x) {
    x = Math.max(0, Math.min(1, x));
    var c = [0, 1, 2].map(function (i) { return Math.round(a[i] + (b[i] - a[i]) * x); });
    return "rgb(" + c.join(",") + ")";
  }
  function gateColor(v) { return mix([255, 255, 255], [8, 69, 148], v); }
  function cellColor(v, bound) {
    var x = v / bound;
    return x >= 0 ? mix([255, 255, 255], [230, 97, 1], x) : mix([255, 255, 255], [94, 60, 153], -x);
  }
  function fmt(v) { return (Math.round(v * 1000) / 1000).toFixed(3); }
  function stepTitle(t, sh) {
    var d = D.directions[S.dir], lines = [D.step_kind + " " + t + ": " + JSON.stringify(D.steps[t])];
    var rr = rules();
    lines.push("memory reset (" + rr[0] + "): " + Math.round(sh.reset[t] * sh.n) + " of " + sh.n + " unit(s)");
    lines.push("memory written (" + rr[1] + "): " + Math.round(sh.written[t] * sh.n) + " of " + sh.n + " unit(s)");
    focused().slice(0, 8).forEach(function (k) {
      lines.push("unit " + D.units[k] + ": f " + fmt(d.forget_gate[k][t]) + "  i " + fmt(d.input_gate[k][t]) +
                 "  o " + fmt(d.output_gate[k][t]) + "  c " + fmt(d.cell_state[k][t]));
    });
    return lines.join("\n");
  }

  function renderReading(sh) {
    var box = document.getElementById("reading");
    if (!box) return;
    box.textContent = "";
    for (var t = 0; t < L; t++) {
      var span = el("span", "tok", shown(D.steps[t]));
      var w = sh.written[t], r = sh.reset[t];
      span.style.backgroundColor = w > 0 ? "rgba(26,152,80," + (0.12 + 0.6 * w).toFixed(3) + ")" : "transparent";
      span.style.borderBottomColor = r > 0 ? "rgba(215,48,31," + (0.2 + 0.8 * r).toFixed(3) + ")" : "transparent";
      span.title = stepTitle(t, sh);
      span.dataset.step = String(t);
      box.appendChild(span);
      if (D.steps[t] === "\n") box.appendChild(document.createElement("br"));
      if (D.joiner && t < L - 1) box.appendChild(document.createTextNode(D.joiner));
    }
  }

  function renderChart(sh) {
    // Four stacked panels (f, i, o, c) sharing the step axis; one line per shown unit (the focused one bold).
    var box = document.getElementById("chart-box");
    box.textContent = "";
    var d = D.directions[S.dir], bound = cellBound(d);
    var ml = 52, mr = 24, ph = 88, gap = 24;
    var strips = D.signal ? 36 + ph + gap : 36;  // a series' input values get a panel above the traces
    var bottom = strips + gap + 3 * (ph + gap) + ph;  // of the last panel
    var longest = 1;
    for (var s = 0; s < L; s++) longest = Math.max(longest, Math.min(shown(D.steps[s]).length, 20));
    var W = Math.max(900, Math.min(L * 9, 6000)) + ml + mr, H = bottom + 34 + Math.round(5.4 * longest * 0.87);
    var root = svg("svg", {width: W, height: H, viewBox: "0 0 " + W + " " + H, id: "chart"}, box);
    var pw = W - ml - mr;
    function x(t) { return ml + (t + 0.5) * pw / L; }
    [["reset", sh.reset, "215,48,31", 4], ["written", sh.written, "26,152,80", 18]].forEach(function (s) {
      svg("text", {x: ml - 6, y: s[3] + 9, "text-anchor": "end", "font-size": 10, fill: "#444"}, root).textContent = s[0];
      for (var t = 0; t < L; t++) {
        if (s[1][t] > 0) {
          svg("rect", {x: ml + t * pw / L, y: s[3], width: Math.max(pw / L, 1), height: 11,
                       fill: "rgba(" + s[2] + "," + s[1][t].toFixed(3) + ")"}, root);
        }
      }
    });
    if (D.signal) {
      var slo = Math.min.apply(null, D.signal), shi = Math.max.apply(null, D.signal);
      if (shi - slo < 1e-12) { slo -= 1; shi += 1; }
      var stop = 36 + gap, spts = [];
      svg("text", {x: ml, y: stop - 6, "font-size": 11, "font-weight": 600, fill: "#222"}, root).textContent = "input: " + D.signal_name;
      svg("rect", {x: ml, y: stop, width: pw, height: ph, fill: "none", stroke: "#999"}, root);
      [slo, shi].forEach(function (v) {
        svg("text", {x: ml - 6, y: stop + (shi - v) / (shi - slo) * ph + 4, "text-anchor": "end", "font-size": 10,
                     fill: "#444"}, root).textContent = fmt(v);
      });
      for (var t = 0; t < L; t++) spts.push(x(t).toFixed(1) + "," + (stop + (shi - D.signal[t]) / (shi - slo) * ph).toFixed(1));
      svg("polyline", {points: spts.join(" "), fill: "none", stroke: "#222", "stroke-width": 1.4, id: "signal-line"}, root);
    }
    Q.forEach(function (q, p) {
      var top = strips + gap + p * (ph + gap), cell = q === "cell_state";
      var lo = cell ? -bound : 0, hi = cell ? bound : 1;
      function y(v) { return top + (hi - v) / (hi - lo) * ph; }
      svg("text", {x: ml, y: top - 6, "font-size": 11, "font-weight": 600, fill: "#222"}, root).textContent =
        {forget_gate: "forget gate f", input_gate: "input gate i", output_gate: "output gate o", cell_state: "cell state c"}[q];
      svg("rect", {x: ml, y: top, width: pw, height: ph, fill: "none", stroke: "#999"}, root);
      [lo, (lo + hi) / 2, hi].forEach(function (v) {
        svg("line", {x1: ml, x2: ml + pw, y1: y(v), y2: y(v), stroke: "#eee"}, root);
        svg("text", {x: ml - 6, y: y(v) + 4, "text-anchor": "end", "font-size": 10, fill: "#444"}, root).textContent =
          cell ? fmt(v) : v.toFixed(1);
      });
      if ((q === "forget_gate" || q === "input_gate") && (S.mode === "absolute" || S.focus >= 0)) {
        var k0 = Math.max(S.focus, 0), lim = q === "forget_gate" ? forgetLimit(d, k0) : inputLimit(d, k0);
        svg("line", {x1: ml, x2: ml + pw, y1: y(lim), y2: y(lim), "stroke-dasharray": "5,4",
                     stroke: q === "forget_gate" ? "#d7301f" : "#1a9850"}, root);
      }
      var order = [];
      for (var k = 0; k < U; k++) if (k !== S.focus) order.push(k);
      if (S.focus >= 0) order.push(S.focus);  // drawn last, on top
      order.forEach(function (k) {
        var pts = [];
        for (var t = 0; t < L; t++) pts.push(x(t).toFixed(1) + "," + y(d[q][k][t]).toFixed(1));
        var mine = S.focus === k, all = S.focus < 0;
        svg("polyline", {points: pts.join(" "), fill: "none", "class": "trace-line",
                         stroke: all || mine ? PALETTE[k % PALETTE.length] : "#c8c8c8",
                         "stroke-width": mine ? 2.4 : 1.2, "stroke-opacity": all ? 0.85 : 1}, root);
      });
    });
    var axis = bottom + 10;
    var every = Math.max(1, Math.ceil(L / 60));
    for (var t = 0; t < L; t += every) {
      var label = shown(D.steps[t]);
      if (label.length > 20) label = label.slice(0, 19) + "\u2026";
      svg("text", {x: x(t), y: axis, "font-size": 10, fill: "#222", "text-anchor": "end",
                   transform: "rotate(-60 " + x(t).toFixed(1) + " " + axis + ")"}, root).textContent = label;
    }
    var caption = svg("text", {x: ml, y: H - 8, "font-size": 11, fill: "#222"}, root);
    caption.textContent = d.name + " direction, x: " + D.step_kind + "; units:";
    var lx = ml + (caption.getComputedTextLength ? caption.getComputedTextLength() : 200) + 10;
    for (var k = 0; k < U; k++) {
      var col = S.focus < 0 || S.focus === k ? PALETTE[k % PALETTE.length] : "#c8c8c8";
      svg("rect", {x: lx, y: H - 17, width: 14, height: 10, fill: col}, root);
      svg("text", {x: lx + 18, y: H - 8, "font-size": 11, fill: "#222"}, root).textContent = String(D.units[k]);
      lx += 26 + 7 * String(D.units[k]).length;
    }
  }

  function renderTable(sh) {
    var table = document.getElementById("trace");
    table.textContent = "";
    var d = D.directions[S.dir], bound = cellBound(d);
    var head = el("thead"), r1 = el("tr"), r2 = el("tr");
    ["step", D.step_kind, "reset", "written"].forEach(function (h) {
      var th = el("th", "", h);
      th.rowSpan = 2;
      r1.appendChild(th);
    });
    for (var k = 0; k < U; k++) {
      var th = el("th", "", "unit " + D.units[k]);
      th.colSpan = 4;
      r1.appendChild(th);
      Q.forEach(function (q) { r2.appendChild(el("th", "", SHORT[q])); });
    }
    head.appendChild(r1);
    head.appendChild(r2);
    table.appendChild(head);
    var body = el("tbody");
    for (var t = 0; t < L; t++) {
      var tr = el("tr");
      tr.appendChild(el("td", "num", String(t)));
      var lab = el("td", "lab", shown(D.steps[t]));
      lab.style.backgroundColor = sh.written[t] > 0 ? "rgba(26,152,80," + (0.12 + 0.6 * sh.written[t]).toFixed(3) + ")" : "";
      lab.style.borderLeft = "4px solid " + (sh.reset[t] > 0 ? "rgba(215,48,31," + (0.2 + 0.8 * sh.reset[t]).toFixed(3) + ")" : "transparent");
      lab.title = stepTitle(t, sh);
      tr.appendChild(lab);
      tr.appendChild(el("td", "num", Math.round(sh.reset[t] * sh.n) + "/" + sh.n));
      tr.appendChild(el("td", "num", Math.round(sh.written[t] * sh.n) + "/" + sh.n));
      for (var k = 0; k < U; k++) {
        for (var j = 0; j < 4; j++) {
          var q = Q[j], v = d[q][k][t];
          var td = el("td", S.focus === k ? "focus" : "");
          td.style.backgroundColor = q === "cell_state" ? cellColor(v, bound) : gateColor(v);
          td.title = "unit " + D.units[k] + ", " + SHORT[q] + " = " + fmt(v) + " at " + D.step_kind + " " + t +
                     " (" + JSON.stringify(D.steps[t]) + ")";
          tr.appendChild(td);
        }
      }
      body.appendChild(tr);
    }
    table.appendChild(body);
  }

  function renderSummary(sh) {
    var resets = 0, writes = 0;
    for (var t = 0; t < L; t++) {
      if (sh.reset[t] >= 0.5) resets++;
      if (sh.written[t] >= 0.5) writes++;
    }
    var who = sh.n === 1 ? "unit " + D.units[S.focus] : "at least half of the " + sh.n + " shown units";
    var rr = rules();
    document.getElementById("summary").textContent =
      D.directions[S.dir].name + " direction: " + resets + " of " + L + " steps reset memory (" + who + " with " +
      rr[0] + "), " + writes + " write it (" + who + " with " + rr[1] + ").";
    var rel = S.mode === "relative";
    document.getElementById("legend-reset").textContent = rel
      ? "the forget gate falls at least the forget threshold below the unit's median over this input (it keeps noticeably less of its cell than usual)"
      : "the forget gate is below the forget threshold (the unit keeps less than that share of its cell)";
    document.getElementById("legend-written").textContent = rel
      ? "the input gate rises at least the input threshold above the unit's median over this input (it writes noticeably more than usual)"
      : "the input gate is above the input threshold (more than that share of the candidate enters the cell)";
  }

  function render() {
    var sh = shares();
    renderSummary(sh);
    renderReading(sh);
    renderChart(sh);
    renderTable(sh);
    document.body.dataset.rendered = "yes";
  }

  var focus = document.getElementById("focus");
  var opt = el("option", "", "all " + U + " shown units");
  opt.value = "-1";
  focus.appendChild(opt);
  D.units.forEach(function (u, k) {
    var o = el("option", "", "unit " + u);
    o.value = String(k);
    focus.appendChild(o);
  });
  focus.addEventListener("change", function () { S.focus = parseInt(focus.value, 10); render(); });
  var dir = document.getElementById("direction");
  D.directions.forEach(function (d, i) {
    var o = el("option", "", d.name);
    o.value = String(i);
    dir.appendChild(o);
  });
  dir.disabled = D.directions.length < 2;
  dir.addEventListener("change", function () { S.dir = parseInt(dir.value, 10); render(); });
  var sliders = [["tf", "forget-threshold"], ["ti", "input-threshold"]];
  function setSliders() {
    sliders.forEach(function (p) {
      var input = document.getElementById(p[1]), r = RANGE[S.mode];
      input.min = r[0];
      input.max = r[1];
      input.step = r[2];
      input.value = S[p[0]];
      document.getElementById(p[1] + "-value").textContent = S[p[0]].toFixed(2);
    });
  }
  sliders.forEach(function (p) {
    var input = document.getElementById(p[1]);
    input.addEventListener("input", function () {
      S[p[0]] = parseFloat(input.value);
      document.getElementById(p[1] + "-value").textContent = S[p[0]].toFixed(2);
      render();
    });
  });
  var mode = document.getElementById("mode");
  ["relative", "absolute"].forEach(function (m) {
    var o = el("option", "", m === "relative" ? "relative to each unit's median" : "absolute gate values");
    o.value = m;
    mode.appendChild(o);
  });
  mode.value = S.mode;
  mode.addEventListener("change", function () {
    S.mode = mode.value;
    S.tf = D.defaults[S.mode][0];
    S.ti = D.defaults[S.mode][1];
    setSliders();
    render();
  });
  setSliders();
  render();
})();
"""


def render_html(insp: "GateInspection", units: Sequence[int], rule: str, events: "GateEvents") -> str:
    """The whole page as a string (see the module docstring)."""
    e = html.escape
    data = page_data(insp, units, rule, events)
    directions = ", ".join(d.name for d in insp.directions)
    rows = [
        ("model", insp.model),
        ("input", f"{insp.source}: {insp.length} {insp.step_kind} step(s)"),
        ("layer", f"LSTM layer {insp.layer} (of {insp.layers}, counting from 0), {insp.hidden_size} units; "
                  f"direction(s): {directions}"),
        ("units shown", f"{', '.join(map(str, units))}: {rule}"),
    ]
    meta = "".join(f"<tr><td>{e(k)}</td><td>{e(v)}</td></tr>" for k, v in rows)
    notes = "".join(f"<li>{e(n)}</li>" for n in insp.notes)
    reading = ('<h2>Reading view</h2>\n<div id="reading" aria-label="the input tokens, highlighted"></div>'
               if insp.text else "")
    tf, ti = events.forget_threshold, events.input_threshold
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>lstmkit gate inspection</title>
<style>{_CSS}</style>
</head>
<body>
<h1>LSTM gate inspection</h1>
<table class="meta">{meta}</table>
{f'<ul class="notes">{notes}</ul>' if notes else ''}
<div class="controls">
  <label>direction <select id="direction"></select></label>
  <label>focus <select id="focus"></select></label>
  <label>events <select id="mode"></select></label>
  <label>forget threshold <input id="forget-threshold" type="range" min="0.01" max="0.95" step="0.01" value="{tf}">
    <output id="forget-threshold-value">{tf:.2f}</output></label>
  <label>input threshold <input id="input-threshold" type="range" min="0.01" max="0.95" step="0.01" value="{ti}">
    <output id="input-threshold-value">{ti:.2f}</output></label>
</div>
<div class="legend">
  <div><span class="sw" style="background:rgba(215,48,31,0.9)"></span><b>memory reset</b> (red underline, stronger
    when more of the focused units reset): <span id="legend-reset"></span></div>
  <div><span class="sw" style="background:rgba(26,152,80,0.7)"></span><b>memory written</b> (green shade, stronger
    when more of the focused units are written): <span id="legend-written"></span></div>
  <div><span class="sw" style="background:linear-gradient(90deg,#fff,#084594)"></span>gate value 0 &rarr; 1</div>
  <div><span class="sw" style="background:linear-gradient(90deg,#5e3c99,#fff,#e66101)"></span>cell state
    &minus;max &rarr; 0 &rarr; +max (max: largest |c| of the shown units)</div>
</div>
<div id="summary"></div>
{reading}
<h2>Gates and cell state over the {e(insp.step_kind)} steps</h2>
<div id="chart-box"></div>
<h2>Trace table</h2>
<div id="table-box"><table id="trace"></table></div>
<script id="inspect-data" type="application/json">{_script_json(data)}</script>
<script>{_SCRIPT}</script>
</body>
</html>
"""


def write_html(insp: "GateInspection", units: Sequence[int], rule: str, events: "GateEvents",
               path: str | PathLike[str]) -> Path:
    """Write :func:`render_html` atomically to ``path`` (UTF-8)."""
    from lstmkit.models.serialization import write_bytes_atomic

    out = Path(path)
    write_bytes_atomic(out, render_html(insp, units, rule, events).encode("utf-8"), what="page")
    return out


__all__ = ["render_html", "write_html", "page_data"]
