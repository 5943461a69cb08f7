// Shared page behaviour: a loader shown while a page or a list is loading,
// and `modelhub.fetchJSON` for pages that load or poll the API.
(function () {
  "use strict";
  var loader = document.getElementById("page-loader");
  var loading = 0;

  function showLoader() {
    loading += 1;
    if (loader) { loader.hidden = false; }
  }

  function hideLoader() {
    loading = Math.max(0, loading - 1);
    if (loader && loading === 0) { loader.hidden = true; }
  }

  function cookie(name) {
    var match = document.cookie.match(new RegExp("(?:^|; )" + name + "=([^;]*)"));
    return match ? decodeURIComponent(match[1]) : null;
  }

  // A 401 from the API means the session ended (it expired or was ended
  // elsewhere): go to the login page, which says so, and come back after.
  function toLogin() {
    var login = document.body.getAttribute("data-login-url") || "/accounts/login/";
    var here = window.location.pathname + window.location.search;
    window.location.assign(login + "?next=" + encodeURIComponent(here));
  }

  // Options as for fetch(); `quiet: true` skips the loader (for polling).
  // Resolves with the parsed body; rejects with an Error whose `status` and
  // `body` say what the server answered.
  function fetchJSON(url, options) {
    options = Object.assign({ credentials: "same-origin" }, options || {});
    var headers = new Headers(options.headers || {});
    headers.set("Accept", "application/json");
    var method = (options.method || "GET").toUpperCase();
    if (method !== "GET" && method !== "HEAD") {
      headers.set("X-CSRFToken", cookie("csrftoken") || "");
    }
    options.headers = headers;
    var quiet = options.quiet;
    delete options.quiet;

    if (!quiet) { showLoader(); }
    return fetch(url, options).then(function (response) {
      if (response.status === 401) { toLogin(); }
      var parsed = response.status === 204 ? Promise.resolve(null) : response.json().catch(function () { return null; });
      return parsed.then(function (body) {
        if (!response.ok) {
          var error = new Error((body && body.detail) || "The server answered " + response.status + ".");
          error.status = response.status;
          error.body = body;
          throw error;
        }
        return body;
      });
    }).finally(function () {
      if (!quiet) { hideLoader(); }
    });
  }

  window.modelhub = {
    showLoader: showLoader,
    hideLoader: hideLoader,
    fetchJSON: fetchJSON,
  };

  document.addEventListener("click", function (event) {
    var link = event.target.closest("a[href]");
    if (!link || link.target || event.ctrlKey || event.metaKey || event.shiftKey) { return; }
    if (link.origin === window.location.origin && !link.hasAttribute("download") && link.hash === "") {
      showLoader();
    }
  });
  document.addEventListener("submit", function (event) {
    if (!event.defaultPrevented) { showLoader(); }
  });
  window.addEventListener("pageshow", function () {
    loading = 0;
    if (loader) { loader.hidden = true; }
  });
})();
