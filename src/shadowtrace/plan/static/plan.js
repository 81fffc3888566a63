/* shadowtrace report: the plan section's island (Shadowtrace.util comes with report.js). */
(function () {
  var S = window.Shadowtrace;
  S.sections.plan = function (el, data) {
    var u = S.util, h = u.h, fmt = u.fmt;
    var STAGES = [["model_static", "Model, no one adapting"], ["model_adapted", "Model, adapting"],
                  ["truth_static", "World, before adaptation"], ["truth_adapted", "World, after adaptation"]];
    if (data.dismantle) {
      var d = data.dismantle, s = d.summary || {}, solver = s.solver || {};
      el.appendChild(h("p", { class: "muted" },
        "Dismantle plan, budget " + (d.params || {}).budget + ", policy from " + (s.from_date || "") +
        ": " + (solver.method || "") + " (" + (solver.solver || "") + "), gap " + fmt.pct(solver.gap) + "."));
      el.appendChild(u.card("Targets", u.table([
        { label: "#", num: true, value: function (r) { return String(r.rank); } },
        { label: "Action", value: function (r) { return r.action + (r.policy_ref ? " (" + r.policy_ref + ")" : ""); } },
        { label: "Target", value: function (r) { return r.caption; } },
        { label: "Flow through", num: true, value: function (r) { return fmt.usd(r.flow_through); } },
        { label: "Cut, static", num: true, value: function (r) { return fmt.usd(r.cut_static); } },
        { label: "Cut, adapted", num: true, value: function (r) { return fmt.usd(r.cut_adapted); } },
        { label: "Why", value: function (r) {
            var ev = (r.records || []).map(function (x) {
              return h("li", null, (x.kind || "") + " " + fmt.usd(x.value_usd) + " " + (x.date || "") +
                " — " + (x.sources || []).join(", "));
            });
            return h("details", null, h("summary", null, (r.roles || []).join("; ")),
              h("p", null, r.explanation || ""), ev.length ? h("ul", null, ev) : null);
          } },
      ], d.targets || [])));
      var flows = d.flows || [], byKey = {}, keys = [];
      flows.forEach(function (f) {
        var k = f.strategy + "|" + f.budget;
        if (!byKey[k]) { byKey[k] = { strategy: f.strategy, budget: f.budget }; keys.push(k); }
        byKey[k][f.stage] = f;
      });
      var cols = [{ label: "Strategy", value: function (r) { return r.strategy; } },
                  { label: "K", num: true, value: function (r) { return String(r.budget); } }];
      STAGES.forEach(function (st) {
        cols.push({ label: st[1], num: true, value: function (r) {
          var f = r[st[0]]; return f ? fmt.usd(f.removed) + " (" + fmt.pct(f.share) + ")" : "";
        } });
      });
      el.appendChild(u.card("Flow removed, before and after adaptation", u.table(cols, keys.map(function (k) { return byKey[k]; }))));
    }
    if (data.replace) {
      var r = data.replace, phases = (r.summary || {}).phases || [];
      el.appendChild(u.card("Replacement schedule", u.table([
        { label: "Phase", num: true, value: function (x) { return String(x.phase); } },
        { label: "Category", value: function (x) { return x.category; } },
        { label: "Option", value: function (x) { return x.option; } },
        { label: "Units", num: true, value: function (x) { return fmt.int(x.units); } },
        { label: "Cost", num: true, value: function (x) { return fmt.usd(x.cost); } },
        { label: "Capacity restored", num: true, value: function (x) { return fmt.int(x.capacity) + " " + (x.capacity_unit || ""); } },
      ], r.by_phase || [], { caption: phases.map(function (p) {
        return "phase " + p.phase + ": " + fmt.usd(p.spent) + " spent, " + fmt.pct(p.share_of_criticality) + " of criticality";
      }).join("; ") })));
    }
    if (data.restore) {
      // One row per channel: what it carries now, then, for each what-if policy, its
      // volume in the re-simulated world without the policy and with it.
      var byChannel = {}, channels = [], policies = [];
      (data.restore.channels || []).forEach(function (x) {
        if (!byChannel[x.channel]) {
          byChannel[x.channel] = { channel: x.channel, transparent: x.transparent, at: {} };
          channels.push(x.channel);
        }
        byChannel[x.channel].at[x.scenario] = x;
        var policy = x.scenario.split(":")[0];
        if (x.scenario !== "observed" && policies.indexOf(policy) < 0) policies.push(policy);
      });
      var columns = [
        { label: "Channel", value: function (x) { return x.channel + (x.transparent ? " (transparent)" : ""); } },
        { label: "Observed volume", num: true, value: function (x) {
            return x.at.observed ? fmt.usd(x.at.observed.volume) : "—"; } },
        { label: "Fees lost (8–15%)", num: true, value: function (x) {
            var o = x.at.observed;
            return !o || x.transparent ? "" : fmt.usd(o.fees_low) + "–" + fmt.usd(o.fees_high); } },
      ];
      policies.forEach(function (policy) {
        columns.push({ label: policy + ": before → after", num: true, value: function (x) {
          var b = x.at[policy + ":before"], a = x.at[policy + ":after"];
          if (!b && !a) { return "—"; }
          return fmt.usd(b ? b.volume : 0) + " → " + fmt.usd(a ? a.volume : 0);
        } });
      });
      el.appendChild(u.card("Channels and what-if policies", u.table(
        columns, channels.map(function (name) { return byChannel[name]; }),
        { caption: "Volume by payment channel as observed, and in the simulated world " +
          "without (before) and with (after) each policy." })));
    }
  };
})();
