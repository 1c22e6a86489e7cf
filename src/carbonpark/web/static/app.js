// carbonpark dashboard: draws the plotly.js figures of the page, streams live monitoring values,
// shows upload progress. No inline scripts (the Content-Security-Policy forbids them).
"use strict";

function drawCharts() {
  document.querySelectorAll("script.figure").forEach(function (node) {
    var fig = JSON.parse(node.textContent);
    var layout = Object.assign({ margin: { t: 20, r: 20, b: 60, l: 60 }, autosize: true }, fig.layout || {});
    window.Plotly.newPlot(node.dataset.target, fig.data, layout, { responsive: true, displaylogo: false });
  });
}

function liveMonitoring() {
  var box = document.getElementById("live");
  if (!box || !window.EventSource) { return; }
  var source = new EventSource(box.dataset.stream);
  source.addEventListener("overview", function (event) {
    var doc = JSON.parse(event.data);
    box.dataset.asOf = doc.as_of || "";
    box.textContent = (doc.as_of || "") + (doc.emissions && doc.emissions.tco2e_per_h != null ? " · " + doc.emissions.tco2e_per_h.toFixed(3) + " tCO2e/h" : "");
  });
  window.addEventListener("pagehide", function () { source.close(); });
}

function uploadProgress() {
  document.querySelectorAll("form.upload-form").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var bar = form.querySelector("progress.upload-progress");
      bar.hidden = false;
      form.querySelectorAll("button").forEach(function (b) { b.disabled = true; });
      var xhr = new XMLHttpRequest();
      xhr.open("POST", form.action);
      xhr.upload.addEventListener("progress", function (e) { if (e.lengthComputable) { bar.value = 100 * e.loaded / e.total; } });
      // sent: the server is importing; an indeterminate bar until its result page arrives
      xhr.upload.addEventListener("load", function () { bar.removeAttribute("value"); });
      xhr.addEventListener("load", function () {
        document.open();
        document.write(xhr.responseText);
        document.close();
      });
      xhr.send(new FormData(form));
    });
  });
}

document.addEventListener("DOMContentLoaded", function () {
  if (window.Plotly) { drawCharts(); }
  liveMonitoring();
  uploadProgress();
});
