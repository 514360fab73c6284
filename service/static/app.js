/* Mounts the chat on the ragqa page and announces answers as a ragqa:answer event on window. */
(function () {
  "use strict";
  var el = document.getElementById("app");
  var chat = RagqaChat(el, {
    title: el.getAttribute("data-title") || document.title,
    heading: "h1",
    onAnswer: function (res) {
      window.dispatchEvent(new CustomEvent("ragqa:answer", { detail: res }));
    }
  });
  window.ragqa = { ask: chat.ask, open: chat.focus, close: function () {} };
  chat.focus();
})();
