// Shared page behaviour: a loader shown while a page or a list is loading.
(function () {
  "use strict";
  var loader = document.getElementById("page-loader");

  window.modelhub = {
    showLoader: function () { if (loader) { loader.hidden = false; } },
    hideLoader: function () { if (loader) { loader.hidden = true; } },
  };

  document.addEventListener("click", function (event) {
    var link = event.target.closest("a[href]");
    if (!link || link.target || event.ctrlKey || event.metaKey || event.shiftKey) { return; }
    if (link.origin === window.location.origin && !link.hasAttribute("download")) {
      window.modelhub.showLoader();
    }
  });
  document.addEventListener("submit", function () { window.modelhub.showLoader(); });
  window.addEventListener("pageshow", function () { window.modelhub.hideLoader(); });
})();
