// The demo site's own script: what a customer's page would do with the SDK.
(function () {
  "use strict";

  // Live help: the one line a site needs, behind its own button.
  var button = document.getElementById("cobrowse-start");
  if (button) {
    button.addEventListener("click", function () {
      if (!window.Cobrowse) {
        alert("Live help is not available right now.");
        return;
      }
      button.disabled = true;
      window.Cobrowse.start({ mask: ["#card"] }).then(
        function (session) {
          window.demoSession = session;
        },
        function (err) {
          button.disabled = false;
          console.error("Live help could not start:", err);
        }
      );
    });
  }

  // A feed that changes over time, like a real dashboard.
  var feed = document.getElementById("claims-feed");
  var count = document.getElementById("claims-count");
  if (feed && count) {
    var towns = ["Leeds", "Bristol", "York", "Bath", "Derby", "Hull", "Truro", "Perth"];
    var kinds = ["burst pipe", "storm damage", "lost keys", "broken window", "stolen bike"];
    var settled = 0;
    var addClaim = function () {
      settled += 1;
      var li = document.createElement("li");
      li.className = settled % 2 ? "claim odd" : "claim";
      li.textContent =
        "#" + (1000 + settled) + " — " + kinds[settled % kinds.length] + " in " +
        towns[settled % towns.length] + ", settled";
      feed.insertBefore(li, feed.firstChild);
      while (feed.children.length > 5) feed.removeChild(feed.lastChild);
      count.textContent = String(settled);
    };
    for (var i = 0; i < 3; i++) addClaim();
    setInterval(addClaim, 3000);
  }

  // A quote that follows the form.
  var form = document.getElementById("apply");
  if (form) {
    var premium = document.getElementById("premium");
    form.addEventListener("input", function () {
      var rooms = Number(document.getElementById("bedrooms").value) || 1;
      var flood = document.getElementById("flood").checked ? 9.5 : 0;
      premium.textContent = "£" + (12 + rooms * 3.1 + flood).toFixed(2);
    });
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      form.insertAdjacentHTML("beforeend", '<p class="thanks">Thank you — we will email your quote.</p>');
    });
  }
})();
