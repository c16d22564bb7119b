// The chrono form: show only the chosen target's fieldsets, and keep the schedule preview current.
(function () {
  "use strict";

  // Fieldsets classed "cf-target cf-target-HTTP" show while HTTP is chosen (automations/admin_forms.py).
  function showChosenTarget(select) {
    document.querySelectorAll("fieldset.cf-target").forEach(function (fieldset) {
      const shown = fieldset.classList.contains("cf-target-" + select.value);
      fieldset.hidden = !shown;
      fieldset.style.display = shown ? "" : "none";
      fieldset.setAttribute("aria-hidden", shown ? "false" : "true");
    });
  }

  // The preview of what is typed, before saving; also on load, so a refused save shows it again.
  function previewSchedule(config) {
    const schedule = document.getElementById("id_schedule");
    const zone = document.getElementById("id_timezone");
    const box = document.querySelector(".field-schedule_preview .readonly");
    const url = config.dataset.previewUrl;
    if (!schedule || !zone || !box || !url) { return; }
    let timer = null;
    function refresh() {
      if (!schedule.value.trim()) { return; }
      const query = new URLSearchParams({schedule: schedule.value, timezone: zone.value});
      fetch(url + "?" + query.toString(), {credentials: "same-origin"})
        .then(function (response) { return response.json(); })
        .then(function (data) { box.innerHTML = data.html; })  // server-escaped HTML
        .catch(function () {});
    }
    function later() { clearTimeout(timer); timer = setTimeout(refresh, 300); }
    schedule.addEventListener("input", later);
    zone.addEventListener("change", refresh);
    refresh();
  }

  function start() {
    const config = document.getElementById("chrono-form-config");
    const select = document.getElementById("id_target_type");
    if (select) {
      select.addEventListener("change", function () { showChosenTarget(select); });
      showChosenTarget(select);
    }
    if (config) { previewSchedule(config); }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
