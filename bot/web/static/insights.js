/*!
 * Nimbus support insights — plain JavaScript, no dependencies, no build step.
 *
 * Served at /console/insights by the gateway. Signs in exactly like the agent console: the
 * agent's own token, kept in sessionStorage for this tab under the console's key (so the
 * console's "Insights" link needs no second sign-in), checked with GET api/v1/agents/me and
 * never put in a URL. It then fetches the figures and charts for the page's filters
 * (GET console/insights/report?since=&until=&channel=), which the gateway renders and escapes;
 * they are parsed with DOMParser (nothing in them runs) and the page's Content-Security-Policy
 * forbids inline scripts and styles besides. Errors are shown with textContent only.
 */
(function () {
  "use strict";

  var KEY_TOKEN = "nimbus-console:token"; // the console's: one sign-in for both pages
  var ERRORS = {
    unauthorized: "The agent token was not accepted. Sign in again.",
    token_revoked: "Your agent token was revoked. Ask for a new one and sign in again.",
    agent_inactive: "Your agent account is not active.",
  };

  var storeGet = window.NimbusAgentStore.get; // agent-store.js, shared with the other agent page
  var storeSet = window.NimbusAgentStore.set;
  var storeRemove = window.NimbusAgentStore.remove;

  function $(id) {
    return document.getElementById(id);
  }
  function show(node, text) {
    node.textContent = text || "";
    node.hidden = !text;
  }

  var signin = $("ac-signin");
  var signinForm = $("ac-signin-form");
  var tokenInput = $("ac-token");
  var signinButton = $("ac-signin-button");
  var signinError = $("ac-signin-error");
  var who = $("ac-who");
  var whoText = $("ac-who-text");
  var signoutButton = $("ac-signout");
  var dashboard = $("in-dashboard");
  var statusLine = $("in-status");
  var errorBox = $("in-error");
  var reportBox = $("in-report");
  var sinceInput = $("in-since");
  var untilInput = $("in-until");
  var channelSelect = $("in-channel");

  var token = null;

  function request(path, accept) {
    return window.fetch(path, {
      method: "GET",
      headers: { Authorization: "Bearer " + token, Accept: accept },
      cache: "no-store",
      credentials: "omit",
    });
  }

  function readError(resp) {
    return resp.json().then(
      function (data) {
        return { status: resp.status, error: (data && data.error) || null };
      },
      function () {
        return { status: resp.status, error: null };
      }
    );
  }

  function errorText(result) {
    var error = result.error;
    if (error && ERRORS[error.code]) return ERRORS[error.code];
    if (error && typeof error.message === "string" && error.message) return error.message;
    return "The gateway answered with status " + result.status + ".";
  }

  function isRefused(result) {
    return result.status === 401 || (result.status === 403 && result.error && result.error.code === "agent_inactive");
  }

  function showSignin(message) {
    token = null;
    dashboard.hidden = true;
    who.hidden = true;
    signin.hidden = false;
    tokenInput.value = "";
    show(signinError, message);
    tokenInput.focus();
  }

  function tokenRejected(result) {
    storeRemove(KEY_TOKEN);
    clearReport();
    showSignin(errorText(result));
  }

  function clearReport() {
    while (reportBox.firstChild) reportBox.removeChild(reportBox.firstChild);
  }

  // The filters in the address fill the form; the report then says which period it shows.
  function fillForm(params) {
    sinceInput.value = params.get("since") || "";
    untilInput.value = params.get("until") || "";
    channelSelect.value = params.get("channel") || "";
  }

  function placeReport(markup) {
    var parsed = new window.DOMParser().parseFromString(markup, "text/html");
    var root = parsed.body.firstElementChild;
    clearReport();
    if (!root) return;
    reportBox.appendChild(document.importNode(root, true));
    sinceInput.value = root.getAttribute("data-since") || sinceInput.value;
    untilInput.value = root.getAttribute("data-until") || untilInput.value;
    channelSelect.value = root.getAttribute("data-channel") || "";
  }

  function loadReport() {
    var query = window.location.search || "";
    show(errorBox, "");
    statusLine.textContent = "Loading the figures…";
    return request("insights/report" + query, "text/html").then(
      function (resp) {
        if (resp.status === 200) {
          return resp.text().then(function (markup) {
            placeReport(markup);
            statusLine.textContent = "";
          });
        }
        return readError(resp).then(function (result) {
          if (isRefused(result)) {
            tokenRejected(result);
            return;
          }
          clearReport();
          statusLine.textContent = "";
          show(errorBox, errorText(result));
        });
      },
      function () {
        statusLine.textContent = "";
        show(errorBox, "Cannot reach the gateway.");
      }
    );
  }

  function startDashboard(me) {
    var name = typeof me.name === "string" && me.name ? me.name : String(me.id);
    signin.hidden = true;
    dashboard.hidden = false;
    who.hidden = false;
    whoText.textContent = "Signed in as " + name;
    whoText.title = String(me.id);
    show(signinError, "");
    return loadReport();
  }

  function signIn(candidate, fromStorage) {
    token = candidate;
    signinButton.disabled = true;
    return request("../api/v1/agents/me", "application/json")
      .then(
        function (resp) {
          if (resp.status === 200) {
            return resp.json().then(function (me) {
              if (!me || !me.id) {
                showSignin("The gateway answered without an agent.");
                return;
              }
              storeSet(KEY_TOKEN, candidate);
              tokenInput.value = "";
              return startDashboard(me);
            });
          }
          return readError(resp).then(function (result) {
            storeRemove(KEY_TOKEN);
            var rejected = result.status === 401 && !fromStorage && result.error && result.error.code === "unauthorized";
            showSignin(rejected ? "The agent token was not accepted." : errorText(result));
          });
        },
        function () {
          token = null;
          signin.hidden = false;
          show(signinError, "Cannot reach the gateway.");
        }
      )
      .then(function () {
        signinButton.disabled = false;
      });
  }

  signinForm.addEventListener("submit", function (event) {
    event.preventDefault();
    var entered = tokenInput.value.trim();
    if (!entered) {
      show(signinError, "Enter your agent token.");
      return;
    }
    signIn(entered, false);
  });

  signoutButton.addEventListener("click", function () {
    storeRemove(KEY_TOKEN);
    clearReport();
    showSignin("");
  });

  fillForm(new window.URLSearchParams(window.location.search));
  var stored = storeGet(KEY_TOKEN);
  if (stored) signIn(stored, true);
  else showSignin("");
})();
