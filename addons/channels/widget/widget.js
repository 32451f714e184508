/*
 * CloudPick web chat: the one script a site embeds.
 *
 *   <script src="https://chat.example.com/webhooks/socketio/widget/widget.js"
 *           data-server="https://chat.example.com" data-lang="zh" async></script>
 *
 * A classic script (so it knows its own tag and works with `async`) that
 * loads the chat as ES modules from beside itself: nothing lands in the
 * page's globals but `window.CloudPickChat`, and nothing loads from
 * anywhere but this server.
 *
 *   data-server   Rasa's URL; defaults to this script's origin
 *   data-lang     zh or en; defaults to <html lang>, then the browser's
 *   data-open     start with the panel open
 *   data-manual   do not start: the page calls CloudPickChat.init({...})
 *
 * window.CloudPickChatSettings, when set before this script runs, is used
 * as the options of the automatic start (e.g. {customer: {...}}).
 */
(function () {
  "use strict";
  var script = document.currentScript;
  var base = new URL(".", (script && script.src) || location.href).href;
  var data = (script && script.dataset) || {};
  var api = (window.CloudPickChat = window.CloudPickChat || {});
  var chat = null;
  var modules = null;

  function load() {
    modules =
      modules ||
      Promise.all([import(base + "chat.js"), import(base + "model.js")]).then(function (loaded) {
        return { chat: loaded[0], model: loaded[1] };
      });
    return modules;
  }

  /** Starts (or restarts, e.g. once the site's user has signed in) the chat. */
  api.init = function (options) {
    options = options || {};
    return load().then(function (loaded) {
      if (chat) chat.destroy();
      chat = loaded.chat.start({
        server: options.server || data.server || new URL(base).origin,
        base: base,
        lang: loaded.model.chooseLanguage({
          explicit: options.lang || data.lang,
          page: document.documentElement.lang,
          browser: navigator.languages || [navigator.language],
        }),
        customer: options.customer || null,
        files: options.files,
        open: options.open || "open" in data,
        socketPath: options.socketPath,
        transports: options.transports,
        container: options.container,
      });
      return chat;
    });
  };
  api.open = function () {
    if (chat) chat.open();
  };
  api.close = function () {
    if (chat) chat.close();
  };

  if (!("manual" in data)) {
    var start = function () {
      api.init(window.CloudPickChatSettings);
    };
    if (document.body) start();
    else document.addEventListener("DOMContentLoaded", start);
  }
})();
