/* The agent pages' storage of the sign-in (console.js, insights.js): sessionStorage, or memory when
   the browser refuses it (privacy modes), so a page still works for as long as it is open. */
(function () {
  "use strict";
  var memoryStore = {};
  window.NimbusAgentStore = {
    get: function (key) {
      try {
        return window.sessionStorage.getItem(key);
      } catch (e) {
        return Object.prototype.hasOwnProperty.call(memoryStore, key) ? memoryStore[key] : null;
      }
    },
    set: function (key, value) {
      memoryStore[key] = value;
      try {
        window.sessionStorage.setItem(key, value);
      } catch (e) {
        /* memory fallback keeps it for this page */
      }
    },
    remove: function (key) {
      delete memoryStore[key];
      try {
        window.sessionStorage.removeItem(key);
      } catch (e) {
        /* ignore */
      }
    },
  };
})();
