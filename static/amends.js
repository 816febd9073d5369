// Progress bars poll their JSON endpoint; charts draw from a json_script block. No framework, no CDN.
(function () {
  "use strict";

  function poll(el) {
    var url = el.getAttribute("data-progress-url");
    var bar = el.tagName === "PROGRESS" ? el : el.querySelector("progress");
    var wasFinished = el.getAttribute("data-finished") === "1";
    function tick() {
      fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (r) {
          // A lost session answers with the login page: say so instead of polling forever.
          if (!r.ok || (r.headers.get("Content-Type") || "").indexOf("json") < 0) throw new Error("stopped");
          return r.json();
        })
        .then(function (p) {
          if (bar) { bar.value = p.percent; bar.textContent = p.percent + "%"; }
          el.querySelectorAll && el.querySelectorAll("[data-field]").forEach(function (f) {
            var v = p[f.getAttribute("data-field")];
            if (v === undefined) return;
            f.textContent = typeof v === "number" ? v.toLocaleString() : v;
            if (f.hasAttribute("hidden") && v) f.removeAttribute("hidden");
          });
          if (p.finished) {
            if (!wasFinished) window.location.reload();
            return;
          }
          setTimeout(tick, 1000);
        })
        .catch(function (e) {
          if (e.message === "stopped") {
            var note = document.createElement("p");
            note.className = "error";
            note.textContent = "Progress stopped updating: reload the page (you may need to log in again).";
            el.appendChild(note);
            return;
          }
          setTimeout(tick, 3000);
        });
    }
    if (!wasFinished) tick();
  }

  function charts() {
    var data = document.getElementById("chart-data");
    if (!data || !window.Chart) return;
    var d = JSON.parse(data.textContent);
    var ink = getComputedStyle(document.documentElement).getPropertyValue("--accent").trim() || "#b3261e";
    var common = {
      animation: false,
      responsive: true,
      plugins: { legend: { display: false } },
      scales: { y: { beginAtZero: true, ticks: { precision: 0 } } },
    };
    new Chart(document.getElementById("chart-burst"), {
      type: "bar",
      data: { labels: d.burst.labels, datasets: [{ label: "messages", data: d.burst.values, backgroundColor: ink, barPercentage: 1, categoryPercentage: 1 }] },
      options: Object.assign({}, common, { scales: { x: { ticks: { maxTicksLimit: 12 } }, y: common.scales.y } }),
    });
    // The bins widen as counts grow (1, 2, ... 10-14, 25-49, 1000+): drawn as equal bars, a wide bin would look
    // like a spike. Each bar's height is people per message count in its bin; the tooltip gives the bin's total.
    var widths = d.counts.labels.map(binWidth);
    var density = d.counts.values.map(function (n, i) { return n / widths[i]; });
    new Chart(document.getElementById("chart-counts"), {
      type: "bar",
      data: { labels: d.counts.labels, datasets: [{ label: "people per message count", data: density, backgroundColor: "#37474f" }] },
      options: Object.assign({}, common, {
        plugins: { legend: { display: false }, tooltip: { callbacks: { label: function (c) {
          var n = d.counts.values[c.dataIndex];
          return n.toLocaleString() + " people received " + c.label + " messages" + (widths[c.dataIndex] > 1 ? " (" + (Math.round(density[c.dataIndex] * 10) / 10) + " per count)" : "");
        } } } },
        scales: {
          x: { title: { display: true, text: "messages received (bins widen)" }, ticks: { maxTicksLimit: 20 } },
          y: { beginAtZero: true, title: { display: true, text: "people per message count" } },
        },
      }),
    });
  }

  // "25-49" is 25 counts wide, "7" one; an open last bin ("1000+") is drawn as wide as the one before it.
  function binWidth(label, i, labels) {
    var m = /^(\d+)-(\d+)$/.exec(label);
    if (m) return Number(m[2]) - Number(m[1]) + 1;
    if (/\+$/.test(label) && i > 0) return binWidth(labels[i - 1], i - 1, labels);
    return 1;
  }

  function resultsChart() {
    var data = document.getElementById("results-data");
    if (!data || !window.Chart) return;
    var d = JSON.parse(data.textContent);
    var palette = ["#b3261e", "#0b57d0", "#1b5e20", "#8a4b00", "#6a1b9a", "#37474f", "#00838f", "#ad1457"];
    new Chart(document.getElementById("chart-results"), {
      type: "bar",
      data: {
        labels: d.days,
        datasets: d.series.map(function (s, i) { return { label: s.name, data: s.values, backgroundColor: palette[i % palette.length] }; }),
      },
      options: { animation: false, responsive: true, scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } } },
    });
  }

  // <form data-confirm="Question?">: asks before submitting (no inline handlers under the Content-Security-Policy).
  function confirmForms() {
    document.querySelectorAll("form[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (!window.confirm(form.getAttribute("data-confirm"))) event.preventDefault();
      });
    });
  }

  // <p data-reload-after="3">: a page waiting on a worker (a letter preview) looks again every few seconds.
  function reloads() {
    document.querySelectorAll("[data-reload-after]").forEach(function (el) {
      var seconds = parseInt(el.getAttribute("data-reload-after"), 10) || 3;
      window.setTimeout(function () { window.location.reload(); }, seconds * 1000);
    });
    document.querySelectorAll("[data-reload-now]").forEach(function (a) {
      a.addEventListener("click", function (event) { event.preventDefault(); window.location.reload(); });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-progress-url]").forEach(poll);
    reloads();
    confirmForms();
  });
  window.addEventListener("load", charts);
  window.addEventListener("load", resultsChart);
})();
