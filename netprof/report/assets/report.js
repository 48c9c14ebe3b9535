"use strict";
// netprof's HTML report: an icicle of the module tree, a sortable and filterable op table, the findings.
// Each .netprof-model section reads its own JSON (<script class="netprof-data">); no network, no library.
function mount(root) {
  const DATA = JSON.parse(root.querySelector("script.netprof-data").textContent);
  const $ = (selector) => root.querySelector(selector);
  const ROW = 24;
  const METRICS = DATA.metrics; // [[key, label], ...] present in this report
  let metric = METRICS[0][0];
  let focus = "";
  let sortKey = DATA.timed ? "time_s" : "mult_adds";
  let ascending = false;
  let query = "";

  function si(value, unit) {
    if (value === null || value === undefined) return "-";
    const steps = [[1e12, "T"], [1e9, "G"], [1e6, "M"], [1e3, "K"]];
    for (const [scale, prefix] of steps) {
      if (Math.abs(value) >= scale) {
        const scaled = value / scale;
        return (Math.abs(scaled) < 100 ? scaled.toFixed(2) : scaled.toFixed(1)) + " " + prefix + (unit || "");
      }
    }
    return String(value) + (unit ? " " + unit : "");
  }
  function seconds(value) {
    if (value === null || value === undefined) return "-";
    for (const [scale, unit] of [[1, "s"], [1e-3, "ms"], [1e-6, "us"]]) {
      if (Math.abs(value) >= scale) return (value / scale).toPrecision(3) + " " + unit;
    }
    return (value / 1e-9).toPrecision(3) + " ns";
  }
  function show(key, value) {
    if (key === "time_s" || key === "predicted_s") return seconds(value);
    if (key === "mem_access_bytes") return si(value, "B");
    return si(value);
  }
  function escape(text) {
    return String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
  }
  function inside(path, outer) {
    return outer === "" || path === outer || path.startsWith(outer + ".");
  }
  function parentOf(path) {
    const dot = path.lastIndexOf(".");
    return path === "" ? null : dot < 0 ? "" : path.slice(0, dot);
  }
  function shortName(path) {
    // "layer1.0" rather than "0": a numbered child is named with its container.
    const parts = path.split(".");
    const last = parts[parts.length - 1];
    if (!path) return "(model)";
    return /^[0-9]+$/.test(last) && parts.length > 1 ? parts.slice(-2).join(".") : last;
  }
  function color(type) {
    let hash = 0;
    for (const c of type) hash = (hash * 31 + c.charCodeAt(0)) | 0;
    return "hsl(" + (Math.abs(hash) % 360) + ", 55%, 45%)";
  }

  const byPath = new Map(DATA.modules.map((m) => [m.path, m]));
  const children = new Map(DATA.modules.map((m) => [m.path, []]));
  for (const m of DATA.modules) {
    const parent = parentOf(m.path);
    if (parent !== null && children.has(parent)) children.get(parent).push(m);
  }

  // Icicle: a row per depth below the focused module; widths proportional to the chosen metric.
  function drawIcicle() {
    const box = $(".icicle");
    const nodes = [];
    let depth = 0;
    function place(module, left, width, level) {
      depth = Math.max(depth, level);
      nodes.push([module, left, width, level]);
      const kids = children.get(module.path).slice().sort((a, b) => (b[metric] || 0) - (a[metric] || 0));
      const whole = kids.reduce((sum, kid) => sum + (kid[metric] || 0), 0);
      const scale = Math.max(module[metric] || 0, whole);
      let x = left;
      for (const kid of kids) {
        const share = scale > 0 ? (kid[metric] || 0) / scale : 1 / kids.length;
        place(kid, x, width * share, level + 1);
        x += width * share;
      }
    }
    place(byPath.get(focus), 0, 100, 0);
    box.style.height = (depth + 1) * ROW + 2 + "px";
    box.innerHTML = nodes
      .map(([module, left, width, level]) => {
        const label = (module.path || "(model)") + " " + module.type + ": " + show(metric, module[metric]);
        const thin = width < 2.5 ? " thin" : "";
        const focused = module.path === focus ? " focus" : "";
        return (
          '<div class="node' + thin + focused + '" data-path="' + escape(module.path) + '" title="' + escape(label) +
          '" style="left:' + left + "%;width:" + width + "%;top:" + level * ROW + "px;background:" + color(module.type) +
          '">' + escape(shortName(module.path) + " " + show(metric, module[metric])) + "</div>"
        );
      })
      .join("");
    const crumbs = [""];
    if (focus) focus.split(".").forEach((part, i, parts) => crumbs.push(parts.slice(0, i + 1).join(".")));
    $(".crumbs").innerHTML = crumbs
      .map((path) => '<a data-path="' + escape(path) + '">' + escape(shortName(path)) + "</a>")
      .join(" / ");
  }

  function focusOn(path) {
    if (!byPath.has(path)) return;
    focus = path;
    drawIcicle();
    drawTable();
  }

  function drawTable() {
    const words = query.toLowerCase();
    const rows = DATA.ops.filter(
      (op) => inside(op.module, focus) && (!words || (op.op + " " + op.category + " " + op.module).toLowerCase().includes(words))
    );
    rows.sort((a, b) => {
      const x = a[sortKey], y = b[sortKey];
      const order = typeof x === "string" ? String(x).localeCompare(String(y)) : (x || 0) - (y || 0);
      return ascending ? order : -order;
    });
    const shareKey = DATA.timed ? "time_s" : "mult_adds";
    const whole = DATA.ops.reduce((sum, op) => sum + (op[shareKey] || 0), 0);
    $(".op-count").textContent = rows.length + " of " + DATA.ops.length + " ops";
    $(".ops tbody").innerHTML = rows
      .map((op) => {
        const cells = [
          "<td>" + op.id + "</td>",
          '<td class="text">' + escape(op.op) + "</td>",
          '<td class="text">' + escape(op.category) + "</td>",
          '<td class="text module" title="' + escape(op.module) + '">' + escape(op.module || "(model)") + "</td>",
          '<td class="text">' + escape(op.inputs) + "</td>",
          '<td class="text">' + escape(op.outputs) + "</td>",
          "<td>" + show("mult_adds", op.mult_adds) + "</td>",
          "<td>" + show("flops", op.flops) + "</td>",
          "<td>" + show("mem_access_bytes", op.mem_access_bytes) + "</td>",
        ];
        if (DATA.timed) cells.push("<td>" + seconds(op.time_s) + "</td>");
        if (DATA.predicted) cells.push("<td>" + seconds(op.predicted_s) + "</td>");
        cells.push("<td>" + (whole ? ((100 * (op[shareKey] || 0)) / whole).toFixed(1) + "%" : "-") + "</td>");
        return '<tr data-op="' + op.id + '">' + cells.join("") + "</tr>";
      })
      .join("");
    root.querySelectorAll(".ops th").forEach((th) => {
      th.classList.toggle("sorted", th.dataset.key === sortKey);
      th.classList.toggle("asc", th.dataset.key === sortKey && ascending);
    });
  }

  function drawMetrics() {
    $(".metrics").innerHTML = METRICS.map(
      ([key, label]) => '<button data-metric="' + key + '"' + (key === metric ? ' class="on"' : "") + ">" + escape(label) + "</button>"
    ).join("");
  }

  root.addEventListener("click", (event) => {
    const target = event.target.closest("[data-path],[data-metric],th[data-key]");
    if (!target) return;
    if (target.dataset.metric) {
      metric = target.dataset.metric;
      drawMetrics();
      drawIcicle();
    } else if (target.dataset.key) {
      ascending = sortKey === target.dataset.key ? !ascending : target.dataset.key === "id";
      sortKey = target.dataset.key;
      drawTable();
    } else if (target.dataset.path !== undefined) {
      event.preventDefault();
      focusOn(target.dataset.path);
      if (target.closest(".finding")) $(".modules").scrollIntoView();
    }
  });
  $(".filter").addEventListener("input", (event) => {
    query = event.target.value;
    drawTable();
  });

  drawMetrics();
  drawIcicle();
  drawTable();
  return { focusOn: focusOn, data: DATA };
}

window.netprof = Array.from(document.querySelectorAll(".netprof-model")).map(mount);
