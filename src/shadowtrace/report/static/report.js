/* shadowtrace report: draws the report's sections from their JSON data.
 *
 * One code path for the offline report and the web app: the page holds the data in
 * <script type="application/json" id="shadowtrace-data"> (or the app fetches the
 * same JSON), and Shadowtrace.boot() hands each section's data to the island
 * registered under its id in Shadowtrace.sections. Another package's section adds
 * its own island: Shadowtrace.sections.myid = function (el, data, api) { ... }.
 *
 * Data is never parsed as HTML: the DOM is built with textContent, and chart
 * tooltips, which ECharts renders as HTML, escape every value with esc().
 */
(function (global) {
  "use strict";

  var S = (global.Shadowtrace = global.Shadowtrace || {});
  S.sections = S.sections || {};
  var FORMAT = 1;

  // -- DOM helpers ------------------------------------------------------------------

  /** h("div", {class: "x", onclick: f}, "text", child, [more]) builds an element;
   * strings become text nodes, never markup. */
  function h(tag, attrs) {
    var el = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (k) {
        var v = attrs[k];
        if (v === null || v === undefined || v === false) return;
        if (k === "class") el.className = v;
        else if (k === "text") el.textContent = String(v);
        else if (k === "style") el.setAttribute("style", v);
        else if (k.slice(0, 2) === "on" && typeof v === "function") el.addEventListener(k.slice(2), v);
        else if (k === "dataset") Object.keys(v).forEach(function (d) { el.dataset[d] = v[d]; });
        else el.setAttribute(k, v === true ? "" : String(v));
      });
    }
    for (var i = 2; i < arguments.length; i++) append(el, arguments[i]);
    return el;
  }
  function append(el, child) {
    if (child === null || child === undefined || child === false) return;
    if (Array.isArray(child)) { child.forEach(function (c) { append(el, c); }); return; }
    el.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  function clear(el) { while (el.firstChild) el.removeChild(el.firstChild); return el; }

  /** Escape text for the few places that take HTML (chart tooltips). */
  function esc(s) {
    return String(s === null || s === undefined ? "" : s)
      .replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
      .replace(/"/g, "&quot;").replace(/'/g, "&#39;");
  }
  function truncate(s, n) {
    s = String(s === null || s === undefined ? "" : s);
    return s.length > n ? s.slice(0, n - 1) + "…" : s;
  }

  // -- formatting ------------------------------------------------------------------

  var nf = new Intl.NumberFormat("en-US");
  var nf2 = new Intl.NumberFormat("en-US", { maximumFractionDigits: 2 });
  var compact = new Intl.NumberFormat("en-US", { notation: "compact", maximumFractionDigits: 1 });
  var fmt = {
    int: function (n) { return n === null || n === undefined ? "–" : nf.format(Math.round(n)); },
    num: function (n) { return n === null || n === undefined ? "–" : nf2.format(n); },
    compact: function (n) { return n === null || n === undefined ? "–" : compact.format(n); },
    usd: function (n) { return n === null || n === undefined ? "–" : "$" + compact.format(n); },
    score: function (x) { return x === null || x === undefined ? "–" : Number(x).toFixed(2); },
    pct: function (x) { return x === null || x === undefined || !isFinite(x) ? "–" : Math.round(x * 100) + "%"; },
    amount: function (n, cur) {
      if (n === null || n === undefined) return "";
      return nf2.format(n) + (cur ? " " + cur : "");
    },
    short: function (id) { id = String(id || ""); return id.length > 12 ? id.slice(0, 10) + "…" : id; },
    label: function (s) {
      s = String(s || "").replace(/[_-]+/g, " ").trim();
      return s.charAt(0).toUpperCase() + s.slice(1);
    },
  };

  function countryName(code, countries) {
    if (!code) return "Unknown";
    return (countries && countries[code]) || String(code).toUpperCase();
  }

  // -- shared widgets ---------------------------------------------------------------

  function card(title, body, extra) {
    return h("div", { class: "card" },
      title ? h("div", { class: "card-head" }, h("h3", { text: title }), extra || null) : null,
      body);
  }

  /** A table from column specs {label, value(row) -> node|string, class}. */
  function table(columns, rows, opts) {
    opts = opts || {};
    var thead = h("thead", null, h("tr", null, columns.map(function (c) {
      return h("th", { class: c.num ? "num" : null, scope: "col" }, c.label);
    })));
    var tbody = h("tbody", null, rows.map(function (r) {
      return h("tr", opts.rowAttrs ? opts.rowAttrs(r) : null, columns.map(function (c) {
        return h("td", { class: (c.num ? "num " : "") + (c.class || "") }, c.value(r));
      }));
    }));
    return h("div", { class: "table-wrap" }, h("table", null, opts.caption ? h("caption", { class: "muted", text: opts.caption }) : null, thead, tbody));
  }

  function bar(fraction, kind) {
    var w = Math.max(0, Math.min(1, fraction || 0)) * 100;
    return h("div", { class: "bar " + (kind || ""), role: "presentation" }, h("span", { style: "width:" + w.toFixed(1) + "%" }));
  }

  function segmented(options, value, onChange, label) {
    var wrap = h("div", { class: "segmented", role: "group", "aria-label": label });
    options.forEach(function (o) {
      var b = h("button", { type: "button", "aria-pressed": String(o.value === value), text: o.label });
      b.addEventListener("click", function () {
        Array.prototype.forEach.call(wrap.children, function (x) { x.setAttribute("aria-pressed", "false"); });
        b.setAttribute("aria-pressed", "true");
        onChange(o.value);
      });
      wrap.appendChild(b);
    });
    return wrap;
  }

  function badges(entity) {
    if (!entity) return null;
    return [
      entity.sanctioned ? h("span", { class: "badge sanctioned", title: "Designated in a sanctions source" }, "sanctioned") : null,
    ];
  }

  // -- charts -------------------------------------------------------------------------

  var PALETTE = ["#0f5f73", "#2563eb", "#b45309", "#0d9488", "#7c3aed", "#be185d", "#4d7c0f",
    "#0369a1", "#a16207", "#475569", "#9333ea", "#15803d"];
  var CHANNEL_COLORS = {
    bank: "#2563eb", "bank:rejected": "#b42318", payment: "#3b82f6", "payment:rejected": "#b42318",
    cash: "#a16207", netting: "#7c3aed", app: "#0d9488", crypto: "#0f766e",
  };
  function channelColor(key, i) {
    if (CHANNEL_COLORS[key]) return CHANNEL_COLORS[key];
    var kind = String(key).split(":")[0];
    if (kind === "app") return ["#0d9488", "#14b8a6", "#0e7490"][i % 3];
    if (kind === "crypto") return ["#0f766e", "#047857", "#155e75"][i % 3];
    return PALETTE[i % PALETTE.length];
  }

  var charts = [];
  function chart(el, option) {
    if (!global.echarts) { el.appendChild(h("p", { class: "note", text: "Charts are not available." })); return null; }
    var c = global.echarts.init(el, null, { renderer: "svg" });
    option.textStyle = { fontFamily: "Inter Variable, system-ui, sans-serif", color: "#334155" };
    option.aria = { enabled: true };
    option.animation = false;
    c.setOption(option, true);
    charts.push(c);
    return c;
  }
  function tooltipBox(title, lines) {
    return "<div style=\"max-width:320px;white-space:normal\"><b>" + esc(title) + "</b>" +
      lines.map(function (l) { return "<br>" + esc(l); }).join("") + "</div>";
  }

  /** A Sankey diagram. columns: per depth, node labels by key; links: {source, target, value, count, tip}. */
  function sankey(el, nodes, links, metric, unitLabel) {
    if (!links.length) {
      el.style.height = "auto";
      el.appendChild(h("p", { class: "empty", text: "Nothing to show." }));
      return null;
    }
    var byName = {}, perDepth = {};
    nodes.forEach(function (n) { byName[n.name] = n; perDepth[n.depth] = (perDepth[n.depth] || 0) + 1; });
    var most = Math.max.apply(null, Object.keys(perDepth).map(function (d) { return perDepth[d]; }));
    el.style.height = Math.max(360, Math.min(900, 150 + most * 26)) + "px";
    return chart(el, {
      tooltip: {
        trigger: "item", confine: true,
        formatter: function (p) {
          if (p.dataType === "edge") {
            var l = p.data;
            return tooltipBox(byName[l.source].label + " → " + byName[l.target].label, [
              metric === "value" ? fmt.usd(l.value) + " " + unitLabel : fmt.int(l.value) + " records",
            ].concat(l.tip || []));
          }
          var n = byName[p.name];
          return tooltipBox(n ? n.label : p.name, [
            metric === "value" ? fmt.usd(p.value) : fmt.int(p.value) + " records",
          ]);
        },
      },
      series: [{
        type: "sankey", left: 8, right: 170, top: 8, bottom: 8,
        nodeAlign: "justify", nodeGap: 12, nodeWidth: 14, draggable: false,
        labelLayout: { hideOverlap: true },
        layoutIterations: 48,
        emphasis: { focus: "adjacency" },
        lineStyle: { color: "gradient", curveness: 0.5, opacity: 0.32 },
        label: {
          fontSize: 12, color: "#0f172a",
          formatter: function (p) { var n = byName[p.name]; return truncate(n ? n.label : p.name, 34); },
        },
        data: nodes.map(function (n) {
          return { name: n.name, depth: n.depth, itemStyle: { color: n.color, borderWidth: 0 } };
        }),
        links: links,
      }],
    });
  }

  // -- boot -----------------------------------------------------------------------------

  function readData(doc) {
    var node = doc.getElementById("shadowtrace-data");
    if (!node) throw new Error("shadowtrace: no report data in the page");
    return JSON.parse(node.textContent);
  }

  /** Draw every section of `report` (read from the page when null) into `root`. */
  S.boot = function (root, report) {
    root = root || document;
    report = report || readData(root.ownerDocument || root);
    if (!report.meta || report.meta.format !== FORMAT) {
      console.warn("shadowtrace: report data format " + (report.meta && report.meta.format) + ", expected " + FORMAT);
    }
    var listeners = {};
    var api = {
      report: report,
      on: function (name, fn) { (listeners[name] = listeners[name] || []).push(fn); },
      emit: function (name, arg) { (listeners[name] || []).forEach(function (fn) { fn(arg); }); },
      util: S.util,
    };
    report.sections.forEach(function (section) {
      var el = root.querySelector('[data-island="' + section.id.replace(/["\\]/g, "") + '"]');
      if (!el) return;
      clear(el);
      var draw = S.sections[section.id];
      if (!draw) { el.appendChild(h("p", { class: "note", text: "This section has no renderer here." })); return; }
      draw(el, section.data, api);
    });
    var timer = null;
    global.addEventListener("resize", function () {
      clearTimeout(timer);
      timer = setTimeout(function () { charts.forEach(function (c) { c.resize(); }); }, 120);
    });
    return api;
  };

  S.util = { h: h, clear: clear, esc: esc, fmt: fmt, card: card, table: table, bar: bar, chart: chart, sankey: sankey,
    layout: function (ids, pairs) { return layoutFor(ids, pairs); } };

  // == overview ==========================================================================

  S.sections.overview = function (el, data, api) {
    if (data.period && data.period.from) {
      el.appendChild(h("p", { class: "note" },
        "Payments, transfers and declarations dated " + data.period.from + " to " + data.period.to +
        (data.rejects ? "; " + fmt.int(data.rejects) + " source values were rejected at ingest and are kept in the store." : ".")));
    }
    var primary = data.figures.filter(function (f) { return f.tier !== 2; });
    var secondary = data.figures.filter(function (f) { return f.tier === 2; });
    el.appendChild(h("div", { class: "kpis" }, primary.map(function (f) {
      var value = f.unit === "USD" ? fmt.usd(f.value) : fmt.int(f.value);
      var cls = "card kpi" + (f.key === "findings" ? " accent" : "") + (f.key === "rejected" && f.value ? " alert" : "");
      return h("div", { class: cls, dataset: { kpi: f.key } },
        h("div", { class: "kpi-label", text: f.label }),
        h("div", { class: "kpi-value", text: value }),
        h("div", { class: "kpi-note", text: f.note || "" }));
    })));
    if (secondary.length) {
      el.appendChild(h("div", { class: "card facts" }, secondary.map(function (f) {
        return h("div", { class: "fact", dataset: { kpi: f.key } },
          h("span", { class: "fact-value", text: f.unit === "USD" ? fmt.usd(f.value) : fmt.int(f.value) }),
          h("span", { class: "fact-label", text: f.label }));
      })));
    }

    var maxT = Math.max.apply(null, [1].concat(data.typologies.map(function (t) { return t.count; })));
    var typ = data.typologies.length ? table([
      { label: "Typology", class: "typology", value: function (t) {
        return [h("a", { href: "#findings", onclick: function () { api.emit("typology", t.typology); } }, t.label),
          t.description ? h("div", { class: "typology-about", title: t.description, text: t.description }) : null];
      } },
      { label: "Findings", num: true, value: function (t) { return fmt.int(t.count); } },
      { label: "", class: "bar-cell", value: function (t) { return bar(t.count / maxT); } },
      { label: "Top score", num: true, value: function (t) { return fmt.score(t.max_score); } },
    ], data.typologies) : h("p", { class: "empty", text: "No findings in the store yet: run the detectors (shadowtrace detect)." });

    var chans = data.channels || [];
    var maxC = Math.max.apply(null, [1].concat(chans.map(function (c) { return c.value_usd || 0; })));
    var ch = chans.length ? table([
      { label: "Channel", value: function (c, i) {
        return [h("span", { class: "swatch", style: "background:" + channelColor(c.key, 0) }), c.label];
      } },
      { label: "Records", num: true, value: function (c) { return fmt.int(c.count); } },
      { label: "Value", num: true, value: function (c) { return fmt.usd(c.value_usd); } },
      { label: "", class: "bar-cell", value: function (c) { return bar((c.value_usd || 0) / maxC, c.rejected ? "danger" : "money"); } },
    ], chans) : h("p", { class: "empty", text: "No payments in the store." });

    // Side by side while the typologies fit beside the channels; one above the other after.
    el.appendChild(h("div", { class: "grid " + (data.typologies.length > 6 ? "" : "grid-2") },
      card("Findings by typology", typ),
      card("Money by channel", ch)));

    var maxD = Math.max.apply(null, [1].concat(data.datasets.map(function (d) { return d.records; })));
    el.appendChild(h("details", { class: "card", style: "margin-top:16px" },
      h("summary", { style: "cursor:pointer;font-weight:600" }, "Records by dataset (" + data.datasets.length + ")"),
      table([
        { label: "Dataset", value: function (d) { return h("span", { class: "mono", text: d.dataset }); } },
        { label: "Records", num: true, value: function (d) { return fmt.int(d.records); } },
        { label: "", class: "bar-cell", value: function (d) { return bar(d.records / maxD); } },
        { label: "Statements", num: true, value: function (d) { return fmt.int(d.statements); } },
      ], data.datasets)));
  };

  // == findings ==========================================================================

  var NODE_STYLE = {
    Person: { shape: "ellipse", color: "#7c3aed" },
    Company: { shape: "round-rectangle", color: "#0f5f73" },
    Organization: { shape: "round-rectangle", color: "#0f5f73" },
    LegalEntity: { shape: "round-rectangle", color: "#0f5f73" },
    PublicBody: { shape: "round-rectangle", color: "#0369a1" },
    CryptoWallet: { shape: "diamond", color: "#0d9488" },
    BankAccount: { shape: "hexagon", color: "#2563eb" },
    UserAccount: { shape: "hexagon", color: "#0891b2" },
    Sanction: { shape: "octagon", color: "#b42318" },
    Equipment: { shape: "triangle", color: "#a16207" },
    Address: { shape: "tag", color: "#64748b" },
  };
  var EDGE_COLORS = {
    shipment: "#b45309", customs: "#b45309", payment: "#2563eb", transfer: "#0d9488",
    crypto: "#0d9488", ownership: "#475569", directorship: "#7c3aed", control: "#475569",
    sanction: "#b42318", netting: "#7c3aed", cash: "#a16207",
  };
  function edgeColor(kind) {
    kind = String(kind || "").toLowerCase();
    if (kind.indexOf("reject") >= 0) return "#b42318";
    for (var k in EDGE_COLORS) if (kind.indexOf(k) >= 0) return EDGE_COLORS[k];
    return "#64748b";
  }
  function nodeStyle(entity) {
    return (entity && NODE_STYLE[entity.schema]) || { shape: "ellipse", color: "#64748b" };
  }

  function entityName(entities, id) {
    var e = entities[id];
    return e ? e.caption : id;
  }

  function findingAmount(f) {
    var by = {};
    f.steps.forEach(function (s) { if (s.amount !== null && s.amount !== undefined && s.currency) by[s.currency] = (by[s.currency] || 0) + s.amount; });
    var best = null;
    Object.keys(by).forEach(function (c) { if (!best || by[c] > by[best]) best = c; });
    return best ? fmt.compact(by[best]) + " " + best : null;
  }

  S.sections.findings = function (el, data, api) {
    var entities = data.entities || {};
    if (!data.findings.length) {
      el.appendChild(card(null, h("p", { class: "empty", text: "No findings in the store yet: run the detectors (shadowtrace detect), then write the report again." })));
      return;
    }
    var state = { typology: "", query: "", current: null, cy: null };

    var search = h("input", { type: "search", placeholder: "Search titles and names", "aria-label": "Search findings" });
    var typSelect = h("select", { "aria-label": "Typology" },
      h("option", { value: "", text: "All typologies (" + fmt.int(data.total) + ")" }),
      data.typologies.map(function (t) { return h("option", { value: t.typology, text: t.label + " (" + fmt.int(t.count) + ")" }); }));
    var countNote = h("p", { class: "note" });
    var list = h("div", { class: "finding-list", role: "list", "aria-label": "Findings, highest score first" });
    var detail = h("div", { class: "finding-detail card", "aria-live": "polite" });
    el.appendChild(h("div", { class: "controls", style: "margin-bottom:10px" }, search, typSelect));
    el.appendChild(countNote);
    el.appendChild(h("div", { class: "findings-layout" }, list, detail));

    var about = {};
    data.typologies.forEach(function (t) { about[t.typology] = t.description || ""; });
    var haystack = {};
    data.findings.forEach(function (f) {
      haystack[f.id] = [f.title, f.typology_label, f.explanation].concat(
        f.graph.nodes.map(function (n) { return entityName(entities, n.id); })).join(" ").toLowerCase();
    });

    function renderList() {
      clear(list);
      var q = state.query.toLowerCase();
      var shown = data.findings.filter(function (f) {
        return (!state.typology || f.typology === state.typology) && (!q || haystack[f.id].indexOf(q) >= 0);
      });
      shown.forEach(function (f) {
        var amount = findingAmount(f);
        var item = h("button", {
          type: "button", class: "finding-item", role: "listitem",
          "aria-current": String(state.current === f.id), dataset: { findingId: f.id },
          onclick: function () { select(f.id, true); },
        },
          h("div", { class: "fi-top" },
            h("span", { class: "rank", text: "#" + f.rank }),
            h("span", { class: "chip", text: f.typology_label }),
            scoreView(f.score)),
          h("div", { class: "fi-title", text: f.title }),
          h("div", { class: "fi-meta", text: [
            f.steps.length + (f.steps.length === 1 ? " step" : " steps"),
            f.entities.length + (f.entities.length === 1 ? " entity" : " entities"),
            amount,
          ].filter(Boolean).join(" · ") }));
        list.appendChild(item);
      });
      var total = data.total;
      countNote.textContent = (shown.length === data.findings.length ? "" : shown.length + " match · ") +
        (data.shown < total ? fmt.int(data.shown) + " of " + fmt.int(total) + " findings are listed: the highest-scoring, and the best of each typology." :
          fmt.int(total) + (total === 1 ? " finding" : " findings") + ", highest score first.");
      if (!shown.length) list.appendChild(h("p", { class: "empty", text: "No finding matches." }));
    }

    function scoreView(score) {
      return h("span", { class: "score", title: "Score " + fmt.score(score) + " of 1" },
        h("span", { class: "score-bar" }, h("span", { style: "width:" + Math.round((score || 0) * 100) + "%" })),
        fmt.score(score));
    }

    function select(id, fromClick) {
      var f = null;
      data.findings.forEach(function (x) { if (x.id === id) f = x; });
      if (!f) return;
      state.current = id;
      Array.prototype.forEach.call(list.querySelectorAll(".finding-item"), function (b) {
        b.setAttribute("aria-current", String(b.dataset.findingId === id));
      });
      renderDetail(f);
      if (fromClick && global.history && global.history.replaceState) {
        try { global.history.replaceState(null, "", "#finding=" + encodeURIComponent(id)); } catch (e) { /* file: URLs in some browsers */ }
      }
    }

    function renderDetail(f) {
      if (state.cy) { state.cy.destroy(); state.cy = null; }
      clear(detail);
      detail.dataset.findingId = f.id;
      var metrics = Object.keys(f.metrics || {});
      detail.appendChild(h("div", { class: "fd-head" },
        h("div", { class: "fd-tags" },
          h("span", { class: "chip", text: f.typology_label, title: about[f.typology] || null }),
          scoreView(f.score),
          h("span", { class: "muted mono", style: "font-size:11.5px", title: f.id, text: f.id })),
        h("h3", { text: f.title }),
        f.explanation ? h("p", { class: "fd-explanation", text: f.explanation }) : null,
        metrics.length ? h("div", { class: "metrics" }, metrics.map(function (k) {
          var v = f.metrics[k];
          return h("span", { class: "metric" }, fmt.label(k) + ": ", h("b", { text: typeof v === "number" ? fmt.num(v) : String(v) }));
        })) : null));

      var graphEl = h("div", { class: "graph", role: "img", "aria-label": "Network of the entities in this finding" });
      var entityCard = h("div", { class: "entity-card", hidden: true });
      detail.appendChild(h("div", { class: "graph-box" }, graphEl, entityCard, legend()));

      var stepsEl = h("ol", { class: "steps", "aria-label": "Chain of evidence" });
      f.steps.forEach(function (s) { stepsEl.appendChild(stepView(s)); });
      if (!f.steps.length) stepsEl.appendChild(h("li", { class: "empty", text: "This finding has no steps." }));
      detail.appendChild(h("h4", { style: "margin-top:16px;font-size:13.5px", text: "Chain of evidence" }));
      detail.appendChild(stepsEl);
      state.cy = drawGraph(graphEl, f, entityCard, stepsEl);
      S.graph = state.cy; // the open finding's network (Cytoscape), for scripts and tests
    }

    function legend() {
      var items = [["Company", "Company"], ["Person", "Person"], ["CryptoWallet", "Wallet"], ["BankAccount", "Account"]];
      return h("div", { class: "graph-legend" },
        items.map(function (it) { return h("span", null, h("span", { class: "swatch", style: "background:" + NODE_STYLE[it[0]].color }), it[1]); }),
        h("span", null, h("span", { class: "swatch", style: "background:#fff;border:2.5px solid #b42318" }), "Sanctioned"),
        h("span", null, h("span", { class: "swatch", style: "background:none;border-top:2px dashed #b42318;border-radius:0;height:0;width:16px" }), "Refused payment"),
        h("span", null, "Larger nodes: the finding's entities · click a node or an arrow"));
    }

    function stepView(s) {
      var when = [s.date, s.amount !== null && s.amount !== undefined ? fmt.amount(s.amount, s.currency) : null].filter(Boolean).join(" · ");
      var li = h("li", { class: "step", dataset: { step: String(s.step) } },
        h("div", { class: "step-body" },
          h("div", { class: "step-head" },
            h("span", { class: "chip gray", text: fmt.label(s.kind) }),
            h("span", { class: "step-summary", text: s.summary })),
          h("div", { class: "step-meta" },
            when ? when + " · " : "",
            entityName(entities, s.source),
            s.target ? " → " + entityName(entities, s.target) : ""),
          evidenceView(s)));
      return li;
    }

    function evidenceView(s) {
      var recs = s.evidence || [];
      if (!recs.length) return h("p", { class: "note", text: "No statements recorded for this step." });
      var files = {}, shown = 0;
      recs.forEach(function (r) {
        if (r.source) files[r.source] = true;
        r.statements.forEach(function (st) { shown++; if (st.source) files[st.source] = true; });
      });
      var more = s.evidence_total > shown ? " (" + shown + " of " + s.evidence_total + " shown)" : "";
      // One group per record: the record, the file and row it was read from, then its
      // statements; a statement read from another file or row names its own.
      var tbody = h("tbody");
      recs.forEach(function (r) {
        var ent = entities[r.canonical_id || r.entity_id] || null;
        tbody.appendChild(h("tr", { class: "record" }, h("td", { colspan: "3" },
          h("span", { class: "record-name", title: r.entity_id, text: truncate(ent ? ent.caption : r.entity_id, 90) }), " ",
          r.schema ? h("span", { class: "badge schema", text: r.schema }) : null, " ",
          sourceRef(r))));
        r.statements.forEach(function (st) {
          tbody.appendChild(h("tr", { dataset: { statement: st.id } },
            h("td", { class: "prop" }, h("span", { class: "mono", text: st.prop })),
            h("td", { class: "value" }, valueView(st), "source" in st ? [" ", sourceRef(st)] : null,
              st.missing ? [" ", h("span", { class: "badge chinese", title: "This statement is no longer in the store", text: "not in store" })] : null),
            h("td", { class: "stmt" }, h("span", { class: "mono muted", title: "Statement " + st.id, text: fmt.short(st.id) }))));
        });
      });
      return h("details", { class: "evidence", open: true },
        h("summary", null, "Evidence: " + s.evidence_total + (s.evidence_total === 1 ? " statement" : " statements") +
          (Object.keys(files).length ? " from " + Object.keys(files).join(", ") : "") + more),
        h("div", { class: "table-wrap" }, h("table", null,
          h("thead", null, h("tr", null, h("th", { scope: "col", text: "Property" }), h("th", { scope: "col", text: "Value" }), h("th", { scope: "col", text: "Statement" }))),
          tbody)));
    }
    function sourceRef(e) {
      if (!e.source) return h("span", { class: "muted", text: "no source file" });
      return h("span", { class: "source-ref" }, h("span", { class: "src", text: e.source }),
        e.source_row !== null && e.source_row !== undefined ? " row " + fmt.int(e.source_row) : "");
    }
    function valueView(e) {
      if (e.ref) {
        var ent = entities[e.ref];
        return h("span", { title: e.value }, ent ? ent.caption : e.value, ent && ent.sanctioned ? [" ", h("span", { class: "badge sanctioned", text: "sanctioned" })] : null);
      }
      return e.value;
    }

    function drawGraph(container, f, entityCard, stepsEl) {
      if (!global.cytoscape) { container.appendChild(h("p", { class: "note", text: "The network view is not available." })); return null; }
      var elements = [];
      f.graph.nodes.forEach(function (n) {
        var e = entities[n.id];
        var st = nodeStyle(e);
        var label = truncate(e ? e.caption : n.id, 36) + (e && e.country ? " (" + String(e.country).toUpperCase() + ")" : "");
        elements.push({ group: "nodes", data: { id: n.id, label: label, color: st.color, shape: st.shape, focus: !!n.focus, sanctioned: !!(e && e.sanctioned) } });
      });
      var stepsByNo = {};
      f.steps.forEach(function (s) { stepsByNo[s.step] = s; });
      f.graph.edges.forEach(function (e) {
        var s = stepsByNo[e.step];
        var amount = s && s.amount !== null && s.amount !== undefined ? " · " + fmt.compact(s.amount) + (s.currency ? " " + s.currency : "") : "";
        elements.push({ group: "edges", data: { id: e.id, source: e.source, target: e.target, step: e.step, label: (e.step + 1) + " " + fmt.label(e.kind) + amount, color: edgeColor(e.kind),
          refused: String(e.kind || "").toLowerCase().indexOf("reject") >= 0 } });
      });
      var lay = layoutFor(f.graph.nodes.map(function (n) { return n.id; }),
        f.graph.edges.map(function (e) { return [e.source, e.target]; }));
      // As tall as the widest column needs, within bounds, so that a chain of
      // payments reads at the size of its labels and a fan keeps its spread.
      container.style.height = (lay.rows ? Math.max(220, Math.min(560, 130 + lay.rows * 100)) : 440) + "px";
      if (lay.pos) elements.forEach(function (el) { if (el.group === "nodes") el.position = lay.pos[el.data.id]; });
      if (lay.bends) {
        elements.filter(function (el) { return el.group === "edges"; }).forEach(function (el, i) {
          if (lay.bends[i] !== null && lay.bends[i] !== undefined) el.data.bend = lay.bends[i];
        });
      }
      var cy = global.cytoscape({
        container: container,
        elements: elements,
        minZoom: 0.25, maxZoom: 3,
        boxSelectionEnabled: false,
        style: [
          { selector: "node", style: {
            "background-color": "data(color)", shape: "data(shape)", label: "data(label)",
            width: 20, height: 20, "border-width": 2, "border-color": "#ffffff",
            "font-family": "Inter Variable, system-ui, sans-serif", "font-size": 11, color: "#0f172a",
            "text-valign": "bottom", "text-margin-y": 5, "text-wrap": "wrap", "text-max-width": "140px",
            "text-background-color": "#ffffff", "text-background-opacity": 0.85, "text-background-padding": "2px",
            "text-background-shape": "roundrectangle",
          } },
          { selector: "node[?focus]", style: { width: 30, height: 30, "font-weight": 600 } },
          { selector: "node[?sanctioned]", style: { "border-color": "#b42318", "border-width": 4 } },
          { selector: "edge", style: {
            width: 2.2, "line-color": "data(color)", "target-arrow-color": "data(color)",
            "target-arrow-shape": "triangle", "curve-style": "bezier", "arrow-scale": 1.1,
            "control-point-step-size": 56,
            label: "data(label)", "font-size": 10, color: "#334155",
            "font-family": "Inter Variable, system-ui, sans-serif",
            "text-rotation": "autorotate", "text-background-color": "#ffffff", "text-background-opacity": 0.9,
            "text-background-padding": "2px",
          } },
          { selector: "edge[?refused]", style: { "line-style": "dashed", "line-dash-pattern": [6, 4] } },
          { selector: "edge[bend]", style: {
            "curve-style": "unbundled-bezier", "control-point-distances": "data(bend)", "control-point-weights": 0.5,
          } },
          { selector: ".dim", style: { opacity: 0.22 } },
          { selector: "node:selected", style: { "overlay-color": "#0f5f73", "overlay-opacity": 0.16, "overlay-padding": 6 } },
          { selector: "edge:selected", style: { width: 4 } },
        ],
        layout: { name: "preset", fit: false },
      });
      if (!lay.pos) cy.layout(lay.options).run();
      cy.fit(undefined, 34);
      if (cy.zoom() > 1.25) { cy.zoom(1.25); cy.center(); }

      function highlight(stepNos) {
        Array.prototype.forEach.call(stepsEl.children, function (li) {
          li.classList.toggle("highlight", stepNos.indexOf(Number(li.dataset.step)) >= 0);
        });
      }
      cy.on("tap", "node", function (evt) {
        var node = evt.target;
        var ent = entities[node.id()] || { id: node.id(), caption: node.id() };
        cy.elements().addClass("dim");
        node.closedNeighborhood().removeClass("dim");
        highlight(node.connectedEdges().map(function (e) { return e.data("step"); }));
        showEntity(entityCard, ent);
      });
      cy.on("tap", "edge", function (evt) {
        var step = evt.target.data("step");
        cy.elements().addClass("dim");
        evt.target.removeClass("dim").connectedNodes().removeClass("dim");
        highlight([step]);
        var li = stepsEl.querySelector('[data-step="' + Number(step) + '"]');
        if (li && li.scrollIntoView) li.scrollIntoView({ block: "nearest", behavior: "smooth" });
      });
      cy.on("tap", function (evt) {
        if (evt.target === cy) { cy.elements().removeClass("dim"); highlight([]); entityCard.hidden = true; }
      });
      return cy;
    }

    function showEntity(box, e) {
      clear(box);
      box.hidden = false;
      box.appendChild(h("button", { type: "button", class: "close", "aria-label": "Close", onclick: function () { box.hidden = true; } }, "×"));
      box.appendChild(h("div", { style: "font-weight:650;margin-bottom:4px", text: e.caption }));
      box.appendChild(h("div", null,
        e.schema ? h("span", { class: "badge schema", text: e.schema }) : null, " ",
        e.country ? h("span", { class: "badge schema", text: countryName(e.country, data.countries) }) : null, " ",
        badges(e)));
      if (e.datasets && e.datasets.length) box.appendChild(h("div", { class: "muted", style: "margin-top:4px" }, "Datasets: " + e.datasets.join(", ")));
      if (e.records > 1) box.appendChild(h("div", { class: "muted" }, e.records + " records resolved into this entity"));
      box.appendChild(h("div", { class: "mono muted", style: "margin-top:4px;font-size:11px", text: e.id }));
    }

    search.addEventListener("input", function () { state.query = search.value.trim(); renderList(); });
    typSelect.addEventListener("change", function () { state.typology = typSelect.value; renderList(); });
    api.on("typology", function (t) { state.typology = t; typSelect.value = t; renderList(); });
    renderList();
    // #finding=<id> in the address opens that finding (a link to it can be shared).
    var fromHash = /^#finding=(.+)$/.exec(global.location ? global.location.hash : "");
    var first = fromHash ? safeDecode(fromHash[1]) : data.findings[0].id;
    select(first, false);
    if (state.current && fromHash) el.scrollIntoView();
    if (!state.current) select(data.findings[0].id, false);
    document.addEventListener("keydown", function (evt) {
      if (evt.key === "Escape") {
        var box = detail.querySelector(".entity-card");
        if (box) box.hidden = true;
      }
    });
  };

  /** Left to right by longest path when the steps form a DAG (chains, fans, trees),
   * with nodes ordered in each column by their predecessors; fCoSE otherwise. */
  function layoutFor(ids, pairs) {
    var n = ids.length;
    if (n <= 1) return { rows: 1, pos: null, options: { name: "grid", fit: false } };
    var placed = n <= 60 ? layered(ids, pairs) : null;
    if (placed) return { rows: placed.rows, pos: placed.pos, bends: placed.bends, options: { name: "preset", fit: false } };
    return { rows: 0, pos: null, options: { name: "fcose", quality: "default", randomize: true, animate: false, fit: false,
      nodeRepulsion: function () { return 9000; }, idealEdgeLength: function () { return 120; } } };
  }
  function layered(ids, pairs) {
    var succ = {}, pred = {};
    ids.forEach(function (id) { succ[id] = []; pred[id] = []; });
    pairs.forEach(function (p) {
      var a = p[0], b = p[1];
      if (a !== b && succ[a] && pred[b]) { succ[a].push(b); pred[b].push(a); }
    });
    // Edges that close a cycle (a wallet paying back to where the money came from)
    // are left out of the layering, found by a depth-first search from the sources.
    var state = {}, back = {};
    function visit(root) {
      var stack = [[root, 0]];
      state[root] = 1;
      while (stack.length) {
        var top = stack[stack.length - 1], id = top[0];
        if (top[1] < succ[id].length) {
          var t = succ[id][top[1]++];
          if (state[t] === 1) back[id + "\u0000" + t] = true;
          else if (!state[t]) { state[t] = 1; stack.push([t, 0]); }
        } else { state[id] = 2; stack.pop(); }
      }
    }
    ids.filter(function (id) { return !pred[id].length; }).concat(ids).forEach(function (id) { if (!state[id]) visit(id); });
    var out = {}, indeg = {}, depth = {};
    ids.forEach(function (id) { out[id] = []; indeg[id] = 0; depth[id] = 0; });
    ids.forEach(function (a) {
      succ[a].forEach(function (b) { if (!back[a + "\u0000" + b]) { out[a].push(b); indeg[b]++; } });
    });
    var queue = ids.filter(function (id) { return indeg[id] === 0; });
    var order = [];
    while (queue.length) {
      var id = queue.shift(); order.push(id);
      out[id].forEach(function (t) {
        depth[t] = Math.max(depth[t], depth[id] + 1);
        if (--indeg[t] === 0) queue.push(t);
      });
    }
    if (order.length !== ids.length) return null;
    // A node with no predecessor sits one column before its first successor, so that
    // a fan-in (many payers into one account) lines up next to its target.
    ids.forEach(function (id) {
      if (!pred[id].length && out[id].length) {
        var m = Math.min.apply(null, out[id].map(function (t) { return depth[t]; }));
        depth[id] = Math.max(0, m - 1);
      }
    });
    // Entities on no step (a finding may name more parties than its steps link) go
    // in a grid below the network instead of a tall first column.
    var loose = ids.length > 1 ? ids.filter(function (id) { return !pred[id].length && !succ[id].length; }) : [];
    if (loose.length === ids.length) loose = [];
    var isLoose = {};
    loose.forEach(function (id) { isLoose[id] = true; });
    var cols = {};
    order.forEach(function (id) { if (!isLoose[id]) (cols[depth[id]] = cols[depth[id]] || []).push(id); });
    var rank = {};
    Object.keys(cols).map(Number).sort(function (a, b) { return a - b; }).forEach(function (d) {
      var col = cols[d];
      col.forEach(function (id) {
        var preds = pred[id].map(function (p) { return rank[p]; }).filter(function (r) { return r !== undefined; });
        col.bary = col.bary || {};
        col.bary[id] = preds.length ? preds.reduce(function (a, b) { return a + b; }, 0) / preds.length : col.indexOf(id);
      });
      col.sort(function (a, b) { return col.bary[a] - col.bary[b]; });
      col.forEach(function (id, i) { rank[id] = i - (col.length - 1) / 2; });
    });
    var pos = {};
    var rows = Math.max.apply(null, [1].concat(Object.keys(cols).map(function (d) { return cols[d].length; })));
    Object.keys(rank).forEach(function (id) { pos[id] = { x: depth[id] * 200, y: rank[id] * 100 }; });
    if (loose.length) {
      var ncols = Object.keys(cols).length;
      var width = Math.max(4, Math.min(8, Math.ceil(Math.sqrt(loose.length * 2)), 2 * ncols));
      var step = Math.max(1, ncols - 1) * 200 / Math.max(1, width - 1);
      var top = (rows - 1) / 2 * 100 + 110;
      loose.forEach(function (id, i) { pos[id] = { x: (i % width) * Math.max(150, step), y: top + Math.floor(i / width) * 72 }; });
      rows += Math.ceil(loose.length / width) * 0.75;
    }
    // An edge that skips a column, or runs backwards, would cross the nodes between
    // its ends: it arcs above (forwards) or below (backwards) them instead.
    var bends = pairs.map(function (p) {
      var a = pos[p[0]], b = pos[p[1]];
      if (!a || !b || p[0] === p[1]) return null;
      var span = (b.x - a.x) / 200;
      if (span > 1.01) return -(30 + 22 * span);
      if (span < -0.01) return 40 + 22 * -span;
      return null;
    });
    return { pos: pos, rows: rows, bends: bends };
  }

  // == flows =============================================================================

  S.sections.flows = function (el, data) {
    var countries = data.countries || {};
    var state = { metric: "value", origin: "", transit: false, on: {} };
    var money = data.money, goods = data.goods;
    var chanIndex = {};
    money.channels.forEach(function (c, i) {
      chanIndex[c.key] = { label: c.label, color: channelColor(c.key, i), rejected: c.rejected };
      state.on[c.key] = !c.rejected; // payments banks refused did not move money: off at first
    });

    var metricCtl = segmented([{ value: "value", label: "Value (USD)" }, { value: "count", label: "Records" }], "value",
      function (v) { state.metric = v; draw(); }, "Measure");
    var chips = h("div", { class: "channel-toggles", role: "group", "aria-label": "Payment channels shown" },
      money.channels.map(function (c) {
        var b = h("button", { type: "button", class: "toggle", "aria-pressed": String(state.on[c.key]), dataset: { channel: c.key } },
          h("span", { class: "swatch", style: "background:" + chanIndex[c.key].color }), c.label);
        b.addEventListener("click", function () {
          state.on[c.key] = !state.on[c.key];
          b.setAttribute("aria-pressed", String(state.on[c.key]));
          draw();
        });
        return b;
      }));
    el.appendChild(h("div", { class: "controls", style: "margin-bottom:12px" }, h("label", null, "Measure "), metricCtl));

    var moneyChart = h("div", { class: "chart", role: "img", "aria-label": "Sankey diagram of money from payer country through channel to beneficiary country" });
    var moneyMonthly = h("div", { class: "chart small", role: "img", "aria-label": "Money by month and channel" });
    var goodsChart = h("div", { class: "chart", role: "img", "aria-label": "Sankey diagram of goods from origin through country of departure to destination" });
    var goodsMonthly = h("div", { class: "chart small", role: "img", "aria-label": "Goods by month, direct or through a third country" });
    var originSel = h("select", { "aria-label": "Country of origin" }, h("option", { value: "", text: "All origins" }));
    var origins = {};
    goods.routes.forEach(function (r) { if (r.origin) origins[r.origin] = (origins[r.origin] || 0) + r.count; });
    Object.keys(origins).sort(function (a, b) { return origins[b] - origins[a]; }).forEach(function (o) {
      originSel.appendChild(h("option", { value: o, text: countryName(o, countries) }));
    });
    originSel.addEventListener("change", function () { state.origin = originSel.value; draw(); });
    var routeCtl = segmented([{ value: false, label: "All routes" }, { value: true, label: "Through a third country" }], false,
      function (v) { state.transit = v; draw(); }, "Routes");

    if (money.channels.length) {
      el.appendChild(card("Money: payer country → channel → beneficiary country", [
        chips,
        moneyChart,
        h("p", { class: "note", text: "Bank payments, app payments, cash currency sales, netting (offset) transactions and crypto transfers. A party's country is its registered country or jurisdiction; wallets take their holder's where it is known." }),
      ]));
      el.appendChild(h("div", { class: "grid grid-2", style: "margin-top:16px" },
        card("Money by month and channel", moneyMonthly),
        card("Channels", channelTable())));
    }
    if (goods.routes.length) {
      el.appendChild(h("div", { style: "margin-top:16px" }, card("Goods: origin → country of departure → destination", [
        goodsChart,
        h("p", { class: "note", text: "Customs declarations. The middle column is the country the goods left from when it is not their country of origin (a third country), else \u201cdirect\u201d. Values are customs values at each declaration's own dollar rate." }),
      ], h("div", { class: "controls" }, routeCtl, originSel))));
      el.appendChild(h("div", { class: "grid grid-2", style: "margin-top:16px" },
        card("Goods by month", goodsMonthly),
        card("Goods by HS chapter", chapterTable())));
    }
    var rates = Object.keys(data.rates || {});
    el.appendChild(h("p", { class: "note", style: "margin-top:12px" },
      "Amounts in other currencies are converted to US dollars at indicative mid rates: " +
      rates.map(function (c) { return "1 " + c + " = " + fmt.num(data.rates[c]) + " USD"; }).join(", ") + "." +
      (data.unpriced_currencies && data.unpriced_currencies.length ? " No rate for " + data.unpriced_currencies.join(", ") + ": those amounts count as records only." : "")));

    function channelTable() {
      var max = Math.max.apply(null, [1].concat(money.channels.map(function (c) { return c.value_usd || 0; })));
      return table([
        { label: "Channel", value: function (c) { return [h("span", { class: "swatch", style: "background:" + chanIndex[c.key].color }), c.label]; } },
        { label: "Currencies", value: function (c) { return c.currencies.join(", "); } },
        { label: "Records", num: true, value: function (c) { return fmt.int(c.count); } },
        { label: "Value", num: true, value: function (c) { return fmt.usd(c.value_usd); } },
        { label: "", class: "bar-cell", value: function (c) { return bar((c.value_usd || 0) / max, c.rejected ? "danger" : "money"); } },
      ], money.channels);
    }
    function chapterTable() {
      var max = Math.max.apply(null, [1].concat(goods.chapters.map(function (c) { return c.value_usd || 0; })));
      return table([
        { label: "HS", value: function (c) { return h("span", { class: "mono", text: c.chapter || "–" }); } },
        { label: "Most declared goods", class: "name", value: function (c) { return c.goods || ""; } },
        { label: "Declarations", num: true, value: function (c) { return fmt.int(c.count); } },
        { label: "Value", num: true, value: function (c) { return fmt.usd(c.value_usd); } },
        { label: "", class: "bar-cell", value: function (c) { return bar((c.value_usd || 0) / max, "goods"); } },
      ], goods.chapters);
    }

    var drawn = [];
    function draw() {
      drawn.forEach(function (c) { if (c) c.dispose(); });
      drawn = [];
      [moneyChart, moneyMonthly, goodsChart, goodsMonthly].forEach(clear);
      if (money.channels.length) { drawn.push(drawMoney()); drawn.push(drawMonthly()); }
      if (goods.routes.length) { drawn.push(drawGoods()); drawn.push(drawGoodsMonthly()); }
    }
    function measure(x) { return state.metric === "value" ? (x.value_usd || 0) : x.count; }

    function drawMoney() {
      var nodes = {}, links = {};
      function node(name, label, depth, color) { if (!nodes[name]) nodes[name] = { name: name, label: label, depth: depth, color: color }; }
      money.links.forEach(function (l) {
        var ch = chanIndex[l.channel];
        if (!ch || !state.on[l.channel]) return;
        var v = measure(l);
        if (!(v > 0)) return;
        var a = "from:" + (l.from || "?"), b = "via:" + l.channel, c = "to:" + (l.to || "?");
        node(a, countryName(l.from, countries), 0, l.from ? "#475569" : "#cbd5e1");
        node(b, ch.label, 1, ch.color);
        node(c, countryName(l.to, countries), 2, l.to ? "#475569" : "#cbd5e1");
        [[a, b], [b, c]].forEach(function (p) {
          var k = p[0] + "\u0000" + p[1];
          links[k] = links[k] || { source: p[0], target: p[1], value: 0 };
          links[k].value += v;
        });
      });
      return sankey(moneyChart, values(nodes), values(links), state.metric, "");
    }
    function drawGoods() {
      var nodes = {}, links = {};
      function node(name, label, depth, color) { if (!nodes[name]) nodes[name] = { name: name, label: label, depth: depth, color: color }; }
      goods.routes.forEach(function (r) {
        if ((state.origin && r.origin !== state.origin) || (state.transit && !r.via)) return;
        var v = measure(r);
        if (!(v > 0)) return;
        var a = "origin:" + (r.origin || "?"), b = "via:" + (r.via || "direct"), c = "to:" + (r.destination || "?");
        node(a, countryName(r.origin, countries) + " (origin)", 0, "#b45309");
        node(b, r.via ? "via " + countryName(r.via, countries) : "direct", 1, r.via ? "#0f5f73" : "#94a3b8");
        node(c, countryName(r.destination, countries), 2, "#475569");
        [[a, b], [b, c]].forEach(function (p) {
          var k = p[0] + "\u0000" + p[1];
          links[k] = links[k] || { source: p[0], target: p[1], value: 0 };
          links[k].value += v;
        });
      });
      return sankey(goodsChart, values(nodes), values(links), state.metric, "");
    }
    function drawMonthly() {
      var months = uniq(money.monthly.map(function (m) { return m.month; })).sort();
      var keys = money.channels.filter(function (c) { return state.on[c.key]; }).map(function (c) { return c.key; });
      var series = keys.map(function (k) {
        var by = {};
        money.monthly.forEach(function (m) { if (m.channel === k) by[m.month] = measure(m); });
        return { name: chanIndex[k].label, type: "bar", stack: "money", barMaxWidth: 22, itemStyle: { color: chanIndex[k].color },
          emphasis: { focus: "series" }, data: months.map(function (m) { return by[m] || 0; }) };
      });
      return timeChart(moneyMonthly, months, series);
    }
    function drawGoodsMonthly() {
      var rows = goods.monthly;
      var months = uniq(rows.map(function (m) { return m.month; })).sort();
      var kinds = [["transit", "Through a third country", "#0f5f73"], ["direct", "Direct", "#94a3b8"]];
      var series = kinds.filter(function (k) { return !state.transit || k[0] === "transit"; }).map(function (s) {
        var by = {};
        rows.forEach(function (m) { if (m.route === s[0]) by[m.month] = measure(m); });
        return { name: s[1], type: "bar", stack: "goods", barMaxWidth: 22, itemStyle: { color: s[2] },
          data: months.map(function (m) { return by[m] || 0; }) };
      });
      return timeChart(goodsMonthly, months, series);
    }
    function timeChart(container, months, series) {
      var fmtAxis = state.metric === "value" ? function (v) { return "$" + compact.format(v); } : function (v) { return compact.format(v); };
      return chart(container, {
        grid: { left: 56, right: 12, top: 40, bottom: months.length > 18 ? 56 : 28 },
        legend: { type: "scroll", top: 0, textStyle: { fontSize: 11.5 } },
        tooltip: { trigger: "axis", axisPointer: { type: "shadow" }, confine: true,
          formatter: function (ps) {
            var lines = ps.filter(function (p) { return p.value; }).map(function (p) { return p.seriesName + ": " + fmtAxis(p.value); });
            return tooltipBox(ps.length ? ps[0].axisValue : "", lines);
          } },
        xAxis: { type: "category", data: months, axisLabel: { fontSize: 11 } },
        yAxis: { type: "value", axisLabel: { formatter: fmtAxis, fontSize: 11 }, splitLine: { lineStyle: { color: "#eef1f5" } } },
        dataZoom: months.length > 18 ? [{ type: "slider", height: 18, bottom: 6 }] : [],
        series: series,
      });
    }
    draw();
  };

  function safeDecode(s) { try { return decodeURIComponent(s); } catch (e) { return s; } }
  function values(obj) { return Object.keys(obj).map(function (k) { return obj[k]; }); }
  function uniq(xs) { var seen = {}; return xs.filter(function (x) { if (seen[x]) return false; seen[x] = true; return true; }); }

  // == inventory =========================================================================

  S.sections.inventory = function (el, data) {
    var entities = data.entities || {};
    var countries = data.countries || {};
    var total = data.total;
    var chineseLabel = (data.chinese_countries || []).map(function (c) { return countryName(c, countries); }).join(", ");
    el.appendChild(h("div", { class: "kpis" },
      kpi("Items installed", fmt.int(total.items), data.categories.length + " categories"),
      kpi("From Chinese suppliers", fmt.pct(total.items ? total.chinese / total.items : null), fmt.int(total.chinese) + " items made or supplied from " + chineseLabel),
      kpi("With a sanctioned supplier", fmt.int(total.sanctioned), "manufacturer, supplier or parts supplier designated", total.sanctioned > 0),
      total.people_served ? kpi("People served", fmt.compact(total.people_served), "by the base stations in the inventory") : null));

    var catChart = h("div", { class: "chart small", role: "img", "aria-label": "Installed equipment by category and supplier origin" });
    var regionTable = (function () {
      var max = Math.max.apply(null, [1].concat(data.regions.map(function (r) { return r.items; })));
      return table([
        { label: "Region", class: "name", value: function (r) { return r.region || "Unknown"; } },
        { label: "Items", num: true, value: function (r) { return fmt.int(r.items); } },
        { label: "", class: "bar-cell", value: function (r) { return bar(r.items / max); } },
        { label: "Chinese", num: true, value: function (r) { return fmt.pct(r.items ? r.chinese / r.items : null); } },
        { label: "Sanctioned supplier", num: true, value: function (r) { return fmt.int(r.sanctioned); } },
        { label: "People served", num: true, value: function (r) { return r.people_served ? fmt.compact(r.people_served) : "–"; } },
      ], data.regions);
    })();
    el.appendChild(h("div", { class: "grid grid-2" },
      card("Supplier origin by category (share of items)", catChart),
      card("By region", regionTable)));

    var roleLabel = { manufacturer: "Manufacturer", supplier: "Supplier", parts_supplier: "Parts and service" };
    var maxS = Math.max.apply(null, [1].concat(data.suppliers.map(function (s) { return s.items; })));
    var isSanctioned = function (s) { return !!(entities[s.id] && entities[s.id].sanctioned); };
    var nSanctioned = data.suppliers.filter(isSanctioned).length;
    var supplierBox = h("div");
    function supplierTable(onlySanctioned) {
      clear(supplierBox);
      var rows = onlySanctioned ? data.suppliers.filter(isSanctioned) : data.suppliers;
      supplierBox.appendChild(rows.length ? table([
        { label: "Supplier", class: "name", value: function (s) { return partyCell(s.id); } },
        { label: "Role", value: function (s) { return roleLabel[s.role] || fmt.label(s.role); } },
        { label: "Country", value: function (s) { var e = entities[s.id]; return e && e.country ? countryName(e.country, countries) : "–"; } },
        { label: "Items", num: true, value: function (s) { return fmt.int(s.items); } },
        { label: "", class: "bar-cell", value: function (s) { return bar(s.items / maxS, isSanctioned(s) ? "danger" : ""); } },
        { label: "Operators", num: true, value: function (s) { return fmt.int(s.operators); } },
        { label: "Categories", value: function (s) { return s.categories.map(fmt.label).join(", "); } },
      ], rows, { rowAttrs: function (s) { return { dataset: { supplier: s.id } }; } }) : h("p", { class: "empty", text: "No sanctioned supplier in the inventory." }));
    }
    supplierTable(false);
    el.appendChild(h("div", { style: "margin-top:16px" }, card("Suppliers the installed base depends on", [
      supplierBox,
      h("p", { class: "note", text: "The " + fmt.int(data.suppliers_top) + " largest of " + fmt.int(data.suppliers_total) + " suppliers by role (maker, supplier, parts and service), and every sanctioned one." }),
    ], segmented([{ value: false, label: "Largest" }, { value: true, label: "Sanctioned (" + nSanctioned + ")" }], false, supplierTable, "Suppliers shown"))));

    var maxO = Math.max.apply(null, [1].concat(data.operators.map(function (o) { return o.items; })));
    el.appendChild(h("div", { style: "margin-top:16px" }, card("Operators and their dependency", [
      table([
        { label: "Operator", class: "name", value: function (o) { return partyCell(o.id); } },
        { label: "Items", num: true, value: function (o) { return fmt.int(o.items); } },
        { label: "", class: "bar-cell", value: function (o) { return bar(o.items / maxO); } },
        { label: "Sites", num: true, value: function (o) { return fmt.int(o.sites); } },
        { label: "Chinese", num: true, value: function (o) { return fmt.pct(o.items ? o.chinese / o.items : null); } },
        { label: "Suppliers", num: true, value: function (o) { return fmt.int(o.suppliers); } },
        { label: "Sanctioned suppliers", num: true, value: function (o) { return o.sanctioned_suppliers ? h("span", { class: "badge sanctioned", text: fmt.int(o.sanctioned_suppliers) }) : "0"; } },
        { label: "Regions", class: "name", value: function (o) { return o.regions.join(", "); } },
      ], data.operators),
      h("p", { class: "note", text: "The " + data.operators.length + " largest of " + fmt.int(data.operators_total) + " operators." }),
    ])));

    if (data.sites && data.sites.length) {
      var maxSite = Math.max.apply(null, [1].concat(data.sites.map(function (x) { return x.items; })));
      el.appendChild(h("div", { style: "margin-top:16px" }, card("Sites with the most equipment", [
        table([
          { label: "Site", class: "name", value: function (x) { return x.site; } },
          { label: "Region", class: "name", value: function (x) { return x.region || "–"; } },
          { label: "Items", num: true, value: function (x) { return fmt.int(x.items); } },
          { label: "", class: "bar-cell", value: function (x) { return bar(x.items / maxSite, x.sanctioned ? "danger" : ""); } },
          { label: "Chinese", num: true, value: function (x) { return fmt.pct(x.items ? x.chinese / x.items : null); } },
          { label: "Sanctioned supplier", num: true, value: function (x) { return x.sanctioned ? h("span", { class: "badge sanctioned", text: fmt.int(x.sanctioned) }) : "0"; } },
          { label: "Operator", class: "name", value: function (x) {
            return [x.operators.map(function (id) { var e = entities[id]; return truncate(e ? e.caption : id, 60); }).join(", "),
              x.operators_total > x.operators.length ? " and " + (x.operators_total - x.operators.length) + " more" : ""];
          } },
          { label: "Categories", value: function (x) { return x.categories.map(fmt.label).join(", "); } },
        ], data.sites),
        h("p", { class: "note", text: "The " + data.sites.length + " sites with the most items of " + fmt.int(data.sites_total) + " sites." }),
      ])));
    }

    function partyCell(id) {
      var e = entities[id];
      return [h("span", { title: id, text: truncate(e ? e.caption : id, 90) }), " ", badges(e),
        e && data.chinese_countries.indexOf(e.country) >= 0 ? h("span", { class: "badge chinese", text: "Chinese" }) : null];
    }
    function kpi(label, value, note, alert) {
      return h("div", { class: "card kpi" + (alert ? " alert" : "") },
        h("div", { class: "kpi-label", text: label }), h("div", { class: "kpi-value", text: value }), h("div", { class: "kpi-note", text: note }));
    }

    // Share of each category's items by the country of their maker (or supplier).
    var cats = data.categories.map(function (c) { return c.category; });
    var catTotal = {};
    data.categories.forEach(function (c) { catTotal[c.category] = c.items; });
    var originCodes = uniq(data.origins.map(function (o) { return o.country || ""; }));
    var counts = {};
    var series = originCodes.map(function (code, i) {
      var by = {};
      data.origins.forEach(function (o) { if ((o.country || "") === code) by[o.category] = o.items; });
      var name = countryName(code || null, countries);
      counts[name] = by;
      var chinese = data.chinese_countries.indexOf(code) >= 0;
      return { name: name, type: "bar", stack: "origin", barMaxWidth: 24,
        itemStyle: { color: chinese ? ["#b45309", "#d97706", "#f59e0b"][i % 3] : ["#0f5f73", "#64748b", "#2563eb", "#7c3aed", "#0d9488"][i % 5] },
        data: cats.map(function (c) { return catTotal[c] ? 100 * (by[c] || 0) / catTotal[c] : 0; }) };
    });
    catChart.style.height = Math.max(220, 90 + cats.length * 34) + "px";
    chart(catChart, {
      grid: { left: 118, right: 20, top: 34, bottom: 24 },
      legend: { type: "scroll", top: 0, textStyle: { fontSize: 11.5 } },
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" }, confine: true, formatter: function (ps) {
        var cat = ps.length ? cats[ps[0].dataIndex] : "";
        return tooltipBox(fmt.label(cat) + " (" + fmt.int(catTotal[cat]) + " items)", ps.filter(function (p) { return p.value; }).map(function (p) {
          return p.seriesName + ": " + fmt.int(counts[p.seriesName][cat] || 0) + " (" + Math.round(p.value) + "%)";
        }));
      } },
      xAxis: { type: "value", max: 100, splitLine: { lineStyle: { color: "#eef1f5" } }, axisLabel: { fontSize: 11, formatter: "{value}%" } },
      yAxis: { type: "category", data: cats.map(function (c) { return fmt.label(c) + " · " + fmt.int(catTotal[c]); }), inverse: true, axisLabel: { fontSize: 11.5 } },
      series: series,
    });
  };

  // == sources ===========================================================================

  S.sections.sources = function (el, data) {
    el.appendChild(card(null, table([
      { label: "File", class: "name", value: function (s) { return h("span", { class: "src", text: s.name }); } },
      { label: "Dataset", value: function (s) { return h("span", { class: "mono", text: s.dataset }); } },
      { label: "Format", value: function (s) { return s.format; } },
      { label: "Rows", num: true, value: function (s) { return fmt.int(s.rows_in); } },
      { label: "Stored", num: true, value: function (s) { return fmt.int(s.rows_stored); } },
      { label: "Rejected", num: true, value: function (s) { return s.rows_rejected ? h("span", { class: "badge chinese", text: fmt.int(s.rows_rejected) }) : "0"; } },
      { label: "Filtered", num: true, value: function (s) { return fmt.int(s.rows_filtered); } },
      { label: "Size", num: true, value: function (s) { return fmt.compact(s.size_bytes) + "B"; } },
      { label: "SHA-256", value: function (s) { return h("span", { class: "mono muted", title: "first 16 hex digits", text: s.sha256 }); } },
    ], data.sources)));
  };
})(typeof window !== "undefined" ? window : this);
