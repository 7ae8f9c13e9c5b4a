// The Markdown editor (EasyMDE, vendored) on the campaign body, when the
// body is Markdown. Without JavaScript the textarea works as it is. The
// icon font is never fetched (autoDownloadFontAwesome: false): the buttons
// are words, in the member's language (data-editor-labels on the textarea,
// written by the template). The editor keeps the textarea in step, and a change tells the
// form, so the live preview follows.
(function () {
  "use strict";
  function start() {
    var area = document.querySelector("textarea[data-editor='markdown']");
    if (!area || typeof window.EasyMDE === "undefined") {
      return;
    }
    var E = window.EasyMDE;
    // The buttons' words come from the page (data-editor-labels, in the
    // member's language): {name: [visible text, title]}. A button's title is
    // its accessible name, so it always holds the visible text.
    var words = {};
    try {
      words = JSON.parse(area.getAttribute("data-editor-labels") || "{}");
    } catch (e) {
      words = {};
    }
    function button(name, action, text, title) {
      var given = words[name] || [];
      var shown = given[0] || text;
      var named = given[1] || title;
      var core = shown.replace(/^[^0-9A-Za-z\u00C0-\u024F]+/, "").trim();
      if (core.length > 1 && named.toLowerCase().indexOf(core.toLowerCase()) === -1) {
        named = shown + ": " + named;
      }
      return { name: name, action: action, text: shown, title: named };
    }
    var editor = new E({
      element: area,
      autoDownloadFontAwesome: false,
      spellChecker: false,
      nativeSpellcheck: true,
      forceSync: true,
      status: false,
      previewImagesInEditor: false,
      toolbar: [
        button("bold", E.toggleBold, "B", "Bold"),
        button("italic", E.toggleItalic, "I", "Italic"),
        button("heading", E.toggleHeadingSmaller, "H", "Heading"),
        "|",
        button("unordered-list", E.toggleUnorderedList, "\u2022 List", "List"),
        button("ordered-list", E.toggleOrderedList, "1. List", "1. List: numbered"),
        button("quote", E.toggleBlockquote, "Quote", "Quote"),
        "|",
        button("link", E.drawLink, "Link", "Link"),
        button("image", E.drawImage, "Image", "Image")
      ]
    });
    // The editor types into a textarea of its own: it is named as the one
    // it replaces, for screen readers.
    var label = area.labels && area.labels.length ? area.labels[0].textContent.trim() : "";
    if (label) {
      editor.codemirror.getInputField().setAttribute("aria-label", label);
    }
    editor.codemirror.on("change", function () {
      area.dispatchEvent(new Event("keyup", { bubbles: true }));
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
