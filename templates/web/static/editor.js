// The Markdown editor (EasyMDE, vendored) on the campaign body, when the
// body is Markdown. Without JavaScript the textarea works as it is. The
// icon font is never fetched (autoDownloadFontAwesome: false): the buttons
// are words. The editor keeps the textarea in step, and a change tells the
// form, so the live preview follows.
(function () {
  "use strict";
  function start() {
    var area = document.querySelector("textarea[data-editor='markdown']");
    if (!area || typeof window.EasyMDE === "undefined") {
      return;
    }
    var E = window.EasyMDE;
    var editor = new E({
      element: area,
      autoDownloadFontAwesome: false,
      spellChecker: false,
      nativeSpellcheck: true,
      forceSync: true,
      status: false,
      previewImagesInEditor: false,
      toolbar: [
        { name: "bold", action: E.toggleBold, text: "B", title: "Bold" },
        { name: "italic", action: E.toggleItalic, text: "I", title: "Italic" },
        { name: "heading", action: E.toggleHeadingSmaller, text: "H", title: "Heading" },
        "|",
        { name: "unordered-list", action: E.toggleUnorderedList, text: "• List", title: "List" },
        { name: "ordered-list", action: E.toggleOrderedList, text: "1. List", title: "1. List: numbered" },
        { name: "quote", action: E.toggleBlockquote, text: "Quote", title: "Quote" },
        "|",
        { name: "link", action: E.drawLink, text: "Link", title: "Link" },
        { name: "image", action: E.drawImage, text: "Image", title: "Image" }
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
