// The Recommendations page: starts runs, follows a run until it ends, and
// applies recommendations after the operator confirms old -> new. After any
// change it swaps in a freshly rendered copy of the page, so the server stays
// the only renderer.
(function () {
  "use strict";
  var POLL_MS = 1500;
  var root = document.getElementById("recommendations");
  if (!root) { return; }
  var polling = null;

  function failureText(status) {
    if (status === 403) { return "You no longer have the admin role, or your session ended. Sign in again."; }
    return "The request failed (HTTP " + status + "). Please try again.";
  }

  function call(method, url, body) {
    return fetch(url, {
      method: method,
      credentials: "same-origin",
      headers: {
        "Accept": "application/json",
        "Content-Type": "application/json",
        "X-CSRFToken": root.dataset.csrfToken,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (!response.ok) {
          var error = new Error(data.detail || failureText(response.status));
          error.data = data;
          throw error;
        }
        return data;
      });
    }, function () {
      throw new Error("The server could not be reached. Check your connection and try again.");
    });
  }

  function say(text, kind) {
    var box = root.querySelector('[data-role="message"]');
    box.textContent = text;
    box.className = "message message-" + kind;
    box.hidden = false;
  }

  function refresh() {
    return fetch(window.location.href, { credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) { throw new Error(failureText(response.status)); }
        return response.text();
      })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("recommendations");
        if (!fresh) {
          say("The page could not be brought up to date; your session may have ended. Reload the page.", "error");
          return;
        }
        var message = root.querySelector('[data-role="message"]').cloneNode(true);
        root.innerHTML = fresh.innerHTML;
        root.dataset.state = fresh.dataset.state;
        root.dataset.csrfToken = fresh.dataset.csrfToken;
        root.querySelector('[data-role="message"]').replaceWith(message);
        if (root.dataset.state === "running") { follow(); }
      })
      .catch(function (error) { say(error.message, "error"); });
  }

  function showRunning() {
    root.dataset.state = "running";
    var badge = root.querySelector('[data-role="engine-state"]');
    badge.textContent = "Running";
    badge.className = "status engine-running";
    root.querySelectorAll('[data-action="run-all"], [data-action="run-model"]').forEach(function (button) {
      button.disabled = true;
    });
  }

  function follow() {
    if (polling) { return; }
    showRunning();
    polling = window.setInterval(function () {
      call("GET", root.dataset.stateUrl).then(function (state) {
        if (state.state === "running" || !polling) { return; }
        window.clearInterval(polling);
        polling = null;
        if (state.last_run && state.last_run.state === "failed") {
          say("The run failed. Operators can see why in the admin, under recommendation runs.", "error");
        } else {
          say("The run finished.", "success");
        }
        refresh();
      }).catch(function (error) { say(error.message, "error"); });
    }, POLL_MS);
  }

  function runAll(button) {
    button.disabled = true;
    call("POST", root.dataset.runUrl, {}).then(function () {
      say("Run started; this page follows it until it ends.", "info");
      follow();
    }).catch(function (error) {
      say(error.message, "error");
      var state = error.data && error.data.state;
      if (state && state.state === "running") { follow(); } else { button.disabled = false; }
    });
  }

  function runModel(button) {
    var block = button.closest("[data-model-id]");
    button.disabled = true;
    call("POST", button.dataset.url, {}).then(function () {
      say(block.dataset.modelId + " was profiled again.", "success");
      refresh();
    }).catch(function (error) {
      say(error.message, "error");
      button.disabled = false;
    });
  }

  function confirmChanges(title, changes) {
    var dialog = root.querySelector('[data-role="confirm"]');
    dialog.querySelector('[data-role="confirm-title"]').textContent = title;
    var list = dialog.querySelector('[data-role="confirm-changes"]');
    list.replaceChildren();
    changes.forEach(function (change) {
      var item = document.createElement("li");
      item.textContent = change;
      list.appendChild(item);
    });
    return new Promise(function (resolve) {
      dialog.addEventListener("close", function onClose() {
        dialog.removeEventListener("close", onClose);
        resolve(dialog.returnValue === "confirm");
      });
      dialog.returnValue = "";
      dialog.showModal();
    });
  }

  function apply(button) {
    var block = button.closest("[data-model-id]");
    var changes = button.dataset.changes.split("|");
    confirmChanges(button.dataset.title, changes).then(function (confirmed) {
      if (!confirmed) { return; }
      button.disabled = true;
      var profiles = button.dataset.profiles.split(",");
      call("POST", button.dataset.url, { profiles: profiles }).then(function () {
        say("Applied to " + block.dataset.modelId + ": " + changes.join("; ") + ".", "success");
        refresh();
      }).catch(function (error) {
        say(error.message, "error");
        button.disabled = false;
      });
    });
  }

  root.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-action]");
    if (!button || !root.contains(button)) { return; }
    var action = button.dataset.action;
    if (action === "run-all") { runAll(button); }
    if (action === "run-model") { runModel(button); }
    if (action === "apply") { apply(button); }
    if (action === "confirm" || action === "cancel") {
      button.closest("dialog").close(action);
    }
  });

  root.addEventListener("change", function (event) {
    if (event.target.matches('[data-action="filter"]')) { event.target.form.submit(); }
  });

  if (root.dataset.state === "running") { follow(); }
})();
