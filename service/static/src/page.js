/* The chat page's script (served as /static/chat.js): mounts the chat on #app, offers
   window.ragqa.ask() and announces answers as a ragqa:answer event on window. */

import { mount } from "./chat.js";

const el = document.getElementById("app");
const chat = mount(el, {
  title: el.getAttribute("data-title") || document.title,
  heading: "h1",
  onAnswer: (res) => {
    window.dispatchEvent(new CustomEvent("ragqa:answer", { detail: res }));
  }
});
window.ragqa = { ask: chat.ask, open: chat.focus, close: () => {} };
chat.focus();
