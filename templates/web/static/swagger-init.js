// Starts Swagger UI on the API docs page (service/openapi.py): a file, not an
// inline script, so the page's policy can allow scripts from 'self' only.
"use strict";
window.addEventListener("DOMContentLoaded", function () {
  var root = document.getElementById("swagger-ui");
  window.SwaggerUIBundle({
    url: root.getAttribute("data-schema-url"),
    domNode: root,
    deepLinking: true,
    presets: [window.SwaggerUIBundle.presets.apis],
  });
});
