/* The admin page's script: asks for the admin token, keeps it in this tab's sessionStorage, and shows
   what the admin JSON API answers. Every value is written as text (textContent), never as HTML: record
   messages and source errors come from outside. */
"use strict";
(function () {
  var main = document.getElementById("admin");
  var API = main.getAttribute("data-api");
  var KEY = "terracat-admin-token";
  var STATUSES = ["added", "updated", "unchanged", "deleted", "duplicate", "rejected"];
  var RECORDS_PAGE = 200;
  var form = document.getElementById("token-form");
  var input = document.getElementById("token");
  var message = document.getElementById("message");
  var statusLine = document.getElementById("status");
  var sections = {
    sources: document.getElementById("sources"),
    runs: document.getElementById("runs"),
    run: document.getElementById("run")
  };
  var openRun = null;

  function token() { return sessionStorage.getItem(KEY); }

  /* kind: "error", "info", or "outcome": what an action of the administrator led to (a run started or
     ended), which the refresh that follows the action must not wipe out. */
  function show(text, kind) {
    message.textContent = text;
    message.className = kind === "info" || kind === "outcome" ? "info" : "error";
    message.dataset.kind = kind || "error";
    message.hidden = !text;
  }

  /* A refused token: say so, forget it and hide what was shown with it. */
  function refused(status, error) {
    sessionStorage.removeItem(KEY);
    Object.keys(sections).forEach(function (name) { sections[name].hidden = true; });
    show((status === 401 ? "No valid admin token was given (401)" : "This token was refused (403)") +
      ": " + error + ". Enter a valid admin token above.");
    input.focus();
  }

  function ApiError(status, text) { this.status = status; this.message = text; }

  /* The API's answer to ``path`` as JSON; an ApiError when it is not a success. */
  function api(path, options) {
    options = options || {};
    var headers = { "Authorization": "Bearer " + token(), "Accept": "application/json" };
    if (options.body) { headers["Content-Type"] = "application/json"; }
    return fetch(API + path, { method: options.method || "GET", headers: headers, body: options.body,
      cache: "no-store", credentials: "omit", referrerPolicy: "no-referrer" })
      .then(function (response) {
        return response.json().catch(function () { return { error: response.statusText }; })
          .then(function (body) {
            if (response.ok) { return body; }
            throw new ApiError(response.status, body.error || response.statusText);
          });
      });
  }

  function failed(error) {
    if (error instanceof ApiError && (error.status === 401 || error.status === 403)) {
      refused(error.status, error.message);
    } else if (error instanceof ApiError) {
      show("The admin API answered " + error.status + ": " + error.message);
    } else {
      show("The admin API could not be reached: " + error);
    }
  }

  // --- building cells --------------------------------------------------------------------------

  function el(tag, text, className) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    if (className) { node.className = className; }
    return node;
  }

  function cell(row, content, className) {
    var td = el("td", null, className);
    (Array.isArray(content) ? content : [content]).forEach(function (part) {
      if (part === null || part === undefined) { return; }
      td.appendChild(typeof part === "object" ? part : document.createTextNode(String(part)));
    });
    row.appendChild(td);
    return td;
  }

  function when(stamp) { return stamp ? stamp.replace("T", " ").replace("Z", " UTC") : ""; }

  function duration(seconds) {
    if (seconds === null || seconds === undefined) { return ""; }
    if (seconds < 60) { return seconds + " s"; }
    var minutes = Math.floor(seconds / 60);
    return minutes + " min " + Math.round(seconds - minutes * 60) + " s";
  }

  function state(status) { return el("span", status, "state " + status); }

  function counts(run) {
    var box = el("span", null, "counts");
    STATUSES.forEach(function (status) {
      var n = (run.counts || {})[status];
      if (n) { box.appendChild(el("span", status + " " + n, "count-" + status)); }
    });
    if (!box.childNodes.length) { box.textContent = run.finished ? "nothing received" : "—"; }
    return box;
  }

  function problems(run) {
    return [run.error].concat(run.notes || []).filter(Boolean).join("; ");
  }

  function runButton(run) {
    var button = el("button", "run #" + run.id, "link open-run");
    button.type = "button";
    button.setAttribute("data-run", run.id);
    button.addEventListener("click", function () { showRun(run.id); });
    return button;
  }

  function fill(section, rows) {
    var body = section.querySelector("tbody");
    body.replaceChildren.apply(body, rows);
    section.hidden = false;
  }

  // --- sources and runs ---------------------------------------------------------------------------

  function nextRun(source) {
    if (!source.config.enabled) { return "disabled"; }
    if (source.next_run) { return when(source.next_run); }
    return source.config.schedule ? "schedule: " + source.config.schedule + " (cron, UTC)" : "manual only";
  }

  function sourceRow(source) {
    var row = el("tr");
    row.setAttribute("data-source", source.id);
    var config = source.config;
    cell(row, [el("strong", source.id), config.title ? el("span", config.title, "time") : null]);
    cell(row, config.pole);
    cell(row, config.protocol + " / " + config.format);
    cell(row, config.enabled ? "yes" : "no");
    cell(row, source.records, "num records");
    var last = source.last_run;
    if (last) {
      cell(row, [state(last.status), " ", runButton(last), el("span", when(last.started), "time")], "last-run");
      cell(row, duration(last.seconds), "num");
      cell(row, counts(last));
      cell(row, problems(last), "detail");
    } else {
      cell(row, "never run", "last-run");
      cell(row, "");
      cell(row, "");
      cell(row, "");
    }
    cell(row, nextRun(source), "next-run");
    var button = el("button", "Run now", "small run-now");
    button.type = "button";
    button.addEventListener("click", function () { runNow(source.id, button); });
    cell(row, button);
    return row;
  }

  function runRow(run) {
    var row = el("tr");
    row.setAttribute("data-run", run.id);
    if (run.id === openRun) { row.className = "open"; }
    cell(row, runButton(run));
    cell(row, run.source_id);
    cell(row, run.kind + (run.resumed_from ? " (resumes #" + run.resumed_from + ")" : ""));
    cell(row, state(run.status));
    cell(row, when(run.started));
    cell(row, duration(run.seconds), "num");
    cell(row, counts(run));
    cell(row, problems(run), "detail");
    return row;
  }

  function load() {
    if (!token()) {
      show("Enter the admin token to see the sources and their harvests.", "info");
      return Promise.resolve();
    }
    statusLine.textContent = "Loading…";
    return Promise.all([api("/sources"), api("/runs?limit=20")]).then(function (answers) {
      if (message.dataset.kind !== "outcome") show("");
      fill(sections.sources, answers[0].sources.map(sourceRow));
      fill(sections.runs, answers[1].runs.map(runRow));
      statusLine.textContent = "Updated " + new Date().toLocaleTimeString() + ".";
    }).catch(function (error) {
      statusLine.textContent = "";
      failed(error);
    });
  }

  function runNow(sourceId, button) {
    button.disabled = true;
    api("/sources/" + encodeURIComponent(sourceId) + "/run", { method: "POST" }).then(function (answer) {
      show(answer.run ? "Run #" + answer.run + " of " + sourceId + " started." :
        "A run of " + sourceId + " is starting.", "outcome");
      return load().then(function () { return answer.run ? follow(answer.run) : null; });
    }).catch(failed).then(function () { button.disabled = false; });
  }

  /* Refresh until the run has ended, then show its records. */
  function follow(runId) {
    return api("/runs/" + runId).then(function (run) {
      if (run.status === "running") {
        return new Promise(function (resolve) { setTimeout(resolve, 1000); }).then(function () {
          return follow(runId);
        });
      }
      show("Run #" + runId + " of " + run.source_id + " " + run.status + ".", "outcome");
      return load().then(function () { return showRun(runId); });
    });
  }

  // --- one run's records --------------------------------------------------------------------------

  function recordRow(record) {
    var row = el("tr", null, "record " + record.status);
    cell(row, state(record.status));
    cell(row, record.code ? el("code", record.code) : "", "code");
    cell(row, record.message || "", "detail message");
    cell(row, record.record_id || "", "detail");
    cell(row, record.locator || "", "detail");
    return row;
  }

  /* The run, its rejected records first, then the others (a page of each). */
  function showRun(runId) {
    openRun = runId;
    var base = "/runs/" + runId;
    return Promise.all([
      api(base),
      api(base + "/records?status=rejected&limit=" + RECORDS_PAGE),
      api(base + "/records?limit=" + RECORDS_PAGE)
    ]).then(function (answers) {
      var run = answers[0], rejected = answers[1].records;
      var others = answers[2].records.filter(function (record) { return record.status !== "rejected"; });
      var section = sections.run;
      section.querySelector("h2").textContent = "Run #" + run.id + " of " + run.source_id;
      var summary = section.querySelector(".summary");
      summary.replaceChildren(state(run.status), " started " + when(run.started) +
        (run.finished ? ", ended " + when(run.finished) + " (" + duration(run.seconds) + ")" : "") + " — ",
        counts(run), problems(run) ? " — " + problems(run) : "");
      fill(section, rejected.concat(others).map(recordRow));
      var total = run.counts ? run.counts.rejected || 0 : 0;
      section.querySelector(".more").textContent = rejected.length < total ?
        "Showing " + rejected.length + " of " + total + " rejected records (" + API + base +
        "/records?status=rejected&offset=" + rejected.length + " has the next ones)." : "";
      sections.runs.querySelectorAll("tbody tr").forEach(function (row) {
        row.className = row.getAttribute("data-run") === String(runId) ? "open" : "";
      });
      section.scrollIntoView();
    }).catch(failed);
  }

  // --- the token ----------------------------------------------------------------------------------

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var given = input.value.trim();
    if (!given) { show("Enter an admin token."); return; }
    sessionStorage.setItem(KEY, given);
    input.value = "";
    load();
  });
  document.getElementById("forget").addEventListener("click", function () {
    sessionStorage.removeItem(KEY);
    Object.keys(sections).forEach(function (name) { sections[name].hidden = true; });
    show("The token is forgotten.", "info");
  });
  load();
}());
