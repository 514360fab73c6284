/* The chat page's script (served as /static/chat.js): mounts the chat on #app with the document
   panel (documents.js, the page's only: the widget has none), offers window.ragqa.ask() and
   announces answers as a ragqa:answer event on window. */

import { mount } from "./chat.js";
import { mountDocuments } from "./documents.js";

const el = document.getElementById("app");
const chat = mount(el, {
  title: el.getAttribute("data-title") || document.title,
  heading: "h1",
  onAnswer: (res) => {
    window.dispatchEvent(new CustomEvent("ragqa:answer", { detail: res }));
  }
});
mountDocuments(chat.root, "");
window.ragqa = { ask: chat.ask, open: chat.focus, close: () => {} };
chat.focus();
