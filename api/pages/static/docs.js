// Swagger UI on the service's own OpenAPI document (no inline script: the page's policy allows none).
"use strict";
window.addEventListener("DOMContentLoaded", () => {
  const holder = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: holder.dataset.spec,
    dom_id: "#swagger-ui",
    deepLinking: true,
    persistAuthorization: false,
    tryItOutEnabled: true,
  });
});
